/**
 * Subscription messages, push delivery (PRODUCT.md T5; issue 14: "an optional push webhook per
 * host app (HMAC-signed body, retries with backoff on a Cloudflare Queue, a dead-letter record
 * after the last try, visible in the console)"). The send queues a push; the builder Worker's
 * consumer (services/message-webhooks.ts) POSTs it signed to the host app's URL — here a receiver
 * the test runs as the host app's server, verifying the signature with the recipe of
 * docs/messages.md — retries with backoff, and the dead-letter queue's consumer records a push
 * that failed its last try. Real D1, real queue batches run through the consumers.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import builderToml from "../control-plane/builder/wrangler.toml?raw";
import builder from "../control-plane/src/builder";
import { createDb } from "../control-plane/src/db/client";
import { messageInbox } from "../control-plane/src/db/schema";
import { consumePushes, type PushMessage } from "../control-plane/src/services/message-webhooks";
import { openIdOf } from "../control-plane/src/services/server-api";
import adminToml from "../control-plane/wrangler.toml?raw";
import { webhookRetryDelaySeconds } from "../core/messages";
import { makeUserProof, USER_PROOF_HEADER } from "../core/user-proof";
import { testEnv } from "./env";
import { callAdmin, expectJson, makeMiniProgram, makeWorld, type World } from "./support/admin";
import { edgeFetch } from "./support/edge";
import { receiver, verifyWebhook } from "./support/webhook-receiver";

let world: World;
let appId: string;
let token: string;
let templateId: string;
let webhookSecret: string;

beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world, [world.host1, world.host2]);
  const secret = (
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/secret/generate`, { token: world.adminA.token }),
      201,
    )
  ).secret;
  token = (
    await expectJson(
      callAdmin(
        "GET",
        `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${encodeURIComponent(secret)}`,
      ),
      200,
    )
  ).access_token;
  templateId = (
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/message-templates`, {
        token: world.devA.token,
        json: { publicTemplateId: "pt6002", keywords: ["number2", "number3", "character_string4"] },
      }),
      201,
    )
  ).templateId;
  webhookSecret = (
    await expectJson(
      callAdmin("PUT", `/v1/host-apps/${world.host1}/message-webhook`, {
        token: world.manager1.token,
        json: { url: "https://push.host-one.test/graycast" },
      }),
      200,
    )
  ).secret;
});

/** Subscribes `account` of `hostAppId` (through the admin Worker's forward path, as the edge calls it). */
async function subscribe(account: string, hostAppId: string) {
  const path = "/internal/messages/subscribe";
  const proof = await makeUserProof(testEnv.LOGIN_CODE_KEY, { appId, hostAppId, account }, path, Date.now());
  await expectJson(
    callAdmin("POST", path, {
      headers: { [USER_PROOF_HEADER]: proof, "content-type": "application/json" },
      body: JSON.stringify({ appId, hostAppId, choices: [{ templateId, decision: "accept" }] }),
    }),
    200,
  );
  return openIdOf(testEnv.USER_ID_KEY, appId, hostAppId, account);
}

async function sendTo(openid: string): Promise<string> {
  const res = await callAdmin("POST", `/cgi-bin/message/subscribe/send?access_token=${token}`, {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      touser: openid,
      template_id: templateId,
      data: { number2: { value: "15" }, number3: { value: "12" }, character_string4: { value: "3-204" } },
    }),
  });
  return (await expectJson(res, 200)).msgid;
}

async function deliver(
  queue: string,
  msgs: { id: string; attempts: number; body: PushMessage }[],
  send?: (r: Request) => Promise<Response>,
) {
  const batch = createMessageBatch<unknown>(
    queue,
    msgs.map((m) => ({ ...m, timestamp: new Date() })),
  );
  const ctx = createExecutionContext();
  if (send) await consumePushes(batch, testEnv, send);
  else await builder.queue(batch as MessageBatch<never>, testEnv as never);
  return getQueueResult(batch, ctx);
}

const inboxRow = (id: string) =>
  createDb(testEnv.DB).select().from(messageInbox).where(eq(messageInbox.id, id)).get();

