/**
 * A platform key rotation end to end (PRODUCT.md S1, docs/key-rotation.md), through the edge
 * Worker's own routes with the configuration of each step: publish the new key as upcoming,
 * switch the signing key (old key retired), pass the retireAfter, remove the old key. Clients
 * are modelled as docs/key-rotation.md says: a key set pinned at build time, any pinned kid accepted.
 */

import { createExecutionContext } from "cloudflare:test";
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  jwtVerify,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../core/manifest";
import edgeApp from "../edge-worker/src/index";
import { JWKS_MAX_AGE_SECONDS } from "../edge-worker/src/signing";
import { client, edgeEnv, newAppId, ORIGIN, online, packageRef, putSnapshot } from "./support/edge";

interface Config {
  signing: string;
  verify?: string;
}

async function newKey(kid: string) {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid } as {
    kty: string;
    crv: string;
    x: string;
    d: string;
    kid: string;
  };
  return { kid, secret: JSON.stringify(jwk), public: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid } };
}

/** Calls the edge Worker's app with the bindings of the test plus this rotation step's keys. */
function edgeWith(config: Config) {
  const env = { ...edgeEnv, MANIFEST_SIGNING_KEY: config.signing, MANIFEST_VERIFY_KEYS: config.verify };
  const call = (path: string, init?: RequestInit) =>
    edgeApp.fetch(new Request(`${ORIGIN}${path}`, init), env, createExecutionContext());
  return {
    async jwksResponse() {
      return call("/.well-known/jwks.json");
    },
    async jwks(): Promise<JSONWebKeySet> {
      const res = await call("/.well-known/jwks.json");
      if (res.status !== 200) throw new Error(`jwks answered ${res.status}: ${await res.text()}`);
      return res.json();
    },
    async manifest(appId: string): Promise<string> {
      const res = await call("/v1/check", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(client(appId)),
      });
      if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
      return (await res.json<{ manifest: string }>()).manifest;
    },
  };
}

/** A client verifies against a key set (pinned at build time, or the published JWKS). */
function verifyWith(keys: JSONWebKeySet, manifest: string) {
  return jwtVerify(manifest, createLocalJWKSet(keys), {
    issuer: MANIFEST_ISSUER,
    typ: MANIFEST_TYPE,
    algorithms: ["EdDSA"],
  });
}

const kidOf = (manifest: string) => decodeProtectedHeader(manifest).kid;
const kids = (set: JSONWebKeySet) => set.keys.map((k) => k.kid);
const HOUR = 3_600_000;

let k1: Awaited<ReturnType<typeof newKey>>;
let k2: Awaited<ReturnType<typeof newKey>>;
let appId: string;
beforeAll(async () => {
  [k1, k2] = await Promise.all([newKey("gc-old"), newKey("gc-new")]);
  appId = newAppId();
  await putSnapshot({ appId, online: online("1.0.0", packageRef("r")) });
});

