/**
 * `GET /v1/check?…` and `POST /v1/check`: which version of a mini program this client should run, as a signed
 * manifest (ARCHITECTURE.md "The hot path"). Reads only the snapshot (and whitelists) from R2,
 * never D1; a Durable Object only for capped grayscale admission. The decision is core/decide.ts
 * `decide` (the same one explain runs), with the admitting ports of edge-worker/src/grayscale.ts.
 */

import { clientWithVerifiedUser, keysOfHostApp } from "../../../core/assertion";
import { CLOSED_PORTS, type ClientContext, type Decision, decide } from "../../../core/decide";
import { ApiError, notFound } from "../../../core/errors";
import { buildManifestClaims } from "../../../core/manifest";
import type { Snapshot } from "../../../core/snapshot";
import {
  LEASE_TTL_MS,
  MAX_LEASE,
  MAX_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
} from "../../../durable-objects/grayscale-counter";
import { type LeaseClock, wallClock } from "../admission-leases";
import { type Answer, answerKey, bodyWithTickets, cachedAnswer, rememberAnswer } from "../answer-cache";
import { checkAssertion } from "../assertions";
import {
  ASSERTION_STATUS_HEADER,
  CheckRequestSchema,
  checkRequestFromQuery,
  splitCheckRequest,
  USER_HEADER,
} from "../contracts";
import { type EdgeBindings, readNumberVar } from "../env";
import { readGeo } from "../geo";
import { EdgePorts, type GrayscaleDeps } from "../grayscale";
import { CHECK_HEADERS } from "../headers";
import { decisionKey } from "../package-keys";
import { limitCheck } from "../rate-limit";
import { manifestWindowStart, signedManifest } from "../signing";
import { snapshotCache } from "../snapshot-cache";
import { parseJsonRequest } from "../validate";

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;
const DEFAULT_MANIFEST_TTL_SECONDS = 3_600;
/** Slots an isolate asks for when it leases (ADMISSION_LEASE_SIZE; "0" turns leases off). */
const DEFAULT_LEASE_SIZE = 128;

/**
 * `scheme://host[:port]` of a request URL as workerd hands it over (already normalised), without
 * constructing a URL object (which showed up as the largest single cost of a check).
 */
export function originOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("://") + 3);
  return slash < 0 ? url : url.slice(0, slash);
}

/** The request's path (no query), from the URL workerd hands over, without a URL object. */
export function pathOf(url: string): string {
  const rest = url.slice(originOf(url).length);
  const query = rest.indexOf("?");
  return query < 0 ? rest : rest.slice(0, query);
}

/** The I/O the grayscale walk may do for this request: whitelists in R2, counters, admission leases. */
function grayscaleDeps(env: EdgeBindings, ctx: ExecutionContext, clock: LeaseClock): GrayscaleDeps {
  const counters = env.GRAYSCALE_COUNTER;
  const leaseSize = readNumberVar(env.ADMISSION_LEASE_SIZE, DEFAULT_LEASE_SIZE);
  return {
    bucket: env.PACKAGES,
    counters,
    ticketSecret: env.ADMISSION_TICKET_SECRET,
    ...(leaseSize >= 1
      ? {
          leases: {
            size: Math.min(Math.floor(leaseSize), MAX_LEASE),
            ttlMs: Math.min(
              Math.max(Math.floor(readNumberVar(env.ADMISSION_LEASE_TTL_MS, LEASE_TTL_MS)), MIN_LEASE_TTL_MS),
              MAX_LEASE_TTL_MS,
            ),
            stub: (taskId) => env.GRAYSCALE_COUNTER.getByName(taskId),
            waitUntil: (work) => ctx.waitUntil(work),
            clock,
          },
        }
      : {}),
  };
}

/** The query string of a request URL (without `?`), "" when there is none. */
function queryOf(url: string): string {
  const mark = url.indexOf("?");
  return mark < 0 ? "" : url.slice(mark + 1);
}

/**
 * Decide the version for one client (grayscale task or online) and sign the answer. A plain
 * function of the request, not a Hono route: this is the hot path, and the edge's `fetch` calls
 * it before any router (edge-worker/src/index.ts; BENCHMARKS.md shows why). `url` is
 * `request.url`, read once by the caller. `clock` is the wall clock but in tests that move time
 * themselves (test/edge-admission-leases.test.ts).
 */
