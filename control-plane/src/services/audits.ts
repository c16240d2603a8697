/**
 * Version audits (PRODUCT.md V2). seed: "Submit the current development version to the
 * application administrator for audit." Every host app the mini program is bound to reviews it;
 * any rejection rejects, approval needs them all.
 *
 * Binding audits (issue 10, audit scope; core/audit-scope.ts): a host app bound after a version
 * was submitted has not reviewed it, so it gets no release it has not approved. Submitting an
 * approved or released version sends it to the bound host apps that have not approved it; each
 * of them decides for itself, and the version's status never changes. One audit of either kind
 * at a time per mini program (`audits_one_pending`).
 */
import { and, desc, eq, inArray, isNull } from "drizzle-orm";
import { unreviewedHostApps } from "../../../core/audit-scope";
import { ApiError, notFound } from "../../../core/errors";
import {
  auditKindFor,
  auditOutcome,
  bindingAuditOutcome,
  checkAuditDecision,
  checkBindingDecision,
  checkSubmit,
  checkWithdraw,
} from "../../../core/lifecycle";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { auditReviews, audits, hostAppMembers, hostApps, miniPrograms, versions } from "../db/schema";
import { planIncrementsAfter } from "../increments/plan";
import { randomId } from "../lib/encoding";
import type { AuditDecisionInput } from "../routes/audits";
import { READ_ROLES, requireHostAppRole, requireMiniProgram, WRITE_ROLES } from "./access";
import { auditScopeOf } from "./audit-scope";
import { recordChange } from "./change-log";
import { guardedWrite } from "./d1";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";
import { describeVersion, liveVersions, refusalError, requireVersion } from "./versions";

/** The audit of this mini program in progress, if any (there is at most one). */
function pendingAuditOf(db: Db, appId: string) {
  return db
    .select()
    .from(audits)
    .where(and(eq(audits.miniProgramId, appId), eq(audits.status, "pending")))
    .get();
}

/**
 * Submits a version for audit. A development (or rejected) version gets a version audit, sent
 * to every bound host app; an approved or released one a binding audit, sent to the bound host
 * apps that have not approved it (409 `nothing_to_review` when there are none). Allowed while
 * delisted (seed).
 */
export async function submitForAudit(db: Db, actor: Actor, appId: string, version: string, note: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const [all, scope, pending] = await Promise.all([
    liveVersions(db, appId),
    auditScopeOf(db, appId),
    pendingAuditOf(db, appId),
  ]);
  const kind = auditKindFor(target) ?? "version";
  const reviewers =
    kind === "binding" ? unreviewedHostApps(scope.approvals, target.version, scope.bound) : scope.bound;
  const refusal = checkSubmit(target, all, reviewers.length, pending !== undefined);
  if (refusal) throw refusalError(refusal);
  const auditId = randomId("aud_", 10);
  const now = Date.now();
  await guardedWrite(
    db.batch([
      db.insert(audits).values({
        id: auditId,
        miniProgramId: appId,
        versionId: target.id,
        kind,
        status: "pending",
        note,
        submittedBy: actor.userId,
        submittedAt: now,
      }),
      // A binding audit leaves the version as it is (approved or released, maybe online).
      ...(kind === "version"
        ? [db.update(versions).set({ status: "in_audit" }).where(eq(versions.id, target.id))]
        : []),
      ...reviewers.map((hostAppId) => db.insert(auditReviews).values({ auditId, hostAppId })),
      recordChange(
        db,
        actor,
        {
          action: "audit.submit",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: { version, auditId, kind, hostApps: reviewers },
        },
        now,
      ),
    ]),
    "another version of this mini program was submitted for audit at the same time",
  );
  return { auditId, version, kind, status: "pending" as const, hostApps: reviewers };
}

/**
 * Withdraws a pending audit. A version audit: the version goes back to development (or is
 * discarded if a newer upload took its place). A binding audit: the version stays as it is, and
 * the approvals already given stand.
 */
