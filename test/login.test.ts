/**
 * Login and the server API (PRODUCT.md X6; issue 12): the edge's POST /v1/login gives a one-time
 * code for the host app's verified user (its user assertion, docs/trust.md), the mini program's
 * server exchanges it with GET /sns/jscode2session for { openid, session_key, unionid }; codes
 * work once and for 5 minutes; errors are WeChat's { errcode, errmsg }. Real edge Worker, admin
 * Worker, D1 and R2; time is injected (the login's clock), never slept.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { GraycastClient, MemoryStore } from "../client/src/index";
import { createDb } from "../control-plane/src/db/client";
import { serverAccessTokens, teamMembers, usedLoginCodes } from "../control-plane/src/db/schema";
import {
  ACCESS_TOKEN_TTL_SECONDS,
  authenticateAccessToken,
  code2Session as exchangeInProcess,
  sweepServerApi,
} from "../control-plane/src/services/server-api";
import { LOGIN_CODE_TTL_MS } from "../core/login-code";
import { answerLogin } from "../edge-worker/src/routes/login";
import { testEnv } from "./env";
import {
  adminEnv,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  type World,
} from "./support/admin";
import {
  type AssertionKey,
  makeAssertionKey,
  mintAssertion,
  registerAssertionKey,
} from "./support/assertions";
import { interceptD1 } from "./support/d1-faults";
import { edgeEnv, edgeFetch, ORIGIN } from "./support/edge";

let world: World;
let key1: AssertionKey;
let appId: string;
let secret: string;
beforeAll(async () => {
  world = await makeWorld();
  key1 = await registerAssertionKey(world.manager1.token, world.host1);
  appId = await makeMiniProgram(world);
  secret = await generateSecret(appId);
});

async function generateSecret(id: string, token = world.adminA.token): Promise<string> {
  return (
    await expectJson<{ secret: string }>(
      callAdmin("POST", `/v1/mini-programs/${id}/secret/generate`, { token }),
      201,
    )
  ).secret;
}

const userHeader = (assertion: string) => ({
  "x-graycast-user": new URLSearchParams({ assertion }).toString(),
});

function loginRequest(body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`${ORIGIN}/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function login(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return edgeFetch("/v1/login", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** A code for `account` of host app 1 in `id` (through the real edge Worker). */
async function codeFor(account: string, id = appId): Promise<string> {
  const assertion = await mintAssertion(key1, { iss: world.host1, sub: account });
  const res = await login({ appId: id, hostAppId: world.host1 }, userHeader(assertion));
  expect(res.headers.get("x-graycast-assertion")).toBe("verified");
  const body = await expectJson<{ code: string; expiresIn: number }>(res, 200);
  expect(body.expiresIn).toBe(300);
  return body.code;
}

function code2Session(query: Record<string, string>) {
  return callAdmin("GET", `/sns/jscode2session?${new URLSearchParams(query)}`);
}

const exchange = (code: string, id = appId, s = secret) =>
  code2Session({ appid: id, secret: s, js_code: code, grant_type: "authorization_code" });

async function expectErrcode(res: Response | Promise<Response>, status: number, errcode: number) {
  const body = await expectJson<{ errcode: number; errmsg: string }>(res, status);
  expect(body.errcode).toBe(errcode);
  expect(body.errmsg).toEqual(expect.any(String));
  return body;
}

