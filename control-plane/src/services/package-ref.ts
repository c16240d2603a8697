/**
 * How a version appears to clients in the delivery snapshot: its package (or encrypted copy),
 * the digest of its files, the developer's signature, and the increments built to it.
 */
import { and, eq, inArray, or } from "drizzle-orm";
import type { IncrementRef, PackageRef } from "../../../core/snapshot";
import type { Db } from "../db/client";
import { grayscaleTasks, increments, miniPrograms, versions } from "../db/schema";

export function packageRefOf(v: typeof versions.$inferSelect): PackageRef {
  const encrypted =
    v.encSha256 !== null && v.encSize !== null && v.encIv !== null && v.encKeyWrapped !== null;
  return {
    // Clients download the ciphertext of an encrypted version (services/package-encryption.ts).
    sha256: encrypted ? v.encSha256! : v.packageSha256,
    size: encrypted ? v.encSize! : v.packageSize,
    ...(v.filesSha256 ? { files: v.filesSha256 } : {}),
    ...(v.signature && v.signatureKid && v.signatureAlg
      ? { signature: { kid: v.signatureKid, alg: v.signatureAlg, sig: v.signature } }
      : {}),
    ...(encrypted
      ? {
          encryption: {
            alg: "A256GCM" as const,
            wrappedKey: v.encKeyWrapped!,
            iv: v.encIv!,
            plainSha256: v.packageSha256,
            plainSize: v.packageSize,
          },
        }
      : {}),
  };
}

/** The plaintext package hash a ref stands for (increment rows are keyed by it). */
const plainShaOf = (ref: PackageRef) => ref.encryption?.plainSha256 ?? ref.sha256;

/**
 * Adds to each package the built increments that are smaller than it, keyed by the version they
 * start from. Packages are matched by their plaintext hash (`versions.package_sha256`).
 */
export async function attachIncrements(
  db: Db,
  appId: string,
  deliverable: ReadonlyArray<{ version: string; package: PackageRef } | null | undefined>,
): Promise<void> {
  const targets = deliverable.filter(
    (t): t is { version: string; package: PackageRef } => t !== null && t !== undefined,
  );
  if (targets.length === 0) return;
  const shas = [...new Set(targets.map((t) => plainShaOf(t.package)))];
  const rows = await db
    .select()
    .from(increments)
    .where(
      and(
        eq(increments.miniProgramId, appId),
        eq(increments.status, "built"),
        inArray(increments.toPackageSha256, shas),
      ),
    )
    .all();
  attachIncrementRows(rows, targets);
}

/**
 * Built increments to the versions the snapshot delivers from its own rows (the online version,
 * development versions for the trial, the tasks' versions), as one query for the snapshot
 * compiler's D1 batch; `attachIncrementRows` picks each package's own. Older releases that a host
 * app gets instead of the online version are not covered: `attachIncrements` reads theirs.
 */
export function deliveredIncrementsQuery(db: Db, appId: string) {
  const online = db
    .select({ id: miniPrograms.onlineVersionId })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, appId));
  const taskVersions = db
    .select({ id: grayscaleTasks.versionId })
    .from(grayscaleTasks)
    .where(eq(grayscaleTasks.miniProgramId, appId));
  const delivered = db
    .select({ sha: versions.packageSha256 })
    .from(versions)
    .where(
      and(
        eq(versions.miniProgramId, appId),
        or(
          inArray(versions.id, online),
          inArray(versions.status, ["development", "in_audit", "rejected"]),
          inArray(versions.id, taskVersions),
        ),
      ),
    );
  return db
    .select()
    .from(increments)
    .where(
      and(
        eq(increments.miniProgramId, appId),
        eq(increments.status, "built"),
        inArray(increments.toPackageSha256, delivered),
      ),
    );
}

/**
 * Adds to each package the increments among `rows` (built increment rows of the mini program; rows
 * to other packages are ignored) that are smaller than it, keyed by the version they start from.
 */
export function attachIncrementRows(
  rows: readonly (typeof increments.$inferSelect)[],
  deliverable: ReadonlyArray<{ version: string; package: PackageRef } | null | undefined>,
): void {
  const targets = deliverable.filter(
    (t): t is { version: string; package: PackageRef } => t !== null && t !== undefined,
  );
  for (const { version, package: ref } of targets) {
    const map: Record<string, IncrementRef> = {};
    for (const row of rows) {
      if (
        row.toPackageSha256 !== plainShaOf(ref) ||
        row.sha256 === null ||
        row.size === null ||
        row.fromFilesSha256 === null
      )
        continue;
      if (ref.encryption) {
        // An encrypted target's increments are served encrypted under that version's own key:
        // a row built for another version with the same package bytes has another key.
        if (row.toVersion !== version || row.encSha256 === null || row.encSize === null || row.encIv === null)
          continue;
        const sealed = (iv: string, plainSha256: string, plainSize: number) => ({
          alg: "A256GCM" as const,
          wrappedKey: ref.encryption!.wrappedKey,
          iv,
          plainSha256,
          plainSize,
        });
        const entry: IncrementRef = {
          sha256: row.encSha256,
          size: row.encSize,
          from: row.fromFilesSha256,
          encryption: sealed(row.encIv, row.sha256, row.size),
        };
        if (
          row.deltaEncSha256 !== null &&
          row.deltaEncSize !== null &&
          row.deltaEncIv !== null &&
          row.deltaSha256 !== null &&
          row.deltaSize !== null &&
          row.deltaEncSize < ref.size
        )
          entry.delta = {
            sha256: row.deltaEncSha256,
            size: row.deltaEncSize,
            encryption: sealed(row.deltaEncIv, row.deltaSha256, row.deltaSize),
          };
        if (entry.size < ref.size || entry.delta) map[row.fromVersion] = entry;
        continue;
      }
      // A row built for an encrypted twin of this package stored only ciphertext.
      if (row.encSha256 !== null) continue;
      const entry: IncrementRef = { sha256: row.sha256, size: row.size, from: row.fromFilesSha256 };
      if (row.deltaSha256 !== null && row.deltaSize !== null && row.deltaSize < ref.size)
        entry.delta = { sha256: row.deltaSha256, size: row.deltaSize };
      // Listed when either format saves bytes; the manifest offers each only if it does.
      if (entry.size < ref.size || entry.delta) map[row.fromVersion] = entry;
    }
    if (Object.keys(map).length > 0) ref.increments = map;
  }
}
