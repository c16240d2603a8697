/**
 * The control-plane (admin) Worker: admin API for teams, host apps, mini programs, versions,
 * audits, releases and grayscale tasks; OpenAPI description at /openapi.json and a docs page at
 * /docs. The web console (console/, built into console/dist) is served beside it as static assets
 * (control-plane/wrangler.toml [assets]): /, /index.html and /assets/*; everything else reaches this app. Its cron (every minute) applies the time- and cap-driven grayscale transitions and
 * republishes snapshots whose publish failed.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { secureHeaders } from "hono/secure-headers";
import { discardRequestBody } from "../../core/bytes";
import type { LogQueueMessage } from "../../core/contracts/logs";
import { validationError } from "../../core/contracts/validation";
import { ApiError, RateLimitedError, toApiError } from "../../core/errors";
import { authenticate } from "./auth/middleware";
import { withBusyRetries } from "./db/busy-retry";
import { createDb } from "./db/client";
import type { AdminHono } from "./env";
import { sweepIncrements } from "./increments/queue";
import { limitJsonBodies } from "./lib/request-body";
import { appSecretRoutes } from "./routes/app-secrets";
import { appApplicationRoutes, hostAppApplicationRoutes } from "./routes/applications";
import { auditRoutes } from "./routes/audits";
import { authRoutes } from "./routes/auth";
import { changeLogRoutes } from "./routes/change-log";
import { domainRoutes } from "./routes/domains";
import { explainRoutes } from "./routes/explain";
import { grayscaleTaskRoutes } from "./routes/grayscale-tasks";
import { grayscaleWhitelistRoutes } from "./routes/grayscale-whitelists";
import { hostAppKeyRoutes } from "./routes/host-app-keys";
import { hostAppRoutes } from "./routes/host-apps";
import { incrementRoutes } from "./routes/increments";
import { logRoutes } from "./routes/logs";
import { messageSendRoutes } from "./routes/message-send";
import { messageLibraryRoutes, messageTemplateRoutes, messageWebhookRoutes } from "./routes/messages";
import { miniProgramRoutes } from "./routes/mini-programs";
import { offlinePackageRoutes } from "./routes/offline-packages";
import { packageEncryptionRoutes } from "./routes/package-encryption";
import { privacyRoutes } from "./routes/privacy";
import { serverApiRoutes } from "./routes/server-api";
import { signingKeyRoutes } from "./routes/signing-keys";
import { switchRoutes } from "./routes/switches";
import { teamWebhookRoutes } from "./routes/team-webhooks";
import { teamRoutes } from "./routes/teams";
import { userRoutes } from "./routes/users";
import { versionRoutes } from "./routes/versions";
import { runGrayscaleCron } from "./services/grayscale-cron";
import { recordHealth } from "./services/health";
import { consumeLogBatches, parseMessage, sweepLogs } from "./services/logs";
import { sweepMessages } from "./services/message-delivery";
import { sweepServerApi } from "./services/server-api";
import { sweepSnapshots } from "./services/snapshot";
import { sweepTeamEvents } from "./services/team-webhooks";

/** The methods the admin API serves; any other gets 405 with this list in `Allow`. */
const ALLOWED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

const app = new OpenAPIHono<AdminHono>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error);
  },
});

// Outermost: a body the answer did not need (401, 404, 405, a refusal before reading) is drained
// before the answer goes out, so the client gets the answer, not a reset (lib/request-body.ts).
app.use("*", async (c, next) => {
  const request = c.req.raw;
  await next();
  await discardRequestBody(request);
});
app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));
// Methods no route serves (TRACE, PROPFIND, ...): 405 with `Allow`, before authentication.
app.use("*", async (c, next) => {
  if (ALLOWED_METHODS.includes(c.req.method)) return next();
  throw new ApiError(
    "method_not_allowed",
    `${c.req.method} is not allowed here; use one of ${ALLOWED_METHODS.join(", ")}`,
  );
});
app.use("*", async (c, next) => {
  c.set("db", createDb(c.env.DB));
  await next();
});
// JSON bodies: at most JSON_BODY_LIMIT bytes. Uploads stream their own body with their own limit
// (routes/versions.ts, routes/grayscale-whitelists.ts).
app.use(
  "/v1/*",
  limitJsonBodies(
    (method, path) =>
      (method === "POST" && /\/versions$/.test(path)) ||
      (method === "PUT" && /\/grayscale-tasks\/[^/]+\/whitelists\/[^/]+$/.test(path)),
  ),
);