describe("login and jscode2session", () => {
  it("a verified user gets a code that hides the account; the server exchanges it once for openid, session_key, unionid", async () => {
    const account = "alice-verified-0001";
    const code = await codeFor(account);
    expect(code).not.toContain(account);
    expect(atob(code.replaceAll("-", "+").replaceAll("_", "/"))).not.toContain(account);

    const session = await expectJson<{ openid: string; session_key: string; unionid: string }>(
      exchange(code),
      200,
    );
    expect(session.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(session.unionid).toMatch(/^u[A-Za-z0-9_-]{27}$/);
    expect(atob(session.session_key)).toHaveLength(16);
    expect(JSON.stringify(session)).not.toContain(account);

    // Works once: the second exchange is WeChat's "code been used".
    await expectErrcode(exchange(code), 409, 40163);
  });

  it("openid is stable per mini program and user, unionid per team and user", async () => {
    const first = await expectJson<any>(exchange(await codeFor("bob")), 200);
    const again = await expectJson<any>(exchange(await codeFor("bob")), 200);
    expect(again.openid).toBe(first.openid);
    expect(again.unionid).toBe(first.unionid);
    expect(again.session_key).not.toBe(first.session_key);

    const carol = await expectJson<any>(exchange(await codeFor("carol")), 200);
    expect(carol.openid).not.toBe(first.openid);
    expect(carol.unionid).not.toBe(first.unionid);

    // Another mini program of the same team: another openid, the same unionid.
    const sibling = await makeMiniProgram(world);
    const siblingSecret = await generateSecret(sibling);
    const inSibling = await expectJson<any>(
      exchange(await codeFor("bob", sibling), sibling, siblingSecret),
      200,
    );
    expect(inSibling.openid).not.toBe(first.openid);
    expect(inSibling.unionid).toBe(first.unionid);

    // A mini program of another team: another openid and another unionid.
    const other = await expectJson<{ appId: string }>(
      callAdmin("POST", "/v1/mini-programs", {
        token: world.devB.token,
        json: { teamId: world.teamB, name: "B" },
      }),
      201,
    );
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${other.appId}/bindings`, {
        token: world.devB.token,
        json: { hostAppId: world.host1 },
      }),
      201,
    );
    await expectJson(
      callAdmin("POST", `/v1/host-apps/${world.host1}/bindings/${other.appId}/approve`, {
        token: world.manager1.token,
      }),
      200,
    );
    // Team B's only member is a developer: made its admin for the secret (bootstrap, as makeWorld does).
    await createDb(testEnv.DB)
      .update(teamMembers)
      .set({ role: "admin" })
      .where(and(eq(teamMembers.teamId, world.teamB), eq(teamMembers.userId, world.devB.id)))
      .run();
    const otherSecret = await generateSecret(other.appId, world.devB.token);
    const inOther = await expectJson<any>(
      exchange(await codeFor("bob", other.appId), other.appId, otherSecret),
      200,
    );
    expect(inOther.openid).not.toBe(first.openid);
    expect(inOther.unionid).not.toBe(first.unionid);
  });

  it("a code expires after 5 minutes (issued by a login whose clock is 5 minutes and 1 s behind)", async () => {
    const issuedAt = Date.now() - LOGIN_CODE_TTL_MS - 1000;
    const iat = Math.floor(issuedAt / 1000);
    const assertion = await mintAssertion(key1, { iss: world.host1, sub: "dave", iat, exp: iat + 600 });
    const res = await answerLogin(
      loginRequest({ appId, hostAppId: world.host1 }, userHeader(assertion)),
      edgeEnv,
      issuedAt,
    );
    const { code } = await expectJson<{ code: string }>(res, 200);
    const body = await expectErrcode(exchange(code), 400, 40029);
    expect(body.errmsg).toContain("expired");

    // The same login 4 minutes ago is still good.
    const recent = Date.now() - LOGIN_CODE_TTL_MS + 60_000;
    const fresh = await answerLogin(
      loginRequest({ appId, hostAppId: world.host1 }, userHeader(assertion)),
      edgeEnv,
      recent,
    );
    await expectJson(exchange((await expectJson<{ code: string }>(fresh, 200)).code), 200);
  });

  it("refuses a code of another mini program, a forged or edited code, and a missing one with 40029", async () => {
    const sibling = await makeMiniProgram(world);
    const siblingSecret = await generateSecret(sibling);
    const code = await codeFor("erin");
    await expectErrcode(exchange(code, sibling, siblingSecret), 400, 40029);
    // One character in the middle changed (a whole 6 bits of ciphertext): GCM refuses it.
    const mid = Math.floor(code.length / 2);
    const edited = `${code.slice(0, mid)}${code[mid] === "A" ? "B" : "A"}${code.slice(mid + 1)}`;
    await expectErrcode(exchange(edited), 400, 40029);
    await expectErrcode(exchange("x".repeat(200)), 400, 40029);
    await expectErrcode(exchange("not a code!"), 400, 40029);
    await expectErrcode(exchange("y".repeat(5000)), 400, 40029);
    await expectErrcode(code2Session({ appid: appId, secret, grant_type: "authorization_code" }), 400, 40029);
    // The refusals did not use the code up.
    await expectJson(exchange(code), 200);
  });

  it("refuses wrong credentials and parameters with WeChat's errcodes", async () => {
    const code = await codeFor("frank");
    await expectErrcode(exchange(code, appId, "0".repeat(32)), 401, 40001);
    await expectErrcode(exchange(code, appId, `${secret.slice(0, 8)}${"0".repeat(24)}`), 401, 40001);
    await expectErrcode(exchange(code, appId, "short"), 401, 40001);
    await expectErrcode(
      code2Session({ appid: appId, js_code: code, grant_type: "authorization_code" }),
      401,
      40001,
    );
    await expectErrcode(exchange(code, "not-an-appid", secret), 400, 40013);
    await expectErrcode(exchange(code, `gc${"b".repeat(20)}`, secret), 400, 40013);
    await expectErrcode(
      code2Session({ secret, js_code: code, grant_type: "authorization_code" }),
      400,
      40013,
    );
    await expectErrcode(
      code2Session({ appid: appId, secret, js_code: code, grant_type: "client_credential" }),
      400,
      40002,
    );
    await expectErrcode(code2Session({ appid: appId, secret, js_code: code }), 400, 40002);
    // A parameter given twice: the WeChat shape with that parameter's errcode, not the admin API's.
    const twice = (name: string) =>
      callAdmin(
        "GET",
        `/sns/jscode2session?appid=${appId}&secret=${secret}&js_code=${code}&grant_type=authorization_code&${name}=x`,
      );
    await expectErrcode(twice("appid"), 400, 40013);
    await expectErrcode(twice("secret"), 401, 40001);
    await expectErrcode(twice("js_code"), 400, 40029);
    await expectErrcode(twice("grant_type"), 400, 40002);
    // A mini program without a secret: any secret is wrong.
    const bare = await makeMiniProgram(world);
    await expectErrcode(exchange(await codeFor("frank", bare), bare, secret), 401, 40001);
    // None of those used the code.
    await expectJson(exchange(code), 200);
  });

  it("a frozen secret is refused with 40243 and does not use the code; unfrozen, the code works", async () => {
    const id = await makeMiniProgram(world);
    const s = await generateSecret(id);
    const code = await codeFor("gina", id);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${id}/secret/freeze`, { token: world.adminA.token }),
      200,
    );
    await expectErrcode(exchange(code, id, s), 403, 40243);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${id}/secret/unfreeze`, { token: world.adminA.token }),
      200,
    );
    await expectJson(exchange(code, id, s), 200);
  });
});

describe("the reference client", () => {
  it("client.login() gets a code from the real edge that the server exchanges for the user's openid", async () => {
    const client = (account: string) =>
      new GraycastClient(
        {
          edge: ORIGIN,
          appId,
          hostAppId: world.host1,
          device: { hostAppVersion: "8.0.1", platform: "ios", osVersion: "17.4" },
          platformKeys: { keys: [] },
          userAssertion: () => mintAssertion(key1, { iss: world.host1, sub: account }),
        },
        {
          fetch: (url, init) => edgeFetch(url.slice(ORIGIN.length), init),
          store: new MemoryStore(),
          decompress: () => {
            throw new Error("not used");
          },
          now: () => Date.now(),
        },
      );
    const { code, expiresAt } = await client("kate").login();
    expect(expiresAt).toBeGreaterThan(Date.now() + 290_000);
    const viaClient = await expectJson<any>(exchange(code), 200);
    const viaEdge = await expectJson<any>(exchange(await codeFor("kate")), 200);
    expect(viaClient.openid).toBe(viaEdge.openid);
    // A user the host app's key does not vouch for gets no code.
    const stranger = await makeAssertionKey(key1.kid);
    const refused = new GraycastClient(
      {
        edge: ORIGIN,
        appId,
        hostAppId: world.host1,
        device: { hostAppVersion: "8.0.1", platform: "ios", osVersion: "17.4" },
        platformKeys: { keys: [] },
        userAssertion: () => mintAssertion(stranger, { iss: world.host1, sub: "kate" }),
      },
      {
        fetch: (url, init) => edgeFetch(url.slice(ORIGIN.length), init),
        store: new MemoryStore(),
        decompress: () => {
          throw new Error("not used");
        },
        now: () => Date.now(),
      },
    );
    await expect(refused.login()).rejects.toMatchObject({ code: "login_failed" });
  });
});

describe("POST /v1/login refusals", () => {
  it("needs a user assertion that verifies: none 401, unverifiable 401 with the reason, malformed header 400", async () => {
    await expectError(login({ appId, hostAppId: world.host1 }), 401, "unauthenticated");
    const stranger = await makeAssertionKey(key1.kid);
    const forged = await mintAssertion(stranger, { iss: world.host1, sub: "mallory" });
    const bad = await login({ appId, hostAppId: world.host1 }, userHeader(forged));
    expect(bad.headers.get("x-graycast-assertion")).toBe("bad_signature");
    await expectError(bad, 401, "unauthenticated");
    const old = Math.floor(Date.now() / 1000) - 7200;
    const expired = await mintAssertion(key1, { iss: world.host1, sub: "mallory", iat: old, exp: old + 600 });
    const late = await login({ appId, hostAppId: world.host1 }, userHeader(expired));
    expect(late.headers.get("x-graycast-assertion")).toBe("expired");
    await expectError(late, 401, "unauthenticated");
    const valid = await mintAssertion(key1, { iss: world.host1, sub: "mallory" });
    await expectError(
      login({ appId, hostAppId: world.host1 }, { "x-graycast-user": `assertion=${valid}&account=mallory` }),
      400,
      "bad_request",
    );
    await expectError(
      login({ appId, hostAppId: world.host1 }, { "x-graycast-user": "assertion=not-a-jws" }),
      400,
      "bad_request",
    );
  });

  it("an assertion of another host app does not log in to this one", async () => {
    const key2 = await registerAssertionKey(world.manager2.token, world.host2);
    const both = await makeMiniProgram(world, [world.host1, world.host2]);
    const ofHost2 = await mintAssertion(key2, { iss: world.host2, sub: "henry" });
    const res = await login({ appId: both, hostAppId: world.host1 }, userHeader(ofHost2));
    expect(res.headers.get("x-graycast-assertion")).toBe("unknown_key");
    await expectError(res, 401, "unauthenticated");
    await expectJson(login({ appId: both, hostAppId: world.host2 }, userHeader(ofHost2)), 200);
  });

  it("refuses a host app the mini program is not bound to (403), an unknown mini program (404) and an off-shelf one (409)", async () => {
    const assertion = await mintAssertion(key1, { iss: world.host1, sub: "ivan" });
    const key2 = await registerAssertionKey(world.manager2.token, world.host2);
    const ofHost2 = await mintAssertion(key2, { iss: world.host2, sub: "ivan" });
    await expectError(login({ appId, hostAppId: world.host2 }, userHeader(ofHost2)), 403, "forbidden");
    await expectError(
      login({ appId: `gc${"c".repeat(20)}`, hostAppId: world.host1 }, userHeader(assertion)),
      404,
      "not_found",
    );
    const id = await makeMiniProgram(world);
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${id}/shelf`, { token: world.devA.token, json: { listed: false } }),
      200,
    );
    await expectError(login({ appId: id, hostAppId: world.host1 }, userHeader(assertion)), 409, "conflict");
  });

  it("refuses malformed bodies: bad fields 400, unknown field 400, not JSON 415, broken JSON 400, oversized 413", async () => {
    const h = userHeader(await mintAssertion(key1, { iss: world.host1, sub: "judy" }));
    await expectError(login({ appId: "nope", hostAppId: world.host1 }, h), 400, "bad_request");
    await expectError(login({ appId, hostAppId: world.host1, account: "judy" }, h), 400, "bad_request");
    await expectError(login({ appId }, h), 400, "bad_request");
    await expectError(login("{", h), 400, "bad_request");
    await expectError(
      edgeFetch("/v1/login", { method: "POST", headers: { "content-type": "text/plain", ...h }, body: "x" }),
      415,
      "unsupported_media_type",
    );
    await expectError(login(JSON.stringify({ appId, pad: "x".repeat(20_000) }), h), 413, "payload_too_large");
  });

  it("is in the edge's OpenAPI document", async () => {
    const doc = await expectJson<any>(edgeFetch("/openapi.json"), 200);
    expect(Object.keys(doc.paths["/v1/login"])).toEqual(["post"]);
    expect(doc.components.schemas.LoginRequest.required.sort()).toEqual(["appId", "hostAppId"]);
  });
});

