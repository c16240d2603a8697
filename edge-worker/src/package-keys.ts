/**
 * Unwrapping package keys for signed manifests (PRODUCT.md S3, core/encryption.ts). The snapshot
 * carries each encrypted version's key wrapped under PACKAGE_KEY_SECRET; the edge unwraps it
 * only when it answers an eligible client, once per isolate and key (a bounded cache).
 */
import type { Decision } from "../../core/decide";
import { KeyEncryptionKeys, packageKeyContext, toBase64Url, unwrapPackageKey } from "../../core/encryption";

const CACHE_MAX = 256;
const cache = new Map<string, string>();
/** This isolate's key-encryption keys (core `KeyEncryptionKeys`: one HKDF derivation per secret). */
const keks = new KeyEncryptionKeys();

/** The base64url raw key for the decided version's encrypted objects, or undefined if none. */
export async function decisionKey(
  decision: Decision,
  appId: string,
  secret: string | undefined,
): Promise<string | undefined> {
  if (decision.status !== "ok" || !decision.package.encryption) return undefined;
  const wrapped = decision.package.encryption.wrappedKey;
  const context = packageKeyContext(appId, decision.version);
  const cacheKey = `${context}\n${wrapped}`;
  const hit = cache.get(cacheKey);
  if (hit !== undefined) return hit;
  // An operator error (missing or changed secret) is a 500, never a manifest without the key.
  if (!secret) throw new Error("PACKAGE_KEY_SECRET is not set but a package is encrypted");
  const key = toBase64Url(await unwrapPackageKey(secret, wrapped, context, keks));
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(cacheKey, key);
  return key;
}
