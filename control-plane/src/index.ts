/**
 * The control-plane (admin) Worker: admin API for teams, host apps, mini programs, versions,
 * audits, releases and grayscale tasks; OpenAPI description at /openapi.json and a docs page at
 * /docs. Its cron (every minute) applies the time- and cap-driven grayscale transitions.
 */
import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { validationError } from "../../core/contracts/validation";
import { ApiError, RateLimitedError, toApiError } from "../../core/errors";
import { authenticate } from "./auth/middleware";
import { createDb } from "./db/client";
import type { AdminHono } from "./env";
import { auditRoutes } from "./routes/audits";
import { authRoutes } from "./routes/auth";
import { changeLogRoutes } from "./routes/change-log";
import { explainRoutes } from "./routes/explain";
import { grayscaleTaskRoutes } from "./routes/grayscale-tasks";
import { grayscaleWhitelistRoutes } from "./routes/grayscale-whitelists";
import { hostAppRoutes } from "./routes/host-apps";
import { incrementRoutes } from "./routes/increments";
import { miniProgramRoutes } from "./routes/mini-programs";
import { packageEncryptionRoutes } from "./routes/package-encryption";
import { offlinePackageRoutes } from "./routes/offline-packages";
import { signingKeyRoutes } from "./routes/signing-keys";
import { teamRoutes } from "./routes/teams";
import { userRoutes } from "./routes/users";
import { versionRoutes } from "./routes/versions";
import { type IncrementMessage, consumeIncrements, sweepIncrements } from "./increments/queue";
import { runGrayscaleCron } from "./services/grayscale-cron";

/** JSON bodies above this are refused with 413 (package uploads have their own, larger limit). */
const JSON_BODY_LIMIT = 256 * 1024;

const app = new OpenAPIHono<AdminHono>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error);
  },
});

app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));
app.use("*", async (c, next) => {
  c.set("db", createDb(c.env.DB));
  await next();
});
app.use("/v1/*", async (c, next) => {
  // Uploads stream their own body with their own limit (routes/versions.ts, routes/grayscale-whitelists.ts).
  if (c.req.method === "POST" && /\/versions$/.test(c.req.path)) return next();
  if (c.req.method === "PUT" && /\/grayscale-tasks\/[^/]+\/whitelists\/[^/]+$/.test(c.req.path)) return next();
  return bodyLimit({
    maxSize: JSON_BODY_LIMIT,
    onError: () => {
      throw new ApiError("payload_too_large", `request bodies are limited to ${JSON_BODY_LIMIT} bytes`);
    },
  })(c, next);
});

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
app.route("/v1/host-apps", hostAppRoutes);
app.route("/v1/mini-programs", miniProgramRoutes);
app.route("/v1/mini-programs", versionRoutes);
app.route("/v1/mini-programs", grayscaleTaskRoutes);
app.route("/v1/mini-programs", grayscaleWhitelistRoutes);
app.route("/v1/mini-programs", explainRoutes);
app.route("/v1/mini-programs", packageEncryptionRoutes);
app.route("/v1/mini-programs", incrementRoutes);
app.route("/v1/mini-programs", offlinePackageRoutes);
app.route("/v1/audits", auditRoutes);
app.route("/v1/change-log", changeLogRoutes);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description: "A session JWT from POST /v1/auth/login, or an API token (gct_...) from POST /v1/auth/tokens",
});
app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "Graycast admin API", version: "1.0.0", description: "Control plane of the Graycast mini program delivery network." },
  security: [{ bearer: [] }],
});
app.get("/docs", swaggerUI({ url: "/openapi.json" }));

app.notFound(() => {
  throw new ApiError("not_found", "no such route");
});

app.onError((err, c) => {
  const { error, internal } = toApiError(err);
  if (internal) console.error("unhandled error", { path: c.req.path, method: c.req.method, error: String(err) });
  if (error instanceof RateLimitedError) c.header("retry-after", String(error.retryAfterSeconds));
  return c.json(error.toBody(), error.status);
});

/**
 * The cron trigger: grayscale transitions by time and cap (services/grayscale-cron.ts). Not a
 * named export: workerd treats named exports as entrypoints.
 */
async function scheduled(controller: ScheduledController, env: Cloudflare.AdminEnv, _ctx: ExecutionContext): Promise<void> {
  // A run is never evaluated before the time it was scheduled for.
  const now = Math.max(Date.now(), controller.scheduledTime);
  await runGrayscaleCron(env, now);
  await sweepIncrements(env, now);
}

/** The increment builder queue's consumer (control-plane/src/increments/queue.ts). */
async function queue(batch: MessageBatch<IncrementMessage>, env: Cloudflare.AdminEnv): Promise<void> {
  await consumeIncrements(batch, env);
}

export default { fetch: app.fetch, scheduled, queue } satisfies ExportedHandler<Cloudflare.AdminEnv, IncrementMessage>;
