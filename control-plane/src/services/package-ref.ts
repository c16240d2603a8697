/**
 * How a version appears to clients in the delivery snapshot: its package (or encrypted copy),
 * the digest of its files, the developer's signature, and the increments built to it.
 */
import { and, eq, inArray } from "drizzle-orm";
import type { IncrementRef, PackageRef } from "../../../core/snapshot";
import type { Db } from "../db/client";
import { increments, versions } from "../db/schema";

export function packageRefOf(v: typeof versions.$inferSelect): PackageRef {
  return {
    sha256: v.packageSha256,
    size: v.packageSize,
    ...(v.filesSha256 ? { files: v.filesSha256 } : {}),
    ...(v.signature && v.signatureKid && v.signatureAlg ? { signature: { kid: v.signatureKid, alg: v.signatureAlg, sig: v.signature } } : {}),
  };
}

/**
 * Adds to each package the built increments that are smaller than it, keyed by the version they
 * start from. Packages are matched by their plaintext hash (`versions.package_sha256`).
 */
export async function attachIncrements(db: Db, appId: string, refs: ReadonlyArray<PackageRef | undefined>, plainShaOf: (ref: PackageRef) => string = (r) => r.sha256): Promise<void> {
  const targets = refs.filter((r): r is PackageRef => r !== undefined);
  if (targets.length === 0) return;
  const shas = [...new Set(targets.map(plainShaOf))];
  const rows = await db
    .select()
    .from(increments)
    .where(and(eq(increments.miniProgramId, appId), eq(increments.status, "built"), inArray(increments.toPackageSha256, shas)))
    .all();
  for (const ref of targets) {
    const map: Record<string, IncrementRef> = {};
    for (const row of rows) {
      if (row.toPackageSha256 !== plainShaOf(ref) || row.sha256 === null || row.size === null || row.fromFilesSha256 === null) continue;
      if (row.size >= ref.size) continue;
      map[row.fromVersion] = { sha256: row.sha256, size: row.size, from: row.fromFilesSha256 };
    }
    if (Object.keys(map).length > 0) ref.increments = map;
  }
}
