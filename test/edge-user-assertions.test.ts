/**
 * Who is the user (issue 10): host apps vouch for their users with signed assertions, whose
 * keys reach the edge in the snapshot. The exact attacks from the review must fail: a made-up
 * tester account gets no trial version, an unverified account matches no account target, and
 * invented GUIDs cannot drain a verified-only capped task. Everything through the real admin
 * Worker, D1, R2, the edge Worker and its counters.
 */

import { eq } from "drizzle-orm";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { hostAppKeys } from "../control-plane/src/db/schema";
import { republishBoundApps } from "../control-plane/src/services/host-app-keys";
import { bumpHostAppSnapshotRevisions } from "../control-plane/src/services/snapshot";
import { MAX_ASSERTION_LIFETIME_SECONDS } from "../core/assertion";
import type { ManifestClaims } from "../core/manifest";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeWorld,
  moveTaskTimes,
  storedSnapshot,
  tasksPath,
  upload,
  type World,
} from "./support/admin";
import {
  type AssertionKey,
  makeAssertionKey,
  mintAssertion,
  registerAssertionKey,
  snapshotKeyOf,
  userAssertion,
} from "./support/assertions";
import {
  checkQuery,
  client as edgeClient,
  edgeFetch,
  HOST_APP,
  newAppId,
  online,
  packageRef,
  postCheck,
  putSnapshot,
  verifyManifest,
} from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const TESTER = "tester-001";
const now = () => Math.floor(Date.now() / 1000);

const clientOf = (appId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "android",
  osVersion: "14",
  ...extra,
});

/** GET /v1/check with `query` in the URL and `user` (form-encoded) in x-graycast-user. */
async function getCheck(
  query: Record<string, unknown>,
  user?: Record<string, string>,
): Promise<{ claims: ManifestClaims; assertion: string | null; tickets: string[] }> {
  const headers = user ? { "x-graycast-user": new URLSearchParams(user).toString() } : undefined;
  const res = await edgeFetch(`/v1/check?${checkQuery(query)}`, headers ? { headers } : undefined);
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const body = await res.json<{ manifest: string; tickets?: string[] }>();
  return {
    claims: (await verifyManifest(body.manifest)).payload,
    assertion: res.headers.get("x-graycast-assertion"),
    tickets: body.tickets ?? [],
  };
}

/** A mini program online at 1.0.0 whose development version 1.1.0 is the trial for TESTER. */
async function appWithTrial(): Promise<string> {
  const appId = await appWithVersions(world, "1.0.0", []);
  await expectJson(upload(world.devA.token, appId, "1.1.0"), 201);
  await expectJson(
    callAdmin("PUT", `/v1/mini-programs/${appId}/trial`, {
      token: world.devA.token,
      json: { pagePath: "pages/index/index", testers: [TESTER] },
    }),
    200,
  );
  return appId;
}

