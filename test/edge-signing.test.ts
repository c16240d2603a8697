/**
 * The manifest key ring (edge-worker/src/signing.ts, PRODUCT.md S1): how MANIFEST_SIGNING_KEY and
 * MANIFEST_VERIFY_KEYS become the published JWKS, and every configuration the edge refuses.
 * The rotation end to end, through the Worker's routes, is in edge-key-rotation.test.ts.
 */
import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { keyRing, MAX_VERIFY_KEYS, publicKeys } from "../edge-worker/src/signing";

async function newKey(kid: string) {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid } as {
    kty: string;
    crv: string;
    x: string;
    d: string;
    kid: string;
  };
}

/** The public half of a key, as an operator lists it in MANIFEST_VERIFY_KEYS. */
function listed(
  key: { kty: string; crv: string; x: string; kid: string },
  status: "upcoming" | "retired",
  retireAfter?: string,
) {
  return {
    kty: key.kty,
    crv: key.crv,
    x: key.x,
    kid: key.kid,
    status,
    ...(retireAfter !== undefined ? { retireAfter } : {}),
  };
}

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("JWKS from the key ring", () => {
  it("publishes the signing key first, then upcoming keys, then retired keys, with public members only", async () => {
    const signing = await newKey("k2");
    const upcoming = await newKey("k3");
    const retired = await newKey("k1");
    const verify = JSON.stringify([
      listed(retired, "retired", iso(Date.now() + HOUR)),
      listed(upcoming, "upcoming"),
    ]);
    const keys = await publicKeys(JSON.stringify(signing), verify);
    expect(keys.map((k) => k.kid)).toEqual(["k2", "k3", "k1"]);
    expect(keys[2]).toEqual({
      kty: "OKP",
      crv: "Ed25519",
      x: retired.x,
      kid: "k1",
      alg: "EdDSA",
      use: "sig",
    });
    expect(JSON.stringify(keys)).not.toContain('"d"');
    expect(JSON.stringify(keys)).not.toContain("status");
    const ring = await keyRing(JSON.stringify(signing), verify);
    expect(ring.map((k) => k.status)).toEqual(["signing", "upcoming", "retired"]);
  });

  it("treats an absent or empty MANIFEST_VERIFY_KEYS as no other keys", async () => {
    const current = JSON.stringify(await newKey("only"));
    expect((await publicKeys(current, undefined)).map((k) => k.kid)).toEqual(["only"]);
    expect((await publicKeys(current, " ")).map((k) => k.kid)).toEqual(["only"]);
    expect((await publicKeys(current, "[]")).map((k) => k.kid)).toEqual(["only"]);
  });

  it("drops a retired key from the JWKS at its retireAfter, with no configuration change", async () => {
    const signing = JSON.stringify(await newKey("new"));
    const retireAt = Date.parse("2026-12-24T00:00:00Z");
    const verify = JSON.stringify([
      listed(await newKey("old"), "retired", "2026-12-24T00:00:00Z"),
      listed(await newKey("next"), "upcoming"),
    ]);
    expect((await publicKeys(signing, verify, retireAt - 1)).map((k) => k.kid)).toEqual([
      "new",
      "next",
      "old",
    ]);
    expect((await publicKeys(signing, verify, retireAt)).map((k) => k.kid)).toEqual(["new", "next"]);
    expect((await publicKeys(signing, verify, retireAt + 30 * 24 * HOUR)).map((k) => k.kid)).toEqual([
      "new",
      "next",
    ]);
  });
});

