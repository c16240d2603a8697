/**
 * A team's notification webhook (issue 15: "when a guardrail trips, the task is suspended ... and
 * the team is notified in the change log and, if configured, a webhook"). Team admins configure
 * it (URL, events, a secret shown once); a tripped guardrail suspends the task first, then queues
 * a `grayscale.guardrail_tripped` event on the MESSAGE_WEBHOOKS queue; the builder Worker's
 * consumer POSTs it signed as message pushes are (docs/messages.md "Signature") — here to a
 * receiver the test runs as the team's server, verifying with that recipe — retries with backoff,
 * and the dead-letter queue's consumer records an event that failed its last try. Real D1, a real
 * local queue, real batches through the builder's handler.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import builder from "../control-plane/src/builder";
import { createDb } from "../control-plane/src/db/client";
import { teamWebhookEvents, teamWebhooks } from "../control-plane/src/db/schema";
import { recordHealth } from "../control-plane/src/services/health";
import {
  consumeWebhooks,
  sweepTeamEvents,
  type WebhookQueueMessage,
} from "../control-plane/src/services/team-webhooks";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectJson,
  makeWorld,
  tasksPath,
  type World,
} from "./support/admin";
import { sessions } from "./support/health-logs";
import { receiver, verifyWebhook } from "./support/webhook-receiver";

let world: World;
const ERROR_RATE = { errorRate: { maxPointsAboveOnline: 10, minSessions: 20 } };
const hookPath = () => `/v1/teams/${world.teamA}/webhook`;
const db = () => createDb(testEnv.DB);

beforeAll(async () => {
  world = await makeWorld();
});

const put = (json: unknown, token = world.adminA.token) => callAdmin("PUT", hookPath(), { token, json });

/** A batch of the queue through the team consumer with `send` as the network, or the builder's own handler. */
async function deliver(
  queue: string,
  msgs: { id: string; attempts: number; body: WebhookQueueMessage }[],
  send?: (r: Request) => Promise<Response>,
) {
  const batch = createMessageBatch<unknown>(
    queue,
    msgs.map((m) => ({ ...m, timestamp: new Date() })),
  );
  const ctx = createExecutionContext();
  if (send) await consumeWebhooks(batch, testEnv, send);
  else await builder.queue(batch as MessageBatch<never>, testEnv as never);
  return getQueueResult(batch, ctx);
}

/** A task of team A whose gray version fails: `recordHealth` trips its error-rate guardrail. */
async function tripATask(env: Parameters<typeof recordHealth>[0] = testEnv) {
  const appId = await appWithVersions(world);
  const task = await createTask(world, appId, "1.1.0", { guardrails: ERROR_RATE });
  const base = { appId, hostAppId: world.host1, receivedAt: Date.now() };
  await recordHealth(env, [
    ...sessions({ ...base, version: "1.0.0" }, "on", 30, 1),
    ...sessions({ ...base, version: "1.1.0" }, "gr", 30, 15),
  ]);
  const t = await expectJson<any>(
    callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.viewerA.token }),
    200,
  );
  return { appId, task: t };
}

const eventsOf = (teamId: string) =>
  db().select().from(teamWebhookEvents).where(eq(teamWebhookEvents.teamId, teamId)).all();

