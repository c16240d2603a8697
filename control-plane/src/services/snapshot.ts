/**
 * Compiles a mini program's delivery snapshot from D1 and publishes it to R2 for the edge
 * (ARCHITECTURE.md "The hot path"; the protocol is in docs/storage.md, "Snapshot publication").
 *
 * Writes that survive faults (issue 10):
 * - Every change clients can see adds `bumpSnapshotRevision` (or, for a change that concerns
 *   every mini program of a host app, `bumpHostAppSnapshotRevisions`) to its own D1 batch, so
 *   "this app's snapshot must change" commits or rolls back with the change itself.
 * - After the batch, `publishCurrentSnapshot` compiles the state at the current revision and
 *   writes R2 only forward: a conditional put that never replaces a newer revision by an older
 *   one, then `published_revision = max(published_revision, revision)`.
 * - A publish that fails after the change committed is logged and reported, never thrown: the
 *   change's answer stays 2xx (it committed), and `sweepSnapshots` (the admin cron, every minute)
 *   republishes every mini program whose published revision is behind.
 */
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import {
  compileSnapshot,
  type PackageRef,
  type Snapshot,
  type SnapshotSource,
  snapshotKey,
} from "../../../core/snapshot";
import type { Db } from "../db/client";
import { bindings, miniPrograms, releases, trialTesters, versions } from "../db/schema";
import {
  approvalsFrom,
  approvalsQuery,
  boundHostAppsQuery,
  hostAppReleasesOf,
  needsHostAppReleases,
} from "./audit-scope";
import {
  appWhitelistsQuery,
  compileTaskRows,
  joinTaskVersions,
  snapshotTaskQueries,
} from "./grayscale-store";
import { verificationKeysFrom, verificationKeysQuery } from "./host-app-keys";
import { attachIncrementRows, attachIncrements, deliveredIncrementsQuery, packageRefOf } from "./package-ref";
import { compileConfigFrom, configQueries } from "./runtime-config";

/**
 * Every query the snapshot compiles from, for one D1 batch: one round trip, and (a batch is one
 * transaction) one consistent state. Nothing here depends on a value read before: the online
 * version and the delivered increments are found by subqueries. A change may put these after its
 * own writes in its batch (`releases.ts`): the snapshot then compiles exactly the state that change
 * committed, at the revision it committed, with no read of its own afterwards.
 */
export function snapshotSourceQueries(db: Db, appId: string) {
  const onlineId = db
    .select({ id: miniPrograms.onlineVersionId })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, appId));
  return [
    db.select().from(miniPrograms).where(eq(miniPrograms.id, appId)),
    boundHostAppsQuery(db, appId),
    db.select().from(versions).where(inArray(versions.id, onlineId)),
    db
      .select()
      .from(releases)
      .where(eq(releases.miniProgramId, appId))
      .orderBy(sql`${releases.releasedAt} desc`, sql`rowid desc`)
      .limit(1),
    db
      .select()
      .from(versions)
      .where(
        and(
          eq(versions.miniProgramId, appId),
          sql`${versions.status} in ('development','in_audit','rejected')`,
        ),
      )
      .orderBy(sql`${versions.createdAt} desc`)
      .limit(1),
    db
      .select({ account: trialTesters.account })
      .from(trialTesters)
      .where(eq(trialTesters.miniProgramId, appId)),
    ...snapshotTaskQueries(db, appId),
    appWhitelistsQuery(db, appId),
    approvalsQuery(db, appId),
    // Issue 10: the keys that verify user assertions of each bound host app.
    verificationKeysQuery(db, appId),
    deliveredIncrementsQuery(db, appId),
    ...configQueries(db, appId),
  ] as const;
}

export type SnapshotSourceRows = BatchResponse<ReturnType<typeof snapshotSourceQueries>>;

/**
 * Assembles the snapshot source from the rows of `snapshotSourceQueries`. Reads D1 again only in
 * the uncommon case of a bound host app that has not approved the online version: the release
 * history (and the increments to those older releases) it then needs is read on demand.
 */
