/**
 * Turning verified download bytes into installable files, and the checks that need the files:
 * AES-256-GCM decryption of encrypted objects (PRODUCT.md S3), unpacking a package zip into a
 * file list, and the developer's signature over that list (PRODUCT.md S2, core/signature.ts).
 */

import { decryptObject, fromBase64Url } from "../../core/encryption";
import { type FileEntry, filesDigest } from "../../core/increment";
import { unpackPackageFiles } from "../../core/package-archive";
import { packageSigningInput } from "../../core/signature";
import type { DeveloperSignature, PackageEncryption } from "../../core/snapshot";
import { sha256Hex } from "./bytes";
import { ClientError } from "./errors";

export interface UnpackedFiles {
  /** sorted by path */
  list: FileEntry[];
  bytes: Map<string, Uint8Array>;
  /** `filesDigest(list)` */
  digest: string;
}

/**
 * Decrypts an object whose ciphertext already matched its signed SHA-256, then checks the
 * plaintext against the signed `plainSize` / `plainSha256`. The ciphertext carries the 16-byte
 * GCM tag at its end (WebCrypto's layout).
 */
export async function decryptVerified(
  ciphertext: Uint8Array,
  encryption: PackageEncryption,
  what: string,
): Promise<Uint8Array> {
  let plain: Uint8Array;
  try {
    plain = await decryptObject(fromBase64Url(encryption.key), encryption.iv, ciphertext);
  } catch (error) {
    throw new ClientError("decrypt_failed", `${what} does not decrypt with the key the manifest signed`, {
      cause: error,
    });
  }
  if (plain.byteLength !== encryption.plainSize || (await sha256Hex(plain)) !== encryption.plainSha256) {
    throw new ClientError("hash_mismatch", `${what} decrypts to other bytes than the manifest signed`);
  }
  return plain;
}

/**
 * Unpacks a package zip (already verified against its signed hash) into regular files, under the
 * same rules an upload passed (core/package-archive.ts: paths, sizes, CRCs, no hidden or
 * concatenated data). A path that could escape the install directory is refused even so: the
 * store writes these to disk. Files go into a Map, never a plain object, so a file named
 * "__proto__" or "constructor" is a file like any other.
 */
export async function unpackPackage(zip: Uint8Array): Promise<UnpackedFiles> {
  let unpacked: Awaited<ReturnType<typeof unpackPackageFiles>>;
  try {
    unpacked = await unpackPackageFiles(zip);
  } catch (error) {
    throw new ClientError(
      "bad_package",
      `the package is not a readable zip: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const unsafe = unpacked.files.find((f) => !isSafePath(f.path));
  if (unsafe)
    throw new ClientError("bad_package", `the package holds an unsafe path ${JSON.stringify(unsafe.path)}`);
  const list: FileEntry[] = unpacked.files.map(({ path, size, sha256 }) => ({ path, size, sha256 }));
  return { list, bytes: unpacked.bytes, digest: await filesDigest(list, sha256Hex) };
}

/** A relative path of non-empty segments, none "." or "..", no backslash or control character. */
export function isSafePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\\") || /[\u0000-\u001f\u007f]/.test(path))
    return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** Developer public keys the App pins, by key id, and whether every package must be signed. */
export interface DeveloperKeyPolicy {
  keys: Readonly<Record<string, JsonWebKey>>;
  required: boolean;
}

/** What became of a package's developer signature. */
export type DeveloperSignatureCheck = "verified" | "absent" | "unverifiable";

/**
 * Checks `signature` over `packageSigningInput(appId, version, files)`, `files` being the digest
 * of the files actually produced. Invalid: refused whatever the policy. Missing, or made with a
 * key the App does not pin: refused when the policy requires signatures, else reported.
 */
export async function checkDeveloperSignature(
  input: { appId: string; version: string; files: string; signature: DeveloperSignature | undefined },
  policy: DeveloperKeyPolicy,
): Promise<DeveloperSignatureCheck> {
  const { signature } = input;
  if (signature === undefined) {
    if (policy.required)
      throw new ClientError(
        "signature_required",
        `version ${input.version} carries no developer signature and this app requires one`,
      );
    return "absent";
  }
  const jwk = Object.hasOwn(policy.keys, signature.kid) ? policy.keys[signature.kid] : undefined;
  if (jwk === undefined) {
    if (policy.required)
      throw new ClientError(
        "signature_required",
        `version ${input.version} is signed with developer key ${JSON.stringify(signature.kid)}, which this app does not pin`,
      );
    return "unverifiable";
  }
  const data = packageSigningInput(input.appId, input.version, input.files);
  let valid = false;
  try {
    valid = await verifyRaw(signature.alg, jwk, fromBase64Url(signature.sig), data);
  } catch (error) {
    throw new ClientError(
      "bad_developer_signature",
      `the developer signature of version ${input.version} cannot be checked with key ${JSON.stringify(signature.kid)}`,
      { cause: error },
    );
  }
  if (!valid)
    throw new ClientError(
      "bad_developer_signature",
      `the developer signature of version ${input.version} does not verify with key ${JSON.stringify(signature.kid)}`,
    );
  return "verified";
}

/** WebCrypto verification; ES256 signatures are raw r||s (64 bytes), as in JWS. */
async function verifyRaw(
  alg: DeveloperSignature["alg"],
  jwk: JsonWebKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (alg === "EdDSA") {
    const key = await crypto.subtle.importKey("jwk", jwk, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);
  }
  const key = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, [
    "verify",
  ]);
  return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, data);
}
