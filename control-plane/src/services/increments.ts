/**
 * Incremental packages as the console sees them (PRODUCT.md D3): every planned pair with its
 * state, and a retry for the failed ones. Building itself is control-plane/src/increments/.
 */
import { and, desc, eq } from "drizzle-orm";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { increments } from "../db/schema";
import { READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";

type IncrementRow = typeof increments.$inferSelect;

function describeIncrement(row: IncrementRow) {
  const size = row.encSize ?? row.size;
  return {
    id: row.id,
    fromVersion: row.fromVersion,
    toVersion: row.toVersion,
    status: row.status,
    /** bytes clients download (the ciphertext for an encrypted target) */
    size,
    fullSize: row.fullSize,
    /** share of the full package, when built */
    share: size !== null && row.fullSize > 0 ? size / row.fullSize : null,
    encrypted: row.encSha256 !== null,
    attempts: row.attempts,
    detail: row.detail,
    createdAt: row.createdAt,
    /** when the current (or last) build attempt started */
    startedAt: row.startedAt,
    /** when the build finished (built, skipped or failed); null while queued or building */
    finishedAt: row.builtAt,
    builtAt: row.builtAt,
  };
}

/** The mini program's increments, newest first (at most 200). */
export async function listIncrements(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(increments)
    .where(eq(increments.miniProgramId, appId))
    .orderBy(desc(increments.createdAt))
    .limit(200)
    .all();
  return rows.map(describeIncrement);
}

/** Puts a failed increment back in the queue with fresh attempts (the caller sends it). */
export async function retryIncrement(db: Db, actor: Actor, appId: string, incrementId: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const row = await db
    .select()
    .from(increments)
    .where(and(eq(increments.id, incrementId), eq(increments.miniProgramId, appId)))
    .get();
  if (!row) throw notFound("increment");
  if (row.status !== "failed")
    throw new ApiError("conflict", `only a failed increment can be retried; this one is ${row.status}`);
  const now = Date.now();
  await db.batch([
    db
      .update(increments)
      .set({ status: "queued", attempts: 0, detail: "", startedAt: null, builtAt: null })
      .where(and(eq(increments.id, incrementId), eq(increments.status, "failed"))),
    recordChange(
      db,
      actor,
      {
        action: "increment.retry",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { incrementId, from: row.fromVersion, to: row.toVersion },
      },
      now,
    ),
  ]);
  const updated = await db.select().from(increments).where(eq(increments.id, incrementId)).get();
  return describeIncrement(updated!);
}