async function assembleSource(
  db: Db,
  appId: string,
  rows: SnapshotSourceRows,
  now: number,
): Promise<SnapshotSource | undefined> {
  const [
    [mp],
    boundRows,
    [onlineVersion],
    [lastRelease],
    [devVersion],
    testers,
    taskList,
    taskVersions,
    lists,
    approvalRows,
    keyRows,
    incrementRows,
    domains,
    skips,
    grants,
    privacy,
    switchRows,
  ] = rows;
  if (!mp) return undefined;
  const hostApps = boundRows.map((b) => b.hostAppId);
  const approvals = approvalsFrom(approvalRows);
  const taskRows = joinTaskVersions(taskList, taskVersions);
  const tasks = compileTaskRows(
    taskRows,
    lists,
    taskRows.length > 0 ? { bound: hostApps, approvals } : undefined,
    now,
  );
  const ref = (v: typeof versions.$inferSelect): PackageRef => packageRefOf(v);
  const source: SnapshotSource = {
    appId,
    revision: mp.snapshotRevision,
    listed: mp.listed,
    hostApps,
    online: onlineVersion
      ? {
          version: onlineVersion.version,
          package: ref(onlineVersion),
          releasedAt: lastRelease?.releasedAt ?? mp.updatedAt,
          via: mp.lastReleaseVia ?? "publish",
        }
      : null,
    trial:
      devVersion && mp.trialPagePath
        ? {
            version: devVersion.version,
            package: ref(devVersion),
            pagePath: mp.trialPagePath,
            testers: testers.map((t) => t.account),
          }
        : null,
    tasks,
    hostAppKeys: verificationKeysFrom(keyRows, now),
    // Issue 12 (D5): the runtime config the edge signs for GET /v1/config.
    config: compileConfigFrom(
      mp,
      { domains, skips, grants, privacy, switches: switchRows },
      hostApps,
      tasks.map((t) => t.id),
    ),
  };
  attachIncrementRows(incrementRows, [source.online, source.trial, ...tasks]);
  // Audit scope: bound host apps that have not approved the online version get their own release.
  if (needsHostAppReleases(hostApps, source.online, approvals)) {
    const hostAppReleases = await hostAppReleasesOf(db, appId, hostApps, source.online, approvals);
    if (Object.keys(hostAppReleases).length > 0) {
      source.hostAppReleases = hostAppReleases;
      await attachIncrements(db, appId, Object.values(hostAppReleases));
    }
  }
  return source;
}

/** The snapshot source as D1 holds it now, at the revision read with it (one batch). */
async function loadSource(db: Db, appId: string, now: number): Promise<SnapshotSource | undefined> {
  return assembleSource(db, appId, await db.batch(snapshotSourceQueries(db, appId)), now);
}

/** The statement that marks a change clients can see: add it to the change's own D1 batch. */
export function bumpSnapshotRevision(db: Db, appId: string) {
  return db
    .update(miniPrograms)
    .set({ snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1` })
    .where(eq(miniPrograms.id, appId));
}

/**
 * The same for a change that every mini program bound (approved) to `hostAppId` delivers (host
 * app keys, say); publish them after the batch with `sweepSnapshots(db, bucket, { hostAppId })`.
 */
export function bumpHostAppSnapshotRevisions(db: Db, hostAppId: string) {
  const bound = db
    .select({ id: bindings.miniProgramId })
    .from(bindings)
    .where(and(eq(bindings.hostAppId, hostAppId), eq(bindings.status, "approved")));
  return db
    .update(miniPrograms)
    .set({ snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1` })
    .where(inArray(miniPrograms.id, bound));
}

