/**
 * Compiles a mini program's delivery snapshot from D1 and publishes it to R2 for the edge
 * (ARCHITECTURE.md "The hot path"). Called after every change clients can see.
 *
 * Two publishes racing could leave an older snapshot last in R2; so each publish bumps the
 * revision in D1 first, compiles from the state after its bump, writes, and then re-reads the
 * revision: if someone bumped it meanwhile, it compiles and writes again, so the object that
 * stays in R2 always reflects the newest state.
 */
import { and, eq, sql } from "drizzle-orm";
import { type PackageRef, type Snapshot, type SnapshotSource, compileSnapshot, snapshotKey } from "../../../core/snapshot";
import type { Db } from "../db/client";
import { bindings, miniPrograms, releases, trialTesters, versions } from "../db/schema";
import { compiledTasksOf } from "./grayscale-store";
import { verificationKeysOf } from "./host-app-keys";
import { attachIncrements, packageRefOf } from "./package-ref";

async function loadSource(db: Db, appId: string, revision: number, now: number): Promise<SnapshotSource | undefined> {
  const mp = await db.select().from(miniPrograms).where(eq(miniPrograms.id, appId)).get();
  if (!mp) return undefined;
  const [bound, onlineVersion, lastRelease, devVersion, testers, tasks, hostAppKeys] = await Promise.all([
    db.select({ hostAppId: bindings.hostAppId }).from(bindings).where(and(eq(bindings.miniProgramId, appId), eq(bindings.status, "approved"))).all(),
    mp.onlineVersionId ? db.select().from(versions).where(eq(versions.id, mp.onlineVersionId)).get() : undefined,
    db.select().from(releases).where(eq(releases.miniProgramId, appId)).orderBy(sql`${releases.releasedAt} desc`, sql`rowid desc`).limit(1).get(),
    db.select().from(versions).where(and(eq(versions.miniProgramId, appId), sql`${versions.status} in ('development','in_audit','rejected')`)).orderBy(sql`${versions.createdAt} desc`).limit(1).get(),
    db.select({ account: trialTesters.account }).from(trialTesters).where(eq(trialTesters.miniProgramId, appId)).all(),
    compiledTasksOf(db, appId, now),
    // Issue 10: the keys that verify user assertions of each bound host app.
    verificationKeysOf(db, appId, now),
  ]);
  const ref = (v: typeof versions.$inferSelect): PackageRef => packageRefOf(v);
  const source: SnapshotSource = {
    appId,
    revision,
    listed: mp.listed,
    hostApps: bound.map((b) => b.hostAppId),
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
        ? { version: devVersion.version, package: ref(devVersion), pagePath: mp.trialPagePath, testers: testers.map((t) => t.account) }
        : null,
    tasks,
    hostAppKeys,
  };
  await attachIncrements(db, appId, [source.online, source.trial, ...tasks]);
  return source;
}

async function bumpRevision(db: Db, appId: string): Promise<number> {
  const row = await db
    .update(miniPrograms)
    .set({ snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1` })
    .where(eq(miniPrograms.id, appId))
    .returning({ revision: miniPrograms.snapshotRevision })
    .get();
  return row?.revision ?? 0;
}

/** Compiles and writes the snapshot; returns what was written. */
export async function publishSnapshot(db: Db, bucket: R2Bucket, appId: string): Promise<Snapshot | undefined> {
  let revision = await bumpRevision(db, appId);
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = Date.now();
    const source = await loadSource(db, appId, revision, now);
    if (!source) return undefined;
    const snapshot = compileSnapshot(source, now);
    await bucket.put(snapshotKey(appId), JSON.stringify(snapshot), {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { revision: String(revision) },
    });
    const latest = await db.select({ revision: miniPrograms.snapshotRevision }).from(miniPrograms).where(eq(miniPrograms.id, appId)).get();
    if (!latest || latest.revision === revision) return snapshot;
    revision = latest.revision;
  }
  return undefined;
}

/**
 * The snapshot the current D1 state compiles to at `now`, without publishing it (explain: "why
 * does this client get this version"). Carries the revision last published.
 */
export async function compileCurrentSnapshot(db: Db, appId: string, now: number): Promise<Snapshot | undefined> {
  const mp = await db.select({ revision: miniPrograms.snapshotRevision }).from(miniPrograms).where(eq(miniPrograms.id, appId)).get();
  if (!mp) return undefined;
  const source = await loadSource(db, appId, mp.revision, now);
  return source ? compileSnapshot(source, now) : undefined;
}
