/**
 * Which increments to build (PRODUCT.md D3): when a version becomes approved or released, one
 * increment to it from each of the last few released versions and from the versions host apps
 * carry as presets (offline packages downloaded from the console). Planning only writes
 * `queued` rows; building happens off the hot path, in the builder Worker (./queue.ts).
 */
import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { increments, offlinePackages, releases, versions } from "../db/schema";
import { randomId } from "../lib/encoding";

/** Released versions (newest first) an increment is built from. */
export const RECENT_RELEASES = 5;
/** Preset versions (most recently downloaded first) an increment is built from. */
export const RECENT_PRESETS = 5;

type VersionRow = typeof versions.$inferSelect;

/** The bases for `target`: distinct packages other than the target's own, newest first. */
export async function incrementBases(db: Db, appId: string, target: VersionRow): Promise<VersionRow[]> {
  const [released, presets, candidates] = await db.batch(incrementBaseQueries(db, appId));
  return pickIncrementBases(released, presets, candidates, target);
}

/**
 * What `pickIncrementBases` reads, as queries for the caller's own D1 batch: the latest releases,
 * the latest preset downloads, and the versions either names (found by subquery).
 */
export function incrementBaseQueries(db: Db, appId: string) {
  const released = db
    .select({ versionId: releases.versionId })
    .from(releases)
    .where(eq(releases.miniProgramId, appId))
    .orderBy(desc(releases.seq))
    .limit(RECENT_RELEASES * 4);
  const presets = db
    .select({ versionId: offlinePackages.versionId })
    .from(offlinePackages)
    .where(eq(offlinePackages.miniProgramId, appId))
    .orderBy(desc(offlinePackages.createdAt))
    .limit(RECENT_PRESETS * 4);
  return [
    released,
    presets,
    db
      .select()
      .from(versions)
      .where(or(inArray(versions.id, released), inArray(versions.id, presets))),
  ] as const;
}

/** The bases for `target` from the rows of `incrementBaseQueries`. */
export function pickIncrementBases(
  released: readonly { versionId: string }[],
  presets: readonly { versionId: string }[],
  candidates: readonly VersionRow[],
  target: VersionRow,
): VersionRow[] {
  const pick = (ids: string[], limit: number) =>
    [...new Set(ids)].filter((id) => id !== target.id).slice(0, limit);
  const ids = [
    ...new Set([
      ...pick(
        released.map((r) => r.versionId),
        RECENT_RELEASES,
      ),
      ...pick(
        presets.map((p) => p.versionId),
        RECENT_PRESETS,
      ),
    ]),
  ];
  const rows = candidates.filter((r) => r.packageSha256 !== target.packageSha256);
  const seen = new Set<string>();
  return ids
    .map((id) => rows.find((r) => r.id === id))
    .filter(
      (r): r is VersionRow =>
        r !== undefined && !seen.has(r.packageSha256) && (seen.add(r.packageSha256), true),
    );
}

/** Inserts the queued rows for `target` (existing pairs are left alone). */
export async function planIncrements(
  db: Db,
  appId: string,
  target: VersionRow,
  now = Date.now(),
): Promise<void> {
  await queueIncrementsStatement(db, appId, target, await incrementBases(db, appId, target), now)?.run();
}

/** The insert of the queued rows from `target`'s bases (undefined when there are none). */
export function queueIncrementsStatement(
  db: Db,
  appId: string,
  target: VersionRow,
  bases: readonly VersionRow[],
  now: number,
) {
  if (bases.length === 0) return undefined;
  return db
    .insert(increments)
    .values(
      bases.map((base) => ({
        id: randomId("inc_", 10),
        miniProgramId: appId,
        fromVersion: base.version,
        toVersion: target.version,
        fromPackageSha256: base.packageSha256,
        toPackageSha256: target.packageSha256,
        status: "queued" as const,
        fullSize: target.packageSize,
        createdAt: now,
      })),
    )
    .onConflictDoNothing();
}

/** Queued increments, oldest first (optionally of one mini program). */
export async function pendingIncrements(db: Db, opts: { appId?: string; olderThan?: number; limit: number }) {
  return db
    .select()
    .from(increments)
    .where(
      and(
        eq(increments.status, "queued"),
        opts.appId !== undefined ? eq(increments.miniProgramId, opts.appId) : undefined,
        opts.olderThan !== undefined ? sql`${increments.createdAt} < ${opts.olderThan}` : undefined,
      ),
    )
    .orderBy(increments.createdAt)
    .limit(opts.limit)
    .all();
}

/**
 * `planIncrements` after a change that already committed (an approval, a release): a failure is
 * logged, never answered as an error for a change that happened. Nothing plans those pairs again
 * until the next approval or release (the sweep only re-sends rows that exist); clients meanwhile
 * download the full package.
 */
export async function planIncrementsAfter(
  db: Db,
  appId: string,
  target: VersionRow,
  now = Date.now(),
): Promise<void> {
  try {
    await planIncrements(db, appId, target, now);
  } catch (err) {
    console.error("planning increments failed", {
      appId,
      version: target.version,
      error: String(err instanceof Error ? err.message : err),
    });
  }
}
