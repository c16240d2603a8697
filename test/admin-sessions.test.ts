/**
 * Sessions and accounts (issue 10, "Tokens and sessions"): session JWTs must carry `exp` and be
 * younger than the session lifetime, sessions end at logout, at a password change and when the
 * user is disabled, and login is throttled per address and account instead of locking the account
 * for everyone, with the same answers for known and unknown emails.
 */

import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { sessions } from "../control-plane/src/db/schema";
import { openSession } from "../control-plane/src/services/auth";
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

/** Throttling tests run dozens of PBKDF2 logins: on a busy machine longer than vitest's default 5 s. */
const LONG = 60_000;

const randomOctet = () => 1 + Math.floor(Math.random() * 250);
/** A fresh client address per test, so throttling in one test never reaches another. */
const newAddress = () => `192.0.${randomOctet()}.${randomOctet()}`;

const login = (email: string, password: string, address: string) =>
  callAdmin("POST", "/v1/auth/login", {
    json: { email, password },
    headers: { "cf-connecting-ip": address },
  });
const me = (token: string) => callAdmin("GET", "/v1/auth/me", { token });

/** Signs a JWT with the Worker's own secret, as an attacker who learned it could not, but a buggy issuer might. */
async function forge(claims: { sub: string; jti?: string; iat?: number; exp?: number }): Promise<string> {
  const jwt = new SignJWT({ ...(claims.jti !== undefined ? { jti: claims.jti } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(claims.sub)
    .setIssuer("graycast-admin")
    .setAudience("graycast-admin");
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(new TextEncoder().encode(testEnv.JWT_SECRET));
}

describe("session JWTs", () => {
  it("refuses a correctly signed session without exp, without iat, or older than the session lifetime", async () => {
    const user = await makeUser("noexp");
    const open = await openSession(createDb(testEnv.DB), user.id, {
      secret: testEnv.JWT_SECRET,
      ttlSeconds: 3600,
    });
    const now = Math.floor(Date.now() / 1000);
    await expectError(me(await forge({ sub: user.id, jti: open.id, iat: now })), 401, "unauthenticated");
    await expectError(
      me(await forge({ sub: user.id, jti: open.id, exp: now + 600 })),
      401,
      "unauthenticated",
    );
    // issued two lifetimes ago with a far expiry: too old all the same (maxTokenAge)
    await expectError(
      me(await forge({ sub: user.id, jti: open.id, iat: now - 7200, exp: now + 86_400 })),
      401,
      "unauthenticated",
    );
    // the same claims with iat and a short exp are fine: only the missing or stale claims were refused
    expect(
      (await expectJson<any>(me(await forge({ sub: user.id, jti: open.id, iat: now, exp: now + 600 })), 200))
        .id,
    ).toBe(user.id);
  });

  it("refuses a correctly signed session whose jti has no open session row", async () => {
    const user = await makeUser("nojti");
    const now = Math.floor(Date.now() / 1000);
    await expectError(me(await forge({ sub: user.id, iat: now, exp: now + 600 })), 401, "unauthenticated");
    await expectError(
      me(await forge({ sub: user.id, jti: "ses_never_opened", iat: now, exp: now + 600 })),
      401,
      "unauthenticated",
    );
    // a session row of another user does not vouch for this one
    const other = await openSession(createDb(testEnv.DB), world.devA.id, {
      secret: testEnv.JWT_SECRET,
      ttlSeconds: 3600,
    });
    await expectError(
      me(await forge({ sub: user.id, jti: other.id, iat: now, exp: now + 600 })),
      401,
      "unauthenticated",
    );
  });
});

describe("the sessions table", () => {
  it("a login deletes the user's expired sessions and keeps the live ones", async () => {
    const user = await makeUser("sweep");
    const db = createDb(testEnv.DB);
    const now = Date.now();
    await db
      .insert(sessions)
      .values({
        id: `ses_old_${crypto.randomUUID().slice(0, 8)}`,
        userId: user.id,
        createdAt: now - 7_200_000,
        expiresAt: now - 3_600_000,
      })
      .run();
    expect((await db.select().from(sessions).where(eq(sessions.userId, user.id)).all()).length).toBe(2);
    await expectJson(login(user.email, TEST_PASSWORD, newAddress()), 200);
    const rows = await db.select().from(sessions).where(eq(sessions.userId, user.id)).all();
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.expiresAt > now)).toBe(true);
    await expectJson(me(user.token), 200);
  });
});

describe("POST /v1/auth/logout", () => {
  it("ends the caller's session at once and leaves the user's other sessions alone", async () => {
    const user = await makeUser("logout");
    const address = newAddress();
    const session = await expectJson<any>(login(user.email, TEST_PASSWORD, address), 200);
    await expectJson(me(session.token), 200);
    await expectJson(callAdmin("POST", "/v1/auth/logout", { token: session.token }), 200);
    await expectError(me(session.token), 401, "unauthenticated");
    await expectError(callAdmin("POST", "/v1/auth/logout", { token: session.token }), 401, "unauthenticated");
    await expectJson(me(user.token), 200);
  });

  it("refuses an API token with 403 and tells it to revoke the token instead", async () => {
    const user = await makeUser("logouttoken");
    const tok = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: user.token, json: { name: "ci" } }),
      201,
    );
    expect(
      await expectError(callAdmin("POST", "/v1/auth/logout", { token: tok.token }), 403, "forbidden"),
    ).toMatch(/revoke/);
    await expectJson(me(tok.token), 200);
  });
});

