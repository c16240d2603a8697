/**
 * Package encryption per mini program (PRODUCT.md S3; core/encryption.ts has the scheme). A team
 * admin turns it on or off; it applies to versions uploaded afterwards (a version is encrypted
 * or not for life, so its URLs and hashes never change under clients).
 *
 * An encrypted version is stored twice in R2: the ciphertext under `packages/{sha256}` (what the
 * edge serves and clients download) and the plaintext under `private/packages/{sha256}`, a
 * prefix the edge never serves, for increment builds (encrypted versions have no offline package). The plaintext's hash is public (it is in
 * manifests as `plainSha256`), so it must never sit under the served prefix.
 */
import { eq } from "drizzle-orm";
import {
  encryptObject,
  KeyEncryptionKeys,
  MIN_PACKAGE_KEY_SECRET_LENGTH,
  newPackageKey,
  packageKeyContext,
  unwrapPackageKey,
  wrapPackageKey,
} from "../../../core/encryption";
import { ApiError } from "../../../core/errors";
import { packageKey } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { miniPrograms, type versions } from "../db/schema";
import { sha256Hex } from "../lib/encoding";
import { ADMIN_ROLES, READ_ROLES, requireMiniProgram } from "./access";
import { recordChange } from "./change-log";

/** This isolate's key-encryption keys (core `KeyEncryptionKeys`: one HKDF derivation per secret). */
const keks = new KeyEncryptionKeys();

export const privatePackageKey = (sha256: string) => `private/packages/${sha256}`;

type VersionRow = typeof versions.$inferSelect;

/** Where the plaintext zip of a version lives (the builder and offline packages read it). */
export const plainPackageKey = (v: Pick<VersionRow, "packageSha256" | "encSha256">) =>
  v.encSha256 ? privatePackageKey(v.packageSha256) : packageKey(v.packageSha256);

export interface EncryptedUpload {
  encSha256: string;
  encSize: number;
  encIv: string;
  encKeyWrapped: string;
}

/**
 * Encrypts an uploaded zip under a fresh key, stores ciphertext and plaintext, and returns the
 * columns of the version row. `secret` is PACKAGE_KEY_SECRET.
 */
export async function storeEncrypted(
  bucket: R2Bucket,
  secret: string | undefined,
  appId: string,
  version: string,
  zip: Uint8Array,
  plainSha256: string,
): Promise<EncryptedUpload> {
  const key = newPackageKey();
  // Wrapped first: nothing is stored for a key that could not be kept.
  const encKeyWrapped = await wrapPackageKey(
    requirePackageKeySecret(secret),
    key,
    packageKeyContext(appId, version),
    keks,
  );
  const { ciphertext, iv } = await encryptObject(key, zip);
  const encSha256 = await sha256Hex(ciphertext);
  await Promise.all([
    bucket.put(packageKey(encSha256), ciphertext, {
      sha256: encSha256,
      httpMetadata: { contentType: "application/octet-stream" },
    }),
    bucket.put(privatePackageKey(plainSha256), zip, {
      sha256: plainSha256,
      httpMetadata: { contentType: "application/zip" },
    }),
  ]);
  return { encSha256, encSize: ciphertext.byteLength, encIv: iv, encKeyWrapped };
}

/**
 * PACKAGE_KEY_SECRET, or a 409 naming the operator's fix: encryption cannot be turned on, nor an
 * encrypted version uploaded, without a usable key-encryption secret.
 */
export function requirePackageKeySecret(secret: string | undefined): string {
  if (!secret || secret.length < MIN_PACKAGE_KEY_SECRET_LENGTH) {
    throw new ApiError(
      "conflict",
      `package encryption is not configured on this deployment: PACKAGE_KEY_SECRET must be set, at least ${MIN_PACKAGE_KEY_SECRET_LENGTH} characters`,
    );
  }
  return secret;
}

/** The raw key of an encrypted version (increment builds encrypt with it). */
export async function versionKey(
  secret: string | undefined,
  v: Pick<VersionRow, "miniProgramId" | "version" | "encKeyWrapped">,
): Promise<Uint8Array> {
  if (!v.encKeyWrapped) throw new Error(`version ${v.version} is not encrypted`);
  if (!secret) throw new Error("PACKAGE_KEY_SECRET is not set but a version is encrypted");
  return unwrapPackageKey(secret, v.encKeyWrapped, packageKeyContext(v.miniProgramId, v.version), keks);
}

export async function getEncryption(db: Db, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  return { appId, enabled: mp.encryptPackages };
}

export async function setEncryption(
  db: Db,
  actor: Actor,
  appId: string,
  enabled: boolean,
  secret: string | undefined,
) {
  const mp = await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  if (enabled) requirePackageKeySecret(secret);
  if (mp.encryptPackages === enabled) return { appId, enabled };
  const now = Date.now();
  await db.batch([
    db
      .update(miniPrograms)
      .set({ encryptPackages: enabled, updatedAt: now })
      .where(eq(miniPrograms.id, appId)),
    recordChange(
      db,
      actor,
      {
        action: enabled ? "mini_program.encryption_on" : "mini_program.encryption_off",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
      },
      now,
    ),
  ]);
  return { appId, enabled };
}
