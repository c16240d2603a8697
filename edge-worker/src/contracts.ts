/**
 * The edge's wire contract in `zod/mini` (zod 4's tree-shakable API): the same checks as
 * core/contracts/check.ts (which the control plane uses through @hono/zod-openapi), without
 * pulling the classic API and the OpenAPI generator into the edge bundle. A test
 * (test/edge-contracts.test.ts) runs both schemas over the same inputs so they cannot drift,
 * and the type assertion at the bottom fails the build if this one drifts from ClientContext.
 */

import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { MAX_ASSERTION_LENGTH } from "../../core/assertion";
import {
  ConfigClaimsSchema,
  ConfigQuerySchema,
  ConfigResponseSchema,
  MANIFEST_HEADER,
  MAX_MANIFEST_HEADER,
  PrivacySha256Schema,
  TASK_STATUS_HEADER,
} from "../../core/contracts/config";
import { validationError } from "../../core/contracts/validation";
import type { ClientContext } from "../../core/decide";
import { ApiError } from "../../core/errors";
import { isSemver, parseLooseVersion } from "../../core/semver";

// zod/mini ships no messages by default; the error shape names them (`issues[].message`).
z.config(en());

export const MAX_TICKETS = 8;
export const MAX_TICKET_LENGTH = 512;

const LooseVersionSchema = z.string().check(
  z.maxLength(32),
  z.refine((v) => parseLooseVersion(v) !== undefined, "must be dot-separated numbers, e.g. 17.4.1"),
);
/** No control character (Unicode category Cc, which is exactly U+0000-U+001F and U+007F-U+009F). */
const ClientTextSchema = (max: number) =>
  z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(max),
      z.regex(/^[^\x00-\x1f\x7f-\x9f]+$/, "must not contain control characters"),
    );
const SemverSchema = z
  .string()
  .check(z.maxLength(20), z.refine(isSemver, "must be a semantic version MAJOR.MINOR.PATCH, e.g. 1.2.0"));
const TicketSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(MAX_TICKET_LENGTH),
    z.regex(/^[A-Za-z0-9_.-]+$/, "must be an admission ticket as issued by check"),
  );
/** A host-app user assertion (core/assertion.ts): shape only; the edge verifies it (edge-worker/src/assertions.ts). */
export const AssertionSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(MAX_ASSERTION_LENGTH),
    z.regex(
      /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
      "must be a compact JWS (header.claims.signature)",
    ),
  );

/** `POST /v1/check` body; unknown keys are refused (a typo must not silently change the answer). */
export const CheckRequestSchema = z.strictObject({
  appId: z.string().check(z.regex(/^gc[a-z2-7]{16,40}$/, "not an App ID")),
  hostAppId: z.string().check(z.minLength(1), z.maxLength(64), z.regex(/^[A-Za-z0-9_-]+$/, "not an id")),
  hostAppVersion: LooseVersionSchema,
  platform: z.enum(["android", "ios"]),
  osVersion: LooseVersionSchema,
  guid: z.optional(ClientTextSchema(128)),
  deviceId: z.optional(ClientTextSchema(128)),
  account: z.optional(ClientTextSchema(128)),
  network: z.optional(z.enum(["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"])),
  brand: z.optional(ClientTextSchema(64)),
  model: z.optional(ClientTextSchema(64)),
  installedVersion: z.optional(SemverSchema),
  baseLibraryVersion: z.optional(LooseVersionSchema),
  trial: z.optional(z.boolean()),
  assertion: z.optional(AssertionSchema),
  tickets: z.optional(z.array(TicketSchema).check(z.maxLength(MAX_TICKETS))),
});

export type CheckRequest = z.infer<typeof CheckRequestSchema>;

/**
 * `POST /v1/login` body (core/contracts/login.ts LoginRequestSchema, in zod/mini like the check's;
 * test/edge-contracts.test.ts runs both over the same inputs). The user is the host app's user
 * assertion in USER_HEADER, never a body field.
 */
export const LoginRequestSchema = z.strictObject({
  appId: CheckRequestSchema.shape.appId,
  hostAppId: CheckRequestSchema.shape.hostAppId,
});

