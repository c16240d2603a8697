/**
 * Version audits (PRODUCT.md V2). seed: "Submit the current development version to the
 * application administrator for audit." Every host app the mini program is bound to reviews it;
 * any rejection rejects, approval needs them all.
 */
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import { auditOutcome, checkAuditDecision, checkSubmit, checkWithdraw } from "../../../core/lifecycle";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { auditReviews, audits, bindings, hostAppMembers, hostApps, miniPrograms, versions } from "../db/schema";
import { randomId } from "../lib/encoding";
import { READ_ROLES, WRITE_ROLES, requireHostAppRole, requireMiniProgram } from "./access";
import { recordChange } from "./change-log";
import { guardedWrite } from "./d1";
import { planIncrementsAfter } from "../increments/plan";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";
import { describeVersion, liveVersions, refusalError, requireVersion } from "./versions";

/** Submits a version for audit to every host app it is bound to. Allowed while delisted (seed). */
export async function submitForAudit(db: Db, actor: Actor, appId: string, version: string, note: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const all = await liveVersions(db, appId);
  const bound = await db.select({ hostAppId: bindings.hostAppId }).from(bindings).where(and(eq(bindings.miniProgramId, appId), eq(bindings.status, "approved"))).all();
  const refusal = checkSubmit(target, all, bound.length);
  if (refusal) throw refusalError(refusal);
  const auditId = randomId("aud_", 10);
  const now = Date.now();
  await guardedWrite(
    db.batch([
      db.update(versions).set({ status: "in_audit" }).where(eq(versions.id, target.id)),
      db.insert(audits).values({ id: auditId, miniProgramId: appId, versionId: target.id, status: "pending", note, submittedBy: actor.userId, submittedAt: now }),
      ...bound.map((b) => db.insert(auditReviews).values({ auditId, hostAppId: b.hostAppId })),
      recordChange(db, actor, { action: "audit.submit", teamId: mp.teamId, targetType: "mini_program", targetId: appId, detail: { version, auditId, hostApps: bound.map((b) => b.hostAppId) } }, now),
    ]),
    "another version of this mini program was submitted for audit at the same time",
  );
  return { auditId, version, status: "pending" as const, hostApps: bound.map((b) => b.hostAppId) };
}

/** Withdraws a pending audit; the version goes back to development (or is discarded if a newer upload took its place). */
export async function withdrawAudit(db: Db, actor: Actor, appId: string, version: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const refusal = checkWithdraw(target);
  if (refusal) throw refusalError(refusal);
  const all = await liveVersions(db, appId);
  const newerDevelopment = all.some((v) => v.status === "development" || v.status === "rejected");
  const now = Date.now();
  const status = newerDevelopment ? "discarded" : "development";
  await db.batch([
    db.update(versions).set({ status }).where(and(eq(versions.id, target.id), eq(versions.status, "in_audit"))),
    db.update(audits).set({ status: "withdrawn", closedAt: now }).where(and(eq(audits.versionId, target.id), eq(audits.status, "pending"))),
    recordChange(db, actor, { action: "audit.withdraw", teamId: mp.teamId, targetType: "mini_program", targetId: appId, detail: { version, versionStatus: status } }, now),
  ]);
  return describeVersion(await db.select().from(versions).where(eq(versions.id, target.id)).get().then((v) => v ?? target), mp.onlineVersionId);
}

/** seed: "Audit records: Displays the audit records of past versions of the current mini program." */
export async function auditRecords(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select({ audit: audits, version: versions.version })
    .from(audits)
    .innerJoin(versions, eq(versions.id, audits.versionId))
    .where(eq(audits.miniProgramId, appId))
    .orderBy(desc(audits.submittedAt))
    .all();
  return withReviews(db, rows.map((r) => ({ ...r.audit, version: r.version })));
}

async function withReviews<T extends { id: string }>(db: Db, rows: T[]) {
  if (rows.length === 0) return [];
  const reviews = await db.select().from(auditReviews).where(inArray(auditReviews.auditId, rows.map((r) => r.id))).all();
  return rows.map((r) => ({
    ...r,
    reviews: reviews.filter((v) => v.auditId === r.id).map((v) => ({ hostAppId: v.hostAppId, decision: v.decision, reason: v.reason, auditorId: v.auditorId, decidedAt: v.decidedAt })),
  }));
}

