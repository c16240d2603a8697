/**
 * Reading grayscale tasks and whitelists from D1 into core shapes, shared by the task services,
 * the snapshot compiler, explain and the cron. No access checks here: callers check first.
 */
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { type Approvals, unreviewedHostApps } from "../../../core/audit-scope";
import { notFound } from "../../../core/errors";
import type { TaskStatus } from "../../../core/grayscale/lifecycle";
import { compileTask, effectiveStatus } from "../../../core/grayscale/lifecycle";
import type { CompiledTask, TaskDefinition, WhitelistRef } from "../../../core/grayscale/types";
import type { Db } from "../db/client";
import { grayscaleTasks, versions, whitelists } from "../db/schema";
import { auditScopeOf } from "./audit-scope";
import { packageRefOf } from "./package-ref";

export type TaskRow = typeof grayscaleTasks.$inferSelect;
export type WhitelistRow = typeof whitelists.$inferSelect;

/** The stored definition; the indexed columns are written with it and win on read. */
export function definitionOf(row: TaskRow): TaskDefinition {
  return {
    ...row.definition,
    name: row.name,
    version: row.version,
    startAt: row.startAt,
    endAt: row.endAt,
    userCap: row.userCap,
    percentageBp: row.percentageBp,
  };
}

/** The status the task is really in at `now` (core `effectiveStatus`). */
export function statusOf(
  row: Pick<TaskRow, "state" | "endReason" | "startAt" | "endAt">,
  now: number,
): TaskStatus {
  return effectiveStatus({ state: row.state, endReason: row.endReason ?? null }, row.startAt, row.endAt, now);
}

export function whitelistRefOf(row: WhitelistRow): WhitelistRef {
  return {
    id: row.id,
    kind: row.kind,
    count: row.count,
    seed: row.seed,
    bloomBits: row.bloomBits,
    bloomHashes: row.bloomHashes,
    shards: row.shards,
    // Format 1 lists keep the ref they always had (no `format`), so their snapshots do not change.
    ...(row.format === 2 ? { format: 2 as const } : {}),
  };
}

/** A task of this mini program (404 when it belongs to another one). */
export async function requireTask(db: Db, appId: string, taskId: string): Promise<TaskRow> {
  const row = await db
    .select()
    .from(grayscaleTasks)
    .where(and(eq(grayscaleTasks.id, taskId), eq(grayscaleTasks.miniProgramId, appId)))
    .get();
  if (!row) throw notFound("grayscale task");
  return row;
}

/** Tasks of a mini program, newest first (seed: "sorted from late to early according to the creation time"). */
export async function tasksOf(db: Db, appId: string): Promise<TaskRow[]> {
  return db
    .select()
    .from(grayscaleTasks)
    .where(eq(grayscaleTasks.miniProgramId, appId))
    .orderBy(desc(grayscaleTasks.createdAt), sql`rowid desc`)
    .all();
}

/** The current (not replaced) whitelists of the given tasks. */
export async function currentWhitelists(db: Db, taskIds: readonly string[]): Promise<WhitelistRow[]> {
  if (taskIds.length === 0) return [];
  return db
    .select()
    .from(whitelists)
    .where(and(inArray(whitelists.taskId, [...taskIds]), isNull(whitelists.replacedAt)))
    .orderBy(whitelists.kind)
    .all();
}

/** Tasks that are not withdrawn: withdrawn ones never reach the snapshot (skipped in SQL: a mini program collects many). */
const notWithdrawn = sql`not (${grayscaleTasks.state} = 'ended' and coalesce(${grayscaleTasks.endReason}, '') in ('released', 'reverted', 'delisted'))`;

/** The task rows `compileTaskRows` needs: every task of the mini program with its version, except withdrawn ones. */
export function snapshotTaskRowsQuery(db: Db, appId: string) {
  return db
    .select({ task: grayscaleTasks, version: versions })
    .from(grayscaleTasks)
    .innerJoin(versions, eq(versions.id, grayscaleTasks.versionId))
    .where(and(eq(grayscaleTasks.miniProgramId, appId), notWithdrawn));
}

/**
 * `snapshotTaskRowsQuery` as two single-table queries for a D1 batch (drizzle maps a batch's rows
 * by column name, so a join of two tables with the same column names would mix them up); join
 * their rows with `joinTaskVersions`.
 */
export function snapshotTaskQueries(db: Db, appId: string) {
  const live = and(eq(grayscaleTasks.miniProgramId, appId), notWithdrawn);
  return [
    db.select().from(grayscaleTasks).where(live),
    db
      .select()
      .from(versions)
      .where(
        inArray(versions.id, db.select({ id: grayscaleTasks.versionId }).from(grayscaleTasks).where(live)),
      ),
  ] as const;
}

/** The rows of `snapshotTaskQueries` as `snapshotTaskRowsQuery` gives them. */
export function joinTaskVersions(
  tasks: readonly TaskRow[],
  taskVersions: readonly (typeof versions.$inferSelect)[],
): SnapshotTaskRow[] {
  const byId = new Map(taskVersions.map((v) => [v.id, v]));
  return tasks.flatMap((task) => {
    const version = byId.get(task.versionId);
    return version ? [{ task, version }] : [];
  });
}

/** The current (not replaced) whitelists of every task of a mini program, as a query for a batch. */
export function appWhitelistsQuery(db: Db, appId: string) {
  const tasks = db
    .select({ id: grayscaleTasks.id })
    .from(grayscaleTasks)
    .where(eq(grayscaleTasks.miniProgramId, appId));
  return db
    .select()
    .from(whitelists)
    .where(and(inArray(whitelists.taskId, tasks), isNull(whitelists.replacedAt)))
    .orderBy(whitelists.kind);
}

export type SnapshotTaskRow = { task: TaskRow; version: typeof versions.$inferSelect };

/**
 * Compiles task rows (core `compileTask`, which drops the tasks clients can no longer get: ended
 * by release, revert or delisting). Audit scope: each task leaves out the bound host apps whose
 * auditor has not approved its version (core/audit-scope.ts). `lists` may hold other tasks' lists.
 */
export function compileTaskRows(
  rows: readonly SnapshotTaskRow[],
  lists: readonly WhitelistRow[],
  scope: { bound: readonly string[]; approvals: Approvals } | undefined,
  now: number,
): CompiledTask[] {
  const compiled: CompiledTask[] = [];
  for (const { task, version } of rows) {
    const refs = lists.filter((w) => w.taskId === task.id).map(whitelistRefOf);
    const unreviewed = scope ? unreviewedHostApps(scope.approvals, version.version, scope.bound) : [];
    const status = { state: task.state, endReason: task.endReason ?? null };
    const c = compileTask(
      {
        id: task.id,
        definition: definitionOf(task),
        status,
        package: packageRefOf(version),
        whitelists: refs,
        unreviewedHostApps: unreviewed,
      },
      now,
    );
    if (c) compiled.push(c);
  }
  return compiled;
}

/** Every task of the mini program compiled for the snapshot (`compileTaskRows` over D1's rows). */
export async function compiledTasksOf(db: Db, appId: string, now: number): Promise<CompiledTask[]> {
  const rows = await snapshotTaskRowsQuery(db, appId).all();
  const [lists, scope] = await Promise.all([
    currentWhitelists(
      db,
      rows.map((r) => r.task.id),
    ),
    rows.length > 0 ? auditScopeOf(db, appId) : undefined,
  ]);
  return compileTaskRows(rows, lists, scope, now);
}
