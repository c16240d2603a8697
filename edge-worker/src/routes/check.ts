/**
 * `POST /v1/check`: which version of a mini program this client should run, as a signed
 * manifest (ARCHITECTURE.md "The hot path"). Reads only the snapshot, never D1.
 */
import { createRoute } from "@hono/zod-openapi";
import { CheckRequestSchema, CheckResponseSchema } from "../../../core/contracts/check";
import { jsonBody, jsonResponse } from "../../../core/contracts/common";
import { ErrorBodySchema } from "../../../core/contracts/error";
import { decideVersion } from "../../../core/decide";
import { notFound } from "../../../core/errors";
import { buildManifestClaims } from "../../../core/manifest";
import { readNumberVar } from "../env";
import { createRouter } from "../router";
import { loadSigner, signManifest } from "../signing";
import { snapshotCache } from "../snapshot-cache";

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;
const DEFAULT_MANIFEST_TTL_SECONDS = 3_600;

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: ErrorBodySchema } } });

const checkRoute = createRoute({
  method: "post",
  path: "/",
  summary: "Decide which version this client runs",
  description:
    "Every answer, including delisted / not bound / nothing released, is a signed manifest; clients must verify it against /.well-known/jwks.json.",
  request: { body: jsonBody(CheckRequestSchema) },
  responses: {
    200: jsonResponse(CheckResponseSchema, "A signed manifest"),
    400: errorResponse("Malformed or invalid request"),
    404: errorResponse("No such mini program"),
    413: errorResponse("Request body over 16 KiB"),
    415: errorResponse("Body is not JSON"),
  },
});

export const checkRoutes = createRouter();

// Decide the version for one client and sign the answer.
checkRoutes.openapi(checkRoute, async (c) => {
  const client = c.req.valid("json");
  const now = Date.now();
  const ttlMs = readNumberVar(c.env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  const snapshot = await snapshotCache.get(c.env.PACKAGES, client.appId, ttlMs, now);
  if (!snapshot) throw notFound("mini program");

  const origin = new URL(c.req.url).origin;
  const claims = buildManifestClaims({
    decision: decideVersion(snapshot, client, now),
    client,
    revision: snapshot.revision,
    nowMs: now,
    ttlSeconds: readNumberVar(c.env.MANIFEST_TTL_SECONDS, DEFAULT_MANIFEST_TTL_SECONDS),
    packageUrl: (sha256) => `${origin}/v1/packages/${sha256}`,
  });
  const manifest = await signManifest(claims, await loadSigner(c.env.MANIFEST_SIGNING_KEY));
  // The answer depends on the client and changes with every publish: no shared cache may keep it.
  c.header("cache-control", "no-store");
  return c.json({ manifest }, 200);
});
