/**
 * The edge (client-facing) Worker: version check, package downloads and the manifest JWKS.
 * It reads only delivery snapshots, whitelists and packages from R2 (never D1), calls a
 * GrayscaleCounter only for capped grayscale admission, and exports the Durable
 * Object classes bound in wrangler.toml's `edge` environment.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { validationError } from "../../core/contracts/validation";
import { ApiError, type ErrorCode } from "../../core/errors";
import type { EdgeHono } from "./env";
import { checkRoutes } from "./routes/check";
import { jwksRoutes } from "./routes/jwks";
import { packageRoutes } from "./routes/packages";

export { GrayscaleCounter } from "../../durable-objects/grayscale-counter";

/** A client context is a few hundred bytes; anything near this is not a real client. */
const BODY_LIMIT = 16 * 1024;

const app = new OpenAPIHono<EdgeHono>({
  defaultHook: (result) => {
    if (!result.success) throw validationError(result.error);
  },
});

// Packages are fetched by native clients, not embedded cross-origin by browsers.
app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));
app.use(
  "/v1/*",
  bodyLimit({
    maxSize: BODY_LIMIT,
    onError: () => {
      throw new ApiError("payload_too_large", `request bodies are limited to ${BODY_LIMIT} bytes`);
    },
  }),
);

// Liveness; touches no binding so it stays cheap for probes.
app.get("/healthz", (c) => c.json({ ok: true, service: "graycast-edge" }));

app.route("/v1/check", checkRoutes);
app.route("/v1/packages", packageRoutes);
app.route("/.well-known", jwksRoutes);

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: { title: "Graycast edge API", version: "1.0.0", description: "Client API of the Graycast mini program delivery network." },
});

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
