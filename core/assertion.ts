/**
 * User assertions: how a host app vouches for its user (issue 10, "Who is the user"; docs/trust.md).
 *
 * A client's `guid`, `deviceId` and `account` are whatever it says. The host app's own server,
 * which knows who signed in, mints a short-lived JWS for that user with a key the host app
 * registered in the control plane; the keys reach the edge in the snapshot (`hostAppKeys`), and
 * the edge checks the JWS without D1. A verified assertion makes the account (and the device id
 * it names) a fact: trial versions, account targets and "verified users only" tasks need one.
 *
 * Format: compact JWS, header `{"alg":"EdDSA","kid":<key id>}` (`typ` optional), claims
 *   iss  the host app id (must be the check's hostAppId)
 *   sub  the account
 *   did  optional device id
 *   aud  "graycast" (one audience for every mini program of the host app: an assertion says
 *        who the user is, not which mini program they may run)
 *   iat, exp  seconds; exp - iat <= 3600, iat not in the future and exp not in the past beyond
 *        CLOCK_SKEW_SECONDS.
 *
 * Verification is WebCrypto Ed25519 over the raw public key (no JWK parsing, no jose on the hot
 * path); pure apart from `crypto.subtle`, so the edge and the control plane's explain share it.
 */
import type { ClientContext } from "./decide";
import { ApiError } from "./errors";
import { BoundedMemo } from "./memo";

/** The `aud` every assertion carries. */
export const ASSERTION_AUDIENCE = "graycast";
/** Longest life of an assertion: `exp - iat` at most this (seconds). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 3_600;
/** Clock difference tolerated between the host app's server and the edge (seconds). */
export const CLOCK_SKEW_SECONDS = 60;
/** Longest assertion accepted on the wire (characters); a normal one is ~300. */
export const MAX_ASSERTION_LENGTH = 2_048;
/** How long a retired key keeps verifying: assertions issued before retirement live at most this long. */
export const RETIRED_KEY_OVERLAP_MS = (MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) * 1000;

/** One verification key of a host app as the snapshot carries it: public `x` only. */
export interface HostAppKey {
  kid: string;
  /** base64url raw Ed25519 public key (the JWK's `x`) */
  x: string;
  /** ms since epoch; a retired key verifies until then (retiredAt + RETIRED_KEY_OVERLAP_MS) */
  notAfter?: number;
}

/** Why an assertion did not verify (a closed union, shown in explain and the edge's answer header). */
export type AssertionRefusal =
  | "malformed" // not a compact JWS with the header and claims above
  | "unknown_key" // no key of this host app has this kid (never registered, revoked, or retired past its overlap)
  | "bad_signature"
  | "wrong_issuer" // iss is not the check's host app
  | "wrong_audience"
  | "not_yet_valid" // iat in the future
  | "expired"
  | "lifetime_too_long"; // exp - iat over an hour

export type AssertionResult =
  | { ok: true; account: string; deviceId?: string; kid: string /** seconds */; exp: number }
  | { ok: false; reason: AssertionRefusal };