describe("trial versions need a verified tester", () => {
  let appId: string;
  let key: AssertionKey;
  beforeAll(async () => {
    appId = await appWithTrial();
  });
  // Registered by the first test that needs it: the attack test itself needs no key.
  beforeEach(async (ctx) => {
    if (key === undefined && !ctx.task.name.startsWith("the review's attack"))
      key = await registerAssertionKey(world.manager1.token, world.host1);
  });

  it("the review's attack: account=tester-001&trial=true with no credential gets the online version, not the trial", async () => {
    const { claims, assertion } = await getCheck(clientOf(appId, { account: TESTER, trial: true }));
    expect(claims).toMatchObject({ reason: "online", version: "1.0.0" });
    expect(assertion).toBeNull();
  });

  it("a valid assertion for the tester gets the trial: GET (header) and POST (body)", async () => {
    const token = await mintAssertion(key, { iss: world.host1, sub: TESTER });
    const viaGet = await getCheck(clientOf(appId, { trial: true }), { assertion: token });
    expect(viaGet.claims).toMatchObject({ reason: "trial", version: "1.1.0", pagePath: "pages/index/index" });
    expect(viaGet.assertion).toBe("verified");
    // The account beside it may be sent when it is the same.
    expect(
      (await getCheck(clientOf(appId, { trial: true }), { account: TESTER, assertion: token })).claims.reason,
    ).toBe("trial");
    const res = await postCheck(clientOf(appId, { trial: true, assertion: token }));
    expect(res.status).toBe(200);
    expect((await verifyManifest((await res.json<{ manifest: string }>()).manifest)).payload).toMatchObject({
      reason: "trial",
      version: "1.1.0",
    });
    // A verified account that is not a tester gets the online version.
    const other = await mintAssertion(key, { iss: world.host1, sub: "someone-else" });
    expect((await getCheck(clientOf(appId, { trial: true }), { assertion: other })).claims.reason).toBe(
      "online",
    );
  });

  it("refuses an assertion in the URL, and an account that contradicts the assertion", async () => {
    const token = await mintAssertion(key, { iss: world.host1, sub: TESTER, did: "device-1" });
    const inQuery = await edgeFetch(
      `/v1/check?${checkQuery(clientOf(appId, { trial: true, assertion: token }))}`,
    );
    expect(inQuery.status).toBe(400);
    expect(JSON.stringify(await inQuery.json())).toContain("never in the URL");
    const mismatch = await edgeFetch(`/v1/check?${checkQuery(clientOf(appId, { trial: true }))}`, {
      headers: {
        "x-graycast-user": new URLSearchParams({ account: "mallory", assertion: token }).toString(),
      },
    });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toMatchObject({
      error: { code: "bad_request", issues: [{ path: "account" }] },
    });
    const deviceMismatch = await postCheck(
      clientOf(appId, { trial: true, deviceId: "device-2", assertion: token }),
    );
    expect(deviceMismatch.status).toBe(400);
    const tooLong = await postCheck(clientOf(appId, { assertion: `${"a".repeat(2048)}.b.c` }));
    expect(tooLong.status).toBe(400);
    // "verified" is the edge's finding, never the client's word.
    expect(
      (await postCheck(clientOf(appId, { trial: true, account: TESTER, verifiedAccount: true }))).status,
    ).toBe(400);
    expect(
      (
        await edgeFetch(
          `/v1/check?${checkQuery(clientOf(appId, { trial: true, account: TESTER, verifiedAccount: true }))}`,
        )
      ).status,
    ).toBe(400);
  });

  it("expired, future, over an hour, wrong kid, wrong issuer, wrong audience and forged assertions are ignored: the online version, and the reason in x-graycast-assertion", async () => {
    const stranger = await makeAssertionKey(key.kid); // same kid, another private key
    const t = now();
    const cases: [string, string][] = [
      ["expired", await mintAssertion(key, { iss: world.host1, sub: TESTER, iat: t - 7200, exp: t - 3600 })],
      [
        "not_yet_valid",
        await mintAssertion(key, { iss: world.host1, sub: TESTER, iat: t + 600, exp: t + 1200 }),
      ],
      [
        "lifetime_too_long",
        await mintAssertion(key, {
          iss: world.host1,
          sub: TESTER,
          iat: t,
          exp: t + MAX_ASSERTION_LIFETIME_SECONDS + 1,
        }),
      ],
      ["unknown_key", await mintAssertion(key, { iss: world.host1, sub: TESTER }, "hk_notregistered")],
      ["wrong_issuer", await mintAssertion(key, { iss: world.host2, sub: TESTER })],
      ["wrong_audience", await mintAssertion(key, { iss: world.host1, sub: TESTER, aud: appId })],
      ["bad_signature", await mintAssertion(stranger, { iss: world.host1, sub: TESTER })],
      ["malformed", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0ZXItMDAxIn0.c2ln"],
    ];
    for (const [reason, token] of cases) {
      const { claims, assertion } = await getCheck(clientOf(appId, { trial: true }), { assertion: token });
      expect({ reason, got: claims.reason, version: claims.version }).toEqual({
        reason,
        got: "online",
        version: "1.0.0",
      });
      expect(assertion).toBe(reason);
      // Sent again (now from the isolate's cache of refusals): the same answer.
      expect((await getCheck(clientOf(appId, { trial: true }), { assertion: token })).assertion).toBe(reason);
    }
  });

  it("a revoked key stops at once, even for an assertion the edge verified (and cached) before", async () => {
    const own = await registerAssertionKey(world.manager1.token, world.host1, "to revoke");
    const token = await mintAssertion(own, { iss: world.host1, sub: TESTER });
    expect((await getCheck(clientOf(appId, { trial: true }), { assertion: token })).claims.reason).toBe(
      "trial",
    );
    const revoked = await expectJson<any>(
      callAdmin("POST", `/v1/host-apps/${world.host1}/keys/${own.kid}/revoke`, {
        token: world.manager1.token,
      }),
      200,
    );
    expect(revoked).toMatchObject({ status: "revoked", verifiesUntil: revoked.revokedAt });
    const after = await getCheck(clientOf(appId, { trial: true }), { assertion: token });
    expect(after.claims.reason).toBe("online");
    expect(after.assertion).toBe("unknown_key");
    await expectError(
      callAdmin("POST", `/v1/host-apps/${world.host1}/keys/${own.kid}/revoke`, {
        token: world.manager1.token,
      }),
      409,
      "conflict",
    );
  });

  it("a retired key keeps verifying through its overlap, then stops", async () => {
    const old = await registerAssertionKey(world.manager1.token, world.host1, "to retire");
    const token = await mintAssertion(old, { iss: world.host1, sub: TESTER });
    const retired = await expectJson<any>(
      callAdmin("POST", `/v1/host-apps/${world.host1}/keys/${old.kid}/retire`, {
        token: world.manager1.token,
      }),
      200,
    );
    expect(retired.status).toBe("retired");
    expect(retired.verifiesUntil).toBeGreaterThanOrEqual(
      retired.retiredAt + MAX_ASSERTION_LIFETIME_SECONDS * 1000,
    );
    // Inside the overlap: still verified, and the snapshot says until when.
    expect((await getCheck(clientOf(appId, { trial: true }), { assertion: token })).claims.reason).toBe(
      "trial",
    );
    expect((await storedSnapshot(appId)).hostAppKeys[world.host1]).toContainEqual({
      kid: old.kid,
      x: old.x,
      notAfter: retired.verifiesUntil,
    });
    // Two hours later (the retirement moved back in D1), a republish drops the key.
    const db = createDb(testEnv.DB);
    await db.batch([
      db
        .update(hostAppKeys)
        .set({ retiredAt: Date.now() - 2 * 3_600_000 })
        .where(eq(hostAppKeys.id, old.kid)),
      bumpHostAppSnapshotRevisions(db, world.host1),
    ]);
    await republishBoundApps(db, testEnv.PACKAGES, world.host1);
    const after = await getCheck(clientOf(appId, { trial: true }), { assertion: token });
    expect(after.claims.reason).toBe("online");
    expect(after.assertion).toBe("unknown_key");
  });
});

describe("host app keys: registration, authorisation and the snapshot", () => {
  const keysPath = (hostAppId: string, rest = "") => `/v1/host-apps/${hostAppId}/keys${rest}`;

  it("only the host app's manager (or a platform admin) manages keys; auditors may list", async () => {
    const key = await makeAssertionKey();
    const body = { name: "server", jwk: key.publicJwk };
    await expectError(
      callAdmin("POST", keysPath(world.host1), { token: world.auditor1.token, json: body }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", keysPath(world.host1), { token: world.manager2.token, json: body }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", keysPath(world.host1), { token: world.devA.token, json: body }),
      403,
      "forbidden",
    );
    await expectError(callAdmin("POST", keysPath(world.host1), { json: body }), 401, "unauthenticated");
    await expectError(
      callAdmin("POST", keysPath("ha_nosuchhostapp"), { token: world.platform.token, json: body }),
      404,
      "not_found",
    );
    const made = await expectJson<any>(
      callAdmin("POST", keysPath(world.host1), { token: world.platform.token, json: body }),
      201,
    );
    expect(made).toMatchObject({
      name: "server",
      alg: "EdDSA",
      status: "active",
      publicJwk: key.publicJwk,
      verifiesUntil: null,
    });
    const listed = await expectJson<any>(
      callAdmin("GET", keysPath(world.host1), { token: world.auditor1.token }),
      200,
    );
    expect(listed.keys.map((k: { id: string }) => k.id)).toContain(made.id);
    await expectError(callAdmin("GET", keysPath(world.host1), { token: world.devA.token }), 403, "forbidden");
    await expectError(
      callAdmin("POST", keysPath(world.host1, `/${made.id}/retire`), { token: world.auditor1.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", keysPath(world.host1, "/hk_nosuchkey/revoke"), { token: world.manager1.token }),
      404,
      "not_found",
    );
    const log = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    expect(JSON.stringify(log)).toContain("host_app_key.register");
  });

  it("refuses private keys, other curves and algorithms, and the same key twice", async () => {
    const key = await makeAssertionKey();
    const post = (jwk: unknown) =>
      callAdmin("POST", keysPath(world.host2), {
        token: world.manager2.token,
        json: { name: "server", jwk },
      });
    expect(await expectError(post(key.privateJwk), 400, "bad_request")).toBeTruthy();
    await expectError(post({ kty: "OKP", crv: "X25519", x: key.x }), 400, "bad_request");
    await expectError(post({ kty: "EC", crv: "P-256", x: key.x, y: key.x }), 400, "bad_request");
    await expectError(post({ kty: "OKP", crv: "Ed25519", x: key.x, alg: "ES256" }), 400, "bad_request");
    await expectError(post({ kty: "OKP", crv: "Ed25519", x: "short" }), 400, "bad_request");
    await expectJson(post({ ...key.publicJwk, kid: "my-own-kid", use: "sig" }), 201);
    await expectError(post(key.publicJwk), 409, "conflict");
  });

  it("at most 10 active or retired keys per host app", async () => {
    const fresh = await makeWorld();
    const made = [];
    for (let i = 0; i < 10; i++)
      made.push(await registerAssertionKey(fresh.manager1.token, fresh.host1, `k${i}`));
    const extra = await makeAssertionKey();
    await expectError(
      callAdmin("POST", keysPath(fresh.host1), {
        token: fresh.manager1.token,
        json: { name: "k10", jwk: extra.publicJwk },
      }),
      409,
      "conflict",
    );
    await expectJson(
      callAdmin("POST", keysPath(fresh.host1, `/${made[0]!.kid}/retire`), { token: fresh.manager1.token }),
      200,
    );
    await expectError(
      callAdmin("POST", keysPath(fresh.host1), {
        token: fresh.manager1.token,
        json: { name: "k10", jwk: extra.publicJwk },
      }),
      409,
      "conflict",
    );
    await expectJson(
      callAdmin("POST", keysPath(fresh.host1, `/${made[0]!.kid}/revoke`), { token: fresh.manager1.token }),
      200,
    );
    await expectJson(
      callAdmin("POST", keysPath(fresh.host1), {
        token: fresh.manager1.token,
        json: { name: "k10", jwk: extra.publicJwk },
      }),
      201,
    );
  });

  it("every key change republishes the bound mini programs' snapshots: public x only, revoked keys gone", async () => {
    const appId = await appWithVersions(world, "1.0.0", []);
    const key = await registerAssertionKey(world.manager1.token, world.host1, "snapshot");
    const snap = await storedSnapshot(appId);
    expect(snap.hostAppKeys[world.host1]).toContainEqual({ kid: key.kid, x: key.x });
    expect(JSON.stringify(snap.hostAppKeys)).not.toContain('"d"');
    await expectJson(
      callAdmin("POST", keysPath(world.host1, `/${key.kid}/revoke`), { token: world.manager1.token }),
      200,
    );
    const after = await storedSnapshot(appId);
    expect(after.revision).toBeGreaterThan(snap.revision);
    expect(JSON.stringify(after.hostAppKeys ?? {})).not.toContain(key.kid);
  });
});

describe("account targets match verified accounts only", () => {
  it("typed account targets and uploaded account whitelists: no match without an assertion, a match with one; GUID targets unchanged", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    await createTask(world, appId, "1.1.0", { targets: { accounts: ["vip-1"], guids: ["guid-vip"] } });
    // A whitelist is uploaded before the task starts; then it starts.
    const listed = await createTask(world, appId, "1.2.0", { name: "List", startAt: Date.now() + 60_000 });
    await expectJson(
      callAdmin("PUT", tasksPath(appId, `/${listed.id}/whitelists/account`), {
        token: world.devA.token,
        body: "vip-2\nvip-3\n",
        headers: { "content-type": "text/plain; charset=utf-8" },
      }),
      200,
    );
    await moveTaskTimes(listed.id, { startAt: Date.now() - 1000 });
    // Registering the key republishes the snapshot (with the task started).
    const key = await registerAssertionKey(world.manager1.token, world.host1, "targets");

    expect((await getCheck(clientOf(appId, { account: "vip-1" }))).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    expect((await getCheck(clientOf(appId, { account: "vip-2" }))).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    expect((await getCheck(clientOf(appId, { guid: "guid-vip" }))).claims).toMatchObject({
      reason: "grayscale",
      version: "1.1.0",
    });

    const vip1 = await mintAssertion(key, { iss: world.host1, sub: "vip-1" });
    const vip2 = await mintAssertion(key, { iss: world.host1, sub: "vip-2" });
    expect((await getCheck(clientOf(appId), { assertion: vip1 })).claims).toMatchObject({
      reason: "grayscale",
      version: "1.1.0",
    });
    expect((await getCheck(clientOf(appId), { assertion: vip2 })).claims).toMatchObject({
      reason: "grayscale",
      version: "1.2.0",
    });
  });
});

describe("verified-only capped tasks", () => {
  it("60 made-up GUIDs cannot drain the cap; verified accounts are admitted and counted by account", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const key = await registerAssertionKey(world.manager1.token, world.host1, "cap");
    const task = await createTask(world, appId, "1.1.0", { userCap: 3, verifiedOnly: true });
    expect(task.verifiedOnly).toBe(true);
    expect((await storedSnapshot(appId)).tasks[0].verifiedOnly).toBe(true);

    for (let i = 0; i < 60; i++) {
      const { claims } = await getCheck(clientOf(appId, { guid: `made-up-${i}`, account: `made-up-${i}` }));
      expect(claims.reason).toBe("online");
    }
    const progress = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}/progress`), { token: world.viewerA.token }),
      200,
    );
    expect(progress.admitted).toBe(0);

    const users = await Promise.all(
      ["u1", "u2", "u3", "u4"].map((sub) => mintAssertion(key, { iss: world.host1, sub })),
    );
    // The same verified user on two devices takes one slot.
    expect((await getCheck(clientOf(appId, { guid: "phone" }), { assertion: users[0]! })).claims.reason).toBe(
      "grayscale",
    );
    expect(
      (await getCheck(clientOf(appId, { guid: "tablet" }), { assertion: users[0]! })).claims.reason,
    ).toBe("grayscale");
    expect((await getCheck(clientOf(appId), { assertion: users[1]! })).claims.reason).toBe("grayscale");
    expect((await getCheck(clientOf(appId), { assertion: users[2]! })).claims.reason).toBe("grayscale");
    expect((await getCheck(clientOf(appId), { assertion: users[3]! })).claims.reason).toBe("online");
    const after = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}/progress`), { token: world.viewerA.token }),
      200,
    );
    expect(after.admitted).toBe(3);
  });
});

