/**
 * Audit scope (issue 10; rules in core/audit-scope.ts): which host apps approved which versions
 * of a mini program, read from the audit reviews, and the release each bound host app that has
 * not approved the online version gets instead. Read by the snapshot compiler, the grayscale
 * task compiler, binding audits and offline packages. No access checks here: callers check first.
 */
import { and, desc, eq, ne } from "drizzle-orm";
import { type Approvals, pickHostAppReleases, unreviewedHostApps } from "../../../core/audit-scope";
import type { SnapshotRelease } from "../../../core/snapshot";
import type { Db } from "../db/client";
import { auditReviews, audits, bindings, releases, versions } from "../db/schema";
import { packageRefOf } from "./package-ref";

/**
 * Host apps that approved each version of `appId`, by version number: an `approve` review in any
 * audit of the version, a version audit or a binding audit. A review counts once made: a version
 * audit rejected or withdrawn after some approvals leaves the version unpublishable anyway, and a
 * binding audit's approvals each stand on their own. Discarded versions do not count: their number
 * may be uploaded again as another package, which its host apps have not seen.
 */
export async function approvalsOf(db: Db, appId: string): Promise<Map<string, Set<string>>> {
  return approvalsFrom(await approvalsQuery(db, appId).all());
}

/** `approvalsOf`'s query, for a caller that reads it in its own D1 batch. */
export function approvalsQuery(db: Db, appId: string) {
  return db
    .select({ version: versions.version, hostAppId: auditReviews.hostAppId })
    .from(auditReviews)
    .innerJoin(audits, eq(audits.id, auditReviews.auditId))
    .innerJoin(versions, eq(versions.id, audits.versionId))
    .where(
      and(
        eq(audits.miniProgramId, appId),
        eq(auditReviews.decision, "approve"),
        ne(versions.status, "discarded"),
      ),
    );
}

/** The rows of `approvalsQuery` by version. */
export function approvalsFrom(
  rows: readonly { version: string; hostAppId: string }[],
): Map<string, Set<string>> {
  const approvals = new Map<string, Set<string>>();
  for (const r of rows) {
    let set = approvals.get(r.version);
    if (!set) approvals.set(r.version, (set = new Set()));
    set.add(r.hostAppId);
  }
  return approvals;
}

/** Host apps with an approved binding to `appId`. */
export async function boundHostApps(db: Db, appId: string): Promise<string[]> {
  const rows = await boundHostAppsQuery(db, appId).all();
  return rows.map((r) => r.hostAppId);
}

/** `boundHostApps`'s query, for a D1 batch. */
export function boundHostAppsQuery(db: Db, appId: string) {
  return db
    .select({ hostAppId: bindings.hostAppId })
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.status, "approved")));
}

/** Bound host apps and approvals together: what the grayscale compiler and the binding audit need. */
export async function auditScopeOf(
  db: Db,
  appId: string,
): Promise<{ bound: string[]; approvals: Approvals }> {
  const [bound, approvals] = await Promise.all([boundHostApps(db, appId), approvalsOf(db, appId)]);
  return { bound, approvals };
}

/** The bound host apps that have not approved `version` of `appId` (sorted). */
export async function unreviewedHostAppsOf(db: Db, appId: string, version: string): Promise<string[]> {
  const { bound, approvals } = await auditScopeOf(db, appId);
  return unreviewedHostApps(approvals, version, bound);
}

/** Whether some bound host app has not approved the online version (then it gets its own release). */
export function needsHostAppReleases(
  bound: readonly string[],
  online: SnapshotRelease | null,
  approvals: Approvals,
): online is SnapshotRelease {
  return online !== null && unreviewedHostApps(approvals, online.version, bound).length > 0;
}

/**
 * The snapshot's `hostAppReleases` (core/audit-scope.ts `pickHostAppReleases`): empty when every
 * bound host app approved the online version, which is the common case, and then the release
 * history is not even read.
 */
export async function hostAppReleasesOf(
  db: Db,
  appId: string,
  bound: readonly string[],
  online: SnapshotRelease | null,
  approvals: Approvals,
): Promise<Record<string, SnapshotRelease | null>> {
  if (!needsHostAppReleases(bound, online, approvals)) return {};
  const rows = await db
    .select({ release: releases, version: versions })
    .from(releases)
    .innerJoin(versions, eq(versions.id, releases.versionId))
    .where(eq(releases.miniProgramId, appId))
    .orderBy(desc(releases.seq))
    .all();
  // One entry per version, from its newest release; shared by every host app that falls back to it.
  const byVersion = new Map<string, SnapshotRelease>();
  for (const { release, version } of rows) {
    if (!byVersion.has(release.version))
      byVersion.set(release.version, {
        version: release.version,
        package: packageRefOf(version),
        releasedAt: release.releasedAt,
        via: release.via,
      });
  }
  return pickHostAppReleases({ boundHostApps: bound, online, history: [...byVersion.values()], approvals });
}
