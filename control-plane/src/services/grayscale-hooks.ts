/**
 * What other changes do to grayscale tasks, as statements for the caller's own batch (so the
 * release or shelf change and its effect on tasks land together or not at all):
 * - publishing version V ends the tasks of V and lower (seed: "When a developer officially
 *   releases a mini program version online, grayscale tasks with the same version number or
 *   smaller version numbers will automatically end, and all users will be upgraded to the latest
 *   released version."); a rollback does not touch tasks;
 * - delisting suspends pending and delivering tasks (ARCHITECTURE.md: "Delisting suspends
 *   running tasks"); relisting leaves them suspended until a developer resumes them.
 */
import { and, eq, inArray } from "drizzle-orm";
import { compareVersions } from "../../../core/semver";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { grayscaleTasks } from "../db/schema";
import { recordChange } from "./change-log";
import { statusOf } from "./grayscale-store";

/** Ended tasks whose admitted users still keep the version. */
const STICKY_ENDS: ReadonlySet<string> = new Set(["manual", "end_time", "cap_reached"]);

/**
 * Ends (reason `released`) every task of version <= `version` that clients can still get:
 * running ones, and ended ones whose admitted users were keeping the version (manual, end
 * time, cap), since everyone now moves to the release.
 */
export async function endTasksOnPublish(
  db: Db,
  actor: Actor,
  appId: string,
  teamId: string,
  version: string,
  now: number,
) {
  const rows = await publishTasksQuery(db, appId).all();
  return endTasksStatements(db, actor, appId, teamId, version, rows, now);
}

/** The task rows `endTasksStatements` decides from, as a query for the caller's own D1 batch. */
export function publishTasksQuery(db: Db, appId: string) {
  return db
    .select({
      id: grayscaleTasks.id,
      version: grayscaleTasks.version,
      state: grayscaleTasks.state,
      endReason: grayscaleTasks.endReason,
    })
    .from(grayscaleTasks)
    .where(eq(grayscaleTasks.miniProgramId, appId));
}

/** `endTasksOnPublish` over task rows already read (`publishTasksQuery`). */
export function endTasksStatements(
  db: Db,
  actor: Actor,
  appId: string,
  teamId: string,
  version: string,
  rows: readonly { id: string; version: string; state: string; endReason: string | null }[],
  now: number,
) {
  const ids = rows
    .filter(
      (t) =>
        (t.state !== "ended" || STICKY_ENDS.has(t.endReason ?? "")) &&
        compareVersions(t.version, version) <= 0,
    )
    .map((t) => t.id);
  if (ids.length === 0) return [];
  return [
    db
      .update(grayscaleTasks)
      .set({ state: "ended", endReason: "released", suspendedByDelisting: false, updatedAt: now })
      .where(inArray(grayscaleTasks.id, ids)),
    ...ids.map((id) =>
      recordChange(
        db,
        actor,
        {
          action: "grayscale_task.end",
          teamId,
          targetType: "grayscale_task",
          targetId: id,
          detail: { appId, endReason: "released", releasedVersion: version },
        },
        now,
      ),
    ),
  ];
}

/**
 * Suspends every task that is (effectively) pending or delivering, marked as suspended by the
 * delisting; tasks whose end time has passed are recorded as ended instead.
 */
export async function suspendTasksOnDelist(db: Db, actor: Actor, appId: string, teamId: string, now: number) {
  const rows = await db
    .select()
    .from(grayscaleTasks)
    .where(
      and(eq(grayscaleTasks.miniProgramId, appId), inArray(grayscaleTasks.state, ["pending", "delivering"])),
    )
    .all();
  const statements = [];
  for (const row of rows) {
    const status = statusOf(row, now);
    const set =
      status.state === "ended"
        ? { state: status.state, endReason: status.endReason }
        : { state: "suspended" as const, endReason: null, suspendedByDelisting: true };
    statements.push(
      db
        .update(grayscaleTasks)
        .set({ ...set, updatedAt: now })
        .where(and(eq(grayscaleTasks.id, row.id), eq(grayscaleTasks.state, row.state))),
      recordChange(
        db,
        actor,
        {
          action: status.state === "ended" ? "grayscale_task.end" : "grayscale_task.suspend",
          teamId,
          targetType: "grayscale_task",
          targetId: row.id,
          detail: { appId, from: status.state, to: set.state, cause: "delisted" },
        },
        now,
      ),
    );
  }
  return statements;
}