describe("GET /cgi-bin/token", () => {
  it("gives a 7200 s token that authenticates, stored only as a hash; wrong inputs get WeChat's errcodes", async () => {
    const res = await callAdmin(
      "GET",
      `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`,
    );
    const body = await expectJson<{ access_token: string; expires_in: number }>(res, 200);
    expect(body.expires_in).toBe(7200);
    const db = createDb(testEnv.DB);
    await expect(authenticateAccessToken(db, body.access_token)).resolves.toMatchObject({
      appId,
      teamId: world.teamA,
    });
    const rows = await testEnv.DB.prepare("select * from server_access_tokens").all();
    expect(JSON.stringify(rows.results)).not.toContain(body.access_token);
    // Expired after 7200 s (time injected), refused with 42001; a made-up token with 40001.
    await expect(
      authenticateAccessToken(db, body.access_token, Date.now() + ACCESS_TOKEN_TTL_SECONDS * 1000 + 1),
    ).rejects.toMatchObject({ errcode: 42001 });
    await expect(authenticateAccessToken(db, "A".repeat(43))).rejects.toMatchObject({ errcode: 40001 });
    await expect(authenticateAccessToken(db, "short")).rejects.toMatchObject({ errcode: 40001 });

    const get = (q: string) => callAdmin("GET", `/cgi-bin/token?${q}`);
    await expectErrcode(get(`grant_type=authorization_code&appid=${appId}&secret=${secret}`), 400, 40002);
    await expectErrcode(get(`appid=${appId}&secret=${secret}`), 400, 40002);
    await expectErrcode(get(`grant_type=client_credential&appid=nope&secret=${secret}`), 400, 40013);
    await expectErrcode(
      get(`grant_type=client_credential&appid=gc${"d".repeat(20)}&secret=${secret}`),
      400,
      40013,
    );
    await expectErrcode(
      get(`grant_type=client_credential&appid=${appId}&secret=${"f".repeat(32)}`),
      401,
      40001,
    );
    await expectErrcode(get(`grant_type=client_credential&appid=${appId}`), 401, 40001);
  });

  it("needs no bearer token and ignores one; the server API is in the admin OpenAPI without security", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    expect(doc.paths["/sns/jscode2session"].get.security).toEqual([]);
    expect(doc.paths["/cgi-bin/token"].get.security).toEqual([]);
    await expectJson(
      callAdmin("GET", `/cgi-bin/token?grant_type=client_credential&appid=${appId}&secret=${secret}`, {
        token: "garbage-token-value",
      }),
      200,
    );
  });
});

