/**
 * The edge (client-facing) Worker: version check, package downloads and the manifest JWKS.
 * It reads only delivery snapshots, whitelists and packages from R2 (never D1), calls a
 * GrayscaleCounter only for capped grayscale admission, and exports the Durable
 * Object classes bound in wrangler.toml's `edge` environment.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { ApiError, toApiError } from "../../core/errors";
import { edgeOpenApiDocument } from "./contracts";
import type { EdgeHono } from "./env";
import { checkRoutes } from "./routes/check";
import { jwksRoutes } from "./routes/jwks";
import { incrementRoutes, packageRoutes } from "./routes/packages";

export { GrayscaleCounter } from "../../durable-objects/grayscale-counter";
export { EdgeSigner } from "./rpc";

const app = new Hono<EdgeHono>();

// Packages are fetched by native clients, not embedded cross-origin by browsers.
app.use("*", secureHeaders({ crossOriginResourcePolicy: false }));

// Liveness; touches no binding so it stays cheap for probes.
app.get("/healthz", (c) => c.json({ ok: true, service: "graycast-edge" }));

app.route("/v1/check", checkRoutes);
app.route("/v1/packages", packageRoutes);
app.route("/v1/increments", incrementRoutes);
app.route("/.well-known", jwksRoutes);

// The edge API description, generated from the same zod/mini schemas the routes validate with.
let openApiDocument: Record<string, unknown> | undefined;
app.get("/openapi.json", (c) => c.json((openApiDocument ??= edgeOpenApiDocument())));

app.notFound(() => {
  throw new ApiError("not_found", "no such route");
});

app.onError((err, c) => {
  const { error, internal } = toApiError(err);
  if (internal) console.error("unhandled error", { path: c.req.path, method: c.req.method, error: String(err) });
  return c.json(error.toBody(), error.status);
});

export default app;
