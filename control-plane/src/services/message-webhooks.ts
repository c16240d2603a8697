/**
 * Push webhooks of delivered subscription messages (PRODUCT.md T5; issue 14: "an optional push
 * webhook per host app (HMAC-signed body, retries with backoff on a Cloudflare Queue, a dead-letter
 * record after the last try)").
 *
 * The admin Worker's send puts `{ messageId, hostAppId }` on the MESSAGE_WEBHOOKS queue after the
 * message is in the inbox. The builder Worker (control-plane/src/builder.ts) consumes it — off the
 * admin Worker, as increment builds are, so a slow host app server never holds an admin isolate —
 * POSTs the message to the host app's URL signed with its secret, and on a failure (network error,
 * timeout, non-2xx) retries with exponential backoff; after the queue's last retry (max_retries 5)
 * the message moves to the dead-letter queue, whose consumer writes `message_dead_letters` and
 * marks the inbox row's push failed. The secret is opened (services/message-seal.ts) at each
 * attempt, so a rotation applies to the next try and a removed webhook stops the pushes.
 *
 * Signature (docs/messages.md): `x-graycast-timestamp: <unix seconds>` and
 * `x-graycast-signature: sha256=<hex HMAC-SHA-256(secret, "<timestamp>.<body>")>`.
 */
import { and, eq } from "drizzle-orm";
import type { WebhookPayload } from "../../../core/contracts/messages";
import { webhookRetryDelaySeconds, webhookSignature } from "../../../core/messages";
import type { Db } from "../db/client";
import { createDb } from "../db/client";
import { messageDeadLetters, messageInbox, messageSubscriptions, messageWebhooks } from "../db/schema";
import { randomId } from "../lib/encoding";
import { open } from "./message-seal";

export interface PushMessage {
  messageId: string;
  hostAppId: string;
}

export const PUSH_TIMEOUT_MS = 10_000;

/** Producer side: after the inbox insert. A queue that refuses is recorded as a dead letter at once. */
export async function enqueuePush(
  env: { MESSAGE_WEBHOOKS?: Queue<PushMessage> },
  db: Db,
  msg: PushMessage,
  now = Date.now(),
): Promise<void> {
  try {
    if (!env.MESSAGE_WEBHOOKS) throw new Error("no MESSAGE_WEBHOOKS queue bound");
    await env.MESSAGE_WEBHOOKS.send(msg, { contentType: "json" });
  } catch (err) {
    console.error("message push not queued", { messageId: msg.messageId, error: String(err) });
    await recordDeadLetter(
      db,
      msg,
      0,
      `not queued: ${String(err instanceof Error ? err.message : err)}`,
      now,
    );
  }
}

async function recordDeadLetter(db: Db, msg: PushMessage, attempts: number, lastError: string, now: number) {
  const row = await db
    .select({ miniProgramId: messageInbox.miniProgramId, pushError: messageInbox.pushError })
    .from(messageInbox)
    .where(eq(messageInbox.id, msg.messageId))
    .get();
  const hook = await db
    .select({ url: messageWebhooks.url })
    .from(messageWebhooks)
    .where(eq(messageWebhooks.hostAppId, msg.hostAppId))
    .get();
  await db.batch([
    db
      .insert(messageDeadLetters)
      .values({
        id: randomId("dl", 10),
        hostAppId: msg.hostAppId,
        messageId: msg.messageId,
        miniProgramId: row?.miniProgramId ?? "",
        url: hook?.url ?? "",
        attempts,
        lastError: (row?.pushError ?? lastError).slice(0, 500),
        createdAt: now,
      })
      // A message dead-lettered twice (a redelivered DLQ batch) is recorded once.
      .onConflictDoNothing(),
    db.update(messageInbox).set({ pushState: "failed" }).where(eq(messageInbox.id, msg.messageId)),
  ]);
}

export type PushFetch = (request: Request) => Promise<Response>;

const isPush = (b: unknown): b is PushMessage =>
  typeof b === "object" &&
  b !== null &&
  typeof (b as PushMessage).messageId === "string" &&
  typeof (b as PushMessage).hostAppId === "string";

