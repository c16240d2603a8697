/**
 * The edge's side of the check contract: the request schema itself is core/contracts/check.ts,
 * the one definition the control plane's explain route documents and validates with too (zod 4
 * classic: @hono/zod-openapi's generator cannot read zod/mini schemas, which lack `.meta()`).
 * Here: the GET form of the check (query string and user header), read field by field with a
 * per-isolate memo of accepted values.
 */

import * as z from "zod";
import {
  AssertionSchema,
  type CheckRequest,
  CheckRequestSchema,
  CheckResponseSchema,
  Sha256Schema,
  splitCheckRequest,
} from "../../core/contracts/check";
import { validationError } from "../../core/contracts/validation";
import { ApiError } from "../../core/errors";

export { MAX_TICKET_LENGTH, MAX_TICKETS } from "../../core/contracts/check";
// `POST /v1/login` (PRODUCT.md X6): the one definition of core/contracts/login.ts, like the check's.
export { LoginRequestSchema, LoginResponseSchema } from "../../core/contracts/login";
export {
  AssertionSchema,
  type CheckRequest,
  CheckRequestSchema,
  CheckResponseSchema,
  Sha256Schema,
  splitCheckRequest,
};

/**
 * `GET /v1/check` carries the same fields as the POST body in its query string
 * (application/x-www-form-urlencoded, as CodePush's update check does): `ticket` once per
 * admission ticket, `trial=true|false`, every other field at most once. No request body means
 * no body stream to read, which is most of what a POST costs the runtime (BENCHMARKS.md).
 */
export const QUERY_LIMIT = 8 * 1024;

/**
 * The field schemas of CheckRequestSchema, each with a memo of values it accepted when the field's
 * values repeat across clients (the app, host app and their versions, OS, network, device
 * model...): such a value is checked by zod the first time an isolate sees it, then recognised.
 * Per-user values (guid, deviceId, account) and tickets are checked by zod every time.
 */
interface QueryField {
  schema: z.ZodType;
  required: boolean;
  accepted: Set<string> | null;
}
const REPEATING_FIELDS = new Set([
  "appId",
  "hostAppId",
  "hostAppVersion",
  "platform",
  "osVersion",
  "network",
  "brand",
  "model",
  "installedVersion",
  "baseLibraryVersion",
]);
/** Distinct accepted values kept per field; past it the memo starts over (made-up values cannot grow it). */
const MAX_ACCEPTED = 512;
const QUERY_FIELDS: ReadonlyMap<string, QueryField> = new Map(
  Object.entries(CheckRequestSchema.shape)
    .filter(([name]) => name !== "tickets")
    .map(([name, schema]): [string, QueryField] => [
      name,
      {
        schema,
        required: !(schema instanceof z.ZodOptional),
        accepted: REPEATING_FIELDS.has(name) ? new Set() : null,
      },
    ]),
);
const REQUIRED_FIELDS = [...QUERY_FIELDS.values()].filter((f) => f.required).length;

/** Whether `field` accepts `value`: the memo, else the field's own zod schema. */
function accepts(field: QueryField, value: unknown): boolean {
  const memo = field.accepted;
  if (memo?.has(value as string)) return true;
  if (!field.schema.safeParse(value).success) return false;
  if (memo !== null) {
    if (memo.size >= MAX_ACCEPTED) memo.clear();
    memo.add(value as string);
  }
  return true;
}

/**
 * `GET /v1/check` may carry who the user is in this header instead of the URL: `guid`, `deviceId`,
 * `account` and each `ticket`, form-encoded like the query, and the host app's user `assertion`
 * only here (docs/trust.md; refused in the query) (tickets may be split between the two;
 * any other field at most once across both). URLs end up in request logs, analytics and proxies;
 * a header is not logged by default. The reference client sends them here. A POST carries them
 * in its body and is refused with this header, rather than ignoring it.
 */
export const USER_HEADER = "x-graycast-user";
/** Answer header saying what became of the request's user assertion (docs/trust.md). */
export const ASSERTION_STATUS_HEADER = "x-graycast-assertion";
const USER_FIELDS: ReadonlySet<string> = new Set(["guid", "deviceId", "account", "ticket", "assertion"]);
const FORM_ENCODED = /^[\x21-\x7e]*$/;

