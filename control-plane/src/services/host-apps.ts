import { and, eq } from "drizzle-orm";
import { isApprovedBy } from "../../../core/audit-scope";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import {
  type BindingStatus,
  bindings,
  hostAppMembers,
  hostApps,
  miniPrograms,
  users,
  versions,
} from "../db/schema";
import { randomId } from "../lib/encoding";
import type { CreateHostAppInput, SetHostAppMemberInput } from "../routes/host-apps";
import { requireHostAppRole, requirePlatformAdmin } from "./access";
import { approvalsOf } from "./audit-scope";
import { findUserByEmail } from "./auth";
import { recordChange, recordChangeIfChanged } from "./change-log";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";

export async function createHostApp(db: Db, actor: Actor, input: CreateHostAppInput) {
  requirePlatformAdmin(actor);
  const dup = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.name, input.name)).get();
  if (dup) throw new ApiError("conflict", "a host app with this name already exists");
  const id = randomId("ha_", 10);
  const now = Date.now();
  await db.batch([
    db.insert(hostApps).values({ id, name: input.name, createdAt: now }),
    recordChange(
      db,
      actor,
      {
        action: "host_app.create",
        teamId: null,
        targetType: "host_app",
        targetId: id,
        detail: { name: input.name },
      },
      now,
    ),
  ]);
  return { id, name: input.name, createdAt: now };
}

/** Every signed-in user may list host apps: developers pick them to bind their mini programs. */
export async function listHostApps(db: Db) {
  return db.select().from(hostApps).all();
}

async function requireManagerOrPlatform(db: Db, actor: Actor, hostAppId: string) {
  if (actor.isPlatformAdmin) {
    const app = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get();
    if (!app) throw notFound("host app");
    return;
  }
  await requireHostAppRole(db, actor, hostAppId, ["manager"]);
}

export async function setHostAppMember(
  db: Db,
  actor: Actor,
  hostAppId: string,
  input: SetHostAppMemberInput,
) {
  await requireManagerOrPlatform(db, actor, hostAppId);
  const user = await findUserByEmail(db, input.email);
  const now = Date.now();
  await db.batch([
    db
      .insert(hostAppMembers)
      .values({ hostAppId, userId: user.id, role: input.role, createdAt: now })
      .onConflictDoUpdate({
        target: [hostAppMembers.hostAppId, hostAppMembers.userId],
        set: { role: input.role },
      }),
    recordChange(
      db,
      actor,
      {
        action: "host_app.member.set",
        teamId: null,
        targetType: "host_app",
        targetId: hostAppId,
        detail: { user: user.email, role: input.role },
      },
      now,
    ),
  ]);
  return { userId: user.id, email: user.email, name: user.name, role: input.role };
}

export async function listHostAppMembers(db: Db, actor: Actor, hostAppId: string) {
  if (!actor.isPlatformAdmin) await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  return db
    .select({ userId: users.id, email: users.email, name: users.name, role: hostAppMembers.role })
    .from(hostAppMembers)
    .innerJoin(users, eq(users.id, hostAppMembers.userId))
    .where(eq(hostAppMembers.hostAppId, hostAppId))
    .all();
}

/** Binding requests to this host app (its managers and auditors). */
export async function listHostAppBindings(db: Db, actor: Actor, hostAppId: string, status?: BindingStatus) {
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const rows = await db
    .select({
      appId: bindings.miniProgramId,
      name: miniPrograms.name,
      status: bindings.status,
      createdAt: bindings.createdAt,
      decidedAt: bindings.decidedAt,
    })
    .from(bindings)
    .innerJoin(miniPrograms, eq(miniPrograms.id, bindings.miniProgramId))
    .where(and(eq(bindings.hostAppId, hostAppId), status ? eq(bindings.status, status) : undefined))
    .all();
  return rows;
}

/**
 * PRODUCT.md M3: a binding takes effect once the host app's manager approves it. Audit scope
 * (core/audit-scope.ts): the host app's clients get only releases its auditor approved, so a
 * version audited before the binding reaches them only after a binding audit; `awaitingAudit`
 * names the online version when that is the case.
 */
export async function decideBinding(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  appId: string,
  decision: "approve" | "reject",
) {
  await requireHostAppRole(db, actor, hostAppId, ["manager"]);
  const row = await db
    .select()
    .from(bindings)
    .where(and(eq(bindings.hostAppId, hostAppId), eq(bindings.miniProgramId, appId)))
    .get();
  if (!row) throw notFound("binding request");
  if (row.status !== "pending") throw new ApiError("conflict", `this binding is already ${row.status}`);
  const mp = await db
    .select({ teamId: miniPrograms.teamId, onlineVersionId: miniPrograms.onlineVersionId })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, appId))
    .get();
  const now = Date.now();
  const status: BindingStatus = decision === "approve" ? "approved" : "rejected";
  // Guarded by the pending status: of an approve and a reject racing, one applies (and is logged), the other gets 409.
  const [changed] = await db.batch([
    db
      .update(bindings)
      .set({ status, decidedBy: actor.userId, decidedAt: now })
      .where(
        and(
          eq(bindings.hostAppId, hostAppId),
          eq(bindings.miniProgramId, appId),
          eq(bindings.status, "pending"),
        ),
      )
      .returning({ status: bindings.status }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: `binding.${decision}`,
        teamId: mp?.teamId ?? null,
        targetType: "mini_program",
        targetId: appId,
        detail: { hostAppId },
      },
      now,
    ),
    ...(status === "approved" ? [bumpSnapshotRevision(db, appId)] : []),
  ]);
  if (changed.length === 0)
    throw new ApiError("conflict", "this binding was decided meanwhile; read it again");
  if (status === "approved") await publishCurrentSnapshot(db, bucket, appId);
  return {
    appId,
    hostAppId,
    status,
    awaitingAudit:
      status === "approved"
        ? await unapprovedOnlineVersion(db, appId, hostAppId, mp?.onlineVersionId ?? null)
        : null,
  };
}

/** The online version of `appId` when `hostAppId`'s auditor has not approved it, else null. */
async function unapprovedOnlineVersion(
  db: Db,
  appId: string,
  hostAppId: string,
  onlineVersionId: string | null,
): Promise<string | null> {
  if (onlineVersionId === null) return null;
  const online = await db
    .select({ version: versions.version })
    .from(versions)
    .where(eq(versions.id, onlineVersionId))
    .get();
  if (!online) return null;
  return isApprovedBy(await approvalsOf(db, appId), online.version, hostAppId) ? null : online.version;
}
