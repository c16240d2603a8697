/**
 * Manifest signing (ARCHITECTURE.md "Packages, signatures, increments"): every manifest is a
 * compact JWS, Ed25519 (`alg: EdDSA`), with the key id in the header so clients pick the
 * pinned key from the JWKS; rotation keeps retired public keys in the JWKS for an overlap.
 */
import * as z from "zod/mini";
import { importJWK, SignJWT } from "jose";

import { MANIFEST_TYPE, type ManifestClaims } from "../../core/manifest";

const PrivateJwkSchema = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().check(z.minLength(1)),
  d: z.string().check(z.minLength(1)),
  kid: z.string().check(z.minLength(1), z.maxLength(128)),
});

/** Retired keys: public fields only; `.strict()` refuses a pasted private key (`d`). */
const VerifyKeysSchema = z.array(
  z.strictObject({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().check(z.minLength(1)),
    kid: z.string().check(z.minLength(1), z.maxLength(128)),
    alg: z.optional(z.literal("EdDSA")),
    use: z.optional(z.literal("sig")),
  }),
);

/** A public Ed25519 key as published in the JWKS (never a private `d`). */
export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

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
  // A new key must not serve manifests signed by the old one.
  manifestCache.clear();
  signerCache = { raw: secret, signer };
  return signer;
}

/** Signs the claims as a compact JWS whose header names the key and the manifest type. */
export function signManifest(claims: ManifestClaims, signer: Signer): Promise<string> {
  return new SignJWT({ ...claims }).setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: MANIFEST_TYPE }).sign(signer.key);
}

/**
 * Signed manifests are shared between clients for a short window (ARCHITECTURE.md "The hot
 * path"): the claims never name the user, so every client that gets the same answer in the same
 * window gets the same JWS and the isolate signs once per answer and window, not per request.
 * `iat` is the window's start (see `manifestWindowStart`) and `exp = iat + TTL`, so a cached
 * manifest never claims more life than one signed now would. Bounded LRU per isolate.
 */
export const MANIFEST_WINDOW_MS = 10_000;
const MANIFEST_CACHE_MAX = 1_024;
const manifestCache = new Map<string, string>();

/** The `nowMs` to build manifest claims with: the start of the current signing window. */
export function manifestWindowStart(nowMs: number): number {
  return nowMs - (nowMs % MANIFEST_WINDOW_MS);
}

/**
 * `signManifest`, reusing the JWS of identical claims (same key, same window: `iat` is in the
 * claims, so a new window is a new key and old entries age out of the LRU).
 */
export async function signManifestShared(claims: ManifestClaims, signer: Signer): Promise<string> {
  const key = `${signer.kid}\n${JSON.stringify(claims)}`;
  const hit = manifestCache.get(key);
  if (hit !== undefined) {
    // Refresh recency: Map keeps insertion order, the first key is the least recently used.
    manifestCache.delete(key);
    manifestCache.set(key, hit);
    return hit;
  }
  const jws = await signManifest(claims, signer);
  // Keyed by the signer object too: a rotated secret imports a new signer with maybe the same kid.
  if (signerCache?.signer === signer) {
    if (manifestCache.size >= MANIFEST_CACHE_MAX) manifestCache.delete(manifestCache.keys().next().value as string);
    manifestCache.set(key, jws);
  }
  return jws;
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
