import { exportJWK, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { publicKeys } from "../edge-worker/src/signing";

async function newKey(kid: string) {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid };
}

describe("JWKS with rotation overlap (MANIFEST_VERIFY_KEYS)", () => {
  it("publishes the current key first, then retired public keys, once per kid", async () => {
    const current = await newKey("k2");
    const { d: _d, ...retired } = await newKey("k1");
    const keys = await publicKeys(JSON.stringify(current), JSON.stringify([retired, { ...retired }, { ...current, d: undefined }]));
    expect(keys.map((k) => k.kid)).toEqual(["k2", "k1"]);
    expect(keys[1]).toEqual({ kty: "OKP", crv: "Ed25519", x: retired.x, kid: "k1", alg: "EdDSA", use: "sig" });
    expect(JSON.stringify(keys)).not.toContain('"d"');
  });

  it("treats an absent or empty var as no retired keys", async () => {
    const current = JSON.stringify(await newKey("only"));
    expect((await publicKeys(current, undefined)).map((k) => k.kid)).toEqual(["only"]);
    expect((await publicKeys(current, " ")).map((k) => k.kid)).toEqual(["only"]);
  });

  it("refuses a retired key that carries a private part, and a malformed var", async () => {
    const current = JSON.stringify(await newKey("c"));
    const leaked = await newKey("leaked");
    await expect(publicKeys(current, JSON.stringify([leaked]))).rejects.toThrow(/MANIFEST_VERIFY_KEYS/);
    await expect(publicKeys(current, "[not json")).rejects.toThrow(/MANIFEST_VERIFY_KEYS/);
  });

  it("refuses a signing secret that is not a private Ed25519 JWK with a kid", async () => {
    const { kid: _kid, ...noKid } = await newKey("x");
    await expect(publicKeys(JSON.stringify(noKid), undefined)).rejects.toThrow(/MANIFEST_SIGNING_KEY/);
  });
});