export type PublishResult =
  /** R2 now holds this revision */
  | { appId: string; status: "published"; revision: number }
  /** R2 already held this revision or a newer one: nothing to write */
  | { appId: string; status: "current"; revision: number }
  /** no such mini program */
  | { appId: string; status: "gone" }
  /** the write did not happen; the change is committed and the sweep will publish it */
  | { appId: string; status: "pending"; error: string };

/** Conditional puts tried before giving up to the sweep (each lost race re-reads R2). */
const WRITE_ATTEMPTS = 3;

/** The revision an R2 snapshot object carries, or -1 when it carries none (written by hand). */
function revisionOf(object: R2Object): number {
  const revision = Number(object.customMetadata?.revision);
  return Number.isSafeInteger(revision) ? revision : -1;
}

/**
 * Writes `snapshot` unless R2 already holds its revision or a newer one. The put is conditional
 * on the object read just before (its etag, or "no object" with `etagDoesNotMatch: "*"`); a put
 * whose condition fails returns null, meaning another publish wrote in between: read again.
 */
async function writeForward(bucket: R2Bucket, snapshot: Snapshot): Promise<"published" | "current"> {
  const key = snapshotKey(snapshot.appId);
  const body = JSON.stringify(snapshot);
  for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
    const existing = await bucket.head(key);
    if (existing && revisionOf(existing) >= snapshot.revision) return "current";
    const written = await bucket.put(key, body, {
      onlyIf: existing ? { etagMatches: existing.etag } : { etagDoesNotMatch: "*" },
      httpMetadata: { contentType: "application/json" },
      customMetadata: { revision: String(snapshot.revision) },
    });
    if (written) return "published";
  }
  throw new Error(`the snapshot object kept changing during ${WRITE_ATTEMPTS} conditional writes`);
}

function messageOf(err: unknown): string {
  return String(err instanceof Error ? err.message : err).slice(0, 300);
}

/**
 * Publishes the state D1 holds now, after a change's batch committed. Never throws: a failure is
 * logged (app id, revision and the error message; no request data) and returned as "pending".
 *
 * The revision is read in the same batch (one transaction) as the state it compiles, so a
 * snapshot of revision r holds exactly the state of revision r; a change that commits later has
 * a higher revision and is published by its own publish or by the sweep, and a snapshot compiled
 * at revision r never replaces one of a higher revision.
 */
export async function publishCurrentSnapshot(
  db: Db,
  bucket: R2Bucket,
  appId: string,
  now = Date.now(),
): Promise<PublishResult> {
  let rows: SnapshotSourceRows;
  try {
    rows = await db.batch(snapshotSourceQueries(db, appId));
  } catch (err) {
    return pendingAfter(err, appId, undefined);
  }
  return publishSnapshotRows(db, bucket, appId, rows, now);
}

function pendingAfter(err: unknown, appId: string, revision: number | undefined): PublishResult {
  const error = messageOf(err);
  console.error("snapshot publish failed; the change is committed and the sweep will publish it", {
    appId,
    revision,
    error,
  });
  return { appId, status: "pending", error };
}

/**
 * `publishCurrentSnapshot` from rows already read by `snapshotSourceQueries` (a change that put
 * them after its writes in its own batch). Never throws. `extra` statements (other follow-up
 * writes of the change: queued increment rows) go into the batch that records the published
 * revision, so the whole publish costs one more D1 round trip; their failure is logged.
 */
