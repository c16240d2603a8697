import { sql } from "drizzle-orm";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { changeLog } from "../db/schema";
import { randomId } from "../lib/encoding";

export interface Change {
  action: string;
  teamId: string | null;
  targetType: string;
  targetId: string;
  /** never put a secret here */
  detail?: Record<string, unknown>;
}

/** The insert for one audit-trail entry, to run in the same `batch()` as the change itself. */
export function recordChange(db: Db, actor: Actor, change: Change, at = Date.now()) {
  return db.insert(changeLog).values({
    id: randomId("chg_", 10),
    at,
    actorId: actor.userId,
    action: change.action,
    teamId: change.teamId,
    targetType: change.targetType,
    targetId: change.targetId,
    detail: JSON.stringify(change.detail ?? {}),
  });
}

/**
 * Like `recordChange`, but written only if the statement just before it in the same `batch()`
 * changed a row (SQLite's `changes()`): for a guarded update that two requests may race for, so
 * the loser leaves no entry for a change it did not make.
 */
export function recordChangeIfChanged(db: Db, actor: Actor, change: Change, at = Date.now()) {
  // Columns in the table's order (the insert-select names them all).
  return db
    .insert(changeLog)
    .select(
      sql`SELECT ${randomId("chg_", 10)}, ${at}, ${actor.userId}, ${change.action}, ${change.teamId}, ${change.targetType}, ${change.targetId}, ${JSON.stringify(change.detail ?? {})} WHERE changes() = 1`,
    );
}