describe("push webhook (T5)", () => {
  it("a delivered message is pushed to the host app's URL, signed; the receiver verifies it", async () => {
    const openid = await subscribe("push-user-1", world.host1);
    const msgid = await sendTo(openid);
    expect((await inboxRow(msgid))!.pushState).toBe("pending");
    const host = receiver(200);
    const result = await deliver(
      "graycast-message-webhooks",
      [{ id: "q1", attempts: 1, body: { messageId: msgid, hostAppId: world.host1 } }],
      host.send,
    );
    expect(result.explicitAcks).toEqual(["q1"]);
    expect(host.got).toHaveLength(1);
    const { url, headers, body } = host.got[0]!;
    expect(url).toBe("https://push.host-one.test/graycast");
    const ts = headers.get("x-graycast-timestamp")!;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(600);
    expect(await verifyWebhook(webhookSecret, ts, body, headers.get("x-graycast-signature")!)).toBe(true);
    expect(await verifyWebhook(webhookSecret, ts, `${body} `, headers.get("x-graycast-signature")!)).toBe(
      false,
    );
    expect(JSON.parse(body)).toMatchObject({
      type: "subscribe_message",
      messageId: msgid,
      appId,
      hostAppId: world.host1,
      openid,
      account: "push-user-1",
      templateId,
      title: "Queue call",
      lines: [
        { key: "number2", name: "Your number", value: "15" },
        { key: "number3", name: "Now serving", value: "12" },
        { key: "character_string4", name: "Room", value: "3-204" },
      ],
    });
    expect(await inboxRow(msgid)).toMatchObject({ pushState: "delivered", pushAttempts: 1 });
    // A redelivery of a delivered push sends nothing.
    const again = receiver(200);
    await deliver(
      "graycast-message-webhooks",
      [{ id: "q1b", attempts: 2, body: { messageId: msgid, hostAppId: world.host1 } }],
      again.send,
    );
    expect(again.got).toHaveLength(0);
  });

  it("only the host app with a webhook gets pushes: host app 2's users get the inbox only", async () => {
    const openid = await subscribe("push-user-2", world.host2);
    const msgid = await sendTo(openid);
    expect((await inboxRow(msgid))!.pushState).toBe("none");
  });

  it("a failing receiver is retried with backoff, then the dead-letter consumer records it, visible to the host app", async () => {
    const openid = await subscribe("push-user-3", world.host1);
    const msgid = await sendTo(openid);
    const down = receiver(500);
    // The delay the consumer asks for, seen on a batch whose message records its retry options.
    const asked: (QueueRetryOptions | undefined)[] = [];
    const recording = {
      queue: "graycast-message-webhooks",
      messages: [
        {
          id: "f3b",
          timestamp: new Date(),
          attempts: 3,
          body: { messageId: msgid, hostAppId: world.host1 },
          ack() {},
          retry(o?: QueueRetryOptions) {
            asked.push(o);
          },
        },
      ],
      ackAll() {},
      retryAll() {},
    } as unknown as MessageBatch<unknown>;
    await consumePushes(recording, testEnv, down.send);
    expect(asked).toEqual([{ delaySeconds: 40 }]);
    for (let attempt = 1; attempt <= 6; attempt++) {
      const r = await deliver(
        "graycast-message-webhooks",
        [{ id: `f${attempt}`, attempts: attempt, body: { messageId: msgid, hostAppId: world.host1 } }],
        down.send,
      );
      // Retried (getQueueResult does not report the delay; the backoff schedule is checked below).
      expect(r.retryMessages).toEqual([{ msgId: `f${attempt}` }]);
    }
    expect(down.got).toHaveLength(7);
    expect([1, 2, 3, 4, 5].map(webhookRetryDelaySeconds)).toEqual([10, 20, 40, 80, 160]);
    expect(await inboxRow(msgid)).toMatchObject({
      pushState: "pending",
      pushAttempts: 6,
      pushError: "HTTP 500",
    });
    // The queue gives up after max_retries (5): the message lands on the dead-letter queue,
    // which the builder Worker consumes.
    const dead = await deliver("graycast-message-webhooks-dlq", [
      { id: "d1", attempts: 1, body: { messageId: msgid, hostAppId: world.host1 } },
    ]);
    expect(dead.explicitAcks).toEqual(["d1"]);
    await deliver("graycast-message-webhooks-dlq", [
      { id: "d2", attempts: 1, body: { messageId: msgid, hostAppId: world.host1 } },
    ]);
    const page = await expectJson(
      callAdmin("GET", `/v1/host-apps/${world.host1}/message-webhook/dead-letters`, {
        token: world.auditor1.token,
      }),
      200,
    );
    const mine = page.deadLetters.filter((d: any) => d.messageId === msgid);
    expect(mine).toEqual([
      {
        id: expect.any(String),
        hostAppId: world.host1,
        messageId: msgid,
        appId,
        url: "https://push.host-one.test/graycast",
        attempts: 6,
        lastError: "HTTP 500",
        createdAt: expect.any(Number),
      },
    ]);
    // The message itself stays in the inbox.
    expect(await inboxRow(msgid)).toMatchObject({ pushState: "failed" });
  });

  it("a rotated secret signs the next try; a removed webhook drops the push", async () => {
    const openid = await subscribe("push-user-4", world.host1);
    const msgid = await sendTo(openid);
    const rotated = (
      await expectJson(
        callAdmin("PUT", `/v1/host-apps/${world.host1}/message-webhook`, {
          token: world.manager1.token,
          json: { url: "https://push.host-one.test/graycast", rotateSecret: true },
        }),
        200,
      )
    ).secret;
    const host = receiver(204);
    await deliver(
      "graycast-message-webhooks",
      [{ id: "r1", attempts: 1, body: { messageId: msgid, hostAppId: world.host1 } }],
      host.send,
    );
    const { headers, body } = host.got[0]!;
    const ts = headers.get("x-graycast-timestamp")!;
    expect(await verifyWebhook(rotated, ts, body, headers.get("x-graycast-signature")!)).toBe(true);
    expect(await verifyWebhook(webhookSecret, ts, body, headers.get("x-graycast-signature")!)).toBe(false);
    webhookSecret = rotated;

    const msg2 = await sendTo(openid);
    await expectJson(
      callAdmin("DELETE", `/v1/host-apps/${world.host1}/message-webhook`, { token: world.manager1.token }),
      200,
    );
    const none = receiver(200);
    const r = await deliver(
      "graycast-message-webhooks",
      [{ id: "r2", attempts: 1, body: { messageId: msg2, hostAppId: world.host1 } }],
      none.send,
    );
    expect(none.got).toHaveLength(0);
    expect(r.explicitAcks).toEqual(["r2"]);
  });

  it("a malformed queue message is dropped, not retried forever", async () => {
    const r = await deliver(
      "graycast-message-webhooks",
      [{ id: "m1", attempts: 1, body: { nope: 1 } as never }],
      receiver(200).send,
    );
    expect(r.explicitAcks).toEqual(["m1"]);
  });
});