describe("POST /v1/auth/password", () => {
  it("changes the password, ends every session of the user and answers with a new one", async () => {
    const user = await makeUser("chpw");
    const other = await openSession(createDb(testEnv.DB), user.id, {
      secret: testEnv.JWT_SECRET,
      ttlSeconds: 3600,
    });
    const tok = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: user.token, json: { name: "ci" } }),
      201,
    );
    const newPassword = `new-${crypto.randomUUID()}`;
    const fresh = await expectJson<any>(
      callAdmin("POST", "/v1/auth/password", {
        token: user.token,
        json: { currentPassword: TEST_PASSWORD, newPassword },
      }),
      200,
    );
    expect(fresh.user.id).toBe(user.id);
    await expectError(me(user.token), 401, "unauthenticated");
    await expectError(me(other.token), 401, "unauthenticated");
    await expectJson(me(fresh.token), 200);
    // API tokens are not sessions: they stay (documented)
    await expectJson(me(tok.token), 200);
    const address = newAddress();
    await expectError(login(user.email, TEST_PASSWORD, address), 401, "unauthenticated");
    await expectJson(login(user.email, newPassword, address), 200);
    const log = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    const entry = log.entries.find((e: any) => e.targetId === user.id && e.action === "user.password_change");
    expect(entry).toMatchObject({ actorId: user.id });
    expect(JSON.stringify(log)).not.toContain(newPassword);
  });

  it("refuses a wrong current password (403), a short new one (400) and an API token (403)", async () => {
    const user = await makeUser("chpwbad");
    const tok = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", {
        token: user.token,
        json: { name: "ci", scopes: ["read", "write", "publish", "admin"] },
      }),
      201,
    );
    await expectError(
      callAdmin("POST", "/v1/auth/password", {
        token: user.token,
        json: { currentPassword: "not it", newPassword: "a long enough password" },
      }),
      403,
      "forbidden",
    );
    const short = await expectJson<any>(
      callAdmin("POST", "/v1/auth/password", {
        token: user.token,
        json: { currentPassword: TEST_PASSWORD, newPassword: "short" },
      }),
      400,
    );
    expect(short.error.issues).toEqual([expect.objectContaining({ path: "newPassword" })]);
    await expectError(
      callAdmin("POST", "/v1/auth/password", {
        token: tok.token,
        json: { currentPassword: TEST_PASSWORD, newPassword: "a long enough password" },
      }),
      403,
      "forbidden",
    );
    // nothing changed: the session and the old password still work
    await expectJson(me(user.token), 200);
    await expectJson(login(user.email, TEST_PASSWORD, newAddress()), 200);
  });
});

