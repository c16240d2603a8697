/**
 * The edge (client-facing) Worker: version check, full and incremental package downloads, the
 * manifest JWKS, login codes and subscription message calls (forwarded to the admin Worker). It reads only delivery snapshots, whitelists, packages and increments from R2
 * (never D1), calls a GrayscaleCounter only for capped grayscale admission, and exports the
 * Durable Object classes bound in wrangler.toml (the edge's configuration) and the `EdgeSigner` RPC
 * entrypoint the admin Worker signs offline manifests with (reachable only by service binding).
 */
import { Hono } from "hono";
import { discardRequestBody } from "../../core/bytes";
import { ApiError, toApiError } from "../../core/errors";
import type { EdgeBindings, EdgeHono } from "./env";
import { JSON_NO_STORE_HEADERS, SECURITY_HEADERS } from "./headers";
import { EDGE_OPENAPI_DOCUMENT } from "./openapi-document";
import { answerCheck, pathOf } from "./routes/check";
import { configRoutes, privacyRoutes } from "./routes/config";
import { jwksRoutes } from "./routes/jwks";
import { answerLogin } from "./routes/login";
import { answerLogs } from "./routes/logs";
import { answerInbox, answerMarkRead, answerSubscribe } from "./routes/messages";
import { incrementRoutes, packageRoutes } from "./routes/packages";

export { GrayscaleCounter } from "../../durable-objects/grayscale-counter";
export { EdgeSigner } from "./rpc";

const app = new Hono<EdgeHono>();

// The same security headers on every response (edge-worker/src/headers.ts).
app.use("*", async (c, next) => {
  await next();
  for (const [name, value] of SECURITY_HEADERS) c.res.headers.set(name, value);
});

// Liveness; touches no binding so it stays cheap for probes.
app.get("/healthz", (c) => c.json({ ok: true, service: "graycast-edge" }));

app.route("/v1/packages", packageRoutes);
app.route("/v1/increments", incrementRoutes);
app.route("/.well-known", jwksRoutes);
// Runtime config and privacy texts (issue 12, PRODUCT.md D5 / X7).
app.route("/v1/config", configRoutes);
app.route("/v1/privacy", privacyRoutes);
// A one-time login code for the host app's verified user (PRODUCT.md X6; routes/login.ts).
app.post("/v1/login", (c) => answerLogin(c.req.raw, c.env));
// Subscription messages (issue 14; routes/messages.ts): verified here, forwarded to the admin Worker.
app.post("/v1/messages/subscribe", (c) => answerSubscribe(c.req.raw, c.env));
app.get("/v1/messages/inbox", (c) => answerInbox(c.req.raw, c.env));
app.post("/v1/messages/inbox/read", (c) => answerMarkRead(c.req.raw, c.env));
// Real-time logs (PRODUCT.md X4; routes/logs.ts): validated, rate limited and queued, never D1.
app.post("/v1/logs", (c) => answerLogs(c.req.raw, c.env));

// The edge API description, generated at build time (`npm run openapi:edge`) from the route
// descriptions in edge-worker/openapi/routes.ts and the zod schemas the routes validate with.
app.get("/openapi.json", (c) => c.json(EDGE_OPENAPI_DOCUMENT));

app.notFound(() => {
  throw new ApiError("not_found", "no such route");
});

app.onError((err, c) => errorResponse(err, c.req.raw));

/** The one error shape (core/errors.ts); an unexpected error is logged and answered with 500. */
function errorResponse(err: unknown, request: Request): Response {
  const { error, internal } = toApiError(err);
  if (internal)
    console.error("unhandled error", {
      path: pathOf(request.url),
      method: request.method,
      error: String(err),
    });
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: JSON_NO_STORE_HEADERS,
  });
}

/**
 * The check (`GET` or `POST /v1/check`) is the hot path: it goes straight to its handler, before
 * any router (BENCHMARKS.md: routing and middleware were a quarter of a check's CPU). Everything
 * else goes through Hono.
 */
export default {
  fetch(request: Request, env: EdgeBindings, ctx: ExecutionContext): Promise<Response> {
    const method = request.method;
    if (method === "GET" || method === "POST") {
      const url = request.url;
      if (pathOf(url) === "/v1/check")
        return answerCheck(request, url, env, ctx).catch((err: unknown) =>
          withBodyDrained(errorResponse(err, request), request),
        );
    } else if (method !== "HEAD") {
      return withBodyDrained(methodNotAllowed(method), request);
    }
    return Promise.resolve(app.fetch(request, env, ctx)).then((res) => withBodyDrained(res, request));
  },
};

/** The methods the edge serves; any other gets 405 with this list in `Allow`. */
const ALLOWED_METHODS = "GET, HEAD, POST";

/**
 * 405 for a method no route serves (TRACE, PROPFIND, ...), in the one error shape. Also meant
 * for CONNECT, which workerd does not pass to `fetch` (it wants a `connect()` handler; locally
 * miniflare's entry Worker answers it before any Graycast code runs): see README "Local runs".
 */
function methodNotAllowed(method: string): Response {
  const error = new ApiError(
    "method_not_allowed",
    `${method} is not allowed here; use one of ${ALLOWED_METHODS}`,
  );
  const res = new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: JSON_NO_STORE_HEADERS,
  });
  res.headers.set("allow", ALLOWED_METHODS);
  return res;
}

/**
 * A body the answer did not need is drained before the answer goes out, so the client gets the
 * answer, not a reset (core/bytes.ts REQUEST_DISCARD_LIMIT). Not on the check's success path.
 */
async function withBodyDrained(res: Response, request: Request): Promise<Response> {
  await discardRequestBody(request);
  return res;
}
