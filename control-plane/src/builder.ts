/**
 * The increment builder Worker (`graycast-builder`, control-plane/builder/wrangler.toml): consumes
 * the increments queue (one build per message, control-plane/src/increments/queue.ts) and its
 * dead-letter queue, whose name is the INCREMENTS_DLQ var (each environment has its own queues). Its own Worker, not the admin Worker's `queue` handler: a build is seconds of
 * synchronous CPU (unzip, zstd WASM), and an isolate runs one thing at a time, so a build in the
 * admin Worker stalled every admin request sharing its isolate (measured in docs/increments.md).
 * Bindings: D1, R2, PACKAGE_KEY_SECRET and MESSAGE_WEBHOOK_KEY (to sign message pushes).
 */
import { withBusyRetries } from "./db/busy-retry";
import { consumeDeadIncrements, consumeIncrements, type IncrementMessage } from "./increments/queue";
import { consumeDeadWebhooks, consumeWebhooks } from "./services/team-webhooks";

export type BuilderBindings = BuilderEnv & { PACKAGE_KEY_SECRET?: string };

/** Liveness only (`npm start` waits for it); the builder serves nothing else over HTTP. */
async function fetch(request: Request, env: BuilderBindings): Promise<Response> {
  if (new URL(request.url).pathname !== "/healthz")
    return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
  await env.DB.prepare("select 1").first();
  return Response.json({ ok: true, service: "graycast-builder" });
}

/** Queues the builder consumes, by the batch's queue name (each environment has its own queues). */
const MESSAGE_WEBHOOKS_QUEUE = /^graycast-message-webhooks(-dev|-staging)?$/;

/**
 * Every queue arrives here; the batch names its queue: INCREMENTS_DLQ and MESSAGE_WEBHOOKS_DLQ name
 * the dead-letter ones. Subscription message pushes (issue 14) are consumed here too: an outbound
 * POST per message, kept off the admin Worker as builds are (services/message-webhooks.ts), and
 * so are teams' notifications (issue 15: a guardrail tripped), which share that queue as messages
 * of `kind: "team_event"` (services/team-webhooks.ts).
 */
async function queue(batch: MessageBatch<IncrementMessage>, env: BuilderBindings): Promise<void> {
  if (batch.queue === env.MESSAGE_WEBHOOKS_DLQ) await consumeDeadWebhooks(batch, env);
  else if (MESSAGE_WEBHOOKS_QUEUE.test(batch.queue)) await consumeWebhooks(batch, env);
  else if (batch.queue === env.INCREMENTS_DLQ) await consumeDeadIncrements(batch, env);
  else await consumeIncrements(batch, env);
}

export default {
  fetch,
  queue: (batch, env) => queue(batch, withBusyRetries(env)),
} satisfies ExportedHandler<BuilderBindings, IncrementMessage>;