describe("POST /v1/users/{userId}/disable and /enable", () => {
  it("stops the user's sessions and API tokens at once; their login answers like a wrong password; enabling lets them log in again", async () => {
    const user = await makeUser("disableme");
    const tok = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", { token: user.token, json: { name: "ci" } }),
      201,
    );
    const address = newAddress();
    const wrong = await expectError(login(user.email, "not the password", address), 401, "unauthenticated");

    const disabled = await expectJson<any>(
      callAdmin("POST", `/v1/users/${user.id}/disable`, { token: world.platform.token }),
      200,
    );
    expect(disabled).toMatchObject({ id: user.id, disabledAt: expect.any(Number) });
    await expectError(me(user.token), 401, "unauthenticated");
    await expectError(me(tok.token), 401, "unauthenticated");
    expect(await expectError(login(user.email, TEST_PASSWORD, address), 401, "unauthenticated")).toBe(wrong);
    const unknown = await expectError(
      login(`nobody-${crypto.randomUUID().slice(0, 8)}@example.test`, TEST_PASSWORD, newAddress()),
      401,
      "unauthenticated",
    );
    expect(unknown).toBe(wrong);
    const listed = await expectJson<any>(callAdmin("GET", "/v1/users", { token: world.platform.token }), 200);
    expect(listed.users.find((u: any) => u.id === user.id).disabledAt).toEqual(expect.any(Number));

    await expectJson(callAdmin("POST", `/v1/users/${user.id}/enable`, { token: world.platform.token }), 200);
    const session = await expectJson<any>(login(user.email, TEST_PASSWORD, newAddress()), 200);
    await expectJson(me(session.token), 200);
    // what the disable revoked stays revoked
    await expectError(me(user.token), 401, "unauthenticated");
    await expectError(me(tok.token), 401, "unauthenticated");

    const log = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    const actions = log.entries
      .filter((e: any) => e.targetId === user.id)
      .map((e: any) => `${e.action} by ${e.actorId}`);
    expect(actions).toEqual(
      expect.arrayContaining([`user.disable by ${world.platform.id}`, `user.enable by ${world.platform.id}`]),
    );
  });

  it("is for platform admins only, not oneself, and 404 for an unknown user", async () => {
    const user = await makeUser("notdisabled");
    await expectError(
      callAdmin("POST", `/v1/users/${user.id}/disable`, { token: world.adminA.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", `/v1/users/${world.platform.id}/disable`, { token: world.platform.token }),
      409,
      "conflict",
    );
    await expectError(
      callAdmin("POST", "/v1/users/usr_nobody/disable", { token: world.platform.token }),
      404,
      "not_found",
    );
    await expectJson(me(user.token), 200);
    await expectJson(me(world.platform.token), 200);
  });
});

describe("login throttling", () => {
  /** Wrong passwords from `address` until a 429 (the window may roll over once: up to 2 * 5 + 1). */
  async function throttle(email: string, address: string): Promise<Response> {
    for (let i = 0; i < 11; i++) {
      const res = await login(email, `wrong-${i}`, address);
      if (res.status === 429) return res;
      await expectError(res, 401, "unauthenticated");
    }
    throw new Error("login was never throttled");
  }

  it(
    "throttles one address guessing one account without locking the account for another address",
    async () => {
      const user = await makeUser("throttled");
      const attacker = newAddress();
      const refused = await throttle(user.email, attacker);
      expect(refused.headers.get("retry-after")).toBe("60");
      // the right password from the throttled address is refused too ...
      await expectError(login(user.email, TEST_PASSWORD, attacker), 429, "rate_limited");
      // ... but the owner, from elsewhere, logs in
      await expectJson(login(user.email, TEST_PASSWORD, newAddress()), 200);
      await expectJson(me(user.token), 200);
    },
    LONG,
  );

  it(
    "answers a known and an unknown email alike, before and after throttling",
    async () => {
      const user = await makeUser("samesame");
      const known = newAddress();
      const unknown = newAddress();
      const ghost = `ghost-${crypto.randomUUID().slice(0, 8)}@example.test`;
      const knownWrong = await expectError(login(user.email, "wrong", known), 401, "unauthenticated");
      const unknownWrong = await expectError(login(ghost, "wrong", unknown), 401, "unauthenticated");
      expect(unknownWrong).toBe(knownWrong);
      const a = await throttle(user.email, known);
      const b = await throttle(ghost, unknown);
      expect(b.headers.get("retry-after")).toBe(a.headers.get("retry-after"));
      expect(await b.json()).toEqual(await a.json());
    },
    LONG,
  );

  it(
    "throttles one address guessing across many accounts",
    async () => {
      const address = newAddress();
      let refused: Response | undefined;
      for (let i = 0; i < 61 && !refused; i++) {
        const res = await login(
          `spray-${i}-${crypto.randomUUID().slice(0, 6)}@example.test`,
          "guess",
          address,
        );
        if (res.status === 429) refused = res;
        else await expectError(res, 401, "unauthenticated");
      }
      expect(refused?.headers.get("retry-after")).toBe("60");
      expect(((await refused!.json()) as any).error.code).toBe("rate_limited");
    },
    LONG,
  );
});