// Liveness of the Worker and its D1 binding.
app.get("/healthz", async (c) => {
  await c.env.DB.prepare("select 1").first();
  return c.json({ ok: true, service: "graycast-admin" });
});

// Every /v1 route but login needs a session or API token; roles are checked per resource.
app.use("/v1/*", async (c, next) => {
  if (c.req.path === "/v1/auth/login") return next();
  return authenticate(c, next);
});
app.route("/v1/auth", authRoutes);
app.route("/v1/users", userRoutes);
app.route("/v1/teams", teamRoutes);
app.route("/v1/teams", signingKeyRoutes);
app.route("/v1/teams", teamWebhookRoutes);
app.route("/v1/host-apps", hostAppRoutes);
app.route("/v1/host-apps", hostAppKeyRoutes);
app.route("/v1/mini-programs", miniProgramRoutes);
app.route("/v1/mini-programs", versionRoutes);
app.route("/v1/mini-programs", grayscaleTaskRoutes);
app.route("/v1/mini-programs", grayscaleWhitelistRoutes);
app.route("/v1/mini-programs", explainRoutes);
app.route("/v1/mini-programs", packageEncryptionRoutes);
app.route("/v1/mini-programs", incrementRoutes);
app.route("/v1/mini-programs", offlinePackageRoutes);
// Development management and runtime config (issue 12).
app.route("/v1/mini-programs", domainRoutes);
app.route("/v1/mini-programs", appApplicationRoutes);
app.route("/v1/host-apps", hostAppApplicationRoutes);
app.route("/v1/mini-programs", switchRoutes);
app.route("/v1/mini-programs", privacyRoutes);
app.route("/v1/mini-programs", appSecretRoutes);
// Subscription messages (issue 14): library, My Template, the host app's push webhook.
app.route("/v1/message-library", messageLibraryRoutes);
app.route("/v1/mini-programs", messageTemplateRoutes);
app.route("/v1/host-apps", messageWebhookRoutes);
// Real-time logs (issue 15): the query; the log queue's consumer is `queue` below.
app.route("/v1/mini-programs", logRoutes);
app.route("/v1/audits", auditRoutes);
app.route("/v1/change-log", changeLogRoutes);
// The mini program server API (WeChat-compatible paths at the root; the AppSecret authenticates).
app.route("/", serverApiRoutes);
// The subscription message send (server API, access token) and the edge's forwards of clients' calls.
app.route("/", messageSendRoutes);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "A session JWT from POST /v1/auth/login, or an API token (gct_...) from POST /v1/auth/tokens",
});
app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "Graycast admin API",
    version: "1.0.0",
    description:
      "Control plane of the Graycast mini program delivery network. Request bodies, with or without Content-Length: JSON at most 256 KiB, packages 32 MiB, txt whitelists 64 MiB; a longer body gets 413 payload_too_large. Methods no route serves get 405 method_not_allowed with an Allow header.",
  },
  security: [{ bearer: [] }],
});
// The API reference: a shell page whose script (console/src/docs.tsx, served from /assets) renders
// /openapi.json. Nothing from a CDN, so it works offline; the CSP allows this origin only.
const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Graycast admin API reference</title>
    <link rel="stylesheet" href="/assets/console.css" />
    <script type="module" src="/assets/docs.js"></script>
  </head>
  <body>
    <div id="app"><p>Loading the API reference from <a href="/openapi.json">/openapi.json</a>…</p></div>
  </body>
