/**
 * Getting planned increments built, off the hot path and out of the admin Worker (PRODUCT.md D3).
 * After an approval or release the admin route sends one message per queued row to the
 * `graycast-increments` queue and answers at once; the builder Worker (control-plane/src/builder.ts)
 * consumes it, one build per message. A failed build is retried with backoff; after the queue's
 * last retry the message lands on `graycast-increments-dlq`, whose consumer marks the row
 * `failed`. The admin cron's sweep re-sends rows left queued (a lost message, a failed send) and
 * rows stuck `building` (a killed builder). Measured reason for the split: docs/increments.md.
 */
import { and, eq, or, sql } from "drizzle-orm";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { increments } from "../db/schema";
import { buildIncrementRow, STALE_BUILDING_MS } from "./build";
import { pendingIncrements } from "./plan";

export interface IncrementMessage {
  incrementId: string;
}

/** The producer side (admin Worker). */
export interface IncrementProducerBindings {
  DB: D1Database;
  INCREMENTS?: Queue<IncrementMessage>;
}

/** The consumer side (builder Worker): D1, R2 and the package key secret, nothing else. */
export interface IncrementBuilderBindings {
  DB: D1Database;
  PACKAGES: R2Bucket;
  /** to encrypt increments of encrypted versions (core/encryption.ts) */
  PACKAGE_KEY_SECRET?: string;
}

export const INCREMENTS_QUEUE = "graycast-increments";
export const INCREMENTS_DLQ = "graycast-increments-dlq";

/** Queue messages sent in one call (Queues accepts up to 100 per sendBatch). */
const SEND_BATCH = 100;
/** A queued row untouched this long (since planned or since its last attempt) is re-sent. */
export const STALE_PENDING_MS = 5 * 60 * 1000;

/**
 * Delay before delivery `attempts + 1` of a failed build: 30 s, 60 s, 120 s. All are below
 * STALE_PENDING_MS, so the sweep never re-sends a row that is only waiting for its retry.
 */
export const retryDelaySeconds = (attempts: number): number =>
  Math.min(30 * 2 ** Math.max(0, attempts - 1), 120);

async function send(queue: Queue<IncrementMessage>, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += SEND_BATCH) {
    await queue.sendBatch(ids.slice(i, i + SEND_BATCH).map((incrementId) => ({ body: { incrementId } })));
  }
}

const errorText = (err: unknown) => String(err instanceof Error ? err.message : err);

/**
 * Sends the queued increments of one mini program to the builder queue (no-op without one).
 * Called after a change that already committed, and only sends: the route answers without
 * waiting for any build. A failure is logged, not answered as an error; the sweep re-sends.
 */
export async function kickIncrements(env: IncrementProducerBindings, appId: string): Promise<number> {
  if (!env.INCREMENTS) return 0;
  try {
    const rows = await pendingIncrements(createDb(env.DB), { appId, limit: 500 });
    await send(
      env.INCREMENTS,
      rows.map((r) => r.id),
    );
    return rows.length;
  } catch (err) {
    console.error("sending increments to the builder queue failed", { appId, error: errorText(err) });
    return 0;
  }
}

/**
 * The `graycast-increments` consumer: one build per message. A message whose row is built,
 * skipped, failed or being built by another delivery is acked as a no-op (buildIncrementRow
 * claims the row first); a thrown build leaves the row `queued` and is retried with backoff.
 */
export async function consumeIncrements(
  batch: MessageBatch<IncrementMessage>,
  env: IncrementBuilderBindings,
  clock: () => number = Date.now,
): Promise<void> {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    const id = message.body?.incrementId;
    if (typeof id !== "string") {
      message.ack();
      continue;
    }
    try {
      await buildIncrementRow(db, env.PACKAGES, id, clock(), env.PACKAGE_KEY_SECRET, {
        giveUpAfter: Infinity,
      });
      message.ack();
    } catch (err) {
      console.error("increment build failed; will retry", {
        incrementId: id,
        attempt: message.attempts,
        error: errorText(err),
      });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

/**
 * The `graycast-increments-dlq` consumer: the queue gave up on these builds. Marks each row
 * `failed` (keeping the last error), unless it finished meanwhile or a live build owns it.
 */
export async function consumeDeadIncrements(
  batch: MessageBatch<IncrementMessage>,
  env: Pick<IncrementBuilderBindings, "DB">,
  clock: () => number = Date.now,
): Promise<void> {
  const db = createDb(env.DB);
  for (const message of batch.messages) {
    const id = message.body?.incrementId;
    if (typeof id === "string") {
      const now = clock();
      await db
        .update(increments)
        .set({
          status: "failed",
          builtAt: now,
          detail: sql`substr('gave up after ' || ${increments.attempts} || ' attempts' || case when ${increments.detail} <> '' then '; last error: ' || ${increments.detail} else '' end, 1, 600)`,
        })
        .where(
          and(
            eq(increments.id, id),
            or(
              eq(increments.status, "queued"),
              and(
                eq(increments.status, "building"),
                sql`${increments.startedAt} < ${now - STALE_BUILDING_MS}`,
              ),
            ),
          ),
        )
        .run();
    }
    message.ack();
  }
}

/** Rows to send again: queued and untouched for STALE_PENDING_MS, or building past STALE_BUILDING_MS. */
export async function staleIncrements(db: Db, now: number, limit = 500) {
  return db
    .select({ id: increments.id })
    .from(increments)
    .where(
      or(
        and(
          eq(increments.status, "queued"),
          sql`coalesce(${increments.startedAt}, ${increments.createdAt}) < ${now - STALE_PENDING_MS}`,
        ),
        and(eq(increments.status, "building"), sql`${increments.startedAt} < ${now - STALE_BUILDING_MS}`),
      ),
    )
    .orderBy(increments.createdAt)
    .limit(limit)
    .all();
}

/**
 * Cron (admin Worker): re-send stale rows to the builder queue. It never builds: a build in the
 * admin Worker would stall its requests. Without a queue bound there is nothing to send to.
 */
export async function sweepIncrements(
  env: IncrementProducerBindings,
  now: number,
  db: Db = createDb(env.DB),
): Promise<{ resent: number }> {
  if (!env.INCREMENTS) return { resent: 0 };
  const stale = await staleIncrements(db, now);
  await send(
    env.INCREMENTS,
    stale.map((r) => r.id),
  );
  return { resent: stale.length };
}
