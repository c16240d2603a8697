/**
 * Subscription messages, delivery (PRODUCT.md T3-T5; issue 14; seed "Subscription Message"):
 * the client's subscribe through the edge for a verified user (at most 3 ids, never one-time and
 * long-term together, same titles collapse), the server's send with an access token (one message
 * per one-time subscription, at most 5 a day per long-term template and user, exact under
 * concurrent sends, WeChat's errcodes, a failed send consumes nothing), the inbox through the edge
 * (newest first, pages, mark read), and the cron's 30-day retention. Real edge and admin Workers,
 * D1; the edge's forward goes to the in-process admin app; time is injected, never slept.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { ClientError, SubscriptionMessages } from "../client/src/index";
import { createDb } from "../control-plane/src/db/client";
import { messageInbox, messageQuota, messageSubscriptions } from "../control-plane/src/db/schema";
import adminApp from "../control-plane/src/index";
import { sendMessage } from "../control-plane/src/services/message-delivery";
import { issueAccessToken, openIdOf } from "../control-plane/src/services/server-api";
import { ApiError } from "../core/errors";
import { INBOX_RETENTION_MS } from "../core/messages";
import { makeUserProof, USER_PROOF_HEADER } from "../core/user-proof";
import { answerInbox, answerMarkRead, answerSubscribe } from "../edge-worker/src/routes/messages";
import { testEnv } from "./env";
import {
  adminEnv,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  runCron,
  type World,
} from "./support/admin";
import { type AssertionKey, mintAssertion, registerAssertionKey } from "./support/assertions";
import { FAILING_STATEMENT, interceptD1 } from "./support/d1-faults";
import { edgeEnv, ORIGIN } from "./support/edge";

let world: World;
let key1: AssertionKey;
let appId: string;
let secret: string;
let token: string;
/** My Templates: two one-time with the same title (other keyword sets), one other one-time, two long-term. */
const T = {} as Record<"shipped" | "shippedToo" | "paid" | "flight" | "bus", string>;

async function addTemplate(publicTemplateId: string, keywords: string[]): Promise<string> {
  const t = await expectJson(
    callAdmin("POST", `/v1/mini-programs/${appId}/message-templates`, {
      token: world.devA.token,
      json: { publicTemplateId, keywords },
    }),
    201,
  );
  return t.templateId;
}