export const LoginResponseSchema = z.object({
  code: z.string(),
  expiresIn: z.number(),
});

export const CheckResponseSchema = z.object({
  manifest: z.string(),
  tickets: z.optional(z.array(z.string())),
});

export const Sha256Schema = z
  .string()
  .check(z.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"));

const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.optional(z.array(z.object({ path: z.string(), message: z.string() }))),
  }),
});

const PublicJwkSchema = z.object({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519"),
  x: z.string().check(z.minLength(1), z.maxLength(64)),
  kid: z.string().check(z.minLength(1), z.maxLength(128)),
  alg: z.literal("EdDSA"),
  use: z.literal("sig"),
});

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
  schema: z.ZodMiniType;
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
        required: !(schema instanceof z.ZodMiniOptional),
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

/** Splits a check request into the client's facts (what the domain decides on) and its tickets. */
export function splitCheckRequest(request: CheckRequest): {
  client: ClientContext;
  tickets: string[];
  assertion: string | undefined;
} {
  const { tickets = [], assertion, ...client } = request;
  return { client, tickets, assertion };
}

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => json({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: ref("Error") });
/** The check's per-address rate limit (edge-worker/src/rate-limit.ts). */
const rateLimited = {
  ...error(
    "Too many checks from this client address (after validation: a malformed check is still answered 400)",
  ),
  headers: {
    "Retry-After": { description: "seconds until the limit's window ends", schema: { type: "integer" } },
  },
};

function componentOf(schema: z.core.$ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
  return rest;
}

/** A content-addressed download route (packages, increments): the same answers for both. */
function download(what: string, contentType: string, description?: string): Record<string, unknown> {
  return {
    get: {
      summary: `Download ${what === "increment" ? "an incremental package" : "a package"} (also HEAD); supports Range and If-None-Match`,
      ...(description !== undefined ? { description } : {}),
      parameters: [{ name: "sha256", in: "path", required: true, schema: componentOf(Sha256Schema) }],
      responses: {
        200: {
          description: `The whole ${what}`,
          content: { [contentType]: { schema: { type: "string", format: "binary" } } },
        },
        206: { description: "The requested byte range" },
        304: { description: "Not modified: the client already holds these bytes" },
        400: error("Not a sha256"),
        404: error(`No such ${what}`),
        416: error("Range not satisfiable"),
      },
    },
  };
}

/**
 * The query parameters of `GET /v1/check`, from CheckRequestSchema's JSON schema: one per field,
 * required as in the body, and `ticket` as a repeated (exploded) array parameter for `tickets`.
 */
