/**
 * Getting planned increments built, off the hot path. After an approval or release the route
 * sends one message per pending row to the `graycast-increments` queue; its consumer (this
 * Worker's `queue` handler) builds them one at a time with retries. The cron sweep re-sends rows
 * left pending (a lost message, a failed send) and, where no queue is bound, builds one itself.
 */
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { buildIncrementRow } from "./build";
import { pendingIncrements } from "./plan";

export interface IncrementMessage {
  incrementId: string;
}

export interface IncrementBindings {
  DB: D1Database;
  PACKAGES: R2Bucket;
  INCREMENTS?: Queue<IncrementMessage>;
  /** to encrypt increments of encrypted versions (core/encryption.ts) */
  PACKAGE_KEY_SECRET?: string;
}

/** Queue messages sent in one call (Queues accepts up to 100 per sendBatch). */
const SEND_BATCH = 100;
/** A pending row this old is presumed lost and re-sent by the sweep. */
export const STALE_PENDING_MS = 5 * 60 * 1000;

async function send(queue: Queue<IncrementMessage>, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += SEND_BATCH) {
    await queue.sendBatch(ids.slice(i, i + SEND_BATCH).map((incrementId) => ({ body: { incrementId } })));
  }
}

/**
 * Sends the pending increments of one mini program to the builder queue (no-op without one).
 * Called after a change that already committed: a failure is logged, not answered as an error;
 * the cron's sweep re-sends what is left pending.
 */
export async function kickIncrements(env: IncrementBindings, appId: string): Promise<number> {
  if (!env.INCREMENTS) return 0;
  try {
    const rows = await pendingIncrements(createDb(env.DB), { appId, limit: 500 });
    await send(env.INCREMENTS, rows.map((r) => r.id));
    return rows.length;
  } catch (err) {
    console.error("sending increments to the builder queue failed", { appId, error: String(err instanceof Error ? err.message : err) });
    return 0;
  }
}

/** The queue consumer: one build per message; a thrown build is retried by the queue. */
export async function consumeIncrements(batch: MessageBatch<IncrementMessage>, env: IncrementBindings): Promise<void> {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    const id = message.body?.incrementId;
    if (typeof id !== "string") {
      message.ack();
      continue;
    }
    try {
      await buildIncrementRow(db, env.PACKAGES, id, Date.now(), env.PACKAGE_KEY_SECRET);
      message.ack();
    } catch (err) {
      console.error("increment build failed; will retry", { incrementId: id, error: String(err instanceof Error ? err.message : err) });
      message.retry({ delaySeconds: 30 });
    }
  }
}

/**
 * Cron: re-send rows pending for longer than STALE_PENDING_MS; with no queue bound, build the
 * oldest pending row directly (one per run keeps the cron invocation short).
 */
export async function sweepIncrements(env: IncrementBindings, now: number, db: Db = createDb(env.DB)): Promise<{ resent: number; built: number }> {
  if (env.INCREMENTS) {
    const stale = await pendingIncrements(db, { olderThan: now - STALE_PENDING_MS, limit: 500 });
    await send(env.INCREMENTS, stale.map((r) => r.id));
    return { resent: stale.length, built: 0 };
  }
  const [oldest] = await pendingIncrements(db, { limit: 1 });
  if (!oldest) return { resent: 0, built: 0 };
  try {
    const outcome = await buildIncrementRow(db, env.PACKAGES, oldest.id, now, env.PACKAGE_KEY_SECRET);
    return { resent: 0, built: outcome.status === "built" ? 1 : 0 };
  } catch {
    return { resent: 0, built: 0 };
  }
}
