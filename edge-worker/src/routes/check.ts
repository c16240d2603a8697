/**
 * `POST /v1/check`: which version of a mini program this client should run, as a signed
 * manifest (ARCHITECTURE.md "The hot path"). Reads only the snapshot (and whitelists) from R2,
 * never D1; a Durable Object only for capped grayscale admission (edge-worker/src/grayscale.ts).
 */
import { decideVersion } from "../../../core/decide";
import { notFound } from "../../../core/errors";
import { buildManifestClaims } from "../../../core/manifest";
import { counterNamespace, readNumberVar } from "../env";
import { readGeo } from "../geo";
import { CheckRequestSchema, splitCheckRequest } from "../contracts";
import { chooseGrayscale } from "../grayscale";
import { createRouter } from "../router";
import { decisionKey } from "../package-keys";
import { loadSigner, manifestWindowStart, signManifestShared } from "../signing";
import { snapshotCache } from "../snapshot-cache";
import { parseJsonBody } from "../validate";

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;
const DEFAULT_MANIFEST_TTL_SECONDS = 3_600;

/**
 * `scheme://host[:port]` of a request URL as workerd hands it over (already normalised), without
 * constructing a URL object (which showed up as the largest single cost of a check).
 */
export function originOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("://") + 3);
  return slash < 0 ? url : url.slice(0, slash);
}

export const checkRoutes = createRouter();

// Decide the version for one client (grayscale task or online) and sign the answer.
checkRoutes.post("/", async (c) => {
  const { client, tickets: presented } = splitCheckRequest(await parseJsonBody(c, CheckRequestSchema));
  const now = Date.now();
  const ttlMs = readNumberVar(c.env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  const snapshot = await snapshotCache.get(c.env.PACKAGES, client.appId, ttlMs, now);
  if (!snapshot) throw notFound("mini program");

  const grayscale = await chooseGrayscale(snapshot, client, readGeo(c.req.raw, c.env.ALLOW_GEO_OVERRIDE === "true"), presented, now, {
    bucket: c.env.PACKAGES,
    counters: counterNamespace(c.env.GRAYSCALE_COUNTER),
    ticketSecret: c.env.ADMISSION_TICKET_SECRET,
  });
  const origin = originOf(c.req.url);
  const decision = decideVersion(snapshot, client, now, grayscale.choice);
  const encryptionKey = await decisionKey(decision, client.appId, c.env.PACKAGE_KEY_SECRET);
  const claims = buildManifestClaims({
    decision,
    client,
    revision: snapshot.revision,
    // The window start, not `now`: identical answers within a window share one signature.
    nowMs: manifestWindowStart(now),
    ttlSeconds: readNumberVar(c.env.MANIFEST_TTL_SECONDS, DEFAULT_MANIFEST_TTL_SECONDS),
    packageUrl: (sha256) => `${origin}/v1/packages/${sha256}`,
    incrementUrl: (sha256) => `${origin}/v1/increments/${sha256}`,
    ...(encryptionKey !== undefined ? { encryptionKey } : {}),
  });
  const manifest = await signManifestShared(claims, await loadSigner(c.env.MANIFEST_SIGNING_KEY));
  // The answer depends on the client and changes with every publish: no shared cache may keep it.
  c.header("cache-control", "no-store");
  return c.json(grayscale.tickets.length > 0 ? { manifest, tickets: grayscale.tickets } : { manifest }, 200);
});
