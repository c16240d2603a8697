/**
 * Custom signature verification (PRODUCT.md S2; seed "Custom signature verification"): team
 * signing keys (register, list, revoke, roles), uploads refused unless signed by an active team
 * key, and the signature travelling to clients in the edge's signed manifest.
 */

import { and, eq } from "drizzle-orm";
import { zipSync } from "fflate";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog, teamSigningKeys } from "../control-plane/src/db/schema";
import { sha256Hex } from "../control-plane/src/lib/encoding";
import { inspectPackage } from "../control-plane/src/lib/package-archive";
import { recordChangeIfChanged } from "../control-plane/src/services/change-log";
import { filesDigest } from "../core/increment";
import type { ManifestClaims } from "../core/manifest";
import { packageSigningInput } from "../core/signature";
import { packageKey } from "../core/snapshot";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  publish,
  taskBody,
  tasksPath,
  type World,
} from "./support/admin";
import { postCheck, verifyManifest } from "./support/edge";

type Alg = "EdDSA" | "ES256";
interface DevKey {
  alg: Alg;
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

const params = (alg: Alg) =>
  alg === "EdDSA"
    ? { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } }
    : { gen: { name: "ECDSA", namedCurve: "P-256" }, sign: { name: "ECDSA", hash: "SHA-256" } };