beforeAll(async () => {
  world = await makeWorld();
  key1 = await registerAssertionKey(world.manager1.token, world.host1);
  appId = await makeMiniProgram(world);
  secret = (
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/secret/generate`, { token: world.adminA.token }),
      201,
    )
  ).secret;
  token = await accessToken();
  T.shipped = await addTemplate("pt1001", ["character_string1", "thing2"]);
  T.shippedToo = await addTemplate("pt1001", ["character_string1", "time4"]);
  T.paid = await addTemplate("pt1002", ["character_string1", "amount2"]);
  T.flight = await addTemplate("pt3001", ["character_string1", "phrase2", "time3"]);
  T.bus = await addTemplate("pt3006", ["character_string1", "thing3"]);
});

async function accessToken(now = Date.now()): Promise<string> {
  const r = await issueAccessToken(
    adminEnv(),
    createDb(testEnv.DB),
    { grant_type: "client_credential", appid: appId, secret },
    now,
  );
  return r.access_token;
}

/** The edge handing its forward to the in-process admin Worker (the URL fetch, in production). */
async function forward(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await adminApp.fetch(request, adminEnv(), ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** An edge handler's answer; a thrown ApiError becomes the response the edge's onError gives. */
async function viaEdge(answer: Promise<Response>): Promise<Response> {
  try {
    return await answer;
  } catch (err) {
    if (err instanceof ApiError) return Response.json(err.toBody(), { status: err.status });
    throw err;
  }
}

const edgeEnvFull = () => ({ ...edgeEnv, ADMIN_BASE_URL: "https://admin.test" }) as typeof edgeEnv;

async function userHeaders(account: string, k = key1, hostAppId = world.host1) {
  const assertion = await mintAssertion(k, { iss: hostAppId, sub: account });
  return {
    "content-type": "application/json",
    "x-graycast-user": new URLSearchParams({ assertion }).toString(),
  };
}

async function subscribeAs(account: string, choices: { templateId: string; decision: string }[], extra = {}) {
  return viaEdge(
    answerSubscribe(
      new Request(`${ORIGIN}/v1/messages/subscribe`, {
        method: "POST",
        headers: await userHeaders(account),
        body: JSON.stringify({ appId, hostAppId: world.host1, choices, ...extra }),
      }),
      edgeEnvFull(),
      forward,
    ),
  );
}

const accept = (...ids: string[]) => ids.map((templateId) => ({ templateId, decision: "accept" }));
const openid = (account: string) => openIdOf(testEnv.USER_ID_KEY, appId, world.host1, account);

function send(body: unknown, tok: string | null = token) {
  return callAdmin("POST", `/cgi-bin/message/subscribe/send${tok === null ? "" : `?access_token=${tok}`}`, {
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });
}

const flightData = (status = "Late") => ({
  character_string1: { value: "CX889" },
  phrase2: { value: status },
  time3: { value: "2026-12-05 21:40" },
});
const shippedData = { character_string1: { value: "SO-1" }, thing2: { value: "Earbuds" } };

async function expectErrcode(res: Response | Promise<Response>, status: number, errcode: number) {
  const body = await expectJson<{ errcode: number; errmsg: string }>(res, status);
  expect(body.errcode).toBe(errcode);
  return body.errmsg;
}

async function inboxOf(account: string, query = "") {
  return answerInbox(
    new Request(`${ORIGIN}/v1/messages/inbox?appId=${appId}&hostAppId=${world.host1}${query}`, {
      headers: await userHeaders(account),
    }),
    edgeEnvFull(),
    forward,
  );
}

describe("subscribe through the edge (T3)", () => {
  it("records accept and reject per id, as requestSubscribeMessage answers", async () => {
    const res = await subscribeAs("sub-user-1", [
      { templateId: T.shipped, decision: "accept" },
      { templateId: T.paid, decision: "reject" },
    ]);
    expect(res.headers.get("x-graycast-assertion")).toBe("verified");
    expect(await expectJson(res, 200)).toEqual({
      errMsg: "requestSubscribeMessage:ok",
      results: { [T.shipped]: "accept", [T.paid]: "reject" },
    });
    const rows = await createDb(testEnv.DB)
      .select()
      .from(messageSubscriptions)
      .where(eq(messageSubscriptions.openid, await openid("sub-user-1")))
      .all();
    expect(rows.map((r) => [r.templateId, r.status, r.credits]).sort()).toEqual(
      [
        [T.shipped, "accept", 1],
        [T.paid, "reject", 0],
      ].sort(),
    );
    // The account is never stored in clear.
    expect(JSON.stringify(rows)).not.toContain("sub-user-1");
  });

  it("at most 3 ids per call; one-time and long-term never mixed", async () => {
    const tooMany = await subscribeAs("sub-user-2", accept(T.shipped, T.paid, T.shippedToo, T.flight));
    await expectError(tooMany, 400, "bad_request");
    const mixed = await subscribeAs("sub-user-2", accept(T.shipped, T.flight));
    expect(await expectError(mixed, 400, "bad_request")).toMatch(/cannot be used at the same time/);
    // Nothing of a refused call was recorded.
    const rows = await createDb(testEnv.DB)
      .select()
      .from(messageSubscriptions)
      .where(eq(messageSubscriptions.openid, await openid("sub-user-2")))
      .all();
    expect(rows).toEqual([]);
  });

  it("ids with the same template title collapse to one (the first); the others are 'filter'", async () => {
    const res = await subscribeAs("sub-user-3", accept(T.shipped, T.paid, T.shippedToo));
    expect((await expectJson(res, 200)).results).toEqual({
      [T.shipped]: "accept",
      [T.paid]: "accept",
      [T.shippedToo]: "filter",
    });
    const rows = await createDb(testEnv.DB)
      .select()
      .from(messageSubscriptions)
      .where(eq(messageSubscriptions.openid, await openid("sub-user-3")))
      .all();
    expect(rows.map((r) => r.templateId).sort()).toEqual([T.shipped, T.paid].sort());
  });

  it("refuses an unverified user, an id of another mini program, a host app it is not bound to", async () => {
    const noUser = await answerSubscribe(
      new Request(`${ORIGIN}/v1/messages/subscribe`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ appId, hostAppId: world.host1, choices: accept(T.shipped) }),
      }),
      edgeEnvFull(),
      forward,
    ).catch((e) => e);
    expect(noUser.status).toBe(401);
    const forged = await mintAssertion({ ...key1, kid: "hk_unknown" }, { iss: world.host1, sub: "x" });
    const bad = await answerSubscribe(
      new Request(`${ORIGIN}/v1/messages/subscribe`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-graycast-user": `assertion=${forged}` },
        body: JSON.stringify({ appId, hostAppId: world.host1, choices: accept(T.shipped) }),
      }),
      edgeEnvFull(),
      forward,
    );
    expect(bad.status).toBe(401);
    const other = await makeMiniProgram(world);
    const foreign = await expectJson(
      callAdmin("POST", `/v1/mini-programs/${other}/message-templates`, {
        token: world.devA.token,
        json: { publicTemplateId: "pt1001", keywords: ["thing2"] },
      }),
      201,
    );
    await expectError(subscribeAs("sub-user-4", accept(foreign.templateId)), 400, "bad_request");
    const wrongHost = await answerSubscribe(
      new Request(`${ORIGIN}/v1/messages/subscribe`, {
        method: "POST",
        headers: await userHeaders("sub-user-4"),
        body: JSON.stringify({ appId, hostAppId: world.host2, choices: accept(T.shipped) }),
      }),
      edgeEnvFull(),
      forward,
    ).catch((e) => e);
    expect(wrongHost.status).toBe(403);
  });

  it("the admin Worker's forward paths take only a valid edge proof for that path", async () => {
    const body = JSON.stringify({ appId, hostAppId: world.host1, choices: accept(T.shipped) });
    const call = (headers: Record<string, string>) =>
      callAdmin("POST", "/internal/messages/subscribe", {
        body,
        headers: { "content-type": "application/json", ...headers },
      });
    await expectError(call({}), 401, "unauthenticated");
    const user = { appId, hostAppId: world.host1, account: "proof-user" };
    const otherPath = await makeUserProof(
      testEnv.LOGIN_CODE_KEY,
      user,
      "/internal/messages/read",
      Date.now(),
    );
    await expectError(call({ [USER_PROOF_HEADER]: otherPath }), 401, "unauthenticated");
    const wrongKey = await makeUserProof(
      "another-key-0123456789abcdef0123456789",
      user,
      "/internal/messages/subscribe",
      Date.now(),
    );
    await expectError(call({ [USER_PROOF_HEADER]: wrongKey }), 401, "unauthenticated");
    const expired = await makeUserProof(
      testEnv.LOGIN_CODE_KEY,
      user,
      "/internal/messages/subscribe",
      Date.now() - 61_000,
    );
    await expectError(call({ [USER_PROOF_HEADER]: expired }), 401, "unauthenticated");
    const otherApp = await makeUserProof(
      testEnv.LOGIN_CODE_KEY,
      { ...user, hostAppId: world.host2 },
      "/internal/messages/subscribe",
      Date.now(),
    );
    await expectError(call({ [USER_PROOF_HEADER]: otherApp }), 401, "unauthenticated");
    const good = await makeUserProof(
      testEnv.LOGIN_CODE_KEY,
      user,
      "/internal/messages/subscribe",
      Date.now(),
    );
    await expectJson(call({ [USER_PROOF_HEADER]: good }), 200);
  });
});

describe("send (T4)", () => {
  it("a one-time subscription allows exactly one message; the touser is jscode2session's openid", async () => {
    await expectJson(await subscribeAs("send-user-1", accept(T.shipped)), 200);
    const to = await openid("send-user-1");
    const ok = await expectJson(
      send({ touser: to, template_id: T.shipped, page: "pages/order/index?id=1", data: shippedData }),
      200,
    );
    expect(ok).toMatchObject({ errcode: 0, errmsg: "ok", msgid: expect.stringMatching(/^msg/) });
    expect(
      await expectErrcode(send({ touser: to, template_id: T.shipped, data: shippedData }), 403, 43101),
    ).toMatch(/user refuse/);
    // Another accept allows another message.
    await expectJson(await subscribeAs("send-user-1", accept(T.shipped)), 200);
    await expectJson(send({ touser: to, template_id: T.shipped, data: shippedData }), 200);
    await expectErrcode(send({ touser: to, template_id: T.shipped, data: shippedData }), 403, 43101);
  });

  it("no subscription, or a rejected one: 43101", async () => {
    await expectErrcode(
      send({
        touser: await openid("never-subscribed"),
        template_id: T.paid,
        data: { character_string1: { value: "A" }, amount2: { value: "¥1" } },
      }),
      403,
      43101,
    );
    await expectJson(await subscribeAs("send-user-2", [{ templateId: T.flight, decision: "reject" }]), 200);
    await expectErrcode(
      send({ touser: await openid("send-user-2"), template_id: T.flight, data: flightData() }),
      403,
      43101,
    );
  });

  it("long-term: at most 5 a day per template and user; the sixth is 40038 until the next day (UTC+8)", async () => {
    await expectJson(await subscribeAs("send-user-3", accept(T.flight, T.bus)), 200);
    const to = await openid("send-user-3");
    for (let i = 0; i < 5; i++)
      await expectJson(send({ touser: to, template_id: T.flight, data: flightData() }), 200);
    const res = await send({ touser: to, template_id: T.flight, data: flightData() });
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await expectErrcode(res, 429, 40038)).toMatch(/5 messages a day/);
    // Per template: the other long-term template still has its 5.
    await expectJson(
      send({
        touser: to,
        template_id: T.bus,
        data: { character_string1: { value: "M390" }, thing3: { value: "3 minutes" } },
      }),
      200,
    );
  });

  it("20 concurrent long-term sends: exactly 5 delivered, 15 refused with 40038, none 5xx", async () => {
    await expectJson(await subscribeAs("send-user-4", accept(T.flight)), 200);
    const to = await openid("send-user-4");
    const results = await Promise.all(
      Array.from({ length: 20 }, () => send({ touser: to, template_id: T.flight, data: flightData() })),
    );
    const bodies = await Promise.all(results.map((r) => r.json() as Promise<{ errcode: number }>));
    expect(bodies.filter((b) => b.errcode === 0)).toHaveLength(5);
    expect(bodies.filter((b) => b.errcode === 40038)).toHaveLength(15);
    expect(results.every((r) => r.status < 500)).toBe(true);
    const inbox = await createDb(testEnv.DB)
      .select()
      .from(messageInbox)
      .where(eq(messageInbox.openid, to))
      .all();
    expect(inbox).toHaveLength(5);
  });

  it("10 concurrent sends on one one-time subscription: exactly one delivered", async () => {
    await expectJson(await subscribeAs("send-user-5", accept(T.paid)), 200);
    const to = await openid("send-user-5");
    const data = { character_string1: { value: "SO-9" }, amount2: { value: "¥9.90" } };
    const results = await Promise.all(
      Array.from({ length: 10 }, () => send({ touser: to, template_id: T.paid, data })),
    );
    const codes = await Promise.all(
      results.map(async (r) => ((await r.json()) as { errcode: number }).errcode),
    );
    expect(codes.filter((c) => c === 0)).toHaveLength(1);
    expect(codes.filter((c) => c === 43101)).toHaveLength(9);
  });

  it("a day is a calendar day in China Standard Time: the count starts again at 16:00 UTC", async () => {
    await expectJson(await subscribeAs("send-user-6", accept(T.flight)), 200);
    const to = await openid("send-user-6");
    const boundary = Math.ceil(Date.now() / 86_400_000) * 86_400_000 + 16 * 3_600_000;
    const before = boundary - 60_000;
    const tok = await accessToken(before);
    const env = adminEnv();
    const db = createDb(testEnv.DB);
    const body = { touser: to, template_id: T.flight, data: flightData() };
    for (let i = 0; i < 5; i++) await sendMessage(env, db, tok, body, before + i);
    await expect(sendMessage(env, db, tok, body, boundary - 1)).rejects.toMatchObject({ errcode: 40038 });
    await expect(sendMessage(env, db, tok, body, boundary)).resolves.toMatchObject({ errcode: 0 });
  });

  it("validates every value against its keyword's type and the template's keywords: 47003", async () => {
    await expectJson(await subscribeAs("send-user-7", accept(T.flight)), 200);
    const to = await openid("send-user-7");
    const cases: [unknown, RegExp][] = [
      [{ ...flightData(), phrase2: { value: "Delayed" } }, /phrase2.*phrase/],
      [{ ...flightData(), time3: { value: "soon" } }, /time3/],
      [{ character_string1: { value: "CX889" }, phrase2: { value: "Late" } }, /time3 is missing/],
      [{ ...flightData(), thing9: { value: "x" } }, /thing9 is not a keyword/],
      [{ ...flightData(), character_string1: { value: "has space" } }, /character_string1/],
      [{ ...flightData(), phrase2: "Late" }, /argument invalid/],
    ];
    for (const [data, msg] of cases)
      expect(await expectErrcode(send({ touser: to, template_id: T.flight, data }), 400, 47003)).toMatch(msg);
    // None of them consumed the quota: 5 still go through.
    for (let i = 0; i < 5; i++)
      await expectJson(send({ touser: to, template_id: T.flight, data: flightData() }), 200);
  });

  it("other refusals in WeChat's shape: 40001, 40037, 40003, 41030, 47001; never 5xx", async () => {
    const to = await openid("send-user-7");
    await expectErrcode(send({ touser: to, template_id: T.flight, data: flightData() }, null), 401, 40001);
    await expectErrcode(
      send({ touser: to, template_id: T.flight, data: flightData() }, "A".repeat(43)),
      401,
      40001,
    );
    await expectErrcode(
      send({ touser: to, template_id: "mtaaaaaaaaaaaaaaaaaaaaaaaa", data: flightData() }),
      400,
      40037,
    );
    await expectErrcode(send({ touser: to, data: flightData() }), 400, 40037);
    await expectErrcode(
      send({ touser: "not-an-openid", template_id: T.flight, data: flightData() }),
      400,
      40003,
    );
    await expectErrcode(send({ template_id: T.flight, data: flightData() }), 400, 40003);
    await expectErrcode(
      send({ touser: to, template_id: T.flight, page: "pages/a b", data: flightData() }),
      400,
      41030,
    );
    await expectErrcode(
      send({ touser: to, template_id: T.flight, page: "p".repeat(1025), data: flightData() }),
      400,
      41030,
    );
    await expectErrcode(send("{not json"), 400, 47001);
    await expectErrcode(send("[1,2]"), 400, 47001);
    await expectErrcode(send(""), 400, 47001);
    await expectErrcode(send(`{"touser":"${"x".repeat(20_000)}"}`), 400, 47001);
    // An expired token (7200 s), and a token of another mini program: its server cannot send with ours.
    const expired = await accessToken(Date.now() - 7_201_000);
    await expectErrcode(send({ touser: to, template_id: T.flight, data: flightData() }, expired), 401, 42001);
    const otherApp = await makeMiniProgram(world);
    const otherSecret = (
      await expectJson(
        callAdmin("POST", `/v1/mini-programs/${otherApp}/secret/generate`, { token: world.adminA.token }),
        201,
      )
    ).secret;
    const otherToken = (
      await issueAccessToken(adminEnv(), createDb(testEnv.DB), {
        grant_type: "client_credential",
        appid: otherApp,
        secret: otherSecret,
      })
    ).access_token;
    await expectErrcode(
      send({ touser: to, template_id: T.flight, data: flightData() }, otherToken),
      400,
      40037,
    );
    // A template of another mini program is invalid here.
    const other = await makeMiniProgram(world);
    const foreign = await expectJson(
      callAdmin("POST", `/v1/mini-programs/${other}/message-templates`, {
        token: world.devA.token,
        json: { publicTemplateId: "pt3001", keywords: ["phrase2"] },
      }),
      201,
    );
    await expectErrcode(
      send({ touser: to, template_id: foreign.templateId, data: { phrase2: { value: "Late" } } }),
      400,
      40037,
    );
  });

  it("a send whose write fails consumes nothing (one batch: quota and inbox together)", async () => {
    await expectJson(await subscribeAs("send-user-8", accept(T.flight, T.bus)), 200);
    await expectJson(await subscribeAs("send-user-8", accept(T.shipped)), 200);
    const to = await openid("send-user-8");
    const failing = {
      ...adminEnv(),
      DB: interceptD1(testEnv.DB, {
        batch: (statements, _sqlOf, real) => real.batch([...statements, real.prepare(FAILING_STATEMENT)]),
      }),
    };
    const db = createDb(testEnv.DB);
    await expect(
      sendMessage(failing, db, token, { touser: to, template_id: T.flight, data: flightData() }),
    ).rejects.toThrow();
    await expect(
      sendMessage(failing, db, token, { touser: to, template_id: T.shipped, data: shippedData }),
    ).rejects.toThrow();
    expect(await db.select().from(messageInbox).where(eq(messageInbox.openid, to)).all()).toEqual([]);
    expect(await db.select().from(messageQuota).where(eq(messageQuota.openid, to)).all()).toEqual([]);
    const sub = await db
      .select()
      .from(messageSubscriptions)
      .where(and(eq(messageSubscriptions.openid, to), eq(messageSubscriptions.templateId, T.shipped)))
      .get();
    expect(sub!.credits).toBe(1);
    // Nothing was taken: the next send goes through.
    await expectJson(send({ touser: to, template_id: T.shipped, data: shippedData }), 200);
  });

  it("a deleted template cannot be sent with (40037) and its subscriptions are gone", async () => {
    const id = await addTemplate("pt7004", ["name1", "amount2"]);
    await expectJson(await subscribeAs("send-user-9", accept(id)), 200);
    await expectJson(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/message-templates/${id}`, { token: world.devA.token }),
      200,
    );
    const data = { name1: { value: "Liu Yang" }, amount2: { value: "¥300.00" } };
    await expectErrcode(send({ touser: await openid("send-user-9"), template_id: id, data }), 400, 40037);
    expect(
      await createDb(testEnv.DB)
        .select()
        .from(messageSubscriptions)
        .where(eq(messageSubscriptions.templateId, id))
        .all(),
    ).toEqual([]);
  });
});

