/**
 * Login codes (PRODUCT.md X6; issue 12 "Login and server API"): "the client gets a one-time login
 * code for (mini program, host app, verified user) from the edge", and the mini program's server
 * exchanges it with `/sns/jscode2session`; "codes expire in 5 minutes and work once".
 *
 * The edge never touches D1, so a code carries everything itself: AES-256-GCM over
 * `{v, a: appId, h: hostAppId, u: account, e: expiry ms}` under a key derived (HKDF-SHA-256) from
 * the LOGIN_CODE_KEY Worker secret, which the edge (seals) and the admin Worker (opens) share.
 * GCM authenticates, so a code cannot be forged or edited without the key, and the account is
 * not readable in it (the client, its logs and the mini program's server see an opaque string).
 *
 * "Works once" is the admin Worker's part: the code's random 96-bit IV is its id, inserted into
 * `used_login_codes` when it is exchanged (insert-or-fail). WebCrypto only: both Workers run it.
 */
import { fromBase64Url, toBase64Url } from "./encryption";
import { BoundedMemo } from "./memo";

/** How long a code may be exchanged after it is issued (issue 12: "codes expire in 5 minutes"). */
export const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
/** LOGIN_CODE_KEY's minimum length (the HKDF input). */
export const MIN_LOGIN_CODE_KEY_LENGTH = 32;
/** Longest code on the wire: IV + ciphertext of the longest payload (a 128-character account), in base64url. */
export const MAX_LOGIN_CODE_LENGTH = 1024;

const IV_BYTES = 12;
const INFO = "graycast login code v1";
const AAD = new TextEncoder().encode(INFO);

export interface LoginCodeClaims {
  appId: string;
  hostAppId: string;
  /** the host app's verified account (the user assertion's `sub`) */
  account: string;
  /** ms since epoch; the code is refused from then on */
  expiresAt: number;
}

export interface OpenedLoginCode extends LoginCodeClaims {
  /** unique per code (its IV): the key of `used_login_codes` */
  codeId: string;
}

/**
 * The AES keys derived from LOGIN_CODE_KEY values, owned by the caller (core keeps no module
 * state): each Worker holds one per isolate, so the HKDF runs once per secret there.
 */
export class LoginCodeKeys extends BoundedMemo<string, Promise<CryptoKey>> {
  constructor() {
    super(4);
  }
}

function deriveKey(secret: string): Promise<CryptoKey> {
  return (async () => {
    const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
      "deriveKey",
    ]);
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: AAD },
      material,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  })();
}

/** The AES key derived from LOGIN_CODE_KEY (from `keys` when the caller keeps them). */
function keyOf(secret: string, keys?: LoginCodeKeys): Promise<CryptoKey> {
  if (secret.length < MIN_LOGIN_CODE_KEY_LENGTH)
    throw new Error(`LOGIN_CODE_KEY must be at least ${MIN_LOGIN_CODE_KEY_LENGTH} characters`);
  return keys ? keys.get(secret, deriveKey) : deriveKey(secret);
}

/** A fresh code for the user, valid LOGIN_CODE_TTL_MS from `nowMs`. */
export async function sealLoginCode(
  secret: string,
  user: { appId: string; hostAppId: string; account: string },
  nowMs: number,
  keys?: LoginCodeKeys,
): Promise<{ code: string; expiresAt: number }> {
  const expiresAt = nowMs + LOGIN_CODE_TTL_MS;
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const plain = new TextEncoder().encode(
    JSON.stringify({ v: 1, a: user.appId, h: user.hostAppId, u: user.account, e: expiresAt }),
  );
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: AAD },
      await keyOf(secret, keys),
      plain,
    ),
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv, 0);
  out.set(sealed, IV_BYTES);
  return { code: toBase64Url(out), expiresAt };
}

/**
 * The claims of a code sealed with `secret`, or undefined when it is not one (wrong key, edited,
 * truncated, not base64url, too long). Expiry and single use are the caller's checks.
 */
export async function openLoginCode(
  secret: string,
  code: string,
  keys?: LoginCodeKeys,
): Promise<OpenedLoginCode | undefined> {
  if (code.length === 0 || code.length > MAX_LOGIN_CODE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(code))
    return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(code);
  } catch {
    return undefined;
  }
  if (bytes.byteLength <= IV_BYTES + 16) return undefined;
  const iv = bytes.subarray(0, IV_BYTES);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: AAD },
      await keyOf(secret, keys),
      bytes.subarray(IV_BYTES),
    );
  } catch {
    return undefined;
  }
  let claims: { v?: unknown; a?: unknown; h?: unknown; u?: unknown; e?: unknown };
  try {
    claims = JSON.parse(new TextDecoder().decode(plain));
  } catch {
    return undefined;
  }
  const { v, a, h, u, e } = claims;
  if (
    v !== 1 ||
    typeof a !== "string" ||
    typeof h !== "string" ||
    typeof u !== "string" ||
    typeof e !== "number"
  )
    return undefined;
  return { codeId: toBase64Url(iv), appId: a, hostAppId: h, account: u, expiresAt: e };
}
