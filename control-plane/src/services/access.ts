/**
 * Authorisation, in one place. Team roles: admin > developer > viewer (PRODUCT.md M1).
 * Host-app roles: manager, auditor. A caller who is not a member of the owning team gets 404
 * (the resource's existence is not disclosed); a member whose role is too low gets 403.
 */
import { and, eq, inArray } from "drizzle-orm";
import { ApiError, forbidden, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import {
  type HostAppRole,
  hostAppMembers,
  hostApps,
  miniPrograms,
  type TeamRole,
  teamMembers,
} from "../db/schema";

export const READ_ROLES: readonly TeamRole[] = ["admin", "developer", "viewer"];
export const WRITE_ROLES: readonly TeamRole[] = ["admin", "developer"];
export const ADMIN_ROLES: readonly TeamRole[] = ["admin"];

export function requirePlatformAdmin(actor: Actor): void {
  if (!actor.isPlatformAdmin) throw forbidden("only a platform admin can do this");
}

export async function teamRoleOf(db: Db, actor: Actor, teamId: string): Promise<TeamRole | undefined> {
  const row = await db
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, actor.userId)))
    .get();
  return row?.role;
}

/** Throws unless the actor holds one of `allowed` in the team. */
export async function requireTeamRole(
  db: Db,
  actor: Actor,
  teamId: string,
  allowed: readonly TeamRole[],
): Promise<TeamRole> {
  const role = await teamRoleOf(db, actor, teamId);
  if (!role) throw notFound("team");
  if (!allowed.includes(role)) throw forbidden(`this needs one of the team roles: ${allowed.join(", ")}`);
  return role;
}

export type MiniProgramRow = typeof miniPrograms.$inferSelect;

/** Loads a mini program the actor may act on with one of `allowed` team roles. */
export async function requireMiniProgram(
  db: Db,
  actor: Actor,
  appId: string,
  allowed: readonly TeamRole[],
): Promise<MiniProgramRow> {
  const row = await db.select().from(miniPrograms).where(eq(miniPrograms.id, appId)).get();
  return checkMiniProgramAccess(row, row ? await teamRoleOf(db, actor, row.teamId) : undefined, allowed);
}

/**
 * `requireMiniProgram`'s reads as queries for the caller's own D1 batch: the mini program, and
 * the actor's role in its team (found by subquery). Check the rows with `checkMiniProgramAccess`.
 */
export function miniProgramAccessQueries(db: Db, actor: Actor, appId: string) {
  const team = db.select({ id: miniPrograms.teamId }).from(miniPrograms).where(eq(miniPrograms.id, appId));
  return [
    db.select().from(miniPrograms).where(eq(miniPrograms.id, appId)),
    db
      .select({ role: teamMembers.role })
      .from(teamMembers)
      .where(and(inArray(teamMembers.teamId, team), eq(teamMembers.userId, actor.userId))),
  ] as const;
}

/** The rules of `requireMiniProgram` over rows already read: 404 unknown or not a member, 403 role too low. */
export function checkMiniProgramAccess(
  row: MiniProgramRow | undefined,
  role: TeamRole | undefined,
  allowed: readonly TeamRole[],
): MiniProgramRow {
  if (!row) throw notFound("mini program");
  if (!role) throw notFound("mini program");
  if (!allowed.includes(role)) throw forbidden(`this needs one of the team roles: ${allowed.join(", ")}`);
  return row;
}

export async function hostAppRolesOf(db: Db, actor: Actor, hostAppId: string): Promise<HostAppRole[]> {
  const rows = await db
    .select({ role: hostAppMembers.role })
    .from(hostAppMembers)
    .where(and(eq(hostAppMembers.hostAppId, hostAppId), eq(hostAppMembers.userId, actor.userId)))
    .all();
  return rows.map((r) => r.role);
}

/** Throws unless the actor holds one of `allowed` in the host app (404 if the host app is unknown). */
export async function requireHostAppRole(
  db: Db,
  actor: Actor,
  hostAppId: string,
  allowed: readonly HostAppRole[],
): Promise<void> {
  const app = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get();
  if (!app) throw notFound("host app");
  const roles = await hostAppRolesOf(db, actor, hostAppId);
  if (!roles.some((r) => allowed.includes(r)))
    throw forbidden(`this needs one of the host app roles: ${allowed.join(", ")}`);
}

export function assertFound<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw notFound(what);
  return value;
}

export { ApiError };
