/**
 * A team's notification webhook (issue 15: "when a guardrail trips, the task is suspended ... and
 * the team is notified in the change log and, if configured, a webhook").
 *
 * Configuration: team admins set an https URL and the events they want; a first configuration or
 * a rotation makes a signing secret, answered once and stored sealed (services/message-seal.ts,
 * its own key derivation "team webhook secret", the team as context).
 *
 * Delivery reuses the host apps' message push (services/message-webhooks.ts): the event is one
 * message on the same MESSAGE_WEBHOOKS queue (a `{ kind: "team_event" }` message next to the push
 * messages, which carry no kind), consumed by the builder Worker with the same retries (backoff,
 * max_retries 5) and dead-letter queue, POSTed with the same signature headers. The event row
 * (`team_webhook_events`) is written before the queue message, so the consumer sends the body the
 * event had, and the row's state is the record: `delivered`, or `failed` after the last try (or at
 * once if the queue refused it), which the dead-letter list shows.
 *
 * The producer never throws: a guardrail's suspension is written first (services/health.ts) and
 * a notification that cannot be queued is recorded as failed, never undoing it.
 */
import { and, desc, eq, lt } from "drizzle-orm";
import type { z } from "zod";
import type { PutTeamWebhookSchema, TeamWebhookPayload } from "../../../core/contracts/team-webhooks";
import { notFound } from "../../../core/errors";
import { webhookRetryDelaySeconds } from "../../../core/messages";
import type { Actor } from "../auth/actor";
import { createDb, type Db } from "../db/client";
import { type TeamWebhookEvent, teamWebhookEvents, teamWebhooks } from "../db/schema";
import type { AdminBindings } from "../env";
import { randomId, webhookSecret } from "../lib/encoding";
import { before, pageOf } from "../lib/keyset";
import { ADMIN_ROLES, requireTeamRole } from "./access";
import { recordChange, recordChangeIfChanged } from "./change-log";
import { open, seal } from "./message-seal";
import {
  consumeDeadPushes,
  consumePushes,
  type PushFetch,
  type PushMessage,
  signedPost,
} from "./message-webhooks";

/** A team event on the MESSAGE_WEBHOOKS queue (push messages have no `kind`). */
export interface TeamEventMessage {
  kind: "team_event";
  eventId: string;
  teamId: string;
}
/** Everything the MESSAGE_WEBHOOKS queue carries. */
export type WebhookQueueMessage = PushMessage | TeamEventMessage;

const isTeamEvent = (b: unknown): b is TeamEventMessage =>
  typeof b === "object" &&
  b !== null &&
  (b as TeamEventMessage).kind === "team_event" &&
  typeof (b as TeamEventMessage).eventId === "string" &&
  typeof (b as TeamEventMessage).teamId === "string";

const SEAL_USE = "team webhook secret";

// ---------------------------------------------------------------- configuration (team admins)

type WebhookRow = typeof teamWebhooks.$inferSelect;
const webhookView = (row: WebhookRow, secret?: string) => ({
  teamId: row.teamId,
  url: row.url,
  events: row.events,
  secretSetAt: row.secretSetAt,
  updatedBy: row.updatedBy,
  updatedAt: row.updatedAt,
  ...(secret === undefined ? {} : { secret }),
});

export async function getTeamWebhook(db: Db, actor: Actor, teamId: string) {
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
  const row = await db.select().from(teamWebhooks).where(eq(teamWebhooks.teamId, teamId)).get();
  if (!row) throw notFound("team webhook");
  return webhookView(row);
}

/** Sets URL and events; a first configuration or `rotateSecret` makes a new secret, answered once. */
export async function putTeamWebhook(
  env: Pick<AdminBindings, "MESSAGE_WEBHOOK_KEY">,
  db: Db,
  actor: Actor,
  teamId: string,
  body: z.infer<typeof PutTeamWebhookSchema>,
  now = Date.now(),
) {
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
  const existing = await db.select().from(teamWebhooks).where(eq(teamWebhooks.teamId, teamId)).get();
  let secret: string | undefined;
  let secretSealed = existing?.secretSealed;
  let secretSetAt = existing?.secretSetAt ?? now;
  if (!existing || body.rotateSecret) {
    secret = webhookSecret();
    secretSealed = await seal(env.MESSAGE_WEBHOOK_KEY, SEAL_USE, teamId, secret);
    secretSetAt = now;
  }
  const row: WebhookRow = {
    teamId,
    url: body.url,
    events: body.events,
    secretSealed: secretSealed!,
    secretSetAt,
    updatedBy: actor.userId,
    updatedAt: now,
  };
  const { teamId: _key, ...set } = row;
  await db.batch([
    db.insert(teamWebhooks).values(row).onConflictDoUpdate({ target: teamWebhooks.teamId, set }),
    recordChange(
      db,
      actor,
      {
        action: "team_webhook.put",
        teamId,
        targetType: "team",
        targetId: teamId,
        // Never the secret: only whether it changed.
        detail: { url: body.url, events: body.events, secretRotated: secret !== undefined },
      },
      now,
    ),
  ]);
  return webhookView(row, secret);
}

