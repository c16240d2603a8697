/**
 * Publish and rollback (PRODUCT.md V3, V4). Each writes the version, the mini program's online
 * pointer, a numbered release record and the audit trail in one D1 batch; the release number is
 * unique per mini program, so of two racing releases one lands and the other gets a 409.
 * A publish also ends the grayscale tasks of the same or a lower version (grayscale-hooks.ts).
 */
import { desc, eq } from "drizzle-orm";
import { checkPublish, checkRollback } from "../../../core/lifecycle";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { miniPrograms, releases, versions } from "../db/schema";
import { planIncrementsAfter } from "../increments/plan";
import { randomId } from "../lib/encoding";
import { requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { guardedWrite, runBatch } from "./d1";
import { endTasksOnPublish } from "./grayscale-hooks";
import { requireTrustedSignature } from "./signing-keys";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";
import {
  describeVersion,
  liveVersions,
  refusalError,
  requireVersion,
  rollbackCandidates,
  type VersionRow,
} from "./versions";

async function nextReleaseSeq(db: Db, appId: string): Promise<number> {
  const last = await db
    .select({ seq: releases.seq })
    .from(releases)
    .where(eq(releases.miniProgramId, appId))
    .orderBy(desc(releases.seq))
    .limit(1)
    .get();
  return (last?.seq ?? 0) + 1;
}

async function release(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  teamId: string,
  target: VersionRow,
  from: VersionRow | null,
  via: "publish" | "rollback",
) {
  const now = Date.now();
  const seq = await nextReleaseSeq(db, appId);
  // A publish ends the grayscale tasks it supersedes, in the same batch; a rollback leaves them.
  const endTasks =
    via === "publish" ? await endTasksOnPublish(db, actor, appId, teamId, target.version, now) : [];
  await guardedWrite(
    runBatch(db, [
      db.insert(releases).values({
        id: randomId("rel_", 10),
        miniProgramId: appId,
        seq,
        versionId: target.id,
        version: target.version,
        via,
        fromVersion: from?.version ?? null,
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
          detail: { version: target.version, from: from?.version ?? null, seq },
        },
        now,
      ),
      ...endTasks,
      bumpSnapshotRevision(db, appId),
    ]),
    "another release of this mini program happened at the same time; reload and try again",
  );
  await publishCurrentSnapshot(db, bucket, appId);
  // Increments to the new online version, built off the hot path (control-plane/src/increments).
  await planIncrementsAfter(db, appId, target, now);
}

/**
 * seed: "Publication: When the audit process is completed, it can be published by the license
 * holder." The release "will take effect on all associated applications of the mini program".
 */
export async function publishVersion(db: Db, bucket: R2Bucket, actor: Actor, appId: string, version: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const all = await liveVersions(db, appId);
  const online = all.find((v) => v.id === mp.onlineVersionId) ?? null;
  const refusal = checkPublish(target, online, mp.listed);
  if (refusal) throw refusalError(refusal);
  await requireTrustedSignature(db, target);
  await release(db, bucket, actor, appId, mp.teamId, target, online, "publish");
  return describeVersion(await requireVersion(db, appId, version), target.id);
}

/** seed: "Roll back the online version ... to a previously released historical version. Continuous rollback is not supported." */
export async function rollbackTo(db: Db, bucket: R2Bucket, actor: Actor, appId: string, version: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const all = await liveVersions(db, appId);
  const online = all.find((v) => v.id === mp.onlineVersionId) ?? null;
  const refusal = checkRollback({
    target,
    online,
    lastReleaseVia: mp.lastReleaseVia ?? null,
    listed: mp.listed,
    releasedBelowOnline: rollbackCandidates(all, online),
  });
  if (refusal) throw refusalError(refusal);
  await requireTrustedSignature(db, target);
  await release(db, bucket, actor, appId, mp.teamId, target, online, "rollback");
  return describeVersion(await requireVersion(db, appId, version), target.id);
}
