/**
 * Reading grayscale tasks and whitelists from D1 into core shapes, shared by the task services,
 * the snapshot compiler, explain and the cron. No access checks here: callers check first.
 */
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { unreviewedHostApps } from "../../../core/audit-scope";
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

/**
 * Every task of the mini program compiled for the snapshot (core `compileTask`, which drops the
 * tasks clients can no longer get: ended by release, revert or delisting). Audit scope: each task
 * leaves out the bound host apps whose auditor has not approved its version (core/audit-scope.ts).
 */
export async function compiledTasksOf(db: Db, appId: string, now: number): Promise<CompiledTask[]> {
  const rows = await db
    .select({ task: grayscaleTasks, version: versions })
    .from(grayscaleTasks)
    .innerJoin(versions, eq(versions.id, grayscaleTasks.versionId))
    // Withdrawn tasks never reach the snapshot; skip them in SQL (a mini program collects many).
    .where(
      and(
        eq(grayscaleTasks.miniProgramId, appId),
        sql`not (${grayscaleTasks.state} = 'ended' and coalesce(${grayscaleTasks.endReason}, '') in ('released', 'reverted', 'delisted'))`,
      ),
    )
    .all();
  const [lists, scope] = await Promise.all([
    currentWhitelists(
      db,
      rows.map((r) => r.task.id),
    ),
    rows.length > 0 ? auditScopeOf(db, appId) : undefined,
  ]);
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