/** The auditor's queue: pending audits awaiting a decision from a host app I audit. */
export async function auditQueue(db: Db, actor: Actor) {
  const mine = await db.select({ hostAppId: hostAppMembers.hostAppId }).from(hostAppMembers).where(and(eq(hostAppMembers.userId, actor.userId), eq(hostAppMembers.role, "auditor"))).all();
  if (mine.length === 0) return [];
  const rows = await db
    .select({ audit: audits, version: versions.version, miniProgramName: miniPrograms.name, hostAppId: auditReviews.hostAppId, hostAppName: hostApps.name })
    .from(auditReviews)
    .innerJoin(audits, eq(audits.id, auditReviews.auditId))
    .innerJoin(versions, eq(versions.id, audits.versionId))
    .innerJoin(miniPrograms, eq(miniPrograms.id, audits.miniProgramId))
    .innerJoin(hostApps, eq(hostApps.id, auditReviews.hostAppId))
    .where(and(inArray(auditReviews.hostAppId, mine.map((m) => m.hostAppId)), isNull(auditReviews.decision), eq(audits.status, "pending")))
    .orderBy(audits.submittedAt)
    .all();
  return rows.map((r) => ({ ...r.audit, version: r.version, miniProgramName: r.miniProgramName, hostAppId: r.hostAppId, hostAppName: r.hostAppName }));
}

/**
 * An auditor of `hostAppId` approves or rejects (a reason is required to reject). When the last
 * review lands, the version becomes approved, or rejected at the first rejection.
 */
export async function decideAudit(db: Db, bucket: R2Bucket, actor: Actor, auditId: string, input: { hostAppId: string; decision: "approve" | "reject"; reason?: string | undefined }) {
  await requireHostAppRole(db, actor, input.hostAppId, ["auditor"]);
  const audit = await db.select().from(audits).where(eq(audits.id, auditId)).get();
  const review = audit && (await db.select().from(auditReviews).where(and(eq(auditReviews.auditId, auditId), eq(auditReviews.hostAppId, input.hostAppId))).get());
  if (!audit || !review) throw notFound("audit for this host app");
  const version = await db.select().from(versions).where(eq(versions.id, audit.versionId)).get();
  if (!version) throw notFound("version");
  if (input.decision === "reject" && !input.reason?.trim()) throw new ApiError("bad_request", "a rejection needs a reason", [{ path: "reason", message: "required to reject" }]);
  const refusal = checkAuditDecision(version, review.decision !== null || audit.status !== "pending");
  if (refusal) throw refusalError(refusal);
  const mp = await db.select({ teamId: miniPrograms.teamId }).from(miniPrograms).where(eq(miniPrograms.id, audit.miniProgramId)).get();
  const now = Date.now();
  await db.batch([
    db
      .update(auditReviews)
      .set({ decision: input.decision, reason: input.reason ?? null, auditorId: actor.userId, decidedAt: now })
      .where(and(eq(auditReviews.auditId, auditId), eq(auditReviews.hostAppId, input.hostAppId), isNull(auditReviews.decision))),
    recordChange(db, actor, { action: `audit.${input.decision}`, teamId: mp?.teamId ?? null, targetType: "mini_program", targetId: audit.miniProgramId, detail: { auditId, version: version.version, hostAppId: input.hostAppId, reason: input.reason } }, now),
  ]);
  const outcome = await settleAudit(db, auditId);
  if (outcome !== "pending") await publishCurrentSnapshot(db, bucket, audit.miniProgramId);
  // An approved version can be delivered (grayscale, publish): plan increments to it now.
  if (outcome === "approved") await planIncrementsAfter(db, audit.miniProgramId, version, now);
  return { auditId, miniProgramId: audit.miniProgramId, version: version.version, hostAppId: input.hostAppId, decision: input.decision, outcome };
}

/**
 * Closes the audit once its reviews decide it. Re-reads all reviews after every decision, and
 * the updates only apply while the audit is still pending, so two auditors deciding at the
 * same moment still close it exactly once.
 */
async function settleAudit(db: Db, auditId: string) {
  const audit = await db.select().from(audits).where(eq(audits.id, auditId)).get();
  if (!audit) return "pending" as const;
  const reviews = await db.select().from(auditReviews).where(eq(auditReviews.auditId, auditId)).all();
  const decided = new Map<string, "approve" | "reject">();
  for (const r of reviews) if (r.decision) decided.set(r.hostAppId, r.decision);
  const outcome = auditOutcome(reviews.map((r) => r.hostAppId), decided);
  if (outcome === "pending") return outcome;
  const now = Date.now();
  await db.batch([
    db.update(audits).set({ status: outcome, closedAt: now }).where(and(eq(audits.id, auditId), eq(audits.status, "pending"))),
    db.update(versions).set({ status: outcome }).where(and(eq(versions.id, audit.versionId), eq(versions.status, "in_audit"))),
    bumpSnapshotRevision(db, audit.miniProgramId),
  ]);
  return outcome;
}