async function devKey(alg: Alg): Promise<DevKey> {
  const pair = (await crypto.subtle.generateKey(params(alg).gen, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const publicJwk: JsonWebKey =
    alg === "EdDSA"
      ? { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }
      : { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
  return { alg, privateKey: pair.privateKey, publicJwk };
}

const b64url = (bytes: ArrayBuffer | Uint8Array) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const fromB64url = (text: string) =>
  Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));

/** filesSha256 of a zip, computed as the control plane and scripts/sign-package.mjs do. */
async function filesOf(zip: Uint8Array): Promise<string> {
  return filesDigest((await inspectPackage(zip)).files, sha256Hex);
}

/** The `x-graycast-signature` value a developer sends, signed with WebCrypto. */
async function signatureHeader(
  key: DevKey,
  kid: string,
  appId: string,
  version: string,
  zip: Uint8Array,
): Promise<string> {
  const sig = await crypto.subtle.sign(
    params(key.alg).sign,
    key.privateKey,
    packageSigningInput(appId, version, await filesOf(zip)),
  );
  return `${kid}:${key.alg}:${b64url(sig)}`;
}

function uploadSigned(token: string, appId: string, version: string, zip: Uint8Array, signature?: string) {
  const headers: Record<string, string> = { "content-type": "application/zip" };
  if (signature !== undefined) headers["x-graycast-signature"] = signature;
  return callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=${version}`, {
    token,
    body: zip,
    headers,
  });
}

const keysPath = (teamId: string, rest = "") => `/v1/teams/${teamId}/signing-keys${rest}`;

async function register(world: World, key: DevKey, name = "ci"): Promise<string> {
  const body = await expectJson<{ id: string }>(
    callAdmin("POST", keysPath(world.teamA), {
      token: world.adminA.token,
      json: { name, jwk: key.publicJwk },
    }),
    201,
  );
  return body.id;
}

/** A package no other test uploads (so "nothing was stored" can be checked in R2). */
const uniquePackage = (version: string) => makePackage(version, { "unique.txt": crypto.randomUUID() });

async function versionRow(appId: string, version: string) {
  return testEnv.DB.prepare(
    "select signature_kid as kid, signature_alg as alg, signature as sig from versions where mini_program_id = ? and version = ? and status <> 'discarded'",
  )
    .bind(appId, version)
    .first<{ kid: string | null; alg: string | null; sig: string | null }>();
}

describe("registering, listing and revoking signing keys", () => {
  let world: World;
  beforeAll(async () => {
    world = await makeWorld();
  });

  it("a team admin registers Ed25519 and P-256 public keys; every member lists them, newest first", async () => {
    const ed = await devKey("EdDSA");
    const ec = await devKey("ES256");
    const first = await expectJson<any>(
      callAdmin("POST", keysPath(world.teamA), {
        token: world.adminA.token,
        json: {
          name: "laptop",
          jwk: { ...ed.publicJwk, kid: "mine", alg: "EdDSA", use: "sig", key_ops: ["verify"], ext: true },
        },
      }),
      201,
    );
    expect(first).toMatchObject({
      name: "laptop",
      alg: "EdDSA",
      publicJwk: ed.publicJwk,
      status: "active",
      createdBy: world.adminA.id,
      revokedAt: null,
    });
    expect(first.id).toMatch(/^sk_[a-z2-7]{16}$/);
    expect(first.thumbprint).toMatch(/^[0-9a-f]{64}$/);
    const second = await expectJson<any>(
      callAdmin("POST", keysPath(world.teamA), {
        token: world.adminA.token,
        json: { name: "ci", jwk: ec.publicJwk },
      }),
      201,
    );
    expect(second).toMatchObject({ alg: "ES256", publicJwk: ec.publicJwk });

    for (const user of [world.viewerA, world.devA, world.adminA, world.platform]) {
      const list = await expectJson<any>(callAdmin("GET", keysPath(world.teamA), { token: user.token }), 200);
      expect(
        list.keys
          .map((k: any) => k.id)
          .slice(0, 2)
          .sort(),
      ).toEqual([first.id, second.id].sort());
    }
    await expectError(callAdmin("GET", keysPath(world.teamA), { token: world.devB.token }), 404, "not_found");
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}`, { token: world.adminA.token }),
      200,
    );
    expect(
      log.entries.filter((e: any) => e.action === "signing_key.register").map((e: any) => e.targetId),
    ).toEqual(expect.arrayContaining([first.id, second.id]));
  });

  it("only a team admin registers: developers, viewers and platform admins get 403, other teams 404", async () => {
    const key = await devKey("EdDSA");
    for (const user of [world.devA, world.viewerA, world.platform])
      await expectError(
        callAdmin("POST", keysPath(world.teamA), {
          token: user.token,
          json: { name: "x", jwk: key.publicJwk },
        }),
        403,
        "forbidden",
      );
    await expectError(
      callAdmin("POST", keysPath(world.teamA), {
        token: world.devB.token,
        json: { name: "x", jwk: key.publicJwk },
      }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("POST", keysPath("team_nope"), {
        token: world.platform.token,
        json: { name: "x", jwk: key.publicJwk },
      }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("POST", keysPath("team_nope"), {
        token: world.adminA.token,
        json: { name: "x", jwk: key.publicJwk },
      }),
      404,
      "not_found",
    );
  });

  it("refuses private keys, other key types and curves, malformed or off-curve keys, and oversized input", async () => {
    const ed = await devKey("EdDSA");
    const ec = await devKey("ES256");
    const edPrivate = (await crypto.subtle.exportKey("jwk", ed.privateKey)) as JsonWebKey;
    const refuse = async (json: unknown, status = 400, code = "bad_request") => {
      const res = await callAdmin("POST", keysPath(world.teamA), { token: world.adminA.token, json });
      const body = await expectJson<any>(res, status);
      expect(body.error.code).toBe(code);
      return body.error;
    };
    const priv = await refuse({
      name: "oops",
      jwk: { kty: "OKP", crv: "Ed25519", x: edPrivate.x, d: edPrivate.d },
    });
    expect(priv.issues).toContainEqual({ path: "jwk.d", message: expect.stringContaining("private key") });
    const ecPriv = await refuse({ name: "oops", jwk: { ...ec.publicJwk, d: edPrivate.d } });
    expect(ecPriv.issues.map((i: any) => i.path)).toContain("jwk.d");
    await refuse({ name: "x", jwk: { kty: "OKP", crv: "X25519", x: ed.publicJwk.x } });
    await refuse({ name: "x", jwk: { kty: "OKP", crv: "Ed448", x: ed.publicJwk.x } });
    await refuse({ name: "x", jwk: { ...ec.publicJwk, crv: "P-384" } });
    await refuse({ name: "x", jwk: { ...ec.publicJwk, crv: "secp256k1" } });
    await refuse({ name: "x", jwk: { kty: "RSA", n: "AQAB", e: "AQAB" } });
    await refuse({ name: "x", jwk: { kty: "oct", k: "c2VjcmV0" } });
    await refuse({ name: "x", jwk: { ...ed.publicJwk, x: ed.publicJwk.x!.slice(0, 40) } });
    await refuse({ name: "x", jwk: { ...ed.publicJwk, x: `${ed.publicJwk.x}AAAA` } });
    await refuse({ name: "x", jwk: { ...ed.publicJwk, alg: "ES256" } });
    await refuse({ name: "x", jwk: { ...ec.publicJwk, alg: "EdDSA" } });
    await refuse({ name: "x", jwk: { ...ed.publicJwk, use: "enc" } });
    await refuse({ name: "x", jwk: { ...ed.publicJwk, x5c: ["MII..."] } });
    // A P-256 point that is not on the curve (y of another key).
    const other = await devKey("ES256");
    const offCurve = await refuse({ name: "x", jwk: { ...ec.publicJwk, y: other.publicJwk.y } });
    expect(offCurve.issues).toEqual([{ path: "jwk", message: "not a valid public key" }]);
    await refuse({ name: "", jwk: ed.publicJwk });
    await refuse({ name: "n".repeat(81), jwk: ed.publicJwk });
    await refuse({ jwk: ed.publicJwk });
    await refuse(
      { name: "x", jwk: { ...ed.publicJwk, padding: "p".repeat(300 * 1024) } },
      413,
      "payload_too_large",
    );
    const list = await expectJson<any>(
      callAdmin("GET", keysPath(world.teamA), { token: world.adminA.token }),
      200,
    );
    expect(
      list.keys.some((k: any) => k.publicJwk.x === ed.publicJwk.x || k.publicJwk.x === ec.publicJwk.x),
    ).toBe(false);
  });

  it("refuses the same public key twice, also after it was revoked", async () => {
    const key = await devKey("EdDSA");
    const id = await register(world, key);
    await expectError(
      callAdmin("POST", keysPath(world.teamA), {
        token: world.adminA.token,
        json: { name: "again", jwk: key.publicJwk },
      }),
      409,
      "conflict",
    );
    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${id}/revoke`), { token: world.adminA.token }),
      200,
    );
    await expectError(
      callAdmin("POST", keysPath(world.teamA), {
        token: world.adminA.token,
        json: { name: "again", jwk: key.publicJwk },
      }),
      409,
      "conflict",
    );
  });

  it("revokes: team admin or platform admin; not developers, not twice, not another team's key", async () => {
    const a = await register(world, await devKey("EdDSA"));
    const b = await register(world, await devKey("ES256"));
    await expectError(
      callAdmin("POST", keysPath(world.teamA, `/${a}/revoke`), { token: world.devA.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", keysPath(world.teamA, `/${a}/revoke`), { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("POST", keysPath(world.teamB, `/${a}/revoke`), { token: world.platform.token }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("POST", keysPath(world.teamA, "/sk_aaaaaaaaaaaaaaaa/revoke"), { token: world.adminA.token }),
      404,
      "not_found",
    );
    const revoked = await expectJson<any>(
      callAdmin("POST", keysPath(world.teamA, `/${a}/revoke`), { token: world.adminA.token }),
      200,
    );
    expect(revoked).toMatchObject({ id: a, status: "revoked", revokedAt: expect.any(Number) });
    await expectError(
      callAdmin("POST", keysPath(world.teamA, `/${a}/revoke`), { token: world.adminA.token }),
      409,
      "conflict",
    );
    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${b}/revoke`), { token: world.platform.token }),
      200,
    );
    const list = await expectJson<any>(
      callAdmin("GET", keysPath(world.teamA), { token: world.viewerA.token }),
      200,
    );
    expect(list.keys.filter((k: any) => k.id === a || k.id === b).map((k: any) => k.status)).toEqual([
      "revoked",
      "revoked",
    ]);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}`, { token: world.adminA.token }),
      200,
    );
    expect(
      log.entries.filter((e: any) => e.action === "signing_key.revoke").map((e: any) => e.targetId),
    ).toEqual(expect.arrayContaining([a, b]));
  });

  it("two revokes racing for one key: one 200, one 409, one change-log entry", async () => {
    const key = await register(world, await devKey("EdDSA"));
    const answers = await Promise.all(
      [0, 1].map(() =>
        callAdmin("POST", keysPath(world.teamA, `/${key}/revoke`), { token: world.adminA.token }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409]);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
      200,
    );
    expect(
      log.entries.filter((e: any) => e.action === "signing_key.revoke" && e.targetId === key),
    ).toHaveLength(1);
  });

  it("a revoke that lost the race writes no change-log entry (the guard is in the same batch)", async () => {
    const key = await register(world, await devKey("EdDSA"));
    // The state a lost race sees: the row was revoked between this request's read and its write.
    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${key}/revoke`), { token: world.adminA.token }),
      200,
    );
    const db = createDb(testEnv.DB);
    const actor = {
      userId: world.adminA.id,
      email: world.adminA.email,
      isPlatformAdmin: false,
      via: "session" as const,
    };
    const before = await db.select().from(changeLog).where(eq(changeLog.targetId, key)).all();
    await db.batch([
      db
        .update(teamSigningKeys)
        .set({ status: "revoked" })
        .where(and(eq(teamSigningKeys.id, key), eq(teamSigningKeys.status, "active"))),
      recordChangeIfChanged(db, actor, {
        action: "signing_key.revoke",
        teamId: world.teamA,
        targetType: "signing_key",
        targetId: key,
      }),
    ]);
    expect(await db.select().from(changeLog).where(eq(changeLog.targetId, key)).all()).toHaveLength(
      before.length,
    );
  });

  it("a team has at most 10 active keys", async () => {
    const fresh = await makeWorld();
    for (let i = 0; i < 10; i++) await register(fresh, await devKey(i % 2 ? "ES256" : "EdDSA"), `k${i}`);
    await expectError(
      callAdmin("POST", keysPath(fresh.teamA), {
        token: fresh.adminA.token,
        json: { name: "k10", jwk: (await devKey("EdDSA")).publicJwk },
      }),
      409,
      "conflict",
    );
  });

  it("registrations racing for the last slots never pass the limit, and only the ones that landed are logged", async () => {
    const fresh = await makeWorld();
    for (let i = 0; i < 8; i++) await register(fresh, await devKey("EdDSA"), `k${i}`);
    const jwks = await Promise.all([0, 1, 2, 3, 4].map(async () => (await devKey("EdDSA")).publicJwk));
    const answers = await Promise.all(
      jwks.map((jwk, i) =>
        callAdmin("POST", keysPath(fresh.teamA), {
          token: fresh.adminA.token,
          json: { name: `race${i}`, jwk },
        }),
      ),
    );
    expect(answers.filter((r) => r.status === 201)).toHaveLength(2);
    expect(answers.filter((r) => r.status === 409)).toHaveLength(3);
    const list = await expectJson<any>(
      callAdmin("GET", keysPath(fresh.teamA), { token: fresh.adminA.token }),
      200,
    );
    expect(list.keys.filter((k: any) => k.status === "active")).toHaveLength(10);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${fresh.teamA}&limit=200`, { token: fresh.adminA.token }),
      200,
    );
    expect(log.entries.filter((e: any) => e.action === "signing_key.register")).toHaveLength(10);
  });
});

describe("uploads while the team has signing keys", () => {
  it("a team without keys uploads unsigned; a signature naming an unknown key is refused", async () => {
    const world = await makeWorld();
    const appId = await makeMiniProgram(world);
    await expectJson(uploadSigned(world.devA.token, appId, "1.0.0", makePackage("1.0.0")), 201);
    expect(await versionRow(appId, "1.0.0")).toEqual({ kid: null, alg: null, sig: null });
    const zip = makePackage("1.0.1");
    const header = await signatureHeader(await devKey("EdDSA"), "sk_aaaaaaaaaaaaaaaa", appId, "1.0.1", zip);
    expect(
      await expectError(uploadSigned(world.devA.token, appId, "1.0.1", zip, header), 422, "bad_signature"),
    ).toMatch(/not registered/);
  });

  it("refuses a missing, malformed, unknown, mismatched or wrong signature before anything is stored", async () => {
    const world = await makeWorld();
    const appId = await makeMiniProgram(world);
    const key = await devKey("EdDSA");
    const kid = await register(world, key);
    const otherWorld = await makeWorld();
    const foreign = await devKey("EdDSA");
    const foreignKid = await register(otherWorld, foreign);
    const zip = uniquePackage("1.0.0");
    const sha = await sha256Hex(zip);
    const good = await signatureHeader(key, kid, appId, "1.0.0", zip);
    const [, , goodSig] = good.split(":");

    expect(
      await expectError(uploadSigned(world.devA.token, appId, "1.0.0", zip), 422, "bad_signature"),
    ).toMatch(/requires signed uploads.*x-graycast-signature/);
    for (const malformed of [
      "",
      "nonsense",
      `${kid}:EdDSA`,
      `${kid}:RS256:${goodSig}`,
      `${kid}:EdDSA:${goodSig}==`,
      `${kid}:EdDSA:${goodSig!.slice(1)}`,
      `key-1:EdDSA:${goodSig}`,
    ]) {
      await expectError(uploadSigned(world.devA.token, appId, "1.0.0", zip, malformed), 400, "bad_request");
    }
    const refused = async (header: string, message: RegExp) =>
      expect(
        await expectError(uploadSigned(world.devA.token, appId, "1.0.0", zip, header), 422, "bad_signature"),
      ).toMatch(message);
    await refused(`sk_aaaaaaaaaaaaaaaa:EdDSA:${goodSig}`, /not registered for this team/);
    await refused(
      await signatureHeader(foreign, foreignKid, appId, "1.0.0", zip),
      /not registered for this team/,
    );
    await refused(`${kid}:ES256:${goodSig}`, /is an EdDSA key, not ES256/);
    await refused(await signatureHeader(key, kid, appId, "1.0.1", zip), /does not verify/);
    await refused(
      await signatureHeader(key, kid, "gcaaaabbbbccccddddeeeeff", "1.0.0", zip),
      /does not verify/,
    );
    await refused(await signatureHeader(key, kid, appId, "1.0.0", uniquePackage("1.0.0")), /does not verify/);
    await refused(await signatureHeader(await devKey("EdDSA"), kid, appId, "1.0.0", zip), /does not verify/);
    await refused(`${kid}:EdDSA:${"A".repeat(86)}`, /does not verify/);

    const list = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions`, { token: world.devA.token }),
      200,
    );
    expect(list.versions).toEqual([]);
    expect(await testEnv.PACKAGES.head(packageKey(sha))).toBeNull();
    // Unsigned uploads by a viewer are still a 403 first (roles before signatures).
    await expectError(uploadSigned(world.viewerA.token, appId, "1.0.0", zip), 403, "forbidden");

    const v = await expectJson<any>(uploadSigned(world.devA.token, appId, "1.0.0", zip, good), 201);
    expect(v).toMatchObject({ version: "1.0.0", status: "development" });
    expect(await versionRow(appId, "1.0.0")).toEqual({ kid, alg: "EdDSA", sig: goodSig });
    expect(await testEnv.PACKAGES.head(packageKey(sha))).not.toBeNull();
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}`, { token: world.devA.token }),
      200,
    );
    expect(
      log.entries.find((e: any) => e.action === "version.upload" && e.targetId === appId)?.detail,
    ).toMatchObject({ version: "1.0.0", signatureKid: kid });
  });

  it("accepts EdDSA and ES256 (raw r||s) signatures; a revoked key is refused; with no active key unsigned uploads pass again", async () => {
    const world = await makeWorld();
    const appId = await makeMiniProgram(world);
    const ed = await devKey("EdDSA");
    const ec = await devKey("ES256");
    const edKid = await register(world, ed, "ed");
    const ecKid = await register(world, ec, "ec");

    const z1 = makePackage("1.0.0");
    await expectJson(
      uploadSigned(
        world.devA.token,
        appId,
        "1.0.0",
        z1,
        await signatureHeader(ed, edKid, appId, "1.0.0", z1),
      ),
      201,
    );
    expect(await versionRow(appId, "1.0.0")).toMatchObject({ kid: edKid, alg: "EdDSA" });
    const z2 = makePackage("1.0.1");
    const ecHeader = await signatureHeader(ec, ecKid, appId, "1.0.1", z2);
    await expectJson(uploadSigned(world.devA.token, appId, "1.0.1", z2, ecHeader), 201);
    expect(await versionRow(appId, "1.0.1")).toEqual({
      kid: ecKid,
      alg: "ES256",
      sig: ecHeader.split(":")[2],
    });

    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${edKid}/revoke`), { token: world.adminA.token }),
      200,
    );
    const z3 = makePackage("1.0.2");
    expect(
      await expectError(
        uploadSigned(
          world.devA.token,
          appId,
          "1.0.2",
          z3,
          await signatureHeader(ed, edKid, appId, "1.0.2", z3),
        ),
        422,
        "bad_signature",
      ),
    ).toMatch(/revoked/);
    await expectError(uploadSigned(world.devA.token, appId, "1.0.2", z3), 422, "bad_signature");
    await expectJson(
      uploadSigned(
        world.devA.token,
        appId,
        "1.0.2",
        z3,
        await signatureHeader(ec, ecKid, appId, "1.0.2", z3),
      ),
      201,
    );

    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${ecKid}/revoke`), { token: world.adminA.token }),
      200,
    );
    const z4 = makePackage("1.0.3");
    await expectJson(uploadSigned(world.devA.token, appId, "1.0.3", z4), 201);
    expect(await versionRow(appId, "1.0.3")).toEqual({ kid: null, alg: null, sig: null });
  });
});

describe("the signature travels to clients", () => {
  it.each(["EdDSA", "ES256"] as const)(
    "%s: after publish, the edge's signed manifest carries package.signature, which verifies over packageSigningInput",
    async (alg) => {
      const world = await makeWorld();
      const appId = await makeMiniProgram(world);
      const key = await devKey(alg);
      const kid = await register(world, key);
      const zip = makePackage("2.0.0");
      const header = await signatureHeader(key, kid, appId, "2.0.0", zip);
      await expectJson(uploadSigned(world.devA.token, appId, "2.0.0", zip, header), 201);
      const audit = await expectJson<{ auditId: string }>(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/2.0.0/submit`, {
          token: world.devA.token,
          json: {},
        }),
        201,
      );
      await expectJson(
        callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
          token: world.auditor1.token,
          json: { hostAppId: world.host1, decision: "approve" },
        }),
        200,
      );
      await publish(world, appId, "2.0.0");

      const res = await postCheck({
        appId,
        hostAppId: world.host1,
        hostAppVersion: "8.0.0",
        platform: "ios",
        osVersion: "17.4",
      });
      expect(res.status).toBe(200);
      const { manifest } = await res.json<{ manifest: string }>();
      // A client verifies the platform's JWS first, then the developer's signature inside it.
      const { payload } = await verifyManifest(manifest);
      expect(decodeJwt<ManifestClaims>(manifest)).toEqual(payload);
      expect(payload).toMatchObject({ status: "ok", version: "2.0.0" });
      const pkg = payload.package!;
      expect(pkg.files).toBe(await filesOf(zip));
      expect(pkg.signature).toEqual({ kid, alg, sig: header.split(":")[2] });

      const publicKey = await crypto.subtle.importKey("jwk", key.publicJwk, params(alg).gen, false, [
        "verify",
      ]);
      const input = packageSigningInput(payload.sub, payload.version!, pkg.files!);
      expect(
        await crypto.subtle.verify(params(alg).sign, publicKey, fromB64url(pkg.signature!.sig), input),
      ).toBe(true);
      // Bound to the App ID and version: the same signature does not verify for another version.
      expect(
        await crypto.subtle.verify(
          params(alg).sign,
          publicKey,
          fromB64url(pkg.signature!.sig),
          packageSigningInput(payload.sub, "2.0.1", pkg.files!),
        ),
      ).toBe(false);
    },
  );
});