export async function deleteTeamWebhook(db: Db, actor: Actor, teamId: string, now = Date.now()) {
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
  const [deleted] = await db.batch([
    db.delete(teamWebhooks).where(eq(teamWebhooks.teamId, teamId)).returning({ id: teamWebhooks.teamId }),
    recordChangeIfChanged(
      db,
      actor,
      { action: "team_webhook.delete", teamId, targetType: "team", targetId: teamId },
      now,
    ),
  ]);
  if (deleted.length === 0) throw notFound("team webhook");
  return { ok: true as const };
}

/** Events that failed their last try (or could not be queued), newest first. */
export async function listTeamDeadLetters(
  db: Db,
  actor: Actor,
  teamId: string,
  cursor: string | undefined,
  limit: number,
) {
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
  const t = teamWebhookEvents;
  const rows = await db
    .select()
    .from(t)
    .where(and(eq(t.teamId, teamId), eq(t.state, "failed"), before(t.createdAt, t.id, cursor)))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(limit + 1)
    .all();
  const { page, nextCursor } = pageOf(rows, limit);
  return {
    deadLetters: page.map((r) => ({
      id: r.id,
      teamId: r.teamId,
      type: r.type,
      url: r.url,
      attempts: r.attempts,
      lastError: r.lastError ?? "failed",
      createdAt: r.createdAt,
      failedAt: r.failedAt ?? r.createdAt,
      payload: JSON.parse(r.payload) as Record<string, unknown>,
    })),
    nextCursor,
  };
}

// ---------------------------------------------------------------- producer

/** A team event without its id (notifyTeam gives it one). */
export type TeamEventInput = Omit<TeamWebhookPayload, "eventId">;

/**
 * Queues `event` for the team's webhook if one is configured for its type. Never throws: this
 * runs after the change it reports is written, and must not turn it into a failure. Answers the
 * event's id, or null when there is no webhook for it (or its configuration could not be read).
 */
export async function notifyTeam(
  env: { MESSAGE_WEBHOOKS?: Queue<WebhookQueueMessage> },
  db: Db,
  event: TeamEventInput,
  now = Date.now(),
): Promise<string | null> {
  let eventId: string | null = null;
  try {
    const hook = await db
      .select({ url: teamWebhooks.url, events: teamWebhooks.events })
      .from(teamWebhooks)
      .where(eq(teamWebhooks.teamId, event.teamId))
      .get();
    if (!hook?.events.includes(event.type as TeamWebhookEvent)) return null;
    const id = randomId("tev", 12);
    const payload: TeamWebhookPayload = { ...event, eventId: id };
    await db
      .insert(teamWebhookEvents)
      .values({
        id,
        teamId: event.teamId,
        type: event.type,
        payload: JSON.stringify(payload),
        url: hook.url,
        state: "pending",
        createdAt: now,
      })
      .run();
    eventId = id;
    if (!env.MESSAGE_WEBHOOKS) throw new Error("no MESSAGE_WEBHOOKS queue bound");
    await env.MESSAGE_WEBHOOKS.send(
      { kind: "team_event", eventId: id, teamId: event.teamId },
      { contentType: "json" },
    );
    return id;
  } catch (err) {
    const error = String(err instanceof Error ? err.message : err).slice(0, 200);
    console.error("team notification not queued", { teamId: event.teamId, type: event.type, error });
    if (eventId !== null) {
      try {
        await db
          .update(teamWebhookEvents)
          .set({ state: "failed", lastError: `not queued: ${error}`, failedAt: now })
          .where(eq(teamWebhookEvents.id, eventId))
          .run();
      } catch (again) {
        console.error("team notification failure not recorded", { eventId, error: String(again) });
      }
    }
    return eventId;
  }
}

// ---------------------------------------------------------------- consumer (builder Worker)

type ConsumerEnv = { DB: D1Database; MESSAGE_WEBHOOK_KEY?: string };

