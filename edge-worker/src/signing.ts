/**
 * Manifest signing (ARCHITECTURE.md "Packages, signatures, increments"; PRODUCT.md S1): every
 * manifest is a compact JWS, Ed25519 (`alg: EdDSA`), with the key id in the header so clients
 * pick the pinned key from the JWKS.
 *
 * Key rotation (docs/key-rotation.md) is explicit: the key ring is the signing key
 * (`MANIFEST_SIGNING_KEY`, the only key that ever signs) plus the public keys listed in
 * `MANIFEST_VERIFY_KEYS`, each with a status:
 *   - `upcoming`: published before it signs, so clients learn it ahead of the switch;
 *   - `retired`: signed before the switch, published until `retireAfter` (ISO 8601 UTC) so
 *     manifests it signed keep verifying for the stated overlap, then dropped from the JWKS.
 * The list is validated strictly (no private `d`, no duplicate kid or key, never the signing
 * key itself). Only the JWKS reads it: a bad list fails `/.well-known/jwks.json` with a 500 and
 * never stops `/v1/check` from signing.
 */

import { importJWK, SignJWT } from "jose";
import * as z from "zod/mini";

import { MANIFEST_TYPE, type ManifestClaims } from "../../core/manifest";

/** How long clients and shared caches may keep the JWKS (`cache-control: max-age`). */
export const JWKS_MAX_AGE_SECONDS = 300;
/** More keys than this in `MANIFEST_VERIFY_KEYS` is a configuration mistake, not a rotation. */
export const MAX_VERIFY_KEYS = 16;

/** 32 bytes in unpadded base64url: 42 characters, then one whose two low bits are zero. */
const KEY_BYTES_32 = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;
/** Printable ASCII without spaces: a kid travels in JWS headers and log lines. */
const KID = /^[\x21-\x7e]{1,128}$/;
/** `2026-12-24T00:00:00Z`, optionally with milliseconds; always UTC. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

const KidSchema = z.string().check(z.regex(KID));

const PrivateJwkSchema = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().check(z.regex(KEY_BYTES_32)),
  d: z.string().check(z.regex(KEY_BYTES_32)),
  kid: KidSchema,
});

/** One entry of `MANIFEST_VERIFY_KEYS`: public members only (`strictObject` refuses extras). */
const VerifyKeySchema = z.strictObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().check(z.regex(KEY_BYTES_32)),
  kid: KidSchema,
  alg: z.optional(z.literal("EdDSA")),
  use: z.optional(z.literal("sig")),
  status: z.enum(["upcoming", "retired"]),
  retireAfter: z.optional(z.string().check(z.regex(ISO_UTC))),
});

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

/** A key of the ring and its role in the rotation. */
export type RingKey =
  | { status: "signing"; jwk: PublicJwk }
  | { status: "upcoming"; jwk: PublicJwk }
  | { status: "retired"; jwk: PublicJwk; retireAfterMs: number };

// Per-isolate caches, keyed by the raw configuration so a changed secret is picked up. The
// resolved value is cached, not the promise: awaiting a promise started by another request
// can be cancelled by workerd when that request ends first.
let signerCache: { raw: string; signer: Signer } | undefined;
let ringCache: { raw: string; ring: RingKey[] } | undefined;

/** Configuration errors are the operator's, not the client's: they surface as 500 and in logs. */
function configError(name: string, message: string): Error {
  return new Error(`${name}: ${message}`);
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw configError(name, "not valid JSON");
  }
}

function toPublicJwk(key: { x: string; kid: string }): PublicJwk {
  return { kty: "OKP", crv: "Ed25519", x: key.x, kid: key.kid, alg: "EdDSA", use: "sig" };
}

/** The signing key from the `MANIFEST_SIGNING_KEY` secret, imported once per isolate. */
export async function loadSigner(secret: string): Promise<Signer> {
  if (signerCache?.raw === secret) return signerCache.signer;
  const parsed = PrivateJwkSchema.safeParse(parseJson(secret, "MANIFEST_SIGNING_KEY"));
  if (!parsed.success) throw configError("MANIFEST_SIGNING_KEY", "not a private Ed25519 JWK with a kid");
  const { kty, crv, x, d, kid } = parsed.data;
  const key = await importJWK({ kty, crv, x, d }, "EdDSA");
  const signer: Signer = { kid, key, publicJwk: toPublicJwk({ x, kid }) };
  signerCache = { raw: secret, signer };
  return signer;
}

/** Signs the claims as a compact JWS whose header names the key and the manifest type. */
export function signManifest(claims: ManifestClaims, signer: Signer): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: MANIFEST_TYPE })
    .sign(signer.key);
}

/**
 * Signed answers are shared between clients for a short window (edge-worker/src/answer-cache.ts):
 * the claims never name the user, so `iat` is the window's start (see `manifestWindowStart`) and
 * `exp = iat + TTL`, and an isolate signs each distinct answer once per window.
 */
