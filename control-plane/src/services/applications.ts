/**
 * What a mini program asks its host apps for (issue 12):
 *
 * - X2 skip domain verification (seed: "the developer can apply to the application party to 'skip
 *   domain name verification'. After the application party approves it, the mini program does not
 *   need to configure the domain name in the console"): a developer applies per host app with a
 *   reason; that host app's manager approves or rejects, with a reason.
 * - X3 sensitive API permissions (seed: "When the host application bound to a mini program has set
 *   up a sensitive API, the mini program developer needs to apply to the host App for permission to
 *   call the sensitive API. After the approval of the host App's manager or audit permission owner,
 *   the mini program can These sensitive APIs can be called normally."): the host app declares its
 *   sensitive APIs (name, description); a developer applies per API with a reason; the host app's
 *   manager or auditor approves, rejects or later revokes.
 *
 * An application exists once per (mini program, host app[, API]) while pending or approved; a
 * rejected or revoked one can be applied for again. Decisions are guarded updates (two racing
 * decisions: one wins, the other gets 409), logged, and approvals and revocations bump the runtime
 * config in the same D1 batch so grants reach the edge in seconds.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { conflict, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import {
  type ApplicationStatus,
  bindings,
  hostAppSensitiveApis,
  hostApps,
  miniPrograms,
  sensitiveApiApplications,
  skipDomainApplications,
  teamMembers,
} from "../db/schema";
import { randomId } from "../lib/encoding";
import {
  type MiniProgramRow,
  READ_ROLES,
  requireHostAppRole,
  requireMiniProgram,
  WRITE_ROLES,
} from "./access";
import { recordChangeIfChanged } from "./change-log";
import { guardedWrite } from "./d1";
import { bumpConfigRevisionIfChanged } from "./runtime-config";
import { publishCurrentSnapshot } from "./snapshot";

/** Sensitive APIs a host app may declare. */
export const MAX_SENSITIVE_APIS = 100;

type SkipRow = typeof skipDomainApplications.$inferSelect;
type ApiRow = typeof sensitiveApiApplications.$inferSelect;

function describeApplication(row: SkipRow | ApiRow) {
  return {
    id: row.id,
    appId: row.miniProgramId,
    hostAppId: row.hostAppId,
    ...("apiName" in row ? { apiName: row.apiName } : {}),
    status: row.status,
    reason: row.reason,
    appliedBy: row.appliedBy,
    appliedAt: row.appliedAt,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt,
    decisionReason: row.decisionReason,
  };
}

async function requireBound(db: Db, appId: string, hostAppId: string): Promise<void> {
  const app = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get();
  if (!app) throw notFound("host app");
  const bound = await db
    .select({ status: bindings.status })
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, hostAppId)))
    .get();
  if (bound?.status !== "approved")
    throw conflict("the mini program is not bound to this host app (its manager approves a binding first)");
}

const open = sql`status in ('pending', 'approved')`;

// ------------------------------------------------------------------ X2: skip domain verification

export async function applySkipDomain(
  db: Db,
  actor: Actor,
  appId: string,
  input: { hostAppId: string; reason: string },
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  await requireBound(db, appId, input.hostAppId);
  const now = Date.now();
  const id = randomId("sda_", 10);
  // One open application per (mini program, host app), checked inside the insert against races.
  await db.batch([
    db.insert(skipDomainApplications).select(
      sql`SELECT ${id}, ${appId}, ${input.hostAppId}, 'pending', ${input.reason}, ${actor.userId}, ${now}, NULL, NULL, NULL
            WHERE NOT EXISTS (SELECT 1 FROM skip_domain_applications WHERE mini_program_id = ${appId} AND host_app_id = ${input.hostAppId} AND ${open})`,
    ),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "skip_domain.apply",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { applicationId: id, hostAppId: input.hostAppId },
      },
      now,
    ),
  ]);
  const row = await db.select().from(skipDomainApplications).where(eq(skipDomainApplications.id, id)).get();
  if (!row)
    throw conflict(
      "this mini program already has a pending or approved skip-domain application for the host app",
    );
  return describeApplication(row);
}

export async function listSkipDomainOfApp(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(skipDomainApplications)
    .where(eq(skipDomainApplications.miniProgramId, appId))
    .orderBy(desc(skipDomainApplications.appliedAt))
    .all();
  return rows.map(describeApplication);
}

export async function listSkipDomainOfHostApp(
  db: Db,
  actor: Actor,
  hostAppId: string,
  status: ApplicationStatus | undefined,
) {
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const rows = await db
    .select()
    .from(skipDomainApplications)
    .where(
      and(
        eq(skipDomainApplications.hostAppId, hostAppId),
        status ? eq(skipDomainApplications.status, status) : undefined,
      ),
    )
    .orderBy(desc(skipDomainApplications.appliedAt))
    .limit(500)
    .all();
  return rows.map(describeApplication);
}