describe("refused configurations", () => {
  const refused = async (signing: object, verify: unknown, message: RegExp) =>
    expect(
      publicKeys(JSON.stringify(signing), typeof verify === "string" ? verify : JSON.stringify(verify)),
    ).rejects.toThrow(message);

  it("refuses a listed key that carries a private part, naming it", async () => {
    const signing = await newKey("c");
    const leaked = await newKey("leaked");
    await refused(
      signing,
      [{ ...listed(leaked, "upcoming"), d: leaked.d }],
      /MANIFEST_VERIFY_KEYS: entry 0 \(kid "leaked"\) carries a private key part "d"/,
    );
    await refused(
      signing,
      [{ ...leaked, status: "retired", retireAfter: iso(Date.now() + HOUR) }],
      /private key part/,
    );
  });

  it("refuses duplicate kids and one public key under two kids", async () => {
    const signing = await newKey("c");
    const a = await newKey("a");
    const b = await newKey("b");
    await refused(
      signing,
      [listed(a, "upcoming"), listed({ ...b, kid: "a" }, "retired", iso(Date.now() + HOUR))],
      /entry 1 \(kid "a"\): kid listed twice/,
    );
    await refused(
      signing,
      [listed(a, "upcoming"), listed({ ...a, kid: "a2" }, "retired", iso(Date.now() + HOUR))],
      /same public key is listed twice/,
    );
  });

  it("refuses the signing key listed as retired or upcoming, by kid or by key", async () => {
    const signing = await newKey("c");
    const other = await newKey("o");
    const later = iso(Date.now() + HOUR);
    await refused(signing, [listed(signing, "retired", later)], /entry 0 \(kid "c"\) is the signing key/);
    await refused(
      signing,
      [listed({ ...signing, kid: "c-renamed" }, "retired", later)],
      /is the signing key/,
    );
    await refused(signing, [listed({ ...other, kid: "c" }, "retired", later)], /is the signing key/);
    await refused(signing, [listed(signing, "upcoming")], /is the signing key/);
  });

  it("refuses a retired key without retireAfter, an upcoming key with one, and dates that are not ISO 8601 UTC", async () => {
    const signing = await newKey("c");
    const k = await newKey("k");
    await refused(signing, [listed(k, "retired")], /a retired key needs retireAfter/);
    await refused(
      signing,
      [listed(k, "upcoming", iso(Date.now() + HOUR))],
      /an upcoming key has no retireAfter/,
    );
    await refused(signing, [listed(k, "retired", "2026-12-24T08:00:00+08:00")], /retireAfter/);
    await refused(signing, [listed(k, "retired", "2026-12-24")], /retireAfter/);
    await refused(signing, [listed(k, "retired", "2026-13-45T00:00:00Z")], /retireAfter is not a real date/);
    await refused(signing, [listed(k, "retired", String(Date.now() + HOUR))], /retireAfter/);
  });

  it("refuses entries without a status, with unknown members, other key types and malformed key material", async () => {
    const signing = await newKey("c");
    const k = await newKey("k");
    const { status: _s, ...noStatus } = listed(k, "upcoming");
    await refused(signing, [noStatus], /entry 0 \(kid "k"\) is not a public Ed25519 JWK .*status/);
    await refused(signing, [{ ...listed(k, "upcoming"), status: "active" }], /status/);
    await refused(signing, [{ ...listed(k, "upcoming"), nbf: 1 }], /entry 0/);
    await refused(signing, [{ ...listed(k, "upcoming"), crv: "X25519" }], /crv/);
    await refused(signing, [{ ...listed(k, "upcoming"), kty: "EC", crv: "P-256" }], /kty/);
    await refused(signing, [{ ...listed(k, "upcoming"), x: k.x.slice(1) }], /x/);
    await refused(signing, [{ ...listed(k, "upcoming"), kid: "" }], /kid/);
    await refused(signing, [{ ...listed(k, "upcoming"), kid: "has space" }], /kid/);
    await refused(signing, [{ ...listed(k, "upcoming"), alg: "ES256" }], /alg/);
  });

  it("refuses malformed JSON, a non-array and an oversized list", async () => {
    const signing = await newKey("c");
    await refused(signing, "[not json", /MANIFEST_VERIFY_KEYS: not valid JSON/);
    await refused(signing, { keys: [] }, /not a JSON array/);
    const many = await Promise.all(Array.from({ length: MAX_VERIFY_KEYS + 1 }, (_, i) => newKey(`k${i}`)));
    await refused(
      signing,
      many.map((k) => listed(k, "upcoming")),
      /more than 16 keys/,
    );
  });

  it("refuses a signing secret that is not a private Ed25519 JWK with a kid", async () => {
    const { kid: _kid, ...noKid } = await newKey("x");
    await expect(publicKeys(JSON.stringify(noKid), undefined)).rejects.toThrow(/MANIFEST_SIGNING_KEY/);
    const { d: _d, ...publicOnly } = await newKey("p");
    await expect(publicKeys(JSON.stringify(publicOnly), undefined)).rejects.toThrow(/MANIFEST_SIGNING_KEY/);
    await expect(publicKeys("{", undefined)).rejects.toThrow(/MANIFEST_SIGNING_KEY: not valid JSON/);
  });
});