export async function withdrawAudit(db: Db, actor: Actor, appId: string, version: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const target = await requireVersion(db, appId, version);
  const pending = await pendingAuditOf(db, appId);
  const binding = pending?.kind === "binding" && pending.versionId === target.id ? pending : undefined;
  const refusal = checkWithdraw(target, binding !== undefined);
  if (refusal) throw refusalError(refusal);
  const now = Date.now();
  if (binding) {
    await db.batch([
      db
        .update(audits)
        .set({ status: "withdrawn", closedAt: now })
        .where(and(eq(audits.id, binding.id), eq(audits.status, "pending"))),
      recordChange(
        db,
        actor,
        {
          action: "audit.withdraw",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: { version, auditId: binding.id, kind: "binding" },
        },
        now,
      ),
    ]);
    return describeVersion(target, mp.onlineVersionId);
  }
  const all = await liveVersions(db, appId);
  const newerDevelopment = all.some((v) => v.status === "development" || v.status === "rejected");
  const status = newerDevelopment ? "discarded" : "development";
  await db.batch([
    db
      .update(versions)
      .set({ status })
      .where(and(eq(versions.id, target.id), eq(versions.status, "in_audit"))),
    db
      .update(audits)
      .set({ status: "withdrawn", closedAt: now })
      .where(and(eq(audits.versionId, target.id), eq(audits.status, "pending"))),
    recordChange(
      db,
      actor,
      {
        action: "audit.withdraw",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { version, versionStatus: status },
      },
      now,
    ),
  ]);
  return describeVersion(
    await db
      .select()
      .from(versions)
      .where(eq(versions.id, target.id))
      .get()
      .then((v) => v ?? target),
    mp.onlineVersionId,
  );
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
  return withReviews(
    db,
    rows.map((r) => ({ ...r.audit, version: r.version })),
  );
}

async function withReviews<T extends { id: string }>(db: Db, rows: T[]) {
  if (rows.length === 0) return [];
  const reviews = await db
    .select()
    .from(auditReviews)
    .where(
      inArray(
        auditReviews.auditId,
        rows.map((r) => r.id),
      ),
    )
    .all();
  return rows.map((r) => ({
    ...r,
    reviews: reviews
      .filter((v) => v.auditId === r.id)
      .map((v) => ({
        hostAppId: v.hostAppId,
        decision: v.decision,
        reason: v.reason,
        auditorId: v.auditorId,
        decidedAt: v.decidedAt,
      })),
  }));
}

/** The auditor's queue: pending audits awaiting a decision from a host app I audit. */
export async function auditQueue(db: Db, actor: Actor) {
  const mine = await db
    .select({ hostAppId: hostAppMembers.hostAppId })
    .from(hostAppMembers)
    .where(and(eq(hostAppMembers.userId, actor.userId), eq(hostAppMembers.role, "auditor")))
    .all();
  if (mine.length === 0) return [];
  const rows = await db
    .select({
      audit: audits,
      version: versions.version,
      miniProgramName: miniPrograms.name,
      hostAppId: auditReviews.hostAppId,
      hostAppName: hostApps.name,
    })
    .from(auditReviews)
    .innerJoin(audits, eq(audits.id, auditReviews.auditId))
    .innerJoin(versions, eq(versions.id, audits.versionId))
    .innerJoin(miniPrograms, eq(miniPrograms.id, audits.miniProgramId))
    .innerJoin(hostApps, eq(hostApps.id, auditReviews.hostAppId))
    .where(
      and(
        inArray(
          auditReviews.hostAppId,
          mine.map((m) => m.hostAppId),
        ),
        isNull(auditReviews.decision),
        eq(audits.status, "pending"),
      ),
    )
    .orderBy(audits.submittedAt)
    .all();
  return rows.map(({ audit: { miniProgramId, ...audit }, ...r }) => ({
    ...audit,
    appId: miniProgramId,
    version: r.version,
    miniProgramName: r.miniProgramName,
    hostAppId: r.hostAppId,
    hostAppName: r.hostAppName,
  }));
}

/**
 * An auditor of `hostAppId` approves or rejects (a reason is required to reject). Version audit:
 * when the last review lands, the version becomes approved, or rejected at the first rejection.
 * Binding audit: each decision stands for its host app alone; an approval reaches that host
 * app's clients at once (the snapshot is republished), a rejection changes nothing they get.
 */
