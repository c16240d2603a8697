/**
 * The admin Worker's cron (wrangler.toml: every minute): persists the time- and cap-driven
 * transitions of grayscale tasks and republishes the snapshots they change.
 * - pending past its start -> delivering; past its end -> ended (end_time) (core `effectiveStatus`);
 * - a capped delivering task whose counter reached the cap -> ended (cap_reached) (seed: "Once one
 *   of the conditions is reached, the grayscale version will no longer be released").
 * The edge enforces start and end times itself, so a late run never serves an expired task; the
 * cron makes the console's state and the snapshot's phase catch up, and stops edges from asking
 * a full counter. It also deletes whitelists replaced long enough ago.
 */
import { and, eq, inArray } from "drizzle-orm";
import { capShardsOf, type TaskStatus } from "../../../core/grayscale/lifecycle";
import type { Actor } from "../auth/actor";
import { createDb } from "../db/client";
import { grayscaleTasks, miniPrograms } from "../db/schema";
import { recordChange } from "./change-log";
import { runBatch } from "./d1";
import { type CounterNamespace, counterProgress } from "./grayscale-counter";
import { definitionOf, statusOf, type TaskRow } from "./grayscale-store";
import { purgeReplacedWhitelists } from "./grayscale-whitelists";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";

/** Who the audit trail names for the cron's changes. */
export const CRON_ACTOR: Actor = {
  userId: "system:cron",
  email: "cron@graycast.internal",
  isPlatformAdmin: false,
  via: "system",
};

export interface CronBindings {
  DB: D1Database;
  PACKAGES: R2Bucket;
  GRAYSCALE_COUNTER: CounterNamespace;
}

export interface CronReport {
  transitions: { taskId: string; appId: string; from: TaskStatus; to: TaskStatus }[];
  republished: string[];
  purgedWhitelists: number;
  failures: string[];
}

async function nextStatus(env: CronBindings, row: TaskRow, now: number): Promise<TaskStatus> {
  const status = statusOf(row, now);
  if (status.state !== "delivering" || row.userCap === null) return status;
  // Stranded lease slots are presumed used (their holders may have admitted users with them).
  const { admitted, stranded } = await counterProgress(
    env.GRAYSCALE_COUNTER,
    row.id,
    capShardsOf(definitionOf(row)),
  );
  return admitted + stranded >= row.userCap ? { state: "ended", endReason: "cap_reached" } : status;
}

/** One run; each mini program is handled on its own, so one failure does not stop the others. */
export async function runGrayscaleCron(env: CronBindings, now: number): Promise<CronReport> {
  const db = createDb(env.DB);
  const report: CronReport = { transitions: [], republished: [], purgedWhitelists: 0, failures: [] };
  const rows = await db
    .select()
    .from(grayscaleTasks)
    .where(inArray(grayscaleTasks.state, ["pending", "delivering", "suspended"]))
    .all();
  const byApp = new Map<string, { row: TaskRow; to: TaskStatus }[]>();
  for (const row of rows) {
    try {
      const to = await nextStatus(env, row, now);
      if (to.state === row.state && to.endReason === (row.endReason ?? null)) continue;
      byApp.set(row.miniProgramId, [...(byApp.get(row.miniProgramId) ?? []), { row, to }]);
    } catch (err) {
      report.failures.push(`task ${row.id}: ${String(err)}`);
    }
  }
  for (const [appId, changes] of byApp) {
    try {
      const mp = await db
        .select({ teamId: miniPrograms.teamId })
        .from(miniPrograms)
        .where(eq(miniPrograms.id, appId))
        .get();
      await runBatch(db, [
        ...changes.flatMap(({ row, to }) => [
          // Only if nobody changed the task since it was read (a manual action wins).
          db
            .update(grayscaleTasks)
            .set({ state: to.state, endReason: to.endReason, updatedAt: now })
            .where(
              and(
                eq(grayscaleTasks.id, row.id),
                eq(grayscaleTasks.state, row.state),
                eq(grayscaleTasks.updatedAt, row.updatedAt),
              ),
            ),
          recordChange(
            db,
            CRON_ACTOR,
            {
              action: to.state === "ended" ? "grayscale_task.end" : "grayscale_task.start",
              teamId: mp?.teamId ?? null,
              targetType: "grayscale_task",
              targetId: row.id,
              detail: { appId, from: row.state, to: to.state, endReason: to.endReason },
            },
            now,
          ),
        ]),
        bumpSnapshotRevision(db, appId),
      ]);
      for (const { row, to } of changes)
        report.transitions.push({
          taskId: row.id,
          appId,
          from: { state: row.state, endReason: row.endReason ?? null },
          to,
        });
      // A failed publish is not a failure of the transition: the sweep after this run retries it.
      const published = await publishCurrentSnapshot(db, env.PACKAGES, appId);
      if (published.status !== "pending") report.republished.push(appId);
    } catch (err) {
      report.failures.push(`mini program ${appId}: ${String(err)}`);
    }
  }
  try {
    report.purgedWhitelists = await purgeReplacedWhitelists(db, env.PACKAGES, now);
  } catch (err) {
    report.failures.push(`whitelist purge: ${String(err)}`);
  }
  if (report.failures.length > 0) console.error("grayscale cron failures", report.failures);
  return report;
}
