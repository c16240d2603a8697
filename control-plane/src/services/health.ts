/**
 * Health-gated grayscale (PRODUCT.md G7; issue 15: "a grayscale task can carry guardrails ... when
 * a guardrail trips, the task is suspended with end reason `guardrail` ..., new users stop getting
 * the version at once, and the team is notified in the change log and, if configured, a webhook"). Fed by the log queue's
 * consumer: `recordHealth` is called with every batch of log messages it takes off the queue.
 *
 * Per mini program of the batch: one D1 read (its tasks that still run and its online version;
 * the consumer is off the client's hot path, the edge never waits for it), then one call per task
 * to the task's counter object, which counts sessions, error sessions and crash reports per
 * version and 10-minute bucket and says whether a guardrail trips (durable-objects/health-ledger.ts).
 * A trip suspends the task through the same guarded write as a manual suspend (state, change-log
 * entry and snapshot revision in one batch, then the snapshot is published): suspended tasks admit
 * nobody new, admitted users keep the version (core/grayscale/lifecycle.ts). Then, best-effort,
 * the team's notification webhook gets a `grayscale.guardrail_tripped` event
 * (services/team-webhooks.ts): the suspension never waits on it nor fails with it.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { LogQueueMessage } from "../../../core/contracts/logs";
import {
  bucketOf,
  describeTrip,
  type GuardrailTrip,
  HEALTH_BUCKET_MS,
  type HealthRole,
  type TripFigures,
  versionHealth,
} from "../../../core/grayscale/health";
import type { HealthBucket, HealthObservation } from "../../../durable-objects/health-ledger";
import { MAX_HEALTH_OBSERVATIONS } from "../../../durable-objects/health-ledger";
import type { Actor } from "../auth/actor";
import { createDb, type Db } from "../db/client";
import { grayscaleTasks, miniPrograms, versions } from "../db/schema";
import { recordChangeIfChanged } from "./change-log";
import type { CounterNamespace } from "./grayscale-counter";
import { statusOf, type TaskRow } from "./grayscale-store";
import { publishCurrentSnapshot } from "./snapshot";
import { notifyTeam } from "./team-webhooks";

/** Who the audit trail names for a guardrail's suspension. */
export const GUARDRAIL_ACTOR: Actor = {
  userId: "system:guardrail",
  email: "guardrail@graycast.internal",
  isPlatformAdmin: false,
  via: "system",
};

/** How far back progress shows the health figures. */
export const HEALTH_PROGRESS_MS = 24 * 3_600_000;

type HealthBindings = Pick<AdminEnv, "DB" | "PACKAGES" | "GRAYSCALE_COUNTER"> &
  Partial<Pick<AdminEnv, "MESSAGE_WEBHOOKS">>;

/**
 * What one task's counter learns from the messages: one observation per version role, GUID and
 * bucket (a batch of 100 entries is one observation; several batches of one session merge).
 */
function observationsFor(messages: readonly LogQueueMessage[], gray: string, online: string | null) {
  const byKey = new Map<string, HealthObservation>();
  for (const { batch, receivedAt } of messages) {
    const role: HealthRole | undefined =
      batch.clientVersion === gray ? "gray" : batch.clientVersion === online ? "online" : undefined;
    if (role === undefined) continue;
    const key = `${role}\u0000${bucketOf(receivedAt)}\u0000${batch.guid}`;
    let o = byKey.get(key);
    if (o === undefined) {
      o = { role, guid: batch.guid, at: receivedAt, errored: false, crashTimes: [] };
      byKey.set(key, o);
    }
    o.at = Math.max(o.at, receivedAt);
    for (const entry of batch.entries) {
      if (entry.level !== "error") continue;
      o.errored = true;
      if (entry.crash === true) o.crashTimes.push(entry.time);
    }
  }
  return [...byKey.values()];
}

/**
 * Counts the health figures of every log message against the running tasks of its mini program
 * and suspends the tasks whose guardrail trips. Never throws: a failure is logged and the
 * messages are not counted (the logs themselves are stored by the consumer regardless).
 */
export async function recordHealth(env: HealthBindings, messages: LogQueueMessage[]): Promise<void> {
  const byApp = new Map<string, LogQueueMessage[]>();
  for (const m of messages) byApp.set(m.batch.appId, [...(byApp.get(m.batch.appId) ?? []), m]);
  const db = createDb(env.DB);
  for (const [appId, appMessages] of byApp) {
    try {
      await recordAppHealth(env, db, appId, appMessages);
    } catch (err) {
      console.error("health guardrails: messages not counted", { appId, error: String(err) });
    }
  }
}

async function recordAppHealth(env: HealthBindings, db: Db, appId: string, messages: LogQueueMessage[]) {
  const now = Date.now();
  const [rows, app] = await Promise.all([
    db
      .select()
      .from(grayscaleTasks)
      .where(
        and(
          eq(grayscaleTasks.miniProgramId, appId),
          inArray(grayscaleTasks.state, ["pending", "delivering", "suspended"]),
        ),
      )
      .all(),
    db
      .select({ teamId: miniPrograms.teamId, online: versions.version })
      .from(miniPrograms)
      .leftJoin(versions, eq(versions.id, miniPrograms.onlineVersionId))
      .where(eq(miniPrograms.id, appId))
      .get(),
  ]);
  if (!app) return;
  const online = app.online ?? null;
  for (const row of rows) {
    const { state } = statusOf(row, now);
    // Suspended tasks still count (their admitted users run the version), they just cannot trip.
    if (state !== "delivering" && state !== "suspended") continue;
    const observations = observationsFor(messages, row.version, online);
    if (observations.length === 0) continue;
    const armed = state === "delivering" && row.guardrails ? row.guardrails : null;
    const stub = env.GRAYSCALE_COUNTER.getByName(row.id);
    let trip: TripFigures | null = null;
    for (let i = 0; i < observations.length; i += MAX_HEALTH_OBSERVATIONS) {
      const figures = await stub.recordHealth({
        since: row.healthSince,
        guardrails: trip === null ? armed : null,
        observations: observations.slice(i, i + MAX_HEALTH_OBSERVATIONS),
      });
      trip ??= figures;
    }
    if (trip !== null)
      await suspendByGuardrail(env, db, row, app.teamId, tripOf(trip, row.version, online, now));
  }
}