</html>
`;
app.get("/docs", (c) => {
  c.header(
    "content-security-policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  );
  return c.html(DOCS_HTML);
});

app.notFound(() => {
  throw new ApiError("not_found", "no such route");
});

app.onError((err, c) => {
  const { error, internal } = toApiError(err);
  if (internal)
    console.error("unhandled error", { path: c.req.path, method: c.req.method, error: String(err) });
  if (error.code === "method_not_allowed") c.header("allow", ALLOWED_METHODS.join(", "));
  if (error instanceof RateLimitedError) c.header("retry-after", String(error.retryAfterSeconds));
  return c.json(error.toBody(), error.status);
});

/**
 * The cron trigger: grayscale transitions by time and cap (services/grayscale-cron.ts). Not a
 * named export: workerd treats named exports as entrypoints.
 */
async function scheduled(
  controller: ScheduledController,
  env: AdminEnv,
  _ctx: ExecutionContext,
): Promise<void> {
  // A run is never evaluated before the time it was scheduled for.
  const now = Math.max(Date.now(), controller.scheduledTime);
  // Each step on its own: one failing must not keep the others from running.
  try {
    await runGrayscaleCron(env, now);
  } catch (err) {
    console.error("grayscale cron failed", { error: String(err instanceof Error ? err.message : err) });
  }
  // Snapshots whose publish failed after their change committed (services/snapshot.ts).
  try {
    const swept = await sweepSnapshots(createDb(env.DB), env.PACKAGES);
    if (swept.pending.length > 0)
      console.error("snapshot sweep left mini programs behind", { pending: swept.pending });
  } catch (err) {
    console.error("snapshot sweep failed", { error: String(err instanceof Error ? err.message : err) });
  }
  try {
    await sweepServerApi(createDb(env.DB), now);
  } catch (err) {
    console.error("server API sweep failed", { error: String(err instanceof Error ? err.message : err) });
  }
  // Inbox entries past their 30 days (issue 14 "Retention"), old quota days and dead letters.
  try {
    await sweepMessages(createDb(env.DB), now);
  } catch (err) {
    console.error("message sweep failed", { error: String(err instanceof Error ? err.message : err) });
  }
  // Team notifications past their 30 days (services/team-webhooks.ts).
  try {
    await sweepTeamEvents(createDb(env.DB), now);
  } catch (err) {
    console.error("team notification sweep failed", {
      error: String(err instanceof Error ? err.message : err),
    });
  }
  try {
    await sweepIncrements(env, now);
  } catch (err) {
    console.error("increment sweep failed", { error: String(err instanceof Error ? err.message : err) });
  }
  // Real-time logs older than 7 days (services/logs.ts): whole day tables every run, the rows of
  // the day straddling the cutoff once an hour (a scan of that day's table).
  try {
    await sweepLogs(env, now, new Date(now).getUTCMinutes() === 0);
  } catch (err) {
    console.error("log retention sweep failed", { error: String(err instanceof Error ? err.message : err) });
  }
}

/**
 * The log queue's consumer (issue 15; wrangler.toml: up to 100 messages or 5 s per delivery).
 * A write that fails throws, and the queue redelivers the whole batch (it was one D1 transaction,
 * so nothing of it is stored twice); after 3 retries it goes to the dead-letter queue.
 */
async function queue(batch: MessageBatch<unknown>, env: AdminEnv): Promise<void> {
  const bodies = batch.messages.map((m) => m.body);
  const result = await consumeLogBatches(env, bodies);
  if (result.malformed > 0)
    console.error("log queue: malformed messages dropped", { count: result.malformed });
  // Health guardrails (issue 15, G7): the stored batches counted against the mini program's
  // running tasks. recordHealth never throws, so the logs above are never redelivered for it; a
  // batch the queue delivers twice is counted once (the counter object keeps exact sets).
  const parsed = bodies.map(parseMessage).filter((m): m is LogQueueMessage => m !== undefined);
  if (parsed.length > 0) await recordHealth(env, parsed);
  batch.ackAll();
}

// The `queue` handler consumes the log queue only: increments are built by the builder Worker
// (control-plane/src/builder.ts).
// Every handler sees PACKAGES through the local-store retry (db/busy-retry.ts); D1 is wrapped
// where it is opened (db/client.ts).
export default {
  fetch: (request: Request, env: AdminEnv, ctx: ExecutionContext) =>
    app.fetch(request, withBusyRetries(env), ctx),
  scheduled: (controller, env, ctx) => scheduled(controller, withBusyRetries(env), ctx),
  queue: (batch, env) => queue(batch, withBusyRetries(env)),
} satisfies ExportedHandler<AdminEnv>;