function checkQueryParameters(): Record<string, unknown>[] {
  const { properties, required = [] } = componentOf(CheckRequestSchema) as {
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  // The assertion is refused in the URL: it travels only in the user header.
  return Object.entries(properties)
    .filter(([name]) => name !== "assertion")
    .map(([name, schema]) =>
      name === "tickets"
        ? {
            name: "ticket",
            in: "query",
            required: false,
            style: "form",
            explode: true,
            description: "one admission ticket per parameter",
            schema,
          }
        : { name, in: "query", required: required.includes(name), schema },
    );
}

/** The edge's OpenAPI 3.1 document, built from the schemas above on first request. */
export function edgeOpenApiDocument(): Record<string, unknown> {
  const checkDescription =
    "Every answer, including delisted / not bound / nothing released, is a signed manifest; clients must verify it against /.well-known/jwks.json.";
  const checkAnswer = {
    description:
      "A signed manifest, and admission tickets to store when a grayscale task admitted the client",
    content: ref("CheckResponse"),
    headers: {
      [ASSERTION_STATUS_HEADER]: {
        description:
          "Present when the request carried a user assertion: `verified`, or why it was ignored (malformed, unknown_key, bad_signature, wrong_issuer, wrong_audience, not_yet_valid, expired, lifetime_too_long); an ignored assertion leaves the account unverified, the answer is still given",
        schema: { type: "string" },
      },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "Graycast edge API",
      version: "1.0.0",
      description: "Client API of the Graycast mini program delivery network.",
    },
    components: {
      schemas: {
        CheckRequest: componentOf(CheckRequestSchema),
        CheckResponse: componentOf(CheckResponseSchema),
        LoginRequest: componentOf(LoginRequestSchema),
        LoginResponse: componentOf(LoginResponseSchema),
        Error: componentOf(ErrorBodySchema),
        PublicJwk: componentOf(PublicJwkSchema),
        ConfigResponse: componentOf(ConfigResponseSchema),
        ConfigClaims: componentOf(ConfigClaimsSchema),
        Jwks: {
          type: "object",
          properties: { keys: { type: "array", items: { $ref: "#/components/schemas/PublicJwk" } } },
          required: ["keys"],
        },
      },
    },
    paths: {
      "/v1/check": {
        get: {
          summary: "Decide which version this client runs (the request in the query)",
          description: `${checkDescription} The POST body's fields, form-encoded: \`ticket\` once per admission ticket, \`trial=true|false\`, any other parameter at most once; unknown parameters are refused. Same answer as POST. Who the user is (guid, deviceId, account, ticket) may go in the \`${USER_HEADER}\` header, form-encoded the same way, instead of the URL: URLs end up in request logs, headers are not logged by default. The reference client does so. A host-app user \`assertion\` (docs/trust.md) travels only in that header: in the query it is refused with 400.`,
          parameters: [
            ...checkQueryParameters(),
            {
              name: USER_HEADER,
              in: "header",
              required: false,
              description:
                "guid, deviceId, account, ticket (repeated) and assertion (a host-app user assertion, only here), form-encoded like the query; each at most once across query and header",
              schema: { type: "string", maxLength: QUERY_LIMIT },
            },
          ],
          responses: {
            200: checkAnswer,
            400: error(
              `Malformed or invalid query or ${USER_HEADER}: an unknown or repeated parameter, a field the header may not carry, an assertion in the query, a broken percent-escape, an invalid value (issues name the parameter, \`tickets.N\` the N-th ticket), or an account / deviceId that differs from the verified assertion's`,
            ),
            404: error("No such mini program"),
            414: error(`Query over ${QUERY_LIMIT / 1024} KiB`),
            429: rateLimited,
          },
        },
        post: {
          summary: "Decide which version this client runs",
          description: checkDescription,
          requestBody: { required: true, content: ref("CheckRequest") },
          responses: {
            200: checkAnswer,
            400: error(
              "Malformed or invalid request, or an account / deviceId that differs from the verified assertion's",
            ),
            404: error("No such mini program"),
            413: error("Request body over 16 KiB"),
            415: error("Body is not JSON"),
            429: rateLimited,
          },
        },
      },
      "/v1/login": {
        post: {
          summary: "A one-time login code for the host app's verified user (PRODUCT.md X6)",
          description: `The user is the host app's user assertion (docs/trust.md) in the \`${USER_HEADER}\` header as \`assertion=<jws>\` (form-encoded), never in the body. The answer's \`code\` goes to the mini program's server, which exchanges it with the admin Worker's GET /sns/jscode2session (docs/server-api.md) within 5 minutes, once. The code is encrypted: it reveals nothing about the user.`,
          parameters: [
            {
              name: USER_HEADER,
              in: "header",
              required: true,
              description: "assertion=<the host app's user assertion>, form-encoded; nothing else",
              schema: { type: "string", maxLength: QUERY_LIMIT },
            },
          ],
          requestBody: { required: true, content: ref("LoginRequest") },
          responses: {
            200: {
              description: "The code, valid 300 s, for one exchange",
              content: ref("LoginResponse"),
              headers: {
                [ASSERTION_STATUS_HEADER]: { description: "`verified`", schema: { type: "string" } },
              },
            },
            400: error(`Malformed body or ${USER_HEADER} header`),
            401: {
              ...error(
                "No user assertion, or one that does not verify: the header says why (malformed, unknown_key, bad_signature, wrong_issuer, wrong_audience, not_yet_valid, expired, lifetime_too_long)",
              ),
              headers: {
                [ASSERTION_STATUS_HEADER]: {
                  description: "why the assertion was refused",
                  schema: { type: "string" },
                },
              },
            },
            403: error("The mini program is not bound to this host app"),
            404: error("No such mini program"),
            409: error("The mini program is off-shelf (delisted)"),
            413: error("Request body over 16 KiB"),
            415: error("Body is not JSON"),
            429: {
              ...error("Too many logins from this client address"),
              headers: {
                "Retry-After": {
                  description: "seconds until the limit's window ends",
                  schema: { type: "integer" },
                },
              },
            },
          },
        },
      },
      "/v1/packages/{sha256}": download("package", "application/zip"),
      "/v1/increments/{sha256}": download(
        "increment",
        "application/octet-stream",
        "Offered in a manifest's `increment` to a client on its base version; format in docs/increments.md. Encrypted (AES-256-GCM) when the manifest's `increment.encryption` says so.",
      ),
      "/v1/config": {
        get: {
          summary: "The signed runtime config of a mini program in a host app",
          description: `A compact JWS (typ \`graycast-config+jwt\`, Ed25519, signed with the manifest signing key: verify it against /.well-known/jwks.json) whose claims (ConfigClaims) carry the domain lists, the skip-domain flag, granted sensitive APIs, the privacy agreement version and text URL, the trial page path, the switches, and \`configRevision\`: clients never use an unsigned config or one with a lower revision than one they accepted. A client admitted to a grayscale task sends its signed check manifest in \`${MANIFEST_HEADER}\` to get that task's switch values (\`taskId\` in the claims); a manifest that does not verify is ignored, never an error. Shares the check's per-address rate limit. Reads only the snapshot, never D1.`,
          parameters: [
            ...Object.entries(
              (componentOf(ConfigQuerySchema) as { properties: Record<string, unknown> }).properties,
            ).map(([name, schema]) => ({ name, in: "query", required: true, schema })),
            {
              name: MANIFEST_HEADER,
              in: "header",
              required: false,
              description:
                "the client's signed check manifest (reason grayscale, taskId): proves admission to that task",
              schema: { type: "string", maxLength: MAX_MANIFEST_HEADER },
            },
          ],
          responses: {
            200: {
              description: "The signed runtime config",
              content: ref("ConfigResponse"),
              headers: {
                [TASK_STATUS_HEADER]: {
                  description:
                    "Present when the request carried a manifest: `applied`, `no_task_switches`, or why it was ignored (malformed, unknown_key, bad_signature, wrong_app, expired, not_in_task, task_gone)",
                  schema: { type: "string" },
                },
              },
            },
            400: error("A missing, unknown, repeated or invalid parameter, or a malformed manifest header"),
            404: error("No such mini program, or it is not bound to this host app"),
            414: error("Query over 1 KiB"),
            429: rateLimited,
          },
        },
      },
      "/v1/privacy/{sha256}": {
        get: {
          summary: "A published privacy agreement text (also HEAD)",
          description:
            "Content-addressed by the SHA-256 of its UTF-8 bytes, as the runtime config's `privacy.url` names it; immutable, so caches keep it (strong ETag, If-None-Match).",
          parameters: [
            { name: "sha256", in: "path", required: true, schema: componentOf(PrivacySha256Schema) },
          ],
          responses: {
            200: { description: "The text", content: { "text/plain": { schema: { type: "string" } } } },
            304: { description: "Not modified" },
            400: error("Not a sha256"),
            404: error("No such text"),
          },
        },
      },
      "/.well-known/jwks.json": {
        get: {
          summary: "Public keys that verify check manifests",
          responses: {
            200: {
              description:
                "The signing key first, then upcoming keys (published before they sign) and retired keys (until their retireAfter); see docs/key-rotation.md",
              content: ref("Jwks"),
            },
          },
        },
      },
    },
  };
}

// Compile-time check that the wire schema (minus transport fields) and the domain type describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// `verifiedAccount` is the edge's finding, never the client's word: the wire has no such field.
const checkRequestMatchesClientContext: Same<
  Omit<CheckRequest, "tickets" | "assertion">,
  Omit<ClientContext, "verifiedAccount">
> = true;
void checkRequestMatchesClientContext;
