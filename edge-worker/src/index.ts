/**
 * The edge (client-facing) Worker: version check, package downloads and the manifest JWKS.
 * It reads only delivery snapshots, whitelists and packages from R2 (never D1), calls a
 * GrayscaleCounter only for capped grayscale admission, and exports the Durable
 * Object classes bound in wrangler.toml's `edge` environment.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { ApiError, type ErrorCode } from "../../core/errors";
import { edgeOpenApiDocument } from "./contracts";
import type { EdgeHono } from "./env";
import { checkRoutes } from "./routes/check";
import { jwksRoutes } from "./routes/jwks";
import { packageRoutes } from "./routes/packages";

export { GrayscaleCounter } from "../../durable-objects/grayscale-counter";

const app = new Hono<EdgeHono>();

// Packages are fetched by native clients, not embedded cross-origin by browsers.
app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));

// Liveness; touches no binding so it stays cheap for probes.
app.get("/healthz", (c) => c.json({ ok: true, service: "graycast-edge" }));

app.route("/v1/check", checkRoutes);
app.route("/v1/packages", packageRoutes);
app.route("/.well-known", jwksRoutes);

// The edge API description, generated from the same zod/mini schemas the routes validate with.
let openApiDocument: Record<string, unknown> | undefined;
app.get("/openapi.json", (c) => c.json((openApiDocument ??= edgeOpenApiDocument())));

app.notFound(() => {
  throw new ApiError("not_found", "no such route");
});

/** Hono's own client errors (malformed JSON, wrong media type, body limit) keep their 4xx. */
function clientErrorCode(status: number): ErrorCode {
  if (status === 413) return "payload_too_large";
  if (status === 415) return "unsupported_media_type";
  if (status === 404) return "not_found";
  return "bad_request";
}

app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(err.toBody(), err.status);
  const status = (err as { status?: unknown }).status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const apiError = new ApiError(clientErrorCode(status), err.message || "bad request");
    return c.json(apiError.toBody(), apiError.status);
  }
  console.error("unhandled error", { path: c.req.path, method: c.req.method, error: String(err) });
  return c.json(new ApiError("internal", "internal error").toBody(), 500);
});

export default app;