describe("the inbox through the edge (T5) and retention", () => {
  it("newest first, in pages, only the user's own; mark read", async () => {
    await expectJson(await subscribeAs("inbox-user-1", accept(T.flight)), 200);
    const to = await openid("inbox-user-1");
    const ids: string[] = [];
    for (const status of ["Late", "Ready", "Done"]) {
      ids.push(
        (
          await expectJson(
            send({ touser: to, template_id: T.flight, page: "pages/f", data: flightData(status) }),
            200,
          )
        ).msgid,
      );
    }
    const p1 = await expectJson(await inboxOf("inbox-user-1", "&limit=2"), 200);
    expect(p1.messages.map((m: any) => m.id)).toEqual([ids[2], ids[1]]);
    expect(p1.messages[0]).toMatchObject({
      title: "Flight status changed",
      page: "pages/f",
      readAt: null,
      lines: [
        { key: "character_string1", name: "Flight", value: "CX889" },
        { key: "phrase2", name: "Status", value: "Done" },
        { key: "time3", name: "New departure", value: "2026-12-05 21:40" },
      ],
    });
    const p2 = await expectJson(await inboxOf("inbox-user-1", `&limit=2&cursor=${p1.nextCursor}`), 200);
    expect(p2.messages.map((m: any) => m.id)).toEqual([ids[0]]);
    expect(p2.nextCursor).toBeNull();
    expect((await expectJson(await inboxOf("inbox-user-other"), 200)).messages).toEqual([]);

    const read = (account: string, messageIds: string[]) =>
      userHeaders(account).then((headers) =>
        answerMarkRead(
          new Request(`${ORIGIN}/v1/messages/inbox/read`, {
            method: "POST",
            headers,
            body: JSON.stringify({ appId, hostAppId: world.host1, ids: messageIds }),
          }),
          edgeEnvFull(),
          forward,
        ),
      );
    // Another user cannot mark them.
    expect(await expectJson(await read("inbox-user-other", ids), 200)).toEqual({ marked: 0 });
    expect(await expectJson(await read("inbox-user-1", [ids[0]!, ids[0]!]), 200)).toEqual({ marked: 1 });
    expect(await expectJson(await read("inbox-user-1", [ids[0]!]), 200)).toEqual({ marked: 0 });
    const after = await expectJson(await inboxOf("inbox-user-1"), 200);
    expect(after.messages.find((m: any) => m.id === ids[0]).readAt).toEqual(expect.any(Number));
    expect(after.messages.find((m: any) => m.id === ids[1]).readAt).toBeNull();
  });

  it("bad inbox queries are 400, never 5xx", async () => {
    const bad = async (q: string) =>
      answerInbox(
        new Request(`${ORIGIN}/v1/messages/inbox?${q}`, { headers: await userHeaders("inbox-user-1") }),
        edgeEnvFull(),
        forward,
      ).catch((e) => e);
    for (const q of [
      `appId=${appId}`,
      `appId=${appId}&hostAppId=${world.host1}&limit=0`,
      `appId=${appId}&hostAppId=${world.host1}&limit=51`,
      `appId=${appId}&hostAppId=${world.host1}&extra=1`,
      `appId=${appId}&appId=${appId}&hostAppId=${world.host1}`,
    ])
      expect((await bad(q)).status).toBe(400);
    const cursor = await viaEdge(inboxOf("inbox-user-1", "&cursor=garbage"));
    expect(cursor.status).toBe(400);
  });

  it("entries older than 30 days are removed by the cron", async () => {
    await expectJson(await subscribeAs("retention-user", accept(T.bus)), 200);
    const to = await openid("retention-user");
    const { msgid } = await expectJson(
      send({
        touser: to,
        template_id: T.bus,
        data: { character_string1: { value: "M1" }, thing3: { value: "now" } },
      }),
      200,
    );
    const db = createDb(testEnv.DB);
    const row = await db.select().from(messageInbox).where(eq(messageInbox.id, msgid)).get();
    await runCron(row!.createdAt + INBOX_RETENTION_MS - 1000);
    expect(await db.select().from(messageInbox).where(eq(messageInbox.id, msgid)).get()).toBeDefined();
    await runCron(row!.createdAt + INBOX_RETENTION_MS + 1000);
    expect(await db.select().from(messageInbox).where(eq(messageInbox.id, msgid)).get()).toBeUndefined();
  });
});

