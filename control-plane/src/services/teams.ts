import { and, eq } from "drizzle-orm";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { teamMembers, teams, users } from "../db/schema";
import { randomId } from "../lib/encoding";
import type { CreateTeamInput, SetTeamMemberInput } from "../routes/teams";
import { ADMIN_ROLES, READ_ROLES, requirePlatformAdmin, requireTeamRole } from "./access";
import { findUserByEmail } from "./auth";
import { recordChange } from "./change-log";

/** A platform admin bootstraps a team, optionally with its first admin. */
export async function createTeam(db: Db, actor: Actor, input: CreateTeamInput) {
  requirePlatformAdmin(actor);
  const dup = await db.select({ id: teams.id }).from(teams).where(eq(teams.name, input.name)).get();
  if (dup) throw new ApiError("conflict", "a team with this name already exists");
  const admin = input.adminEmail ? await findUserByEmail(db, input.adminEmail) : undefined;
  const id = randomId("team_", 10);
  const now = Date.now();
  await db.batch([
    db.insert(teams).values({ id, name: input.name, createdAt: now }),
    ...(admin
      ? [db.insert(teamMembers).values({ teamId: id, userId: admin.id, role: "admin", createdAt: now })]
      : []),
    recordChange(
      db,
      actor,
      {
        action: "team.create",
        teamId: id,
        targetType: "team",
        targetId: id,
        detail: { name: input.name, admin: admin?.email },
      },
      now,
    ),
  ]);
  return { id, name: input.name, createdAt: now };
}

/** Teams I belong to (a platform admin sees every team). */
export async function listTeams(db: Db, actor: Actor) {
  if (actor.isPlatformAdmin) return (await db.select().from(teams).all()).map((t) => ({ ...t, role: null }));
  return db
    .select({ id: teams.id, name: teams.name, createdAt: teams.createdAt, role: teamMembers.role })
    .from(teamMembers)
    .innerJoin(teams, eq(teams.id, teamMembers.teamId))
    .where(eq(teamMembers.userId, actor.userId))
    .all();
}

async function requireTeamAdminOrPlatform(db: Db, actor: Actor, teamId: string) {
  const team = await db.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId)).get();
  if (actor.isPlatformAdmin) {
    if (!team) throw notFound("team");
    return;
  }
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
}

export async function listTeamMembers(db: Db, actor: Actor, teamId: string) {
  if (!actor.isPlatformAdmin) await requireTeamRole(db, actor, teamId, READ_ROLES);
  return db
    .select({
      userId: users.id,
      email: users.email,
      name: users.name,
      role: teamMembers.role,
      since: teamMembers.createdAt,
    })
    .from(teamMembers)
    .innerJoin(users, eq(users.id, teamMembers.userId))
    .where(eq(teamMembers.teamId, teamId))
    .all();
}

/** Adds a member or changes a member's role (team admin or platform admin). */
export async function setTeamMember(db: Db, actor: Actor, teamId: string, input: SetTeamMemberInput) {
  await requireTeamAdminOrPlatform(db, actor, teamId);
  const user = await findUserByEmail(db, input.email);
  const current = await db
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, user.id)))
    .get();
  if (current?.role === "admin" && input.role !== "admin") await assertAnotherAdmin(db, teamId, user.id);
  const now = Date.now();
  await db.batch([
    db
      .insert(teamMembers)
      .values({ teamId, userId: user.id, role: input.role, createdAt: now })
      .onConflictDoUpdate({ target: [teamMembers.teamId, teamMembers.userId], set: { role: input.role } }),
    recordChange(
      db,
      actor,
      {
        action: "team.member.set",
        teamId,
        targetType: "team",
        targetId: teamId,
        detail: { user: user.email, role: input.role, previous: current?.role ?? null },
      },
      now,
    ),
  ]);
  return { userId: user.id, email: user.email, name: user.name, role: input.role };
}

export async function removeTeamMember(db: Db, actor: Actor, teamId: string, userId: string) {
  await requireTeamAdminOrPlatform(db, actor, teamId);
  const current = await db
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId)))
    .get();
  if (!current) throw notFound("team member");
  if (current.role === "admin") await assertAnotherAdmin(db, teamId, userId);
  await db.batch([
    db.delete(teamMembers).where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId))),
    recordChange(db, actor, {
      action: "team.member.remove",
      teamId,
      targetType: "team",
      targetId: teamId,
      detail: { userId },
    }),
  ]);
}

/** A team never loses its last admin (someone must be able to manage AppSecret and members). */
async function assertAnotherAdmin(db: Db, teamId: string, leavingUserId: string) {
  const admins = await db
    .select({ userId: teamMembers.userId })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.role, "admin")))
    .all();
  if (!admins.some((a) => a.userId !== leavingUserId))
    throw new ApiError("conflict", "a team must keep at least one admin");
}