/** The state a decision moves an application to, and the state it must be in. */
const TRANSITIONS = {
  approve: { from: "pending", to: "approved" },
  reject: { from: "pending", to: "rejected" },
  revoke: { from: "approved", to: "revoked" },
} as const satisfies Record<string, { from: ApplicationStatus; to: ApplicationStatus }>;
export type Decision = keyof typeof TRANSITIONS;

export async function decideSkipDomain(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  applicationId: string,
  decision: "approve" | "reject",
  reason: string | undefined,
) {
  // Seed and PRODUCT.md X2: the host app's manager decides.
  await requireHostAppRole(db, actor, hostAppId, ["manager"]);
  const row = await db
    .select()
    .from(skipDomainApplications)
    .where(and(eq(skipDomainApplications.id, applicationId), eq(skipDomainApplications.hostAppId, hostAppId)))
    .get();
  if (!row) throw notFound("skip-domain application");
  const { from, to } = TRANSITIONS[decision];
  if (row.status !== from)
    throw conflict(`the application is ${row.status}; only a ${from} one can be ${to}`);
  const teamId = await teamOf(db, row.miniProgramId);
  const now = Date.now();
  await db.batch([
    db
      .update(skipDomainApplications)
      .set({ status: to, decidedBy: actor.userId, decidedAt: now, decisionReason: reason ?? null })
      .where(and(eq(skipDomainApplications.id, applicationId), eq(skipDomainApplications.status, from))),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: `skip_domain.${decision}`,
        teamId,
        targetType: "mini_program",
        targetId: row.miniProgramId,
        detail: { applicationId, hostAppId, ...(reason !== undefined ? { reason } : {}) },
      },
      now,
    ),
    // A rejection changes nothing clients see; an approval turns the flag on.
    ...(to === "approved" ? [bumpConfigRevisionIfChanged(db, row.miniProgramId)] : []),
  ]);
  const after = await db
    .select()
    .from(skipDomainApplications)
    .where(eq(skipDomainApplications.id, applicationId))
    .get();
  if (!after || after.decidedAt !== now || after.status !== to)
    throw conflict("the application was decided by someone else first");
  if (to === "approved") await publishCurrentSnapshot(db, bucket, row.miniProgramId);
  return describeApplication(after);
}

async function teamOf(db: Db, appId: string): Promise<string | null> {
  const row = await db
    .select({ teamId: miniPrograms.teamId })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, appId))
    .get();
  return row?.teamId ?? null;
}

// ------------------------------------------------------------------ X3: sensitive APIs

function describeApi(row: typeof hostAppSensitiveApis.$inferSelect) {
  return {
    hostAppId: row.hostAppId,
    name: row.name,
    description: row.description,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** The host app's manager (or a platform admin) declares a sensitive API. */
export async function declareSensitiveApi(
  db: Db,
  actor: Actor,
  hostAppId: string,
  input: { name: string; description: string },
) {
  if (actor.isPlatformAdmin) {
    if (!(await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get()))
      throw notFound("host app");
  } else await requireHostAppRole(db, actor, hostAppId, ["manager"]);
  const now = Date.now();
  await guardedWrite(
    db.batch([
      db.insert(hostAppSensitiveApis).select(
        sql`SELECT ${hostAppId}, ${input.name}, ${input.description}, ${actor.userId}, ${now}
              WHERE (SELECT count(*) FROM host_app_sensitive_apis WHERE host_app_id = ${hostAppId}) < ${MAX_SENSITIVE_APIS}`,
      ),
      recordChangeIfChanged(
        db,
        actor,
        {
          action: "sensitive_api.declare",
          teamId: null,
          targetType: "host_app",
          targetId: hostAppId,
          detail: { name: input.name },
        },
        now,
      ),
    ]),
    `${input.name} is already declared by this host app`,
  );
  const row = await db
    .select()
    .from(hostAppSensitiveApis)
    .where(and(eq(hostAppSensitiveApis.hostAppId, hostAppId), eq(hostAppSensitiveApis.name, input.name)))
    .get();
  if (!row || row.createdAt !== now)
    throw conflict(`a host app declares at most ${MAX_SENSITIVE_APIS} sensitive APIs`);
  return describeApi(row);
}

/**
 * Who may read a host app's sensitive APIs: its members, platform admins, and members of a team
 * with a mini program bound (or asking to be bound) to it: they are who applies.
 */
export async function listSensitiveApis(db: Db, actor: Actor, hostAppId: string) {
  const app = await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get();
  if (!app) throw notFound("host app");
  if (!actor.isPlatformAdmin) {
    const viaTeam = await db
      .select({ one: sql<number>`1` })
      .from(bindings)
      .innerJoin(sql`mini_programs mp`, sql`mp.id = ${bindings.miniProgramId}`)
      .innerJoin(teamMembers, sql`${teamMembers.teamId} = mp.team_id`)
      .where(and(eq(bindings.hostAppId, hostAppId), eq(teamMembers.userId, actor.userId)))
      .limit(1)
      .get();
    if (!viaTeam) await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  }
  const rows = await db
    .select()
    .from(hostAppSensitiveApis)
    .where(eq(hostAppSensitiveApis.hostAppId, hostAppId))
    .orderBy(hostAppSensitiveApis.name)
    .all();
  return rows.map(describeApi);
}

export async function applyForApi(
  db: Db,
  actor: Actor,
  appId: string,
  input: { hostAppId: string; apiName: string; reason: string },
) {
  const mp: MiniProgramRow = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  await requireBound(db, appId, input.hostAppId);
  const api = await db
    .select({ name: hostAppSensitiveApis.name })
    .from(hostAppSensitiveApis)
    .where(
      and(eq(hostAppSensitiveApis.hostAppId, input.hostAppId), eq(hostAppSensitiveApis.name, input.apiName)),
    )
    .get();
  if (!api) throw notFound(`sensitive API ${input.apiName} of this host app`);
  const now = Date.now();
  const id = randomId("apa_", 10);
  await db.batch([
    db.insert(sensitiveApiApplications).select(
      sql`SELECT ${id}, ${appId}, ${input.hostAppId}, ${input.apiName}, 'pending', ${input.reason}, ${actor.userId}, ${now}, NULL, NULL, NULL
            WHERE NOT EXISTS (SELECT 1 FROM sensitive_api_applications WHERE mini_program_id = ${appId} AND host_app_id = ${input.hostAppId} AND api_name = ${input.apiName} AND ${open})`,
    ),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "sensitive_api.apply",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { applicationId: id, hostAppId: input.hostAppId, apiName: input.apiName },
      },
      now,
    ),
  ]);
  const row = await db
    .select()
    .from(sensitiveApiApplications)
    .where(eq(sensitiveApiApplications.id, id))
    .get();
  if (!row)
    throw conflict(`this mini program already has a pending or approved application for ${input.apiName}`);
  return describeApplication(row);
}