describe("platform key rotation with overlap", () => {
  it("walks every step: clients pinned before the switch keep verifying, old manifests verify during the overlap", async () => {
    // Step 0, before: K1 signs and is the only published key. A client build pins this JWKS.
    const before = edgeWith({ signing: k1.secret });
    const buildA = await before.jwks();
    expect(kids(buildA)).toEqual(["gc-old"]);
    const m0 = await before.manifest(appId);
    expect(kidOf(m0)).toBe("gc-old");

    // Step 1, publish K2 as upcoming: published, never signing. A client build now pins both.
    const upcoming = edgeWith({
      signing: k1.secret,
      verify: JSON.stringify([{ ...k2.public, status: "upcoming" }]),
    });
    const buildB = await upcoming.jwks();
    expect(kids(buildB)).toEqual(["gc-old", "gc-new"]);
    const m1 = await upcoming.manifest(appId);
    expect(kidOf(m1)).toBe("gc-old");
    await verifyWith(buildA, m1);

    // Step 2, switch: K2 signs, K1 is retired until its retireAfter (overlap).
    const retireAfter = new Date(Date.now() + 2 * HOUR).toISOString();
    const switched = edgeWith({
      signing: k2.secret,
      verify: JSON.stringify([{ ...k1.public, status: "retired", retireAfter }]),
    });
    const during = await switched.jwks();
    expect(kids(during)).toEqual(["gc-new", "gc-old"]);
    const m2 = await switched.manifest(appId);
    expect(kidOf(m2)).toBe("gc-new");
    // Manifests signed by the old key before the switch still verify against the published JWKS.
    await verifyWith(during, m0);
    await verifyWith(during, m1);
    await verifyWith(during, m2);
    // A client built after step 1 accepts the new key at once; one built before step 1 cannot,
    // which is why the upcoming key is published (and shipped in builds) before it signs.
    expect((await verifyWith(buildB, m2)).payload.sub).toBe(appId);
    await expect(verifyWith(buildA, m2)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
    // Clients that pinned K1 keep accepting its manifests until they expire; nothing is revoked.
    await verifyWith(buildB, m0);

    // Step 3, past retireAfter: K1 leaves the JWKS by itself (same configuration, later time).
    const past = edgeWith({
      signing: k2.secret,
      verify: JSON.stringify([
        { ...k1.public, status: "retired", retireAfter: new Date(Date.now() - 1000).toISOString() },
      ]),
    });
    const after = await past.jwks();
    expect(kids(after)).toEqual(["gc-new"]);
    await expect(verifyWith(after, m0)).rejects.toMatchObject({ code: "ERR_JWKS_NO_MATCHING_KEY" });
    await verifyWith(after, await past.manifest(appId));

    // Step 4, cleanup: the entry is removed; the JWKS is the same.
    expect(kids(await edgeWith({ signing: k2.secret }).jwks())).toEqual(["gc-new"]);
  });

  it("an upcoming key never signs, however many answers the edge gives", async () => {
    const step = edgeWith({
      signing: k1.secret,
      verify: JSON.stringify([{ ...k2.public, status: "upcoming" }]),
    });
    const apps = [appId];
    for (let i = 0; i < 3; i++) {
      const id = newAppId();
      await putSnapshot({ appId: id, online: online(`1.${i}.0`, packageRef(String(i))) });
      apps.push(id);
    }
    for (const id of apps) expect(kidOf(await step.manifest(id))).toBe("gc-old");
  });

  it("the JWKS is cacheable for the stated short time and publishes only public members", async () => {
    const res = await edgeWith({
      signing: k2.secret,
      verify: JSON.stringify([
        { ...k1.public, status: "retired", retireAfter: new Date(Date.now() + HOUR).toISOString() },
      ]),
    }).jwksResponse();
    expect(res.status).toBe(200);
    expect(JWKS_MAX_AGE_SECONDS).toBe(300);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const body = await res.json<JSONWebKeySet>();
    for (const key of body.keys)
      expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x"]);
  });

  it("a refused MANIFEST_VERIFY_KEYS fails only the JWKS (500, one error shape); checks keep signing", async () => {
    const bad = [
      JSON.stringify([{ ...JSON.parse(k2.secret), status: "upcoming" }]), // private part
      JSON.stringify([
        { ...k1.public, status: "retired", retireAfter: new Date(Date.now() + HOUR).toISOString() },
      ]), // K1 still signs
      JSON.stringify([
        { ...k2.public, status: "upcoming" },
        { ...k2.public, status: "upcoming" },
      ]), // duplicate kid
    ];
    for (const verify of bad) {
      const step = edgeWith({ signing: k1.secret, verify });
      const res = await step.jwksResponse();
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { code: "internal", message: "internal error" } });
      const manifest = await step.manifest(appId);
      expect(kidOf(manifest)).toBe("gc-old");
      await verifyWith({ keys: [{ ...k1.public, alg: "EdDSA" }] }, manifest);
    }
  });
});
