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
