/**
 * `POST /v1/check`: which version of a mini program this client should run, as a signed
 * manifest (ARCHITECTURE.md "The hot path"). Reads only the snapshot (and whitelists) from R2,
 * never D1; a Durable Object only for capped grayscale admission (edge-worker/src/grayscale.ts).
 */
import { createRoute } from "@hono/zod-openapi";
import { CheckRequestSchema, CheckResponseSchema, splitCheckRequest } from "../../../core/contracts/check";
import { jsonBody, jsonResponse } from "../../../core/contracts/common";
import { ErrorBodySchema } from "../../../core/contracts/error";
import { decideVersion } from "../../../core/decide";
import { notFound } from "../../../core/errors";
import { buildManifestClaims } from "../../../core/manifest";
import { counterNamespace, readNumberVar } from "../env";
import { readGeo } from "../geo";
import { chooseGrayscale } from "../grayscale";
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
    200: jsonResponse(CheckResponseSchema, "A signed manifest, and admission tickets to store when a grayscale task admitted the client"),
    400: errorResponse("Malformed or invalid request"),
    404: errorResponse("No such mini program"),
    413: errorResponse("Request body over 16 KiB"),
    415: errorResponse("Body is not JSON"),
  },
});

export const checkRoutes = createRouter();

// Decide the version for one client (grayscale task or online) and sign the answer.
checkRoutes.openapi(checkRoute, async (c) => {
  const { client, tickets: presented } = splitCheckRequest(c.req.valid("json"));
  const now = Date.now();
  const ttlMs = readNumberVar(c.env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  const snapshot = await snapshotCache.get(c.env.PACKAGES, client.appId, ttlMs, now);
  if (!snapshot) throw notFound("mini program");

  const grayscale = await chooseGrayscale(snapshot, client, readGeo(c.req.raw, c.env.ALLOW_GEO_OVERRIDE === "true"), presented, now, {
    bucket: c.env.PACKAGES,
    counters: counterNamespace(c.env.GRAYSCALE_COUNTER),
    ticketSecret: c.env.ADMISSION_TICKET_SECRET,
  });
  const origin = new URL(c.req.url).origin;
  const claims = buildManifestClaims({
    decision: decideVersion(snapshot, client, now, grayscale.choice),
    client,
    revision: snapshot.revision,
    nowMs: now,
    ttlSeconds: readNumberVar(c.env.MANIFEST_TTL_SECONDS, DEFAULT_MANIFEST_TTL_SECONDS),
    packageUrl: (sha256) => `${origin}/v1/packages/${sha256}`,
  });
  const manifest = await signManifest(claims, await loadSigner(c.env.MANIFEST_SIGNING_KEY));
  // The answer depends on the client and changes with every publish: no shared cache may keep it.
  c.header("cache-control", "no-store");
  return c.json(grayscale.tickets.length > 0 ? { manifest, tickets: grayscale.tickets } : { manifest }, 200);
});
