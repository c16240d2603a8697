import { and, desc, eq, inArray } from "drizzle-orm";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { bindings, hostApps, miniPrograms, teamMembers, versions } from "../db/schema";
import { randomId } from "../lib/encoding";
import type { CreateMiniProgramInput, EditMiniProgramInput } from "../routes/mini-programs";
import { ADMIN_ROLES, READ_ROLES, requireMiniProgram, requireTeamRole, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { runBatch } from "./d1";
import { suspendTasksOnDelist } from "./grayscale-hooks";
import { bumpSnapshotRevision, edgeStateOf, publishCurrentSnapshot } from "./snapshot";

/** App IDs: "gc" + 24 base32 chars (120 random bits), unguessable (PRODUCT.md M2). */
export const newAppId = () => randomId("gc", 15);

export async function createMiniProgram(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  input: CreateMiniProgramInput,
) {
  // seed: "License holders can directly create small programs, and such code resources belong to the user's team."
  await requireTeamRole(db, actor, input.teamId, WRITE_ROLES);
  const id = newAppId();
  const now = Date.now();
  await db.batch([
    db.insert(miniPrograms).values({
      id,
      teamId: input.teamId,
      name: input.name,
      description: input.description ?? "",
      createdBy: actor.userId,
      createdAt: now,
      updatedAt: now,
    }),
    recordChange(
      db,
      actor,
      {
        action: "mini_program.create",
        teamId: input.teamId,
        targetType: "mini_program",
        targetId: id,
        detail: { name: input.name },
      },
      now,
    ),
    bumpSnapshotRevision(db, id),
  ]);
  await publishCurrentSnapshot(db, bucket, id);
  return getMiniProgram(db, actor, id);
}

/** Mini programs of my teams, optionally of one team (seed: "select the team you belong to in the top filter box"). */
export async function listMiniPrograms(db: Db, actor: Actor, teamId?: string) {
  const mine = await db
    .select({ teamId: teamMembers.teamId })
    .from(teamMembers)
    .where(eq(teamMembers.userId, actor.userId))
    .all();
  const teamIds = mine.map((m) => m.teamId).filter((t) => !teamId || t === teamId);
  if (teamIds.length === 0) return [];
  return db
    .select({
      appId: miniPrograms.id,
      teamId: miniPrograms.teamId,
      name: miniPrograms.name,
      description: miniPrograms.description,
      listed: miniPrograms.listed,
      createdAt: miniPrograms.createdAt,
      updatedAt: miniPrograms.updatedAt,
    })
    .from(miniPrograms)
    .where(inArray(miniPrograms.teamId, teamIds))
    .orderBy(desc(miniPrograms.createdAt))
    .all();
}

export async function getMiniProgram(db: Db, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  const [bound, online] = await Promise.all([
    db
      .select({
        hostAppId: bindings.hostAppId,
        hostAppName: hostApps.name,
        status: bindings.status,
        createdAt: bindings.createdAt,
        decidedAt: bindings.decidedAt,
      })
      .from(bindings)
      .innerJoin(hostApps, eq(hostApps.id, bindings.hostAppId))
      .where(eq(bindings.miniProgramId, appId))
      .all(),
    mp.onlineVersionId
      ? db
          .select({ version: versions.version })
          .from(versions)
          .where(eq(versions.id, mp.onlineVersionId))
          .get()
      : undefined,
  ]);
  return {
    appId: mp.id,
    teamId: mp.teamId,
    name: mp.name,
    description: mp.description,
    listed: mp.listed,
    onlineVersion: online?.version ?? null,
    bindings: bound,
    edge: edgeStateOf(mp),
    createdAt: mp.createdAt,
    updatedAt: mp.updatedAt,
  };
}

export async function editMiniProgram(db: Db, actor: Actor, appId: string, input: EditMiniProgramInput) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const now = Date.now();
  const set = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    updatedAt: now,
  };
  await db.batch([
    db.update(miniPrograms).set(set).where(eq(miniPrograms.id, appId)),
    recordChange(
      db,
      actor,
      {
        action: "mini_program.edit",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { ...input },
      },
      now,
    ),
  ]);
  return getMiniProgram(db, actor, appId);
}

/**
 * On-shelf / off-shelf (PRODUCT.md M4). seed: "After the mini-program is delisted, all associated
 * applications will not be able to obtain corresponding services and will not be able to release
 * new versions, but they can still submit for version audit."
 */
export async function setShelf(db: Db, bucket: R2Bucket, actor: Actor, appId: string, listed: boolean) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  if (mp.listed === listed)
    throw new ApiError(
      "conflict",
      listed ? "the mini program is already on the shelf" : "the mini program is already off the shelf",
    );
  const now = Date.now();
  // Delisting suspends running grayscale tasks in the same batch; relisting leaves them suspended.
  const suspend = listed ? [] : await suspendTasksOnDelist(db, actor, appId, mp.teamId, now);
  await runBatch(db, [
    db.update(miniPrograms).set({ listed, updatedAt: now }).where(eq(miniPrograms.id, appId)),
    recordChange(
      db,
      actor,
      {
        action: listed ? "mini_program.list" : "mini_program.delist",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
      },
      now,
    ),
    ...suspend,
    bumpSnapshotRevision(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  return getMiniProgram(db, actor, appId);
}

/** Asks a host app to carry this mini program; its manager approves (PRODUCT.md M3). */
export async function requestBinding(db: Db, actor: Actor, appId: string, hostAppId: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const host = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get();
  if (!host) throw notFound("host app");
  const existing = await db
    .select()
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, hostAppId)))
    .get();
  if (existing && existing.status !== "rejected")
    throw new ApiError("conflict", `a binding to this host app is already ${existing.status}`);
  const now = Date.now();
  const row = {
    miniProgramId: appId,
    hostAppId,
    status: "pending" as const,
    requestedBy: actor.userId,
    createdAt: now,
    decidedBy: null,
    decidedAt: null,
  };
  await db.batch([
    db
      .insert(bindings)
      .values(row)
      .onConflictDoUpdate({ target: [bindings.miniProgramId, bindings.hostAppId], set: row }),
    recordChange(
      db,
      actor,
      {
        action: "binding.request",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { hostAppId },
      },
      now,
    ),
  ]);
  return { appId, hostAppId, status: "pending" as const };
}

/** Unbinding stops delivery through that host app at once (team admin). */
export async function removeBinding(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  hostAppId: string,
) {
  const mp = await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  const existing = await db
    .select()
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, hostAppId)))
    .get();
  if (!existing) throw notFound("binding");
  await db.batch([
    db.delete(bindings).where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, hostAppId))),
    recordChange(db, actor, {
      action: "binding.remove",
      teamId: mp.teamId,
      targetType: "mini_program",
      targetId: appId,
      detail: { hostAppId },
    }),
    bumpSnapshotRevision(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
}