export async function listApiApplicationsOfApp(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(sensitiveApiApplications)
    .where(eq(sensitiveApiApplications.miniProgramId, appId))
    .orderBy(desc(sensitiveApiApplications.appliedAt))
    .all();
  return rows.map(describeApplication);
}

export async function listApiApplicationsOfHostApp(
  db: Db,
  actor: Actor,
  hostAppId: string,
  status: ApplicationStatus | undefined,
) {
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const rows = await db
    .select()
    .from(sensitiveApiApplications)
    .where(
      and(
        eq(sensitiveApiApplications.hostAppId, hostAppId),
        status ? eq(sensitiveApiApplications.status, status) : undefined,
      ),
    )
    .orderBy(desc(sensitiveApiApplications.appliedAt))
    .limit(500)
    .all();
  return rows.map(describeApplication);
}

export async function decideApiApplication(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  applicationId: string,
  decision: Decision,
  reason: string | undefined,
) {
  // Seed: "the approval of the host App's manager or audit permission owner".
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const row = await db
    .select()
    .from(sensitiveApiApplications)
    .where(
      and(eq(sensitiveApiApplications.id, applicationId), eq(sensitiveApiApplications.hostAppId, hostAppId)),
    )
    .get();
  if (!row) throw notFound("sensitive API application");
  const { from, to } = TRANSITIONS[decision];
  if (row.status !== from)
    throw conflict(`the application is ${row.status}; only a ${from} one can be ${to}`);
  const teamId = await teamOf(db, row.miniProgramId);
  const now = Date.now();
  await db.batch([
    db
      .update(sensitiveApiApplications)
      .set({ status: to, decidedBy: actor.userId, decidedAt: now, decisionReason: reason ?? null })
      .where(and(eq(sensitiveApiApplications.id, applicationId), eq(sensitiveApiApplications.status, from))),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: `sensitive_api.${decision}`,
        teamId,
        targetType: "mini_program",
        targetId: row.miniProgramId,
        detail: {
          applicationId,
          hostAppId,
          apiName: row.apiName,
          ...(reason !== undefined ? { reason } : {}),
        },
      },
      now,
    ),
    // A rejection changes nothing clients see; an approval grants, a revocation takes back.
    ...(to !== "rejected" ? [bumpConfigRevisionIfChanged(db, row.miniProgramId)] : []),
  ]);
  const after = await db
    .select()
    .from(sensitiveApiApplications)
    .where(eq(sensitiveApiApplications.id, applicationId))
    .get();
  if (!after || after.decidedAt !== now || after.status !== to)
    throw conflict("the application was decided by someone else first");
  if (to !== "rejected") await publishCurrentSnapshot(db, bucket, row.miniProgramId);
  return describeApplication(after);
}