function tripOf(f: TripFigures, gray: string, online: string | null, at: number): GuardrailTrip {
  const trip = { ...f, at, gray: { ...f.gray, version: gray }, online: { ...f.online, version: online } };
  return { ...trip, summary: describeTrip(trip) };
}

/**
 * Suspends the task (cause `guardrail`) only if nobody changed it since it was read: a manual
 * action or a resume in between wins, and of concurrent consumers that saw the same trip one
 * writes. The change-log entry carries the figures.
 */
async function suspendByGuardrail(
  env: HealthBindings,
  db: Db,
  row: TaskRow,
  teamId: string,
  trip: GuardrailTrip,
) {
  const now = trip.at;
  const [updated] = await db.batch([
    db
      .update(grayscaleTasks)
      .set({
        state: "suspended",
        endReason: null,
        suspendedByDelisting: false,
        suspendedByGuardrail: true,
        guardrailTrip: trip,
        updatedAt: now,
      })
      .where(
        and(
          eq(grayscaleTasks.id, row.id),
          eq(grayscaleTasks.state, row.state),
          eq(grayscaleTasks.updatedAt, row.updatedAt),
        ),
      )
      .returning({ id: grayscaleTasks.id }),
    // Only if the task row changed (SQLite's changes() of the statement before), so a consumer
    // that lost the race bumps nothing; the change-log entry after it likewise.
    db
      .update(miniPrograms)
      .set({ snapshotRevision: sql`${miniPrograms.snapshotRevision} + 1` })
      .where(and(eq(miniPrograms.id, row.miniProgramId), sql`changes() = 1`)),
    recordChangeIfChanged(
      db,
      GUARDRAIL_ACTOR,
      {
        action: "grayscale_task.suspend",
        teamId,
        targetType: "grayscale_task",
        targetId: row.id,
        detail: {
          appId: row.miniProgramId,
          from: statusOf(row, now).state,
          to: "suspended",
          cause: "guardrail",
          guardrail: trip.guardrail,
          summary: trip.summary,
          figures: { window: trip.window, gray: trip.gray, online: trip.online, limit: trip.limit },
        },
      },
      now,
    ),
  ]);
  if (updated.length === 0) return;
  // The suspension is written; neither the snapshot nor the notification can undo it, and the
  // notification must not wait for a failing publish (the next write republishes anyway).
  try {
    await publishCurrentSnapshot(db, env.PACKAGES, row.miniProgramId);
  } finally {
    console.warn("grayscale task suspended by a guardrail", { taskId: row.id, trip: trip.summary });
    // notifyTeam never throws: a notification that is not queued is recorded as a dead letter.
    await notifyTeam(env, db, {
      type: "grayscale.guardrail_tripped",
      teamId,
      appId: row.miniProgramId,
      taskId: row.id,
      version: row.version,
      trip,
      at: now,
    });
  }
}

/** Why a task is suspended, as the API shows it (null unless suspended). */
export function suspendCauseOf(row: TaskRow, state: string): "manual" | "delisted" | "guardrail" | null {
  if (state !== "suspended") return null;
  if (row.suspendedByDelisting) return "delisted";
  if (row.suspendedByGuardrail) return "guardrail";
  return "manual";
}

const emptyHealth = () => versionHealth(0, 0, 0);

/**
 * The health figures of a task for progress: per 10-minute bucket of the last HEALTH_PROGRESS_MS,
 * both versions side by side (buckets without any log are left out), with the guardrails and the
 * last trip.
 */
export async function healthProgress(
  counters: CounterNamespace,
  row: TaskRow,
  state: string,
  now = Date.now(),
) {
  const from = bucketOf(now - HEALTH_PROGRESS_MS) + HEALTH_BUCKET_MS;
  const tallies: HealthBucket[] = await counters.getByName(row.id).healthBuckets(from);
  const buckets = new Map<
    number,
    { bucket: number; gray: ReturnType<typeof emptyHealth>; online: ReturnType<typeof emptyHealth> }
  >();
  for (const t of tallies) {
    let b = buckets.get(t.bucket);
    if (b === undefined) {
      b = { bucket: t.bucket, gray: emptyHealth(), online: emptyHealth() };
      buckets.set(t.bucket, b);
    }
    b[t.role] = versionHealth(t.sessions, t.errorSessions, t.crashes);
  }
  return {
    guardrails: row.guardrails ?? null,
    suspendedByGuardrail: state === "suspended" && row.suspendedByGuardrail,
    trip: row.guardrailTrip ?? null,
    /** sightings before this count for progress only, not towards a guardrail (a resume moves it) */
    windowSince: row.healthSince,
    bucketMinutes: HEALTH_BUCKET_MS / 60_000,
    buckets: [...buckets.values()],
  };
}
