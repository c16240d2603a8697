/**
 * Publish and rollback (PRODUCT.md V3, V4). Each writes the version, the mini program's online
 * pointer, a numbered release record and the audit trail in one D1 batch; the release number is
 * unique per mini program, so of two racing releases one lands and the other gets a 409.
 * A publish also ends the grayscale tasks of the same or a lower version (grayscale-hooks.ts).
 */
import { and, desc, eq, inArray, ne } from "drizzle-orm";
import { notFound } from "../../../core/errors";
import { checkPublish, checkRollback } from "../../../core/lifecycle";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { miniPrograms, releases, teamSigningKeys, versions } from "../db/schema";
import { incrementBaseQueries, pickIncrementBases, queueIncrementsStatement } from "../increments/plan";
import { randomId } from "../lib/encoding";
import { checkMiniProgramAccess, miniProgramAccessQueries, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { guardedWrite } from "./d1";
import { endTasksStatements, publishTasksQuery } from "./grayscale-hooks";
import { checkTrustedSignature } from "./signing-keys";
import {
  bumpSnapshotRevision,
  publishSnapshotRows,
  type SnapshotSourceRows,
  snapshotSourceQueries,
} from "./snapshot";
import { describeVersion, refusalError, rollbackCandidates, type VersionRow } from "./versions";

/*
 * D1 round trips (issue 17, test/admin-publish-round-trips.test.ts): a publish or rollback reads
 * everything it decides from in one batch, writes the release in a second batch that also reads
 * back, after its writes and in the same transaction, everything the snapshot compiles from, the
 * answer's version row and the increment bases; after the R2 write, a third batch records the
 * published revision and queues the increments. The rules and refusals are the same as when each
 * was its own query, checked in the same order.
 */

/** Everything a release decides from, as one D1 batch (`requireMiniProgram`, the versions, the tasks...). */
function releaseReads(db: Db, actor: Actor, appId: string, version: string) {
  const target = db
    .select({ kid: versions.signatureKid })
    .from(versions)
    .where(
      and(eq(versions.miniProgramId, appId), eq(versions.version, version), ne(versions.status, "discarded")),
    );
  return [
    ...miniProgramAccessQueries(db, actor, appId),
    // liveVersions: every version not discarded, highest first (the target is among them).
    db
      .select()
      .from(versions)
      .where(and(eq(versions.miniProgramId, appId), ne(versions.status, "discarded")))
      .orderBy(desc(versions.versionKey)),
    db
      .select({ seq: releases.seq })
      .from(releases)
      .where(eq(releases.miniProgramId, appId))
      .orderBy(desc(releases.seq))
      .limit(1),
    publishTasksQuery(db, appId),
    // requireTrustedSignature: the status of the key the target was signed with, if any.
    db
      .select({ status: teamSigningKeys.status })
      .from(teamSigningKeys)
      .where(inArray(teamSigningKeys.id, target)),
  ] as const;
}

interface Decided {
  mp: typeof miniPrograms.$inferSelect;
  target: VersionRow;
  online: VersionRow | null;
  all: VersionRow[];
  seq: number;
  tasks: Awaited<ReturnType<typeof publishTasksQuery>>;
}

async function readRelease(db: Db, actor: Actor, appId: string, version: string) {
  const [[mpRow], [member], all, [last], tasks, [key]] = await db.batch(
    releaseReads(db, actor, appId, version),
  );
  const mp = checkMiniProgramAccess(mpRow, member?.role, WRITE_ROLES);
  // requireVersion: the version of this mini program, not discarded.
  const target = all.find((v) => v.version === version);
  if (!target) throw notFound("version");
  const online = all.find((v) => v.id === mp.onlineVersionId) ?? null;
  const decided: Decided = { mp, target, online, all, seq: (last?.seq ?? 0) + 1, tasks };
  return { decided, keyStatus: key?.status };
}

async function release(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  d: Decided,
  via: "publish" | "rollback",
) {
  const { mp, target, online, seq } = d;
  const teamId = mp.teamId;
  const now = Date.now();
  // A publish ends the grayscale tasks it supersedes, in the same batch; a rollback leaves them.
  const endTasks =
    via === "publish" ? endTasksStatements(db, actor, appId, teamId, target.version, d.tasks, now) : [];
  const writes = [
    db.insert(releases).values({
      id: randomId("rel_", 10),
      miniProgramId: appId,
      seq,
      versionId: target.id,
      version: target.version,
      via,
      fromVersion: online?.version ?? null,
      releasedBy: actor.userId,
      releasedAt: now,
    }),
    db
      .update(versions)
      .set({ status: "released", firstReleasedAt: target.firstReleasedAt ?? now })
      .where(eq(versions.id, target.id)),
    db
      .update(miniPrograms)
      .set({ onlineVersionId: target.id, lastReleaseVia: via, updatedAt: now })
      .where(eq(miniPrograms.id, appId)),
    recordChange(
      db,
      actor,
      {
        action: `version.${via}`,
        teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { version: target.version, from: online?.version ?? null, seq },
      },
      now,
    ),
    ...endTasks,
    bumpSnapshotRevision(db, appId),
  ];
  // Read back in the same transaction, after the writes: what the snapshot compiles from, the
  // version for the answer, and the increment bases (control-plane/src/increments/plan.ts).
  const source = snapshotSourceQueries(db, appId);
  const reads = [
    ...source,
    db.select().from(versions).where(eq(versions.id, target.id)),
    ...incrementBaseQueries(db, appId),
  ] as const;
  const results = (await guardedWrite(
    db.batch([...writes, ...reads] as unknown as Parameters<Db["batch"]>[0]),
    "another release of this mini program happened at the same time; reload and try again",
  )) as unknown as unknown[];
  const read = results.slice(writes.length);
  const sourceRows = read.slice(0, source.length) as unknown as SnapshotSourceRows;
  const [[released], released5, presets, candidates] = read.slice(source.length) as [
    VersionRow[],
    { versionId: string }[],
    { versionId: string }[],
    VersionRow[],
  ];
  // Increments to the new online version, built off the hot path (control-plane/src/increments);
  // queued in the batch that records the published revision.
  const queue = queueIncrementsStatement(
    db,
    appId,
    target,
    pickIncrementBases(released5, presets, candidates, target),
    now,
  );
  await publishSnapshotRows(db, bucket, appId, sourceRows, now, queue ? [queue] : []);
  return describeVersion(released ?? target, target.id);
}

/**
 * seed: "Publication: When the audit process is completed, it can be published by the license
 * holder." The release "will take effect on all associated applications of the mini program".
 */
export async function publishVersion(db: Db, bucket: R2Bucket, actor: Actor, appId: string, version: string) {
  const { decided, keyStatus } = await readRelease(db, actor, appId, version);
  const refusal = checkPublish(decided.target, decided.online, decided.mp.listed);
  if (refusal) throw refusalError(refusal);
  checkTrustedSignature(decided.target, keyStatus);
  return release(db, bucket, actor, appId, decided, "publish");
}

/** seed: "Roll back the online version ... to a previously released historical version. Continuous rollback is not supported." */
export async function rollbackTo(db: Db, bucket: R2Bucket, actor: Actor, appId: string, version: string) {
  const { decided, keyStatus } = await readRelease(db, actor, appId, version);
  const { mp, target, online, all } = decided;
  const refusal = checkRollback({
    target,
    online,
    lastReleaseVia: mp.lastReleaseVia ?? null,
    listed: mp.listed,
    releasedBelowOnline: rollbackCandidates(all, online),
  });
  if (refusal) throw refusalError(refusal);
  checkTrustedSignature(target, keyStatus);
  return release(db, bucket, actor, appId, decided, "rollback");
}
