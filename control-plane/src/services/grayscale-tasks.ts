/**
 * Grayscale tasks (PRODUCT.md G1-G3): create, list, details, edit and the manual actions
 * (suspend, resume, end, end-and-revert). Rules come from core/grayscale/lifecycle.ts; every
 * change is written with its audit-trail entry in one batch and then published to the edge.
 * Whitelists live in grayscale-whitelists.ts, progress and explain in grayscale-insight.ts.
 */
import { and, eq } from "drizzle-orm";
import { ApiError } from "../../../core/errors";
import type { Guardrails } from "../../../core/grayscale/health";
import type { TaskAction, TaskFacts, TaskStatus } from "../../../core/grayscale/lifecycle";
import {
  applyAction,
  capShardsOf,
  checkTaskDefinition,
  checkTaskEdit,
  editableFields,
  effectiveStatus,
} from "../../../core/grayscale/lifecycle";
import type { TaskDefinition } from "../../../core/grayscale/types";
import { refusalOf } from "../../../core/lifecycle";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { bindings, grayscaleTasks, versions } from "../db/schema";
import { randomId } from "../lib/encoding";
import { applyTaskPatch, definitionToWire, type TaskPatchWire, wireFieldOf } from "../lib/grayscale-wire";
import { type MiniProgramRow, READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { type CounterNamespace, counterProgress, reclaimShardSlots } from "./grayscale-counter";
import {
  currentWhitelists,
  definitionOf,
  requireTask,
  statusOf,
  type TaskRow,
  tasksOf,
  type WhitelistRow,
} from "./grayscale-store";
import { suspendCauseOf } from "./health";
import { requireTrustedSignature } from "./signing-keys";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";
import { refusalError, requireVersion } from "./versions";

/** What the admin API shows of a task; `state` is the effective one at `now`. */
export function describeTask(row: TaskRow, lists: readonly WhitelistRow[], now: number) {
  const status = statusOf(row, now);
  return {
    id: row.id,
    appId: row.miniProgramId,
    ...definitionToWire(definitionOf(row)),
    state: status.state,
    endReason: status.endReason,
    suspendedByDelisting: row.suspendedByDelisting && status.state === "suspended",
    suspendCause: suspendCauseOf(row, status.state),
    guardrails: row.guardrails ?? null,
    guardrailTrip: row.guardrailTrip ?? null,
    whitelists: lists
      .filter((w) => w.taskId === row.id)
      .map((w) => ({
        id: w.id,
        kind: w.kind,
        count: w.count,
        uploadedBy: w.uploadedBy,
        createdAt: w.createdAt,
      })),
    // Guardrails change in every state but ended (editTask).
    editableFields: [
      ...editableFields(status.state).map(wireFieldOf),
      ...(status.state === "ended" ? [] : ["guardrails"]),
    ],
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** What `checkTaskDefinition` needs to know about the chosen version and the mini program. */
async function taskFacts(db: Db, mp: MiniProgramRow, version: string) {
  const target = await requireVersion(db, mp.id, version);
  // A version signed with a since-revoked developer key is not delivered (services/signing-keys.ts).
  await requireTrustedSignature(db, target);
  const [online, bound] = await Promise.all([
    mp.onlineVersionId
      ? db
          .select({ version: versions.version })
          .from(versions)
          .where(eq(versions.id, mp.onlineVersionId))
          .get()
      : undefined,
    db
      .select({ hostAppId: bindings.hostAppId })
      .from(bindings)
      .where(and(eq(bindings.miniProgramId, mp.id), eq(bindings.status, "approved")))
      .all(),
  ]);
  const facts: TaskFacts = {
    versionStatus: target.status,
    versionEverReleased: target.firstReleasedAt !== null || target.status === "released",
    onlineVersion: online?.version ?? null,
    boundHostApps: bound.map((b) => b.hostAppId),
    listed: mp.listed,
  };
  return { target, facts };
}

/** The columns written together with the definition. */
function definitionColumns(def: TaskDefinition) {
  return {
    definition: def,
    name: def.name,
    version: def.version,
    startAt: def.startAt,
    endAt: def.endAt,
    userCap: def.userCap,
    percentageBp: def.percentageBp,
  };
}

/**
 * Writes a task's new status (and other columns) only if nobody changed its state meanwhile; a
 * lost race is a 409, never a silent overwrite. Runs with the audit-trail entry in one batch.
 */
async function updateTask(
  db: Db,
  actor: Actor,
  row: TaskRow,
  teamId: string,
  set: Partial<typeof grayscaleTasks.$inferInsert>,
  change: { action: string; detail: Record<string, unknown> },
  now: number,
) {
  const [updated] = await db.batch([
    db
      .update(grayscaleTasks)
      .set({ ...set, updatedAt: now })
      .where(
        and(
          eq(grayscaleTasks.id, row.id),
          eq(grayscaleTasks.state, row.state),
          eq(grayscaleTasks.updatedAt, row.updatedAt),
        ),
      )
      .returning({ id: grayscaleTasks.id }),
    recordChange(
      db,
      actor,
      {
        action: change.action,
        teamId,
        targetType: "grayscale_task",
        targetId: row.id,
        detail: { appId: row.miniProgramId, ...change.detail },
      },
      now,
    ),
    bumpSnapshotRevision(db, row.miniProgramId),
  ]);
  if (updated.length === 0)
    throw new ApiError(
      "conflict",
      "the grayscale task was changed by someone else at the same time; reload and try again",
    );
}

async function taskView(db: Db, appId: string, taskId: string, now = Date.now()) {
  const row = await requireTask(db, appId, taskId);
  return describeTask(row, await currentWhitelists(db, [row.id]), now);
}

/**
 * New task. seed: "The version released in grayscale must have passed the mini program audit,
 * has not been online yet, and has a higher version number than the online version"; name "no
 * more than 20 words"; "The end time of grayscale cannot be earlier than the time point when the
 * creation is confirmed" (all in core `checkTaskDefinition`).
 */
export async function createTask(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  def: TaskDefinition,
  guardrails: Guardrails | null = null,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const now = Date.now();
  const { target, facts } = await taskFacts(db, mp, def.version);
  const refusal = checkTaskDefinition(def, facts, now);
  if (refusal) throw refusalError(refusal);
  const status = effectiveStatus({ state: "pending", endReason: null }, def.startAt, def.endAt, now);
  const id = randomId("gt_", 10);
  await db.batch([
    db.insert(grayscaleTasks).values({
      id,
      miniProgramId: appId,
      versionId: target.id,
      ...definitionColumns(def),
      state: status.state,
      endReason: status.endReason,
      guardrails,
      healthSince: now,
      createdBy: actor.userId,
      createdAt: now,
      updatedAt: now,
    }),
    recordChange(
      db,
      actor,
      {
        action: "grayscale_task.create",
        teamId: mp.teamId,
        targetType: "grayscale_task",
        targetId: id,
        detail: { appId, version: def.version, name: def.name, ...(guardrails ? { guardrails } : {}) },
      },
      now,
    ),
    bumpSnapshotRevision(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  return taskView(db, appId, id, now);
}

/** seed: "multiple grayscale tasks in the list will be sorted from late to early according to the creation time". */
export async function listTasks(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const now = Date.now();
  const rows = await tasksOf(db, appId);
  const lists = await currentWhitelists(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => describeTask(r, lists, now));
}

export async function getTask(db: Db, actor: Actor, appId: string, taskId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  return taskView(db, appId, taskId);
}

/**
 * Edits a task: only the fields its (effective) state allows (core `checkTaskEdit`: everything
 * while pending, name / end time / cap / percentage once started, nothing once ended); a
 * pending task's edit must also pass every creation rule again.
 */
export async function editTask(
  db: Db,
  bucket: R2Bucket,
  counters: CounterNamespace,
  actor: Actor,
  appId: string,
  taskId: string,
  body: TaskPatchWire & { guardrails?: Guardrails | null },
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await requireTask(db, appId, taskId);
  const now = Date.now();
  const status = statusOf(row, now);
  const before = definitionOf(row);
  const { guardrails, ...patch } = body;
  const { definition: after, changed } = applyTaskPatch(before, patch);
  // Guardrails may change in every state but ended (they only act while the task delivers).
  const guardrailsChanged =
    guardrails !== undefined && JSON.stringify(guardrails) !== JSON.stringify(row.guardrails ?? null);
  if (changed.length === 0 && !guardrailsChanged) return taskView(db, appId, taskId, now);
  if (guardrailsChanged && status.state === "ended") throw refusalError(refusalOf("task_ended"));
  // Admitted users are sticky, so a cap cannot drop below them (the edge counts only capped tasks),
  // nor below the slots edge isolates hold in leases: they may be admitting from them right now.
  // A sharded task's shards first give back the slots they hold unused (docs/scale.md 5b), so
  // only slots really used (admitted, in edge leases, stranded) hold the cap up.
  const checksCap =
    status.state !== "pending" &&
    status.state !== "ended" &&
    changed.includes("userCap") &&
    after.userCap !== null;
  const shards = capShardsOf(after);
  if (checksCap && before.userCap !== null && after.userCap !== null && after.userCap < before.userCap)
    await reclaimShardSlots(counters, row.id, shards);
  const counted = checksCap ? await counterProgress(counters, row.id, shards) : undefined;
  const taken = counted ? counted.admitted + counted.reserved + counted.stranded : 0;
  let refusal = checkTaskEdit(before, after, status.state, now, taken);
  let versionId = row.versionId;
  if (!refusal && status.state === "pending") {
    const { target, facts } = await taskFacts(db, mp, after.version);
    refusal = checkTaskDefinition(after, facts, now);
    versionId = target.id;
  }
  if (refusal) throw refusalError(refusal);
  // New times may move the task on at once (a pending task whose start moved into the past delivers).
  const next = effectiveStatus(status, after.startAt, after.endAt, now);
  await updateTask(
    db,
    actor,
    row,
    mp.teamId,
    {
      ...definitionColumns(after),
      versionId,
      state: next.state,
      endReason: next.endReason,
      ...(guardrailsChanged ? { guardrails } : {}),
    },
    {
      action: "grayscale_task.edit",
      detail: {
        changed: [...changed.map(wireFieldOf), ...(guardrailsChanged ? ["guardrails"] : [])],
        ...(guardrailsChanged ? { guardrails } : {}),
      },
    },
    now,
  );
  await publishCurrentSnapshot(db, bucket, appId);
  return taskView(db, appId, taskId, now);
}

/**
 * Suspend, resume, end, end-and-revert (core `applyAction`). Suspend stops new admissions;
 * end keeps admitted users on the version; end-and-revert withdraws it from everyone (the task
 * leaves the snapshot, clients get the online version with a signed rollback). A task cannot be
 * resumed while the mini program is off the shelf (M4: "no new grayscale").
 */
export async function actOnTask(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  taskId: string,
  action: TaskAction,
  shards?: { counters: CounterNamespace; waitUntil(work: Promise<unknown>): void },
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await requireTask(db, appId, taskId);
  const now = Date.now();
  const current: TaskStatus = { state: row.state, endReason: row.endReason ?? null };
  const next = applyAction(current, action, row.startAt, row.endAt, now);
  if ("rule" in next) throw refusalError(next);
  if (action === "resume" && !mp.listed) throw refusalError(refusalOf("task_delisted"));
  const from = statusOf(row, now);
  await updateTask(
    db,
    actor,
    row,
    mp.teamId,
    {
      state: next.state,
      endReason: next.endReason,
      suspendedByDelisting: false,
      suspendedByGuardrail: false,
      // A resume restarts the guardrails' window: the figures that suspended the task no longer count.
      ...(action === "resume" ? { healthSince: now } : {}),
    },
    {
      action: `grayscale_task.${action}`,
      detail: {
        from: from.state,
        to: next.state,
        endReason: next.endReason,
        ...(action === "resume" && row.suspendedByGuardrail ? { resumedFrom: "guardrail" } : {}),
      },
    },
    now,
  );
  await publishCurrentSnapshot(db, bucket, appId);
  // A task that stops admitting takes back the slots its shards hold unused (docs/scale.md 5b),
  // so progress does not count slots nobody can use; off the answer, and a failure changes nothing
  // (the slots stay counted as leased, the cap is never exceeded).
  const k = capShardsOf(definitionOf(row));
  if (shards !== undefined && k > 1 && next.state !== "delivering")
    shards.waitUntil(
      reclaimShardSlots(shards.counters, row.id, k).catch((err) =>
        console.error("cap shard slots not taken back", { taskId: row.id, error: String(err) }),
      ),
    );
  return taskView(db, appId, taskId, now);
}