/** One delivery attempt: "delivered", "dropped" (nothing to push any more) or the failure. */
export async function pushOnce(
  env: { DB: D1Database; MESSAGE_WEBHOOK_KEY?: string },
  msg: PushMessage,
  attempt: number,
  send: PushFetch = (r) => fetch(r),
  now = Date.now(),
): Promise<{ ok: true; outcome: "delivered" | "dropped" } | { ok: false; error: string }> {
  const db = createDb(env.DB);
  const [row, hook] = await Promise.all([
    db.select().from(messageInbox).where(eq(messageInbox.id, msg.messageId)).get(),
    db.select().from(messageWebhooks).where(eq(messageWebhooks.hostAppId, msg.hostAppId)).get(),
  ]);
  if (!row || !hook || row.pushState === "delivered") return { ok: true, outcome: "dropped" };
  const [secret, sub] = await Promise.all([
    open(env.MESSAGE_WEBHOOK_KEY, "webhook secret", hook.hostAppId, hook.secretSealed),
    db
      .select({ accountSealed: messageSubscriptions.accountSealed })
      .from(messageSubscriptions)
      .where(
        and(eq(messageSubscriptions.templateId, row.templateId), eq(messageSubscriptions.openid, row.openid)),
      )
      .get(),
  ]);
  if (secret === undefined) return { ok: false, error: "the webhook secret does not open: rotate it" };
  const account = sub
    ? await open(env.MESSAGE_WEBHOOK_KEY, "subscriber account", row.hostAppId, sub.accountSealed)
    : undefined;
  const payload: WebhookPayload & { account: string | null } = {
    type: "subscribe_message",
    messageId: row.id,
    appId: row.miniProgramId,
    hostAppId: row.hostAppId,
    openid: row.openid,
    account: account ?? null,
    templateId: row.templateId,
    title: row.title,
    page: row.page,
    lines: JSON.parse(row.lines),
    createdAt: row.createdAt,
  };
  const sent = await signedPost(send, hook.url, secret, JSON.stringify(payload), now, {
    "user-agent": "graycast-message-push/1",
    "x-graycast-message-id": row.id,
    "x-graycast-attempt": String(attempt),
  });
  if (sent.ok) {
    await db
      .update(messageInbox)
      .set({ pushState: "delivered", pushAttempts: attempt, pushError: null })
      .where(eq(messageInbox.id, row.id))
      .run();
    return { ok: true, outcome: "delivered" };
  }
  const { error } = sent;
  await db
    .update(messageInbox)
    .set({ pushAttempts: attempt, pushError: error })
    .where(eq(messageInbox.id, row.id))
    .run();
  return { ok: false, error };
}

/**
 * POSTs `body` to `url` signed with `secret` (the docs/messages.md scheme: `x-graycast-timestamp`,
 * `x-graycast-signature: sha256=<hex HMAC(secret, "<timestamp>.<body>")>`), with a timeout and no
 * redirects followed. A 2xx is delivered; anything else is the failure in a few words. Shared by
 * the message push and the team notification webhook (services/team-webhooks.ts).
 */
export async function signedPost(
  send: PushFetch,
  url: string,
  secret: string,
  body: string,
  now: number,
  headers: Record<string, string>,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const timestamp = Math.floor(now / 1000);
  const signature = await webhookSignature(secret, timestamp, body);
  try {
    const res = await send(
      new Request(url, {
        method: "POST",
        headers: {
          ...headers,
          "content-type": "application/json",
          "x-graycast-timestamp": String(timestamp),
          "x-graycast-signature": `sha256=${signature}`,
        },
        body,
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
        redirect: "manual",
      }),
    );
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true };
    return { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    return {
      ok: false,
      error: String(err instanceof Error ? `${err.name}: ${err.message}` : err).slice(0, 200),
    };
  }
}

/** The push queue's consumer (builder Worker): ack what was delivered or is moot, retry the rest. */
export async function consumePushes(
  batch: MessageBatch<unknown>,
  env: { DB: D1Database; MESSAGE_WEBHOOK_KEY?: string },
  send?: PushFetch,
  now?: () => number,
): Promise<void> {
  for (const m of batch.messages) {
    if (!isPush(m.body)) {
      m.ack();
      continue;
    }
    try {
      const r = await pushOnce(env, m.body, m.attempts, send, now?.());
      if (r.ok) m.ack();
      else m.retry({ delaySeconds: webhookRetryDelaySeconds(m.attempts) });
    } catch (err) {
      console.error("message push failed", { messageId: m.body.messageId, error: String(err) });
      m.retry({ delaySeconds: webhookRetryDelaySeconds(m.attempts) });
    }
  }
}

/** The dead-letter queue's consumer: one record per message that failed its last try. */
export async function consumeDeadPushes(
  batch: MessageBatch<unknown>,
  env: { DB: D1Database },
  now: () => number = Date.now,
): Promise<void> {
  const db = createDb(env.DB);
  for (const m of batch.messages) {
    if (!isPush(m.body)) {
      m.ack();
      continue;
    }
    const row = await db
      .select({ pushAttempts: messageInbox.pushAttempts, pushState: messageInbox.pushState })
      .from(messageInbox)
      .where(eq(messageInbox.id, m.body.messageId))
      .get();
    if (row?.pushState !== "delivered")
      await recordDeadLetter(db, m.body, row?.pushAttempts ?? 0, "push failed", now());
    m.ack();
  }
}