describe("the reference client (client/src/messages.ts) against the edge", () => {
  /** The client's fetch, reaching the edge's handlers (which forward to the in-process admin app). */
  const edgeOf = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const path = new URL(req.url).pathname;
    const handler =
      path === "/v1/messages/subscribe"
        ? answerSubscribe
        : path === "/v1/messages/inbox"
          ? answerInbox
          : answerMarkRead;
    return viaEdge(handler(req, edgeEnvFull(), forward));
  };
  const clientFor = (account: string | undefined) =>
    new SubscriptionMessages(
      {
        edge: ORIGIN,
        appId,
        hostAppId: world.host1,
        userAssertion: async () =>
          account === undefined ? undefined : mintAssertion(key1, { iss: world.host1, sub: account }),
      },
      { fetch: edgeOf as typeof fetch },
    );

  it("subscribes, reads the inbox, marks read; refusals are messages_failed", async () => {
    const client = clientFor("client-user-1");
    expect(await client.requestSubscribeMessage({ [T.paid]: "accept", [T.shipped]: "reject" })).toEqual({
      [T.paid]: "accept",
      [T.shipped]: "reject",
    });
    const { msgid } = await expectJson(
      send(
        {
          touser: await openid("client-user-1"),
          template_id: T.paid,
          data: { character_string1: { value: "SO-7" }, amount2: { value: "¥7.00" } },
        },
        await accessToken(),
      ), // a fresh token: the retention test's cron ran 30 days ahead
      200,
    );
    const page = await client.inbox({ limit: 5 });
    expect(page.messages.map((m) => m.id)).toEqual([msgid]);
    expect(await client.markRead([msgid])).toBe(1);
    await expect(
      client.requestSubscribeMessage({ [T.paid]: "accept", [T.flight]: "accept" }),
    ).rejects.toMatchObject({
      code: "messages_failed",
    });
    const anonymous = clientFor(undefined);
    await expect(anonymous.inbox()).rejects.toBeInstanceOf(ClientError);
  });
});