/** One delivery attempt of a team event: delivered, dropped (moot) or the failure. */
export async function deliverTeamEventOnce(
  env: ConsumerEnv,
  msg: TeamEventMessage,
  attempt: number,
  send: PushFetch = (r) => fetch(r),
  now = Date.now(),
): Promise<{ ok: true; outcome: "delivered" | "dropped" } | { ok: false; error: string }> {
  const db = createDb(env.DB);
  const [row, hook] = await Promise.all([
    db.select().from(teamWebhookEvents).where(eq(teamWebhookEvents.id, msg.eventId)).get(),
    db.select().from(teamWebhooks).where(eq(teamWebhooks.teamId, msg.teamId)).get(),
  ]);
  // A removed webhook (or one that no longer wants this type) stops the deliveries.
  if (!row || row.teamId !== msg.teamId || row.state !== "pending") return { ok: true, outcome: "dropped" };
  if (!hook?.events.includes(row.type)) return { ok: true, outcome: "dropped" };
  const secret = await open(env.MESSAGE_WEBHOOK_KEY, SEAL_USE, hook.teamId, hook.secretSealed);
  const sent =
    secret === undefined
      ? ({ ok: false, error: "the webhook secret does not open: rotate it" } as const)
      : await signedPost(send, hook.url, secret, row.payload, now, {
          "user-agent": "graycast-team-webhook/1",
          "x-graycast-event": row.type,
          "x-graycast-event-id": row.id,
          "x-graycast-attempt": String(attempt),
        });
  await db
    .update(teamWebhookEvents)
    .set(
      sent.ok
        ? { state: "delivered", attempts: attempt, lastError: null, url: hook.url }
        : { attempts: attempt, lastError: sent.error, url: hook.url },
    )
    .where(eq(teamWebhookEvents.id, row.id))
    .run();
  return sent.ok ? { ok: true, outcome: "delivered" } : sent;
}

/** Splits a MESSAGE_WEBHOOKS batch: team events here, everything else to the message push's consumer. */
function split(batch: MessageBatch<unknown>) {
  const team = batch.messages.filter((m) => isTeamEvent(m.body)) as readonly Message<TeamEventMessage>[];
  const rest = batch.messages.filter((m) => !isTeamEvent(m.body));
  // Only `messages` is read by the push consumers; ackAll/retryAll stay the batch's own.
  const restBatch = {
    queue: batch.queue,
    metadata: batch.metadata,
    messages: rest,
    ackAll: () => batch.ackAll(),
    retryAll: (o?: QueueRetryOptions) => batch.retryAll(o),
  } as MessageBatch<unknown>;
  return { team, rest: restBatch };
}

/** The MESSAGE_WEBHOOKS queue's consumer (builder Worker): message pushes and team events. */
export async function consumeWebhooks(
  batch: MessageBatch<unknown>,
  env: ConsumerEnv,
  send?: PushFetch,
  now?: () => number,
): Promise<void> {
  const { team, rest } = split(batch);
  if (rest.messages.length > 0) await consumePushes(rest, env, send, now);
  for (const m of team) {
    try {
      const r = await deliverTeamEventOnce(env, m.body, m.attempts, send, now?.());
      if (r.ok) m.ack();
      else m.retry({ delaySeconds: webhookRetryDelaySeconds(m.attempts) });
    } catch (err) {
      console.error("team notification failed", { eventId: m.body.eventId, error: String(err) });
      m.retry({ delaySeconds: webhookRetryDelaySeconds(m.attempts) });
    }
  }
}

/** The dead-letter queue's consumer: a team event that failed its last try is marked failed. */
export async function consumeDeadWebhooks(
  batch: MessageBatch<unknown>,
  env: { DB: D1Database },
  now: () => number = Date.now,
): Promise<void> {
  const { team, rest } = split(batch);
  if (rest.messages.length > 0) await consumeDeadPushes(rest, env, now);
  const db = createDb(env.DB);
  for (const m of team) {
    // Only a pending event: a delivered one stays delivered, a redelivered DLQ batch changes nothing.
    await db
      .update(teamWebhookEvents)
      .set({ state: "failed", failedAt: now() })
      .where(and(eq(teamWebhookEvents.id, m.body.eventId), eq(teamWebhookEvents.state, "pending")))
      .run();
    m.ack();
  }
}

/** How long a team's notifications (delivered, failed or stuck pending) are kept: 30 days. */
export const TEAM_EVENT_RETENTION_MS = 30 * 86_400_000;

/** The cron's retention sweep of team notifications (docs/storage.md). */
export async function sweepTeamEvents(db: Db, now = Date.now()): Promise<void> {
  await db.delete(teamWebhookEvents).where(lt(teamWebhookEvents.createdAt, now - TEAM_EVENT_RETENTION_MS));
}