export const MANIFEST_WINDOW_MS = 10_000;

/** The `nowMs` to build manifest claims with: the start of the current signing window. */
export function manifestWindowStart(nowMs: number): number {
  return nowMs - (nowMs % MANIFEST_WINDOW_MS);
}

/** The signed manifest for `claims` with the key in `secret` (imported once per isolate). */
export async function signedManifest(claims: ManifestClaims, secret: string): Promise<string> {
  return signManifest(claims, await loadSigner(secret));
}

/**
 * Validates `MANIFEST_VERIFY_KEYS` against the signing key. Refuses, naming the entry: not a JSON
 * array, more than MAX_VERIFY_KEYS entries, a private part `d`, anything but public Ed25519
 * members plus `status` / `retireAfter`, an upcoming key with `retireAfter`, a retired key
 * without one, a kid or key listed twice, and an entry that is the signing key (same kid or
 * same public key): the signing key is neither upcoming nor retired.
 */
function parseVerifyKeys(raw: string, signing: PublicJwk): RingKey[] {
  const name = "MANIFEST_VERIFY_KEYS";
  const list = parseJson(raw, name);
  if (!Array.isArray(list)) throw configError(name, "not a JSON array of public JWKs");
  if (list.length > MAX_VERIFY_KEYS)
    throw configError(name, `more than ${MAX_VERIFY_KEYS} keys; remove retired keys past their retireAfter`);
  const ring: RingKey[] = [];
  const seenKid = new Set([signing.kid]);
  const seenX = new Set([signing.x]);
  list.forEach((entry: unknown, i) => {
    const kidOf = (e: unknown) =>
      e !== null && typeof e === "object" && typeof (e as { kid?: unknown }).kid === "string"
        ? ` (kid ${JSON.stringify((e as { kid: string }).kid)})`
        : "";
    const at = `entry ${i}${kidOf(entry)}`;
    if (entry !== null && typeof entry === "object" && Object.hasOwn(entry, "d")) {
      throw configError(
        name,
        `${at} carries a private key part "d": list public keys only, and treat that key as exposed`,
      );
    }
    const parsed = VerifyKeySchema.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw configError(
        name,
        `${at} is not a public Ed25519 JWK with kid and status "upcoming" | "retired" (${issue ? `${issue.path.map(String).join(".") || "(entry)"}: ${issue.message}` : "invalid"})`,
      );
    }
    const key = parsed.data;
    if (key.kid === signing.kid || key.x === signing.x)
      throw configError(
        name,
        `${at} is the signing key; the signing key is published by itself and is neither upcoming nor retired`,
      );
    if (seenKid.has(key.kid)) throw configError(name, `${at}: kid listed twice`);
    if (seenX.has(key.x))
      throw configError(name, `${at}: the same public key is listed twice under different kids`);
    seenKid.add(key.kid);
    seenX.add(key.x);
    const jwk = toPublicJwk(key);
    if (key.status === "upcoming") {
      if (key.retireAfter !== undefined)
        throw configError(name, `${at}: an upcoming key has no retireAfter (it has not signed yet)`);
      ring.push({ status: "upcoming", jwk });
      return;
    }
    if (key.retireAfter === undefined)
      throw configError(name, `${at}: a retired key needs retireAfter (ISO 8601 UTC) so it leaves the JWKS`);
    const retireAfterMs = Date.parse(key.retireAfter);
    if (!Number.isFinite(retireAfterMs)) throw configError(name, `${at}: retireAfter is not a real date`);
    ring.push({ status: "retired", jwk, retireAfterMs });
  });
  return ring;
}

/**
 * The whole key ring, validated once per configuration: the signing key first, then upcoming
 * keys, then retired keys, each group in configuration order. Throws on a bad configuration.
 */
export async function keyRing(secret: string, verifyKeys: string | undefined): Promise<RingKey[]> {
  const raw = `${secret}\n${verifyKeys ?? ""}`;
  if (ringCache?.raw === raw) return ringCache.ring;
  const signing = (await loadSigner(secret)).publicJwk;
  const listed =
    verifyKeys === undefined || verifyKeys.trim() === "" ? [] : parseVerifyKeys(verifyKeys, signing);
  const ring: RingKey[] = [
    { status: "signing", jwk: signing },
    ...listed.filter((k) => k.status === "upcoming"),
    ...listed.filter((k) => k.status === "retired"),
  ];
  ringCache = { raw, ring };
  return ring;
}

/**
 * Public keys to publish at `nowMs`: the signing key, the upcoming keys, and the retired keys
 * whose `retireAfter` has not passed. A retired key leaves the JWKS at its `retireAfter`.
 */
export async function publicKeys(
  secret: string,
  verifyKeys: string | undefined,
  nowMs = Date.now(),
): Promise<PublicJwk[]> {
  const ring = await keyRing(secret, verifyKeys);
  return ring.filter((k) => k.status !== "retired" || nowMs < k.retireAfterMs).map((k) => k.jwk);
}