describe("explain agrees with the edge about who the user is", () => {
  it("trial: refused without verification, served with an assertion or verifiedAccount", async () => {
    const appId = await appWithTrial();
    const key = await registerAssertionKey(world.manager1.token, world.host1, "explain");
    const explain = (body: Record<string, unknown>) =>
      expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, { token: world.viewerA.token, json: body }),
        200,
      );
    const client = {
      hostAppId: world.host1,
      hostAppVersion: "8.0.1",
      platform: "android",
      osVersion: "14",
      trial: true,
    };

    const unverified = await explain({ client: { ...client, account: TESTER } });
    expect(unverified.decision).toMatchObject({ reason: "online", version: "1.0.0" });
    expect(unverified.user).toMatchObject({ account: TESTER, verified: false, assertion: null });
    expect(unverified.user.why).toContain("not verified");
    expect((await getCheck(clientOf(appId, { account: TESTER, trial: true }))).claims.reason).toBe(
      unverified.decision.reason,
    );

    const token = await mintAssertion(key, { iss: world.host1, sub: TESTER });
    const verified = await explain({ client: { ...client, assertion: token } });
    expect(verified.decision).toMatchObject({ reason: "trial", version: "1.1.0" });
    expect(verified.user).toMatchObject({ account: TESTER, verified: true, assertion: "verified" });
    expect((await getCheck(clientOf(appId, { trial: true }), { assertion: token })).claims.reason).toBe(
      verified.decision.reason,
    );
    expect(
      (await explain({ client: { ...client, account: TESTER }, verifiedAccount: true })).decision.reason,
    ).toBe("trial");

    const expired = await mintAssertion(key, {
      iss: world.host1,
      sub: TESTER,
      iat: now() - 7200,
      exp: now() - 3600,
    });
    const stale = await explain({ client: { ...client, assertion: expired } });
    expect(stale.decision.reason).toBe("online");
    expect(stale.user).toMatchObject({ verified: false, assertion: "expired" });
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
        token: world.viewerA.token,
        json: { client: { ...client, assertion: token }, verifiedAccount: true },
      }),
      400,
      "bad_request",
    );
  });

  it("a verified-only task: explain names the missing verification", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const task = await createTask(world, appId, "1.1.0", { userCap: 5, verifiedOnly: true });
    const explained = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
        token: world.viewerA.token,
        json: {
          client: {
            hostAppId: world.host1,
            hostAppVersion: "8.0.1",
            platform: "android",
            osVersion: "14",
            guid: "g-1",
            account: "a-1",
          },
        },
      }),
      200,
    );
    const verdict = explained.tasks.find((t: { taskId: string }) => t.taskId === task.id);
    expect(verdict.outcome).toBe("not_eligible");
    expect(verdict.conditions).toContainEqual(
      expect.objectContaining({ condition: "verified_user", pass: false }),
    );
    expect(
      verdict.conditions.find((c: { condition: string }) => c.condition === "verified_user").detail,
    ).toContain("not verified");
    expect(explained.decision.reason).toBe("online");
    expect((await getCheck(clientOf(appId, { guid: "g-1", account: "a-1" }))).claims.reason).toBe("online");
    const ok = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
        token: world.viewerA.token,
        json: {
          client: {
            hostAppId: world.host1,
            hostAppVersion: "8.0.1",
            platform: "android",
            osVersion: "14",
            account: "a-1",
          },
          verifiedAccount: true,
        },
      }),
      200,
    );
    expect(ok.decision).toMatchObject({ reason: "grayscale", taskId: task.id });
    expect(ok.userKey).toBe("a:a-1");
  });
});