describe("wiring", () => {
  it("the edge serves the client routes and refuses a call without a user (401), never forwarding it", async () => {
    const inbox = await edgeFetch(`/v1/messages/inbox?appId=${appId}&hostAppId=${world.host1}`);
    expect(inbox.status).toBe(401);
    const sub = await edgeFetch("/v1/messages/subscribe", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appId, hostAppId: world.host1, choices: [{ templateId, decision: "accept" }] }),
    });
    expect(sub.status).toBe(401);
    const bad = await edgeFetch("/v1/messages/inbox/read", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(bad.status).toBe(400);
  });

  it("each environment: the admin Worker produces pushes, the builder consumes them with a dead-letter queue", () => {
    for (const [env, suffix] of [
      ["", "-dev"],
      ["env.staging.", "-staging"],
      ["env.production.", ""],
    ] as const) {
      const prefix = env.replaceAll(".", "\\.");
      expect(adminToml).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.producers\\]\\]\\s+binding = "MESSAGE_WEBHOOKS"\\s+queue = "graycast-message-webhooks${suffix}"`,
        ),
      );
      expect(builderToml).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.consumers\\]\\]\\s+queue = "graycast-message-webhooks${suffix}"\\s+max_batch_size = 10\\s+max_retries = 5\\s+dead_letter_queue = "graycast-message-webhooks${suffix}-dlq"`,
        ),
      );
      expect(builderToml).toMatch(
        new RegExp(`MESSAGE_WEBHOOKS_DLQ = "graycast-message-webhooks${suffix}-dlq"`),
      );
    }
  });
});
