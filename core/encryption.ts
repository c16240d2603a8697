/**
 * Package encryption (PRODUCT.md S3, seed: mPaaS "Mini Program encryption"). When a mini program
 * turns it on, each version gets its own random AES-256 key; its package and every increment to
 * it are stored and served as AES-256-GCM ciphertext (a fresh 96-bit IV per object), so copies
 * of the bytes (a CDN, a proxy log, an unpacked app) reveal nothing. The key reaches a client
 * only inside the signed manifest of a check it is eligible for, over TLS.
 *
 * At rest the key is wrapped (AES-256-GCM) under a key-encryption key derived with HKDF-SHA-256
 * from the PACKAGE_KEY_SECRET Worker secret, so neither D1 nor the snapshot in R2 holds a usable
 * key: the control plane wraps at upload, the edge unwraps when it signs a manifest.
 *
 * WebCrypto only: the same code runs in both Workers and in the reference client.
 */

import { BoundedMemo } from "./memo";

const IV_BYTES = 12;
/** PACKAGE_KEY_SECRET's minimum length (it is the HKDF input of every key-encryption key). */
export const MIN_PACKAGE_KEY_SECRET_LENGTH = 32;
const KEY_BYTES = 32;
const KEK_INFO = "graycast package key wrapping v1";

export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function aesKey(raw: Uint8Array, usages: ("encrypt" | "decrypt")[]): Promise<CryptoKey> {
  if (raw.byteLength !== KEY_BYTES) throw new Error("an AES-256 key has 32 bytes");
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, usages);
}

/** A fresh random AES-256 key. */
export function newPackageKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(KEY_BYTES));
}

/** Encrypts one stored object under `key` with a fresh IV. */
export async function encryptObject(
  key: Uint8Array,
  plaintext: Uint8Array,
): Promise<{ ciphertext: Uint8Array; iv: string }> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await aesKey(key, ["encrypt"]), plaintext),
  );
  return { ciphertext, iv: toBase64Url(iv) };
}

/** Decrypts one object; throws when the key, IV or bytes are wrong (GCM authenticates). */
export async function decryptObject(
  key: Uint8Array,
  iv: string,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  const ivBytes = fromBase64Url(iv);
  if (ivBytes.byteLength !== IV_BYTES) throw new Error("an AES-GCM IV has 12 bytes");
  return new Uint8Array(
    await crypto.subtle.decrypt({ name: "AES-GCM", iv: ivBytes }, await aesKey(key, ["decrypt"]), ciphertext),
  );
}

/**
 * Key-encryption keys by Worker secret, kept by the caller (the edge per isolate, the control
 * plane its own; core/memo.ts): deriving one costs an HKDF import and derivation.
 */
export class KeyEncryptionKeys extends BoundedMemo<string, Promise<CryptoKey>> {
  constructor() {
    // one secret per deployment; a few more while it is rotated
    super(8);
  }
}

/** The key-encryption key derived from the Worker secret (remembered in `keks` when given). */
function kekOf(secret: string, keks: KeyEncryptionKeys | undefined): Promise<CryptoKey> {
  if (secret.length < MIN_PACKAGE_KEY_SECRET_LENGTH)
    throw new Error(`PACKAGE_KEY_SECRET must be at least ${MIN_PACKAGE_KEY_SECRET_LENGTH} characters`);
  return keks === undefined ? deriveKek(secret) : keks.get(secret, deriveKek);
}

async function deriveKek(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode(KEK_INFO) },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Wraps a package key for storage: base64url(iv || AES-GCM(kek, key)), with `context` (the
 * mini program and version) as additional data, so a wrapped key copied to another version
 * does not unwrap.
 */
export async function wrapPackageKey(
  secret: string,
  key: Uint8Array,
  context: string,
  keks?: KeyEncryptionKeys,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) },
    await kekOf(secret, keks),
    key,
  );
  const out = new Uint8Array(IV_BYTES + sealed.byteLength);
  out.set(iv, 0);
  out.set(new Uint8Array(sealed), IV_BYTES);
  return toBase64Url(out);
}

/** Unwraps a key made by `wrapPackageKey` with the same secret and context. */
export async function unwrapPackageKey(
  secret: string,
  wrapped: string,
  context: string,
  keks?: KeyEncryptionKeys,
): Promise<Uint8Array> {
  const bytes = fromBase64Url(wrapped);
  const key = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: new TextEncoder().encode(context) },
    await kekOf(secret, keks),
    bytes.subarray(IV_BYTES),
  );
  return new Uint8Array(key);
}

/** The additional data a version's wrapped key is bound to. */
export const packageKeyContext = (appId: string, version: string) => `${appId}\n${version}`;