/**
 * The check request in `query` (the part after `?`, without it) and the `USER_HEADER` value,
 * validated by the same schema as the POST body: every value by its field's schema, required
 * fields present, nothing unknown, nothing given twice (in either place). Throws 414 for a query
 * past QUERY_LIMIT, 400 for a user header past it, on an unknown or repeated parameter, a field
 * the header may not carry, a broken percent-escape, and on a value the schema refuses the same
 * 400 as CheckRequestSchema gives (it is run on the whole request to report the issues,
 * `tickets.N` for the N-th `ticket`).
 */
export function checkRequestFromQuery(query: string, user: string | null = null): CheckRequest {
  if (query.length > QUERY_LIMIT)
    throw new ApiError("uri_too_long", `check queries are limited to ${QUERY_LIMIT} characters`);
  if (user !== null && user.length > QUERY_LIMIT)
    throw new ApiError("bad_request", `the ${USER_HEADER} header is limited to ${QUERY_LIMIT} characters`);
  // Form encoding is printable ASCII: raw bytes would reach us as Latin-1 (another user key than
  // the same value percent-encoded), and a header sent twice is joined with ", ".
  if (user !== null && !FORM_ENCODED.test(user))
    throw new ApiError(
      "bad_request",
      `the ${USER_HEADER} header must be form-encoded (percent-encode anything but printable ASCII), and sent once`,
    );
  const form = new CheckForm();
  form.read(query, null);
  if (user !== null) form.read(user, USER_FIELDS);
  return form.result();
}

/** The fields of a check read from form-encoded text, validated as they come. */
class CheckForm {
  readonly fields: Record<string, unknown> = {};
  tickets: string[] | undefined;
  valid = true;
  required = 0;

  /** Reads `text`; with `only`, names outside it are refused (the user header). */
  read(text: string, only: ReadonlySet<string> | null): void {
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf("&", start);
      if (end < 0) end = text.length;
      if (end > start) {
        const eq = text.indexOf("=", start);
        const split = eq >= 0 && eq < end;
        const name = decodeQueryPart(text.slice(start, split ? eq : end));
        const value = split ? decodeQueryPart(text.slice(eq + 1, end)) : "";
        if (only !== null && !only.has(name))
          throw queryIssue(
            name,
            `not allowed in ${USER_HEADER} (only guid, deviceId, account, ticket and assertion)`,
          );
        // A bearer credential in a URL ends up in logs and proxies: the header or a POST body only.
        if (only === null && name === "assertion")
          throw queryIssue(
            name,
            `a user assertion travels in the ${USER_HEADER} header (or a POST body), never in the URL`,
          );
        this.#add(name, value);
      }
      start = end + 1;
    }
  }

  #add(name: string, value: string): void {
    if (name === "ticket") {
      (this.tickets ??= []).push(value);
      return;
    }
    const field = QUERY_FIELDS.get(name);
    if (field === undefined)
      throw queryIssue(
        name,
        name === "tickets" ? 'pass each ticket as its own "ticket" parameter' : "unknown parameter",
      );
    if (Object.hasOwn(this.fields, name)) throw queryIssue(name, "given more than once");
    const parsed = name === "trial" ? (value === "true" ? true : value === "false" ? false : value) : value;
    this.fields[name] = parsed;
    if (!accepts(field, parsed)) this.valid = false;
    else if (field.required) this.required++;
  }

  result(): CheckRequest {
    const { fields, tickets } = this;
    if (tickets !== undefined) {
      fields.tickets = tickets;
      if (!CheckRequestSchema.shape.tickets.safeParse(tickets).success) this.valid = false;
    }
    if (this.valid && this.required === REQUIRED_FIELDS) return fields as CheckRequest;
    // Something is wrong: the whole schema names it, in the same words as for a POST body.
    const result = CheckRequestSchema.safeParse(fields);
    if (!result.success) throw validationError(result.error);
    return result.data;
  }
}

function queryIssue(name: string, message: string): ApiError {
  return validationError({
    issues: [{ path: [name.length > 64 ? `${name.slice(0, 64)}…` : name], message }],
  });
}

/** One name or value of a form-encoded query: `+` is a space, then percent-decoding. */
function decodeQueryPart(part: string): string {
  if (part.indexOf("%") < 0 && part.indexOf("+") < 0) return part;
  try {
    return decodeURIComponent(part.replaceAll("+", " "));
  } catch {
    throw new ApiError("bad_request", "the query string (or user header) has a broken percent-escape");
  }
}