describe("revocation reaches delivery", () => {
  it("a version signed with a key revoked since cannot be published or rolled back to", async () => {
    const world = await makeWorld();
    const appId = await makeMiniProgram(world);
    const key = await devKey("EdDSA");
    const kid = await register(world, key);
    const approve = async (version: string) => {
      const zip = makePackage(version);
      await expectJson(
        uploadSigned(
          world.devA.token,
          appId,
          version,
          zip,
          await signatureHeader(key, kid, appId, version, zip),
        ),
        201,
      );
      const audit = await expectJson<{ auditId: string }>(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
          token: world.devA.token,
          json: {},
        }),
        201,
      );
      await expectJson(
        callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
          token: world.auditor1.token,
          json: { hostAppId: world.host1, decision: "approve" },
        }),
        200,
      );
    };
    for (const v of ["3.0.0", "3.1.0"]) {
      await approve(v);
      await publish(world, appId, v);
    }
    await approve("3.2.0");
    await expectJson(
      callAdmin("POST", keysPath(world.teamA, `/${kid}/revoke`), { token: world.adminA.token }),
      200,
    );
    expect(
      await expectError(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/3.2.0/publish`, { token: world.devA.token }),
        409,
        "conflict",
      ),
    ).toMatch(/revoked/);
    expect(
      await expectError(
        callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
          token: world.devA.token,
          json: { version: "3.0.0" },
        }),
        409,
        "conflict",
      ),
    ).toMatch(/revoked/);
    expect(
      await expectError(
        callAdmin("POST", tasksPath(appId), { token: world.devA.token, json: taskBody(world, "3.2.0") }),
        409,
        "conflict",
      ),
    ).toMatch(/revoked/);
    expect(
      await expectError(
        callAdmin("GET", `/v1/mini-programs/${appId}/offline-package?hostAppId=${world.host1}`, {
          token: world.devA.token,
        }),
        409,
        "conflict",
      ),
    ).toMatch(/revoked/);
  });
});

describe("OpenAPI", () => {
  it("documents the key routes and the upload's optional x-graycast-signature header", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    expect(Object.keys(doc.paths["/v1/teams/{teamId}/signing-keys"]).sort()).toEqual(["get", "post"]);
    expect(Object.keys(doc.paths["/v1/teams/{teamId}/signing-keys/{keyId}/revoke"])).toEqual(["post"]);
    const header = doc.paths["/v1/mini-programs/{appId}/versions"].post.parameters.find(
      (p: any) => p.in === "header",
    );
    expect(header).toMatchObject({ name: "x-graycast-signature", required: false });
    expect(header.schema.pattern).toContain("EdDSA|ES256");
  });
});

describe("scripts/sign-package.mjs agrees with the control plane", () => {
  // Vectors produced by running the script by hand (Node 22) on a zip of the files below:
  //   node scripts/sign-package.mjs --zip golden.zip --app-id gcaaaabbbbccccddddeeeeff --version 1.0.0 --key rfc8032.json --kid sk_aaaaaaaaaaaaaaaa
  // The EdDSA key is RFC 8032's test vector 1 (public, never a real key); Ed25519 signatures are
  // deterministic, so WebCrypto here must produce the same header byte for byte.
  const enc = new TextEncoder();
  const golden = zipSync(
    {
      "app.json": enc.encode(JSON.stringify({ pages: ["pages/index/index"] })),
      "pages/index/index.js": enc.encode("Page({});\n"),
      "pages/index/index.wxml": enc.encode("<view>signed</view>\n"),
      "static/": new Uint8Array(0),
    },
    { mtime: new Date("2026-01-01T00:00:00Z") },
  );
  const APP = "gcaaaabbbbccccddddeeeeff";
  const KID = "sk_aaaaaaaaaaaaaaaa";
  const FILES = "d51d032038b76d5fd95552b2d99c81b37f69779c3163841279286b24214b029c";
  const RFC8032 = {
    kty: "OKP",
    crv: "Ed25519",
    d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
  };
  const SCRIPT_EDDSA = `${KID}:EdDSA:h17JQUovzG165QSprlV86Tj6GdX_wMZO_P-pV50_jlhMmLNg92bhvoyLGgt8GP4-5Njk9b3VXQqnB9D3R6zMCw`;
  const ES256_PUBLIC = {
    kty: "EC",
    crv: "P-256",
    x: "VDzVH_qd2S4z65AwL3XCMBivqGZqwAMPsSbzq3aJMnI",
    y: "lYsmlxS0I5kLldRAYPD59Gq9N9tyxED6yJbxhBsAHng",
  };
  const SCRIPT_ES256 = `${KID}:ES256:ss7x7JHSFpnHivzqF3QGUZ-KTRrBX5mLg6JagIh91ZNtVC2GN7Qmx191BOrbOrrUgu0IXVKWOtkUANtbR0lyEg`;

  it("computes the same filesSha256 and, for EdDSA, the same header", async () => {
    expect(await filesOf(golden)).toBe(FILES);
    const privateKey = await crypto.subtle.importKey("jwk", RFC8032, { name: "Ed25519" }, false, ["sign"]);
    expect(
      await signatureHeader(
        { alg: "EdDSA", privateKey, publicJwk: { kty: "OKP" } },
        KID,
        APP,
        "1.0.0",
        golden,
      ),
    ).toBe(SCRIPT_EDDSA);
  });

  it("its ES256 signature (Node, ieee-p1363) verifies with WebCrypto as the upload check does", async () => {
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      ES256_PUBLIC,
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    const sig = fromB64url(SCRIPT_ES256.split(":")[2]!);
    expect(sig.byteLength).toBe(64);
    expect(
      await crypto.subtle.verify(
        { name: "ECDSA", hash: "SHA-256" },
        publicKey,
        sig,
        packageSigningInput(APP, "1.0.0", FILES),
      ),
    ).toBe(true);
  });
});