export async function answerCheck(
  request: Request,
  url: string,
  env: EdgeBindings,
  ctx: ExecutionContext,
  clock: LeaseClock = wallClock,
): Promise<Response> {
  const {
    client: claimed,
    tickets: presented,
    assertion,
  } = splitCheckRequest(
    request.method === "GET"
      ? checkRequestFromQuery(queryOf(url), request.headers.get(USER_HEADER))
      : await checkRequestFromBody(request),
  );
  // Per-address rate limit: after validation (a malformed request costs no counter), before any I/O.
  const refused = await limitCheck(request, env);
  if (refused) return refused;
  const now = clock.now();
  const ttlMs = readNumberVar(env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  // Every await below is skipped when its answer is already in hand (a fresh snapshot, no
  // grayscale task, an answer already signed in this window): the common case.
  const cached = snapshotCache.peek(claimed.appId, ttlMs, now);
  const snapshot =
    cached !== undefined ? cached : await snapshotCache.get(env.PACKAGES, claimed.appId, ttlMs, now);
  if (!snapshot) throw notFound("mini program");

  // Who the user is: what the client says, unless the host app vouched for it (docs/trust.md).
  // Checks without an assertion (the common case) skip this entirely.
  let client: ClientContext = claimed;
  let assertionStatus: string | undefined;
  if (assertion !== undefined) {
    const result = await checkAssertion(
      assertion,
      claimed.hostAppId,
      keysOfHostApp(snapshot.hostAppKeys, claimed.hostAppId),
      now,
    );
    // An assertion that does not verify is ignored (the account stays unverified): never stuck.
    if (result.ok) client = clientWithVerifiedUser(claimed, result);
    assertionStatus = result.ok ? "verified" : result.reason;
  }

  // The one decision (core/decide.ts), with ports that admit. Without grayscale tasks it needs
  // no I/O: no ports are built and `decide` answers at once, with no await.
  const ports =
    snapshot.tasks && snapshot.tasks.length > 0
      ? new EdgePorts(grayscaleDeps(env, ctx, clock), presented, now)
      : undefined;
  const decided =
    ports === undefined
      ? decide(snapshot, client, now, CLOSED_PORTS)
      : decide(snapshot, client, now, ports, readGeo(request, env.ALLOW_GEO_OVERRIDE === "true"));
  const decision = decided instanceof Promise ? await decided : decided;
  const origin = originOf(url);
  const ttlSeconds = readNumberVar(env.MANIFEST_TTL_SECONDS, DEFAULT_MANIFEST_TTL_SECONDS);
  // The window start, not `now`: identical answers within a window share one signature.
  const windowStart = manifestWindowStart(now);
  const secret = env.MANIFEST_SIGNING_KEY;
  const key = answerKey(decision, client, ttlSeconds, origin);
  const answer =
    cachedAnswer(snapshot, key, windowStart, secret) ??
    (await buildAnswer({ env, snapshot, decision, client, origin, windowStart, ttlSeconds, key }));
  // The answer depends on the client and changes with every publish: no shared cache may keep it.
  const body =
    ports === undefined || ports.issued.length === 0 ? answer.body : bodyWithTickets(answer, ports.issued);
  if (assertionStatus === undefined) return new Response(body, { headers: CHECK_HEADERS });
  const headers = new Headers(CHECK_HEADERS);
  headers.set(ASSERTION_STATUS_HEADER, assertionStatus);
  return new Response(body, { headers });
}

/** A POST check: the JSON body; the GET form's user header would be silently ignored here, so it is refused. */
async function checkRequestFromBody(request: Request) {
  if (request.headers.get(USER_HEADER) !== null)
    throw new ApiError(
      "bad_request",
      `${USER_HEADER} is for GET checks: a POST carries guid, deviceId, account, assertion and tickets in its body`,
    );
  return parseJsonRequest(request, CheckRequestSchema);
}

/** Claims, signature and encoded body of an answer this isolate has not built in this window. */
async function buildAnswer(input: {
  env: EdgeBindings;
  snapshot: Snapshot;
  decision: Decision;
  client: ClientContext;
  origin: string;
  windowStart: number;
  ttlSeconds: number;
  key: string;
}): Promise<Answer> {
  const { env, snapshot, decision, client, origin, windowStart, key } = input;
  const encryptionKey =
    decision.status === "ok" && decision.package.encryption
      ? await decisionKey(decision, client.appId, env.PACKAGE_KEY_SECRET)
      : undefined;
  const claims = buildManifestClaims({
    decision,
    client,
    revision: snapshot.revision,
    nowMs: windowStart,
    ttlSeconds: input.ttlSeconds,
    packageUrl: (sha256) => `${origin}/v1/packages/${sha256}`,
    incrementUrl: (sha256) => `${origin}/v1/increments/${sha256}`,
    ...(encryptionKey !== undefined ? { encryptionKey } : {}),
  });
  return rememberAnswer(
    snapshot,
    key,
    windowStart,
    env.MANIFEST_SIGNING_KEY,
    await signedManifest(claims, env.MANIFEST_SIGNING_KEY),
  );
}
