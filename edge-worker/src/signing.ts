/**
 * Manifest signing (ARCHITECTURE.md "Packages, signatures, increments"): every manifest is a
 * compact JWS, Ed25519 (`alg: EdDSA`), with the key id in the header so clients pick the
 * pinned key from the JWKS; rotation keeps retired public keys in the JWKS for an overlap.
 */
import { z } from "@hono/zod-openapi";
import { importJWK, SignJWT } from "jose";
import type { PublicJwk } from "../../core/contracts/check";
import { MANIFEST_TYPE, type ManifestClaims } from "../../core/manifest";

const PrivateJwkSchema = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1).max(128),
});

/** Retired keys: public fields only; `.strict()` refuses a pasted private key (`d`). */
const VerifyKeysSchema = z.array(
  z
    .object({
      kty: z.literal("OKP"),
      crv: z.literal("Ed25519"),
      x: z.string().min(1),
      kid: z.string().min(1).max(128),
      alg: z.literal("EdDSA").optional(),
      use: z.literal("sig").optional(),
    })
    .strict(),
);

export interface Signer {
  kid: string;
  key: CryptoKey | Uint8Array;
  publicJwk: PublicJwk;
}

// Per-isolate caches, keyed by the raw configuration so a changed secret is picked up. The
// resolved value is cached, not the promise: awaiting a promise started by another request
// can be cancelled by workerd when that request ends first.
let signerCache: { raw: string; signer: Signer } | undefined;
let jwksCache: { raw: string; keys: PublicJwk[] } | undefined;

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Configuration errors are the operator's, not the client's: they surface as 500.
    throw new Error(`${what} is not valid JSON`);
  }
}

function toPublicJwk(key: { x: string; kid: string }): PublicJwk {
  return { kty: "OKP", crv: "Ed25519", x: key.x, kid: key.kid, alg: "EdDSA", use: "sig" };
}

/** The signing key from the `MANIFEST_SIGNING_KEY` secret, imported once per isolate. */
export async function loadSigner(secret: string): Promise<Signer> {
  if (signerCache?.raw === secret) return signerCache.signer;
  const parsed = PrivateJwkSchema.safeParse(parseJson(secret, "MANIFEST_SIGNING_KEY"));
  if (!parsed.success) throw new Error("MANIFEST_SIGNING_KEY is not a private Ed25519 JWK with a kid");
  const { kty, crv, x, d, kid } = parsed.data;
  const key = await importJWK({ kty, crv, x, d }, "EdDSA");
  const signer: Signer = { kid, key, publicJwk: toPublicJwk({ x, kid }) };
  signerCache = { raw: secret, signer };
  return signer;
}

/** Signs the claims as a compact JWS whose header names the key and the manifest type. */
export function signManifest(claims: ManifestClaims, signer: Signer): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: MANIFEST_TYPE }).sign(signer.key);
}

/**
 * Public keys to publish: the current signing key first, then the retired keys from
 * `MANIFEST_VERIFY_KEYS` (if set) that clients may still need during the rotation overlap.
 * A kid appears once.
 */
export async function publicKeys(secret: string, verifyKeys: string | undefined): Promise<PublicJwk[]> {
  const raw = `${secret}\n${verifyKeys ?? ""}`;
  if (jwksCache?.raw === raw) return jwksCache.keys;
  const current = (await loadSigner(secret)).publicJwk;
  const keys = [current];
  if (verifyKeys !== undefined && verifyKeys.trim() !== "") {
    const parsed = VerifyKeysSchema.safeParse(parseJson(verifyKeys, "MANIFEST_VERIFY_KEYS"));
    if (!parsed.success) throw new Error("MANIFEST_VERIFY_KEYS is not an array of public Ed25519 JWKs with kids");
    for (const key of parsed.data) {
      if (!keys.some((k) => k.kid === key.kid)) keys.push(toPublicJwk(key));
    }
  }
  jwksCache = { raw, keys };
  return keys;
}