/** What a compact JWS parses to before its signature is checked. */
interface ParsedAssertion {
  kid: string;
  signingInput: Uint8Array;
  signature: Uint8Array;
  claims: { iss: string; sub: string; did?: string; aud: unknown; iat: number; exp: number };
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const encoder = new TextEncoder();

function decodeBase64Url(text: string): Uint8Array | undefined {
  if (!SEGMENT.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function decodeJson(text: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(text);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(
      new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes),
    );
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isText = (v: unknown, max: number): v is string =>
  typeof v === "string" && v.length > 0 && v.length <= max && !/[\x00-\x1f\x7f-\x9f]/.test(v);
const isSeconds = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v > 0;

/**
 * Parses a compact JWS into header and claims, checking in order: three base64url segments;
 * header JSON with `alg` "EdDSA", a `kid`, no `crit`; claims JSON with string `iss`, `sub` (the
 * account, 1..128 printable characters like the check's `account`), optional `did` (same),
 * integer `iat` and `exp`; a 64-byte signature.
 */
function parseAssertion(token: string): ParsedAssertion | undefined {
  if (token.length > MAX_ASSERTION_LENGTH) return undefined;
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (header === undefined || header.alg !== "EdDSA" || !isText(header.kid, 128) || header.crit !== undefined)
    return undefined;
  const claims = decodeJson(p);
  if (
    claims === undefined ||
    !isText(claims.iss, 64) ||
    !isText(claims.sub, 128) ||
    !isSeconds(claims.iat) ||
    !isSeconds(claims.exp)
  )
    return undefined;
  if (claims.did !== undefined && !isText(claims.did, 128)) return undefined;
  const signature = decodeBase64Url(s);
  if (signature === undefined || signature.length !== 64) return undefined;
  return {
    kid: header.kid,
    signingInput: encoder.encode(`${h}.${p}`),
    signature,
    claims: claims as ParsedAssertion["claims"],
  };
}

/**
 * Imported Ed25519 public keys by `x`, kept by the caller (the edge per isolate, the control
 * plane its own; core/memo.ts). Bounded: keys come from snapshots, a handful per host app.
 */
export class ImportedKeys extends BoundedMemo<string, Promise<CryptoKey | null>> {
  constructor() {
    super(256);
  }
}

function importKey(x: string): Promise<CryptoKey | null> {
  const raw = decodeBase64Url(x);
  return raw === undefined || raw.length !== 32
    ? Promise.resolve(null)
    : crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => null);
}

/** The keys of `hostAppId` in a snapshot's `hostAppKeys` (own entries only). */
export function keysOfHostApp(
  hostAppKeys: Readonly<Record<string, readonly HostAppKey[]>> | undefined,
  hostAppId: string,
): readonly HostAppKey[] | undefined {
  if (hostAppKeys === undefined || !Object.hasOwn(hostAppKeys, hostAppId)) return undefined;
  return hostAppKeys[hostAppId];
}

/** The key `kid` of a host app that may verify at `nowMs`: listed, and a retired one only inside its overlap. */
export function usableKey(
  keys: readonly HostAppKey[] | undefined,
  kid: string,
  nowMs: number,
): HostAppKey | undefined {
  // `Array.isArray`, not `!== undefined`: a host app id such as "__proto__" must find nothing.
  if (!Array.isArray(keys)) return undefined;
  for (const key of keys) {
    if (key.kid === kid) return key.notAfter === undefined || nowMs < key.notAfter ? key : undefined;
  }
  return undefined;
}

/**
 * Verifies `token` for a check from `hostAppId` with that host app's `keys` at `nowMs`. Checks,
 * in order: the shape (`parseAssertion`); the key (`usableKey`); the Ed25519 signature; `iss` is
 * the host app; `aud` is ASSERTION_AUDIENCE (a string or an array holding it); `exp - iat` at most
 * an hour; `iat` not after now + skew; `exp` not before now - skew. `imported` remembers the
 * imported public keys across calls (absent: each call imports its key).
 */
export async function verifyUserAssertion(
  token: string,
  hostAppId: string,
  keys: readonly HostAppKey[] | undefined,
  nowMs: number,
  imported?: ImportedKeys,
): Promise<AssertionResult> {
  const parsed = parseAssertion(token);
  if (parsed === undefined) return { ok: false, reason: "malformed" };
  const key = usableKey(keys, parsed.kid, nowMs);
  if (key === undefined) return { ok: false, reason: "unknown_key" };
  const publicKey = await (imported === undefined ? importKey(key.x) : imported.get(key.x, importKey));
  if (publicKey === null) return { ok: false, reason: "unknown_key" };
  const valid = await crypto.subtle.verify(
    { name: "Ed25519" },
    publicKey,
    parsed.signature,
    parsed.signingInput,
  );
  if (!valid) return { ok: false, reason: "bad_signature" };
  const { iss, sub, did, aud, iat, exp } = parsed.claims;
  if (iss !== hostAppId) return { ok: false, reason: "wrong_issuer" };
  if (!(aud === ASSERTION_AUDIENCE || (Array.isArray(aud) && aud.includes(ASSERTION_AUDIENCE))))
    return { ok: false, reason: "wrong_audience" };
  if (exp <= iat) return { ok: false, reason: "malformed" };
  if (exp - iat > MAX_ASSERTION_LIFETIME_SECONDS) return { ok: false, reason: "lifetime_too_long" };
  const now = nowMs / 1000;
  if (iat > now + CLOCK_SKEW_SECONDS) return { ok: false, reason: "not_yet_valid" };
  if (exp < now - CLOCK_SKEW_SECONDS) return { ok: false, reason: "expired" };
  return { ok: true, account: sub, ...(did !== undefined ? { deviceId: did } : {}), kid: key.kid, exp };
}

/** A refusal's words, for explain and docs. */
export const ASSERTION_REFUSAL_TEXT: Record<AssertionRefusal, string> = {
  malformed: "not a compact EdDSA JWS with kid, iss, sub, iat and exp",
  unknown_key: "no active key of this host app has this kid (unknown, revoked, or retired past its overlap)",
  bad_signature: "the signature does not verify with the host app's key",
  wrong_issuer: "iss is not the host app of the check",
  wrong_audience: `aud is not "${ASSERTION_AUDIENCE}"`,
  not_yet_valid: "iat is in the future",
  expired: "exp has passed",
  lifetime_too_long: `exp - iat is over ${MAX_ASSERTION_LIFETIME_SECONDS} seconds`,
};

/**
 * The client of a check once its assertion verified: the account (and device id, when the
 * assertion names one) become the assertion's, marked verified. An `account` or `deviceId` sent
 * beside the assertion must be the same value: a client that says two different things about
 * who it is gets 400 (never a silent pick), naming the field.
 */
export function clientWithVerifiedUser<C extends ClientContext>(
  client: C,
  verified: { account: string; deviceId?: string },
): C {
  const issues: { path: string; message: string }[] = [];
  if (client.account !== undefined && client.account !== verified.account)
    issues.push({
      path: "account",
      message: "differs from the user assertion's sub: send the assertion's account, or none",
    });
  if (
    verified.deviceId !== undefined &&
    client.deviceId !== undefined &&
    client.deviceId !== verified.deviceId
  ) {
    issues.push({
      path: "deviceId",
      message: "differs from the user assertion's did: send the assertion's device id, or none",
    });
  }
  if (issues.length > 0)
    throw new ApiError("bad_request", "the request contradicts its user assertion", issues);
  return {
    ...client,
    account: verified.account,
    ...(verified.deviceId !== undefined ? { deviceId: verified.deviceId } : {}),
    verifiedAccount: true,
  };
}