export async function decideAudit(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  auditId: string,
  input: AuditDecisionInput,
) {
  await requireHostAppRole(db, actor, input.hostAppId, ["auditor"]);
  const audit = await db.select().from(audits).where(eq(audits.id, auditId)).get();
  const review =
    audit &&
    (await db
      .select()
      .from(auditReviews)
      .where(and(eq(auditReviews.auditId, auditId), eq(auditReviews.hostAppId, input.hostAppId)))
      .get());
  if (!audit || !review) throw notFound("audit for this host app");
  const version = await db.select().from(versions).where(eq(versions.id, audit.versionId)).get();
  if (!version) throw notFound("version");
  if (input.decision === "reject" && !input.reason?.trim())
    throw new ApiError("bad_request", "a rejection needs a reason", [
      { path: "reason", message: "required to reject" },
    ]);
  const now = Date.now();
  // The same decision again while the audit is still open and every review is in: an earlier
  // attempt recorded it but failed before the audit was settled (the decision and the settlement
  // are two writes, since the settlement reads every review). The decision stands: settle now.
  let outcome =
    review.decision === input.decision && audit.status === "pending"
      ? await settleAudit(db, auditId)
      : "pending";
  if (outcome === "pending") {
    await recordDecision(db, actor, audit, version, input, review.decision !== null, now);
    outcome = await settleAudit(db, auditId);
  }
  const result = {
    auditId,
    kind: audit.kind,
    appId: audit.miniProgramId,
    version: version.version,
    hostAppId: input.hostAppId,
    decision: input.decision,
    outcome,
  };
  if (audit.kind === "binding") {
    // The host app approved a version it had not: its clients may get it now (core/audit-scope.ts).
    // The revision was bumped in the decision's own batch.
    if (input.decision === "approve") await publishCurrentSnapshot(db, bucket, audit.miniProgramId);
    return result;
  }
  if (outcome !== "pending") await publishCurrentSnapshot(db, bucket, audit.miniProgramId);
  // An approved version can be delivered (grayscale, publish): plan increments to it now.
  if (outcome === "approved") await planIncrementsAfter(db, audit.miniProgramId, version, now);
  return result;
}

/** Records one host app's decision, with its change-log entry, in one batch; refuses a decided review or a closed audit. */
async function recordDecision(
  db: Db,
  actor: Actor,
  audit: typeof audits.$inferSelect,
  version: typeof versions.$inferSelect,
  input: { hostAppId: string; decision: "approve" | "reject"; reason?: string | undefined },
  reviewDecided: boolean,
  now: number,
) {
  const decided = reviewDecided || audit.status !== "pending";
  const refusal =
    audit.kind === "binding"
      ? checkBindingDecision(audit.status === "pending", reviewDecided)
      : checkAuditDecision(version, decided);
  if (refusal) throw refusalError(refusal);
  const auditId = audit.id;
  const mp = await db
    .select({ teamId: miniPrograms.teamId })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, audit.miniProgramId))
    .get();
  await db.batch([
    db
      .update(auditReviews)
      .set({
        decision: input.decision,
        reason: input.reason ?? null,
        auditorId: actor.userId,
        decidedAt: now,
      })
      .where(
        and(
          eq(auditReviews.auditId, auditId),
          eq(auditReviews.hostAppId, input.hostAppId),
          isNull(auditReviews.decision),
        ),
      ),
    recordChange(
      db,
      actor,
      {
        action: `audit.${input.decision}`,
        teamId: mp?.teamId ?? null,
        targetType: "mini_program",
        targetId: audit.miniProgramId,
        detail: {
          auditId,
          kind: audit.kind,
          version: version.version,
          hostAppId: input.hostAppId,
          reason: input.reason,
        },
      },
      now,
    ),
    // A binding approval changes what this host app's clients get at once.
    ...(audit.kind === "binding" && input.decision === "approve"
      ? [bumpSnapshotRevision(db, audit.miniProgramId)]
      : []),
  ]);
}

/**
 * Closes the audit once its reviews decide it. Re-reads all reviews after every decision, and
 * the updates only apply while the audit is still pending, so two auditors deciding at the
 * same moment still close it exactly once. A binding audit closes when every review is in, and
 * never touches the version.
 */
async function settleAudit(db: Db, auditId: string) {
  const audit = await db.select().from(audits).where(eq(audits.id, auditId)).get();
  if (!audit) return "pending" as const;
  const reviews = await db.select().from(auditReviews).where(eq(auditReviews.auditId, auditId)).all();
  const decided = new Map<string, "approve" | "reject">();
  for (const r of reviews) if (r.decision) decided.set(r.hostAppId, r.decision);
  const required = reviews.map((r) => r.hostAppId);
  const outcome =
    audit.kind === "binding" ? bindingAuditOutcome(required, decided) : auditOutcome(required, decided);
  if (outcome === "pending") return outcome;
  const now = Date.now();
  const closeAudit = db
    .update(audits)
    .set({ status: outcome, closedAt: now })
    .where(and(eq(audits.id, auditId), eq(audits.status, "pending")));
  if (audit.kind === "binding") {
    await closeAudit.run();
    return outcome;
  }
  await db.batch([
    closeAudit,
    db
      .update(versions)
      .set({ status: outcome })
      .where(and(eq(versions.id, audit.versionId), eq(versions.status, "in_audit"))),
    bumpSnapshotRevision(db, audit.miniProgramId),
  ]);
  return outcome;
}
