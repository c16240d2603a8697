/**
 * Sign-in, sessions, API tokens and user accounts of the admin API, as a console user or a
 * script sees them: status, error code of the one error shape, and the state read back.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { signSessionJwt } from "../control-plane/src/auth/session";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeUser,
  makeWorld,
  TEST_PASSWORD,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const login = (email: string, password: string) =>
  callAdmin("POST", "/v1/auth/login", { json: { email, password } });
const me = (token?: string) => callAdmin("GET", "/v1/auth/me", token === undefined ? {} : { token });

describe("POST /v1/auth/login", () => {
  it("returns a session token that works on /v1/auth/me", async () => {
    // (makeUser labels are lower case here: emails are stored and looked up lower-cased)
    const user = await makeUser("signin");
    const session = await expectJson<any>(login(user.email, TEST_PASSWORD), 200);
    expect(session.user).toMatchObject({ id: user.id, email: user.email });
    expect(session.expiresAt).toBeGreaterThan(Date.now());
    expect(await expectJson<any>(me(session.token), 200)).toMatchObject({
      id: user.id,
      email: user.email,
      isPlatformAdmin: false,
      teams: [],
      hostApps: [],
    });
    const dev = await expectJson<any>(me(world.devA.token), 200);
    expect(dev.teams).toEqual([expect.objectContaining({ id: world.teamA, role: "developer" })]);
    const manager = await expectJson<any>(me(world.manager1.token), 200);
    expect(manager.hostApps).toEqual([expect.objectContaining({ id: world.host1, role: "manager" })]);
  });

  it("accepts the email in any case", async () => {
    const user = await makeUser("casing");
    await expectJson(login(user.email.toUpperCase(), TEST_PASSWORD), 200);
  });

  it("refuses a wrong password and an unknown email with the same 401 message", async () => {
    const user = await makeUser("wrongpw");
    const wrong = await expectError(login(user.email, "not the password"), 401, "unauthenticated");
    const unknown = await expectError(
      login(`nobody-${crypto.randomUUID()}@example.test`, TEST_PASSWORD),
      401,
      "unauthenticated",
    );
    expect(unknown).toBe(wrong);
    // a failure or two does not lock: the right password still works
    await expectJson(login(user.email, TEST_PASSWORD), 200);
  });

  it("refuses a malformed body with 400 and the issues, and malformed JSON with 400", async () => {
    const res = await expectJson<any>(
      callAdmin("POST", "/v1/auth/login", { json: { email: "not-an-email" } }),
      400,
    );
    expect(res.error.code).toBe("bad_request");
    expect(res.error.issues.map((i: any) => i.path).sort()).toEqual(["email", "password"]);
    await expectError(
      callAdmin("POST", "/v1/auth/login", {
        body: "{not json",
        headers: { "content-type": "application/json" },
      }),
      400,
      "bad_request",
    );
    const empty = await expectJson<any>(callAdmin("POST", "/v1/auth/login"), 400);
    expect(empty.error.issues.length).toBeGreaterThan(0);
  });

  it("refuses a body that is not declared as JSON with 415", async () => {
    const body = JSON.stringify({ email: world.devA.email, password: TEST_PASSWORD });
    // bytes without any Content-Type header
    await expectError(
      callAdmin("POST", "/v1/auth/login", { body: new TextEncoder().encode(body) }),
      415,
      "unsupported_media_type",
    );
    await expectError(
      callAdmin("POST", "/v1/auth/login", { body, headers: { "content-type": "text/plain" } }),
      415,
      "unsupported_media_type",
    );
  });

  it("refuses a body over 256 KiB with 413", async () => {
    const json = { email: world.devA.email, password: TEST_PASSWORD, padding: "x".repeat(256 * 1024) };
    await expectError(callAdmin("POST", "/v1/auth/login", { json }), 413, "payload_too_large");
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "big", padding: "y".repeat(300 * 1024) },
      }),
      413,
      "payload_too_large",
    );
  });
});

describe("GET /v1/auth/me without valid credentials", () => {
  it("answers 401 to no token, a garbage token, an expired, a foreign-signed or an unknown API token", async () => {
    await expectError(me(), 401, "unauthenticated");
    await expectError(me("garbage-garbage-garbage"), 401, "unauthenticated");
    await expectError(
      callAdmin("GET", "/v1/auth/me", { headers: { authorization: `Basic ${btoa("a:b")}` } }),
      401,
      "unauthenticated",
    );
    const now = Date.now();
    const expired = await signSessionJwt(
      { userId: world.devA.id, sessionId: "ses_expired", issuedAt: now - 120_000, expiresAt: now - 60_000 },
      testEnv.JWT_SECRET,
    );
    await expectError(me(expired), 401, "unauthenticated");
    const foreign = await signSessionJwt(
      { userId: world.devA.id, sessionId: "ses_foreign", issuedAt: now, expiresAt: now + 3_600_000 },
      "another-secret-that-is-long-enough-0123456789",
    );
    await expectError(me(foreign), 401, "unauthenticated");
    await expectError(me(`gct_${"a".repeat(52)}`), 401, "unauthenticated");
  });
});

describe("API tokens", () => {
  it("are shown once, act as their owner, are listed without the secret and stop working once revoked", async () => {
    const user = await makeUser("tokens");
    const created = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: user.token, json: { name: "ci", expiresInDays: 30 } }),
      201,
    );
    expect(created.token).toMatch(/^gct_[a-z2-7]{20,}$/);
    expect(created.expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await expectJson<any>(me(created.token), 200)).id).toBe(user.id);

    const list = await expectJson<any>(callAdmin("GET", "/v1/auth/tokens", { token: created.token }), 200);
    expect(list.tokens).toEqual([expect.objectContaining({ id: created.id, name: "ci", revokedAt: null })]);
    expect(list.tokens[0]).not.toHaveProperty("token");
    expect(JSON.stringify(list)).not.toContain(created.token);

    await expectJson(callAdmin("DELETE", `/v1/auth/tokens/${created.id}`, { token: user.token }), 200);
    await expectError(me(created.token), 401, "unauthenticated");
    const after = await expectJson<any>(callAdmin("GET", "/v1/auth/tokens", { token: user.token }), 200);
    expect(after.tokens[0].revokedAt).toEqual(expect.any(Number));
    await expectError(
      callAdmin("DELETE", `/v1/auth/tokens/${created.id}`, { token: user.token }),
      404,
      "not_found",
    );
  });

  it("cannot be revoked or listed by another user", async () => {
    const owner = await makeUser("owner");
    const other = await makeUser("other");
    const created = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: owner.token, json: { name: "mine" } }),
      201,
    );
    await expectError(
      callAdmin("DELETE", `/v1/auth/tokens/${created.id}`, { token: other.token }),
      404,
      "not_found",
    );
    expect(
      (await expectJson<any>(callAdmin("GET", "/v1/auth/tokens", { token: other.token }), 200)).tokens,
    ).toEqual([]);
    expect((await expectJson<any>(me(created.token), 200)).id).toBe(owner.id);
  });

  it("refuses an invalid token request", async () => {
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", { token: world.devA.token, json: { name: "  " } }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "x", expiresInDays: 0 },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", { json: { name: "anon" } }),
      401,
      "unauthenticated",
    );
  });
});

describe("users (platform admin)", () => {
  it("a platform admin creates a user who can then log in", async () => {
    const email = `New-${crypto.randomUUID().slice(0, 8)}@Example.test`;
    const user = await expectJson<any>(
      callAdmin("POST", "/v1/users", {
        token: world.platform.token,
        json: { email, name: "New", password: "a long enough password" },
      }),
      201,
    );
    expect(user).toMatchObject({ email: email.toLowerCase(), name: "New", isPlatformAdmin: false });
    expect(user).not.toHaveProperty("password");
    expect(user).not.toHaveProperty("passwordHash");
    const session = await expectJson<any>(login(email, "a long enough password"), 200);
    expect(session.user.id).toBe(user.id);
    const all = await expectJson<any>(callAdmin("GET", "/v1/users", { token: world.platform.token }), 200);
    expect(all.users.map((u: any) => u.id)).toContain(user.id);
    expect(JSON.stringify(all)).not.toMatch(/pbkdf2|passwordHash/);
  });

  it("others get 403; a duplicate email 409; a short password 400", async () => {
    const json = {
      email: `dup-${crypto.randomUUID().slice(0, 8)}@example.test`,
      name: "Dup",
      password: "a long enough password",
    };
    await expectError(callAdmin("POST", "/v1/users", { token: world.adminA.token, json }), 403, "forbidden");
    await expectError(callAdmin("GET", "/v1/users", { token: world.devA.token }), 403, "forbidden");
    await expectError(login(json.email, json.password), 401, "unauthenticated");
    await expectJson(callAdmin("POST", "/v1/users", { token: world.platform.token, json }), 201);
    await expectError(
      callAdmin("POST", "/v1/users", {
        token: world.platform.token,
        json: { ...json, email: json.email.toUpperCase() },
      }),
      409,
      "conflict",
    );
    const short = await expectJson<any>(
      callAdmin("POST", "/v1/users", {
        token: world.platform.token,
        json: { ...json, email: `s-${json.email}`, password: "short" },
      }),
      400,
    );
    expect(short.error.code).toBe("bad_request");
    expect(short.error.issues).toEqual([expect.objectContaining({ path: "password" })]);
    await expectError(login(`s-${json.email}`, "short"), 401, "unauthenticated");
  });

  it("account and token changes are in the change log without passwords or tokens", async () => {
    const password = `secret-${crypto.randomUUID()}`;
    const email = `logged-${crypto.randomUUID().slice(0, 8)}@example.test`;
    const user = await expectJson<any>(
      callAdmin("POST", "/v1/users", {
        token: world.platform.token,
        json: { email, name: "Logged", password },
      }),
      201,
    );
    const session = await expectJson<any>(login(email, password), 200);
    const tok = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: session.token, json: { name: "deploy" } }),
      201,
    );
    await expectJson(callAdmin("DELETE", `/v1/auth/tokens/${tok.id}`, { token: session.token }), 200);
    const log = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    const entries = log.entries.filter((e: any) => e.targetId === user.id || e.targetId === tok.id);
    expect(entries.map((e: any) => `${e.action} by ${e.actorId}`).sort()).toEqual([
      `api_token.create by ${user.id}`,
      `api_token.revoke by ${user.id}`,
      `user.create by ${world.platform.id}`,
    ]);
    const times = log.entries.map((e: any) => e.at);
    expect(times).toEqual([...times].sort((a, b) => b - a)); // newest first
    const text = JSON.stringify(log);
    for (const secret of [password, tok.token, session.token, world.devA.token, "pbkdf2"])
      expect(text).not.toContain(secret);
    await expectError(callAdmin("GET", "/v1/change-log", { token: session.token }), 403, "forbidden");
  });
});