export async function publishSnapshotRows(
  db: Db,
  bucket: R2Bucket,
  appId: string,
  rows: SnapshotSourceRows,
  now = Date.now(),
  extra: BatchItem<"sqlite">[] = [],
): Promise<PublishResult> {
  const mp = rows[0][0];
  const revision = mp?.snapshotRevision;
  let result: PublishResult;
  const followUps: BatchItem<"sqlite">[] = [...extra];
  try {
    if (!mp || revision === undefined) result = { appId, status: "gone" };
    else if (mp.publishedRevision >= revision) result = { appId, status: "current", revision };
    else {
      const source = await assembleSource(db, appId, rows, now);
      if (!source) result = { appId, status: "gone" };
      else {
        const status = await writeForward(bucket, compileSnapshot(source, now));
        followUps.unshift(
          db
            .update(miniPrograms)
            .set({ publishedRevision: sql`max(${miniPrograms.publishedRevision}, ${revision})` })
            .where(eq(miniPrograms.id, appId)),
        );
        result = { appId, status, revision };
      }
    }
  } catch (err) {
    result = pendingAfter(err, appId, revision);
  }
  const [first, ...rest] = followUps;
  if (first) {
    try {
      await db.batch([first, ...rest]);
    } catch (err) {
      // R2 holds the snapshot; the sweep raises published_revision (its write finds R2 current).
      if (result.status === "published" || result.status === "current")
        result = pendingAfter(err, appId, revision);
      else console.error("follow-up writes after a change failed", { appId, error: messageOf(err) });
    }
  }
  return result;
}

/**
 * For a change that has no batch of its own to add the bump to: bumps the revision in its own
 * statement, then publishes. Never throws (see `publishCurrentSnapshot`).
 */
export async function publishSnapshot(db: Db, bucket: R2Bucket, appId: string): Promise<PublishResult> {
  try {
    await bumpSnapshotRevision(db, appId).run();
  } catch (err) {
    const error = messageOf(err);
    console.error("snapshot revision bump failed", { appId, error });
    return { appId, status: "pending", error };
  }
  return publishCurrentSnapshot(db, bucket, appId);
}

/**
 * Mini programs a sweep republishes at most per run (each is a few D1 reads and one R2 write), so
 * one run stays within a Worker's limits; a host-app key revocation reaches this many bound mini
 * programs in its own request and the rest at the next cron run.
 */
export const SWEEP_LIMIT = 500;

export interface SweepReport {
  published: string[];
  pending: string[];
}

/**
 * Republishes mini programs whose published revision is behind their snapshot revision (a
 * publish that failed, or a host-app-wide change), at most `limit` per run, those behind the
 * longest first. Run by the admin cron, after host-app-wide changes, and by tests.
 */
export async function sweepSnapshots(
  db: Db,
  bucket: R2Bucket,
  options: { limit?: number; hostAppId?: string; now?: number } = {},
): Promise<SweepReport> {
  const { limit = SWEEP_LIMIT, hostAppId, now = Date.now() } = options;
  const behind = lt(miniPrograms.publishedRevision, miniPrograms.snapshotRevision);
  const bound = hostAppId
    ? inArray(
        miniPrograms.id,
        db.select({ id: bindings.miniProgramId }).from(bindings).where(eq(bindings.hostAppId, hostAppId)),
      )
    : undefined;
  const rows = await db
    .select({ id: miniPrograms.id })
    .from(miniPrograms)
    .where(and(behind, bound))
    .orderBy(miniPrograms.updatedAt)
    .limit(limit)
    .all();
  const report: SweepReport = { published: [], pending: [] };
  for (const { id } of rows) {
    const result = await publishCurrentSnapshot(db, bucket, id, now);
    if (result.status === "pending") report.pending.push(id);
    else report.published.push(id);
  }
  return report;
}

/**
 * What an app's edge state is for the console: the revision of its latest change and the highest
 * one written to R2; `pending` until the sweep catches up after a failed publish.
 */
export function edgeStateOf(mp: { snapshotRevision: number; publishedRevision: number }) {
  return {
    revision: mp.snapshotRevision,
    publishedRevision: mp.publishedRevision,
    pending: mp.publishedRevision < mp.snapshotRevision,
  };
}

/**
 * The snapshot the current D1 state compiles to at `now`, without publishing it (explain: "why
 * does this client get this version"). Carries the latest revision.
 */
export async function compileCurrentSnapshot(
  db: Db,
  appId: string,
  now: number,
): Promise<Snapshot | undefined> {
  const source = await loadSource(db, appId, now);
  return source ? compileSnapshot(source, now) : undefined;
}