describe("storage and upkeep", () => {
  it("a D1 failure while using the code is errcode -1 (503) and leaves the code usable", async () => {
    const code = await codeFor("leo");
    const failing = createDb(
      interceptD1(testEnv.DB, { failAlone: (sql) => sql.includes('"used_login_codes"') }),
    );
    const query = { appid: appId, secret, js_code: code, grant_type: "authorization_code" };
    await expect(exchangeInProcess(adminEnv(), failing, query)).rejects.toMatchObject({
      errcode: -1,
      status: 503,
    });
    await expectJson(exchange(code), 200);
  });

  it("two racing generates: one secret, the other 409", async () => {
    const id = await makeMiniProgram(world);
    const answers = await Promise.all(
      [1, 2].map(() =>
        callAdmin("POST", `/v1/mini-programs/${id}/secret/generate`, { token: world.adminA.token }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it("the cron sweep forgets used codes and access tokens once expired, not before", async () => {
    const db = createDb(testEnv.DB);
    const now = Date.now();
    const ids = [`sweep-old-${crypto.randomUUID()}`, `sweep-new-${crypto.randomUUID()}`];
    await db.batch([
      db
        .insert(usedLoginCodes)
        .values({ codeId: ids[0]!, miniProgramId: appId, usedAt: now - 10, expiresAt: now - 1 }),
      db
        .insert(usedLoginCodes)
        .values({ codeId: ids[1]!, miniProgramId: appId, usedAt: now, expiresAt: now + 60_000 }),
      db.insert(serverAccessTokens).values({
        tokenHash: ids[0]!,
        miniProgramId: appId,
        secretGeneration: 1,
        createdAt: now - 10,
        expiresAt: now - 1,
      }),
      db.insert(serverAccessTokens).values({
        tokenHash: ids[1]!,
        miniProgramId: appId,
        secretGeneration: 1,
        createdAt: now,
        expiresAt: now + 60_000,
      }),
    ]);
    await sweepServerApi(db, now);
    const codes = (await db.select().from(usedLoginCodes).all()).map((r) => r.codeId);
    const tokens = (await db.select().from(serverAccessTokens).all()).map((r) => r.tokenHash);
    expect(codes).not.toContain(ids[0]);
    expect(codes).toContain(ids[1]);
    expect(tokens).not.toContain(ids[0]);
    expect(tokens).toContain(ids[1]);
  });
});