describe("the edge judges keys by the snapshot it holds", () => {
  it("a retired key past its notAfter is refused even while an older snapshot still lists it", async () => {
    const appId = newAppId();
    const key = await makeAssertionKey("hk_edgeretired");
    await putSnapshot({
      appId,
      online: online("1.0.0", packageRef("0")),
      trial: {
        version: "1.1.0",
        package: packageRef("f"),
        pagePath: "pages/index/index",
        testers: ["alice"],
      },
      hostAppKeys: { [HOST_APP]: [snapshotKeyOf(key, Date.now() - 1)] },
    });
    const token = await mintAssertion(key, { iss: HOST_APP, sub: "alice" });
    const res = await postCheck({ ...edgeClient(appId), trial: true, assertion: token });
    expect(res.headers.get("x-graycast-assertion")).toBe("unknown_key");
    expect((await verifyManifest((await res.json<{ manifest: string }>()).manifest)).payload.reason).toBe(
      "online",
    );
  });

  it("a host app id such as __proto__ or constructor finds no keys (and no 500)", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("0")) });
    const token = await userAssertion("alice");
    for (const hostAppId of ["__proto__", "constructor", "toString"]) {
      const res = await postCheck({ ...edgeClient(appId), hostAppId, assertion: token });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-graycast-assertion")).toBe("unknown_key");
    }
  });

  it("a check without an assertion carries no x-graycast-assertion header", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("0")) });
    const res = await postCheck({ ...edgeClient(appId), account: "alice" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-graycast-assertion")).toBeNull();
  });
});
