/**
 * The per-client-address limit on the check (issue 10: "per client IP on /v1/check"), with the
 * Workers Rate Limiting binding `CHECK_LIMITER` (core/rate-limit.ts has every limit). One
 * `limit()` per check and nothing else: the binding counts in the Cloudflare location, with no
 * round trip to a central store. The check calls it after the request has been validated, so a
 * malformed request is answered 400 without touching the counter, and before any R2 read,
 * Durable Object call or signature, which is the work the limit protects.
 *
 * `CHECK_RATE_LIMIT = "off"` (a var, set only by the benchmark host and the test suite's default
 * env) skips it; any other value, or none, keeps it on.
 */

import { RateLimitedError } from "../../core/errors";
import { clientAddressKey, RATE_LIMIT_PERIOD_SECONDS } from "../../core/rate-limit";
import type { EdgeBindings } from "./env";
import { JSON_NO_STORE_HEADERS } from "./headers";

const PERIOD = RATE_LIMIT_PERIOD_SECONDS.CHECK_LIMITER;
const REFUSAL = new RateLimitedError(
  "too many checks from this address: retry after the Retry-After seconds",
  PERIOD,
);
const REFUSAL_BODY = JSON.stringify(REFUSAL.toBody());
const REFUSAL_HEADERS = new Headers([...JSON_NO_STORE_HEADERS, ["retry-after", String(PERIOD)]]);

/** `undefined` when the check may go on; otherwise the 429 to answer (the one error shape, `Retry-After`). */
export async function limitCheck(request: Request, env: EdgeBindings): Promise<Response | undefined> {
  if (env.CHECK_RATE_LIMIT === "off") return undefined;
  const { success } = await env.CHECK_LIMITER.limit({
    key: clientAddressKey(request.headers.get("cf-connecting-ip")),
  });
  return success
    ? undefined
    : new Response(REFUSAL_BODY, { status: REFUSAL.status, headers: REFUSAL_HEADERS });
}

/** The edge's limiters other than the check's (whose refusal is built once above, for the hot path). */
type EdgeLimiter = "EDGE_LOGIN_LIMITER" | "MESSAGE_LIMITER" | "LOG_DEVICE_LIMITER" | "LOG_APP_LIMITER";

/**
 * One `limit()` on `limiter` for `key`: `undefined` when the call may go on, otherwise the 429 to
 * answer, saying `what` was too many and when to come back (`Retry-After`, the limiter's period).
 */
export async function limitBy(
  env: EdgeBindings,
  limiter: EdgeLimiter,
  key: string,
  what: string,
): Promise<Response | undefined> {
  const { success } = await env[limiter].limit({ key });
  if (success) return undefined;
  const period = RATE_LIMIT_PERIOD_SECONDS[limiter];
  const refusal = new RateLimitedError(`${what}: retry after the Retry-After seconds`, period);
  return new Response(JSON.stringify(refusal.toBody()), {
    status: refusal.status,
    headers: [...JSON_NO_STORE_HEADERS, ["retry-after", String(period)]],
  });
}

/** {@link limitBy} keyed by the client address (`cf-connecting-ip`, core/rate-limit.ts). */
export function limitByAddress(
  request: Request,
  env: EdgeBindings,
  limiter: EdgeLimiter,
  what: string,
): Promise<Response | undefined> {
  return limitBy(env, limiter, clientAddressKey(request.headers.get("cf-connecting-ip")), what);
}
