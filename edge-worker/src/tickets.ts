/**
 * Admission tickets (ARCHITECTURE.md "The hot path", step 3: "An admitted user carries a signed
 * admission ticket back on later checks, so repeat checks need no Durable Object call").
 *
 * Format: `base64url(JSON payload) "." base64url(HMAC-SHA256(secret, first part))`, payload
 * `{ t: taskId, u: userKey, v: version, exp }`, `exp` in seconds since the epoch (as JWT's),
 * the task's end time plus 30 days so a sticky task keeps its users after it stops admitting.
 * The MAC covers the encoded payload bytes exactly as sent, so no re-serialisation can differ.
 */

export interface TicketPayload {
  /** grayscale task id */
  t: string;
  /** user key (core/grayscale/rules userKeyOf) */
  u: string;
  /** task version */
  v: string;
  /** seconds since the epoch */
  exp: number;
}

// The lifetime is part of the decision (a sticky task past it keeps nobody): core/decide.ts.
export { TICKET_GRACE_MS, ticketExpiry } from "../../core/decide";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The imported key is cached per isolate, keyed by the raw secret so a rotated secret is picked
// up; the resolved key is cached, never a promise another request may be cancelled on.
let keyCache: { raw: string; key: CryptoKey } | undefined;

/** The HMAC key from `ADMISSION_TICKET_SECRET`, imported once per isolate. */
export async function loadTicketKey(secret: string): Promise<CryptoKey> {
  if (keyCache?.raw === secret) return keyCache.key;
  // A configuration error is the operator's: it surfaces as a 500, not as silently weak tickets.
  if (secret.length < 32) throw new Error("ADMISSION_TICKET_SECRET must be at least 32 characters");
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  keyCache = { raw: secret, key };
  return key;
}

export async function issueTicket(key: CryptoKey, payload: TicketPayload): Promise<string> {
  const body = toBase64Url(
    encoder.encode(JSON.stringify({ t: payload.t, u: payload.u, v: payload.v, exp: payload.exp })),
  );
  // The MAC is deterministic: the same payload under the same key is the same token.
  if (verifiedKey === key) {
    const known = issued.get(body);
    if (known !== undefined) return known;
  }
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  const token = `${body}.${toBase64Url(mac)}`;
  // Issued under this key: it verifies, so the client's next check need not recompute the MAC.
  remember(key, token, { t: payload.t, u: payload.u, v: payload.v, exp: payload.exp });
  issued.set(body, token);
  return token;
}

/**
 * The payload of `token` without checking its MAC: only to pick which of a client's tickets is
 * worth verifying. Never trust it before `verifyTicket`.
 */
export function peekTicket(token: string): TicketPayload | undefined {
  const known = verified.get(token);
  if (known !== undefined) return known;
  const dot = token.indexOf(".");
  if (dot <= 0 || dot !== token.lastIndexOf(".")) return undefined;
  const bytes = fromBase64Url(token.slice(0, dot));
  if (!bytes) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const p = value as Record<string, unknown>;
  if (
    typeof p.t !== "string" ||
    typeof p.u !== "string" ||
    typeof p.v !== "string" ||
    !Number.isSafeInteger(p.exp)
  )
    return undefined;
  return { t: p.t, u: p.u, v: p.v, exp: p.exp as number };
}

/**
 * Whether `token` admits `userKey` to `taskId` at `version` at `nowMs`. Checks, in order:
 * 1. shape (two base64url parts, a payload with t, u, v, exp);
 * 2. task, user and version match (a ticket of another task or user is worthless);
 * 3. not expired;
 * 4. the MAC, by `crypto.subtle.verify`, which compares in constant time.
 */
export async function verifyTicket(
  key: CryptoKey,
  token: string,
  expected: { taskId: string; userKey: string; version: string },
  nowMs: number,
): Promise<boolean> {
  const payload = peekTicket(token);
  if (!payload) return false;
  if (payload.t !== expected.taskId || payload.u !== expected.userKey || payload.v !== expected.version)
    return false;
  if (payload.exp * 1000 <= nowMs) return false;
  if (verifiedKey === key && verified.has(token)) return true;
  const dot = token.indexOf(".");
  const mac = fromBase64Url(token.slice(dot + 1));
  if (mac?.byteLength !== 32) return false;
  const ok = await crypto.subtle.verify("HMAC", key, mac, encoder.encode(token.slice(0, dot)));
  if (ok) remember(key, token, payload);
  return ok;
}

/**
 * Tokens whose MAC verified under `verifiedKey`, with their payloads: an admitted user presents
 * the same bytes on every check, and the same bytes under the same key verify the same way, so
 * repeat checks skip the base64 decoding and the HMAC. Expiry and task/user/version are still
 * checked on every use. Bounded; emptied when full or when the key changes (secret rotation).
 */
const VERIFIED_MAX = 8_192;
const verified = new Map<string, TicketPayload>();
/** Tokens issued under `verifiedKey`, by their encoded payload (uncapped tasks re-issue on every check). */
const issued = new Map<string, string>();
let verifiedKey: CryptoKey | undefined;

function remember(key: CryptoKey, token: string, payload: TicketPayload): void {
  if (verifiedKey !== key || verified.size >= VERIFIED_MAX || issued.size >= VERIFIED_MAX) {
    verified.clear();
    issued.clear();
    verifiedKey = key;
  }
  verified.set(token, payload);
}

// Uint8Array.prototype.toBase64 / Uint8Array.fromBase64 (TC39, in workerd's V8): no per-byte
// string building on the hot path. Not yet in TypeScript's es2023 lib, hence the local types.
type Base64Options = { alphabet: "base64url"; omitPadding?: boolean; lastChunkHandling?: "loose" };
const base64 = Uint8Array as unknown as { fromBase64(text: string, options: Base64Options): Uint8Array };

function toBase64Url(bytes: Uint8Array): string {
  return (bytes as unknown as { toBase64(options: Base64Options): string }).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function fromBase64Url(text: string): Uint8Array | undefined {
  // fromBase64 would skip whitespace and accept padding: only the exact unpadded alphabet is a token.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  try {
    return base64.fromBase64(text, { alphabet: "base64url", lastChunkHandling: "loose" });
  } catch {
    return undefined;
  }
}
