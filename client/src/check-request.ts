/**
 * How the reference client puts a check on the wire. The edge takes the same fields two ways
 * (edge-worker/src/contracts.ts): `GET /v1/check?<query>` (form-encoded, `ticket` once per
 * admission ticket) and `POST /v1/check` with a JSON body. Both give the same answer.
 *
 * GET is the default: it has no body, and reading a body is most of what a POST check costs the
 * edge (BENCHMARKS.md). Who the user is (guid, deviceId, account) and the admission tickets go in
 * the `x-graycast-user` header, form-encoded too, never in the URL: URLs end up in request logs.
 */
import type { ClientContext } from "../../core/decide";

export type CheckMethod = "GET" | "POST";

/**
 * The edge refuses a check query longer than this with 414 (QUERY_LIMIT in
 * edge-worker/src/contracts.ts; client/test/check-request.test.ts keeps the two equal).
 */
export const CHECK_QUERY_LIMIT = 8 * 1024;

/** The header a GET check carries the user's identifiers and tickets in (USER_HEADER on the edge). */
export const CHECK_USER_HEADER = "x-graycast-user";
/** Fields that go in CHECK_USER_HEADER rather than the URL (the edge refuses an assertion in the URL). */
const USER_FIELDS = new Set(["guid", "deviceId", "account", "tickets", "assertion"]);

/** The check request: the client's facts, its admission tickets and the host app's user assertion. */
export interface CheckBody extends Omit<ClientContext, "verifiedAccount"> {
  tickets?: string[];
  assertion?: string;
}

/** What the edge accepts as an assertion (MAX_ASSERTION_LENGTH, a compact JWS); anything else is not sent. */
const ASSERTION = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const MAX_ASSERTION_LENGTH = 2048;

/** The host app's assertion if it can be sent; a provider that fails never stops the check. */
export async function assertionFrom(
  provider: (() => Promise<string | undefined>) | undefined,
): Promise<string | undefined> {
  if (provider === undefined) return undefined;
  try {
    const token = await provider();
    return typeof token === "string" && token.length <= MAX_ASSERTION_LENGTH && ASSERTION.test(token)
      ? token
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The check as form-encoded text (no `?`): each field once, `ticket` once per ticket, absent
 * fields left out. `part` picks the URL's fields, the user header's, or all of them.
 */
export function checkQuery(body: CheckBody, part: "all" | "url" | "user" = "all"): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined) continue;
    if (part !== "all" && USER_FIELDS.has(name) !== (part === "user")) continue;
    if (name === "tickets") for (const ticket of value as string[]) params.append("ticket", ticket);
    else params.append(name, String(value));
  }
  return params.toString();
}

/**
 * The URL and request init of a check to `edge` (a base URL) in the configured form.
 *
 * A GET whose query or user header would pass CHECK_QUERY_LIMIT is sent as POST instead, decided
 * before sending. With every field at its cap both parts stay under 8 KiB (the header tops out
 * near 7.6 KB: eight 512-byte tickets and three 128-character non-ASCII identifiers at 9
 * characters each), so this only guards a check the edge would refuse anyway, and sends it in the
 * form whose error names the field; a user assertion near its 2048-character cap on top of all
 * that is the one valid check that goes as POST. There is no fallback on an error answer: the
 * edge answers both forms the same, so retrying would only double the requests a failing edge gets.
 */
export function checkRequestFor(
  edge: string,
  body: CheckBody,
  method: CheckMethod,
): { url: string; init: RequestInit } {
  const url = `${edge.replace(/\/+$/, "")}/v1/check`;
  if (method === "GET") {
    const query = checkQuery(body, "url");
    const user = checkQuery(body, "user");
    if (query.length <= CHECK_QUERY_LIMIT && user.length <= CHECK_QUERY_LIMIT) {
      return {
        url: `${url}?${query}`,
        init: { method: "GET", ...(user !== "" ? { headers: { [CHECK_USER_HEADER]: user } } : {}) },
      };
    }
  }
  return {
    url,
    init: { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
  };
}