describe("configuration: team admins only", () => {
  it("GET is 404 before any configuration", async () => {
    await expectJson(callAdmin("GET", hookPath(), { token: world.adminA.token }), 404);
  });

  it("developers, viewers and other teams' members cannot read or change it", async () => {
    const json = { url: "https://ops.team-a.test/hook" };
    await expectJson(put(json, world.devA.token), 403);
    await expectJson(put(json, world.viewerA.token), 403);
    // Not a member of team A: the team is not found for them.
    await expectJson(put(json, world.devB.token), 404);
    await expectJson(callAdmin("GET", hookPath(), { token: world.devA.token }), 403);
    await expectJson(callAdmin("GET", `${hookPath()}/dead-letters`, { token: world.viewerA.token }), 403);
    await expectJson(callAdmin("DELETE", hookPath(), { token: world.devB.token }), 404);
    await expectJson(callAdmin("GET", hookPath(), { token: world.manager1.token }), 404);
    expect(await db().select().from(teamWebhooks).where(eq(teamWebhooks.teamId, world.teamA)).get()).toBe(
      undefined,
    );
  });

  it("refuses malformed configurations with 400", async () => {
    for (const json of [
      { url: "http://ops.team-a.test/hook" },
      { url: "https://user:pw@ops.team-a.test/hook" },
      { url: "not a url" },
      { url: "https://ops.team-a.test/hook", events: [] },
      { url: "https://ops.team-a.test/hook", events: ["grayscale.nope"] },
      {
        url: "https://ops.team-a.test/hook",
        events: ["grayscale.guardrail_tripped", "grayscale.guardrail_tripped"],
      },
      { url: "https://ops.team-a.test/hook", extra: 1 },
      { url: `https://ops.team-a.test/${"a".repeat(2100)}` },
    ]) {
      const body = await expectJson(put(json), 400);
      expect(body.error.code).toBe("bad_request");
    }
    await expectJson(
      callAdmin("GET", `${hookPath()}/dead-letters?limit=0`, { token: world.adminA.token }),
      400,
    );
  });

  it("the secret is shown when created and when rotated, never by GET nor in the change log; the row holds it sealed", async () => {
    const created = await expectJson(put({ url: "http://127.0.0.1:9/hook" }), 200);
    expect(created).toMatchObject({
      teamId: world.teamA,
      url: "http://127.0.0.1:9/hook",
      events: ["grayscale.guardrail_tripped"],
      updatedBy: world.adminA.id,
    });
    expect(created.secret).toMatch(/^whsec_[a-z2-7]{52}$/);
    const edited = await expectJson(
      put({ url: "https://ops.team-a.test/hook", events: ["grayscale.guardrail_tripped"] }),
      200,
    );
    expect(edited.secret).toBeUndefined();
    expect(edited.secretSetAt).toBe(created.secretSetAt);
    const shown = await expectJson(callAdmin("GET", hookPath(), { token: world.adminA.token }), 200);
    expect(shown).not.toHaveProperty("secret");
    expect(shown.url).toBe("https://ops.team-a.test/hook");
    const rotated = await expectJson(put({ url: "https://ops.team-a.test/hook", rotateSecret: true }), 200);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    const row = await db().select().from(teamWebhooks).where(eq(teamWebhooks.teamId, world.teamA)).get();
    expect(row!.secretSealed).not.toContain(rotated.secret);
    const log = await expectJson(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}`, { token: world.adminA.token }),
      200,
    );
    expect(JSON.stringify(log)).toContain("team_webhook.put");
    expect(JSON.stringify(log)).not.toContain(rotated.secret);
    expect(JSON.stringify(log)).not.toContain(created.secret);
  });
});

describe("a tripped guardrail notifies the team's webhook", () => {
  let secret: string;
  beforeAll(async () => {
    secret = (await expectJson(put({ url: "https://ops.team-a.test/hook", rotateSecret: true }), 200)).secret;
  });

  it("the suspension queues a grayscale.guardrail_tripped event; the builder's consumer POSTs it signed", async () => {
    // The real local queue, with the messages it is given kept for the test to read.
    const queued: unknown[] = [];
    const queue = {
      send: (m: unknown, o?: QueueSendOptions) => {
        queued.push(m);
        return testEnv.MESSAGE_WEBHOOKS.send(m, o);
      },
    } as unknown as Queue;
    const { appId, task } = await tripATask({ ...testEnv, MESSAGE_WEBHOOKS: queue });
    expect(task.suspendCause).toBe("guardrail");
    const [event] = (await eventsOf(world.teamA)).filter((e) => JSON.parse(e.payload).taskId === task.id);
    expect(event).toMatchObject({ type: "grayscale.guardrail_tripped", state: "pending", attempts: 0 });
    expect(queued).toEqual([{ kind: "team_event", eventId: event!.id, teamId: world.teamA }]);

    const team = receiver(200);
    const r = await deliver(
      "graycast-message-webhooks",
      [{ id: "t1", attempts: 1, body: queued[0] as WebhookQueueMessage }],
      team.send,
    );
    expect(r.explicitAcks).toEqual(["t1"]);
    expect(team.got).toHaveLength(1);
    const { url, headers, body } = team.got[0]!;
    expect(url).toBe("https://ops.team-a.test/hook");
    expect(headers.get("x-graycast-event")).toBe("grayscale.guardrail_tripped");
    expect(headers.get("x-graycast-event-id")).toBe(event!.id);
    const ts = headers.get("x-graycast-timestamp")!;
    expect(await verifyWebhook(secret, ts, body, headers.get("x-graycast-signature")!)).toBe(true);
    expect(await verifyWebhook(secret, ts, `${body} `, headers.get("x-graycast-signature")!)).toBe(false);
    expect(JSON.parse(body)).toEqual({
      type: "grayscale.guardrail_tripped",
      eventId: event!.id,
      teamId: world.teamA,
      appId,
      taskId: task.id,
      version: "1.1.0",
      trip: task.guardrailTrip,
      at: task.guardrailTrip.at,
    });
    expect(JSON.parse(body).trip).toMatchObject({
      guardrail: "error_rate",
      gray: { version: "1.1.0", sessions: 30, errorSessions: 15 },
      online: { version: "1.0.0", sessions: 30, errorSessions: 1 },
    });
    expect((await eventsOf(world.teamA)).find((e) => e.id === event!.id)).toMatchObject({
      state: "delivered",
      attempts: 1,
    });
    // A redelivery of a delivered event sends nothing.
    const again = receiver(200);
    await deliver(
      "graycast-message-webhooks",
      [{ id: "t1b", attempts: 2, body: queued[0] as WebhookQueueMessage }],
      again.send,
    );
    expect(again.got).toHaveLength(0);
  });

  it("a failing receiver is retried with backoff, then the builder's dead-letter consumer records it for the team's admins", async () => {
    const { task } = await tripATask();
    const event = (await eventsOf(world.teamA)).find((e) => JSON.parse(e.payload).taskId === task.id)!;
    const body = { kind: "team_event", eventId: event.id, teamId: world.teamA } as const;
    const down = receiver(503);
    for (let attempt = 1; attempt <= 6; attempt++) {
      const r = await deliver(
        "graycast-message-webhooks",
        [{ id: `f${attempt}`, attempts: attempt, body }],
        down.send,
      );
      expect(r.retryMessages).toEqual([{ msgId: `f${attempt}` }]);
    }
    expect(down.got).toHaveLength(6);
    expect((await eventsOf(world.teamA)).find((e) => e.id === event.id)).toMatchObject({
      state: "pending",
      attempts: 6,
      lastError: "HTTP 503",
    });
    // After max_retries the queue moves it to the dead-letter queue, which the builder consumes.
    const dead = await deliver("graycast-message-webhooks-dlq", [{ id: "d1", attempts: 1, body }]);
    expect(dead.explicitAcks).toEqual(["d1"]);
    await deliver("graycast-message-webhooks-dlq", [{ id: "d2", attempts: 1, body }]);
    const page = await expectJson(
      callAdmin("GET", `${hookPath()}/dead-letters`, { token: world.adminA.token }),
      200,
    );
    const mine = page.deadLetters.filter((d: any) => d.id === event.id);
    expect(mine).toEqual([
      {
        id: event.id,
        teamId: world.teamA,
        type: "grayscale.guardrail_tripped",
        url: "https://ops.team-a.test/hook",
        attempts: 6,
        lastError: "HTTP 503",
        createdAt: event.createdAt,
        failedAt: expect.any(Number),
        payload: expect.objectContaining({ taskId: task.id, eventId: event.id }),
      },
    ]);
    // Another team's admin does not see them.
    await expectJson(callAdmin("GET", `${hookPath()}/dead-letters`, { token: world.devB.token }), 404);
  });

  it("the suspension does not depend on the notification: no queue bound, the task suspends and the event is a dead letter", async () => {
    const { MESSAGE_WEBHOOKS: _none, ...noQueue } = testEnv;
    const { task } = await tripATask(noQueue as typeof testEnv);
    expect(task.state).toBe("suspended");
    expect(task.suspendCause).toBe("guardrail");
    const event = (await eventsOf(world.teamA)).find((e) => JSON.parse(e.payload).taskId === task.id)!;
    expect(event).toMatchObject({ state: "failed", lastError: expect.stringMatching(/^not queued: /) });
    const page = await expectJson(
      callAdmin("GET", `${hookPath()}/dead-letters`, { token: world.adminA.token }),
      200,
    );
    expect(page.deadLetters.map((d: any) => d.id)).toContain(event.id);
  });

  it("a removed webhook drops queued events and queues no new ones; push messages on the queue still go their way", async () => {
    const { task } = await tripATask();
    const event = (await eventsOf(world.teamA)).find((e) => JSON.parse(e.payload).taskId === task.id)!;
    await expectJson(callAdmin("DELETE", hookPath(), { token: world.adminA.token }), 200);
    await expectJson(callAdmin("DELETE", hookPath(), { token: world.adminA.token }), 404);
    const none = receiver(200);
    const r = await deliver(
      "graycast-message-webhooks",
      [
        { id: "x1", attempts: 1, body: { kind: "team_event", eventId: event.id, teamId: world.teamA } },
        // A message push of a message that does not exist: the push consumer drops it.
        { id: "x2", attempts: 1, body: { messageId: "msg_none", hostAppId: world.host1 } },
      ],
      none.send,
    );
    expect(none.got).toHaveLength(0);
    expect(r.explicitAcks.sort()).toEqual(["x1", "x2"]);
    const before = (await eventsOf(world.teamA)).length;
    const { task: other } = await tripATask();
    expect(other.suspendCause).toBe("guardrail");
    expect(await eventsOf(world.teamA)).toHaveLength(before);
  });
});

describe("retention", () => {
  it("the cron's sweep removes notifications older than 30 days, in any state, and keeps newer ones", async () => {
    const now = Date.now();
    const row = (id: string, state: "pending" | "delivered" | "failed", age: number) => ({
      id,
      teamId: world.teamB,
      type: "grayscale.guardrail_tripped" as const,
      payload: "{}",
      url: "https://hooks.example.com/b",
      state,
      createdAt: now - age,
    });
    const day = 86_400_000;
    await db()
      .insert(teamWebhookEvents)
      .values([
        row("tev_old_delivered", "delivered", 31 * day),
        row("tev_old_failed", "failed", 30 * day + 1),
        row("tev_old_pending", "pending", 40 * day),
        row("tev_new_failed", "failed", 29 * day),
        row("tev_new_delivered", "delivered", day),
      ]);
    await sweepTeamEvents(db(), now);
    const left = (await eventsOf(world.teamB)).map((e) => e.id).sort();
    expect(left).toEqual(["tev_new_delivered", "tev_new_failed"]);
  });
});
