/**
 * The edge's routes as OpenAPI descriptions, from the schemas the routes validate with
 * (core/contracts/check.ts). `npm run openapi:edge` turns this list into
 * edge-worker/src/openapi-document.ts, the document the edge serves at /openapi.json; a test
 * (test/edge-openapi.test.ts) fails when that file is stale. A new route is one more entry in
 * EDGE_ROUTES. Never imported by the edge Worker itself: the generator stays out of its bundle.
 */
import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import {
  CheckRequestSchema,
  CheckResponseSchema,
  JwksSchema,
  MAX_TICKETS,
  PackageParamsSchema,
} from "../../core/contracts/check";
import {
  ConfigQuerySchema,
  ConfigResponseSchema,
  MANIFEST_HEADER,
  MAX_MANIFEST_HEADER,
  PrivacySha256Schema,
  TASK_STATUS_HEADER,
} from "../../core/contracts/config";
import { ErrorBodySchema } from "../../core/contracts/error";
import { LoginRequestSchema, LoginResponseSchema } from "../../core/contracts/login";
import { LOG_LIMITS, LogAcceptedSchema, LogBatchSchema } from "../../core/contracts/logs";
import {
  InboxPageSchema,
  InboxQuerySchema,
  MarkReadRequestSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../../core/contracts/messages";
import { ASSERTION_STATUS_HEADER, QUERY_LIMIT, USER_HEADER } from "../src/contracts";
import { BODY_LIMIT } from "../src/validate";

/** An error answer in the one error shape (core/contracts/error.ts). */
export const errorAnswer = (description: string) =>
  ({ description, content: { "application/json": { schema: ErrorBodySchema } } }) as const;

/** The check's per-address rate limit (edge-worker/src/rate-limit.ts). */
const rateLimitedAnswer = (description: string) =>
  ({
    ...errorAnswer(description),
    headers: {
      "Retry-After": { description: "seconds until the limit's window ends", schema: { type: "integer" } },
    },
  }) as const;
const rateLimited = rateLimitedAnswer(
  "Too many checks from this client address (after validation: a malformed check is still answered 400)",
);

const checkDescription =
  "Every answer, including delisted / not bound / nothing released, is a signed manifest; clients must verify it against /.well-known/jwks.json.";

const checkAnswer = {
  description: "A signed manifest, and admission tickets to store when a grayscale task admitted the client",
  content: { "application/json": { schema: CheckResponseSchema } },
  headers: {
    [ASSERTION_STATUS_HEADER]: {
      description:
        "Present when the request carried a user assertion: `verified`, or why it was ignored (malformed, unknown_key, bad_signature, wrong_issuer, wrong_audience, not_yet_valid, expired, lifetime_too_long); an ignored assertion leaves the account unverified, the answer is still given",
      schema: { type: "string" },
    },
  },
} as const;

/**
 * The query of `GET /v1/check`: the body's fields, but `tickets` as a repeated (exploded) `ticket`
 * parameter, and without the user assertion, which travels only in the user header.
 */
const CheckQuerySchema = CheckRequestSchema.omit({ assertion: true, tickets: true }).extend({
  ticket: CheckRequestSchema.shape.tickets.meta({
    description: `one admission ticket per parameter (at most ${MAX_TICKETS})`,
    param: { style: "form", explode: true },
  }),
});

const CheckHeadersSchema = z.object({
  [USER_HEADER]: z.string().max(QUERY_LIMIT).optional().meta({
    description:
      "guid, deviceId, account, ticket (repeated) and assertion (a host-app user assertion, only here), form-encoded like the query; each at most once across query and header",
  }),
});

/** A content-addressed download route (packages, increments): the same answers for both. */
function download(
  path: string,
  what: "package" | "increment",
  contentType: string,
  description?: string,
): RouteConfig {
  return createRoute({
    method: "get",
    path,
    summary: `Download ${what === "increment" ? "an incremental package" : "a package"} (also HEAD); supports Range and If-None-Match`,
    ...(description !== undefined ? { description } : {}),
    request: { params: PackageParamsSchema },
    responses: {
      200: {
        description: `The whole ${what}`,
        content: { [contentType]: { schema: { type: "string", format: "binary" } } },
      },
      206: { description: "The requested byte range" },
      304: { description: "Not modified: the client already holds these bytes" },
      400: errorAnswer("Not a sha256"),
      404: errorAnswer(`No such ${what}`),
      416: errorAnswer("Range not satisfiable"),
    },
  });
}

/** Every route the edge serves to clients, in document order. */
export const EDGE_ROUTES: RouteConfig[] = [
  createRoute({
    method: "get",
    path: "/v1/check",
    summary: "Decide which version this client runs (the request in the query)",
    description: `${checkDescription} The POST body's fields, form-encoded: \`ticket\` once per admission ticket, \`trial=true|false\`, any other parameter at most once; unknown parameters are refused. Same answer as POST. Who the user is (guid, deviceId, account, ticket) may go in the \`${USER_HEADER}\` header, form-encoded the same way, instead of the URL: URLs end up in request logs, headers are not logged by default. The reference client does so. A host-app user \`assertion\` (docs/trust.md) travels only in that header: in the query it is refused with 400.`,
    request: { query: CheckQuerySchema, headers: CheckHeadersSchema },
    responses: {
      200: checkAnswer,
      400: errorAnswer(
        `Malformed or invalid query or ${USER_HEADER}: an unknown or repeated parameter, a field the header may not carry, an assertion in the query, a broken percent-escape, an invalid value (issues name the parameter, \`tickets.N\` the N-th ticket), or an account / deviceId that differs from the verified assertion's`,
      ),
      404: errorAnswer("No such mini program"),
      414: errorAnswer(`Query over ${QUERY_LIMIT / 1024} KiB`),
      429: rateLimited,
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/check",
    summary: "Decide which version this client runs",
    description: checkDescription,
    request: {
      body: { required: true, content: { "application/json": { schema: CheckRequestSchema } } },
    },
    responses: {
      200: checkAnswer,
      400: errorAnswer(
        "Malformed or invalid request, or an account / deviceId that differs from the verified assertion's",
      ),
      404: errorAnswer("No such mini program"),
      413: errorAnswer(`Payload too large: the request body is over ${BODY_LIMIT / 1024} KiB`),
      415: errorAnswer("Unsupported media type: the body is not application/json"),
      429: rateLimited,
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/login",
    summary: "A one-time login code for the host app's verified user (PRODUCT.md X6)",
    description: `The user is the host app's user assertion (docs/trust.md) in the \`${USER_HEADER}\` header as \`assertion=<jws>\` (form-encoded), never in the body. The answer's \`code\` goes to the mini program's server, which exchanges it with the admin Worker's GET /sns/jscode2session (docs/server-api.md) within 5 minutes, once. The code is encrypted: it reveals nothing about the user.`,
    request: {
      headers: z.object({
        [USER_HEADER]: z
          .string()
          .max(QUERY_LIMIT)
          .meta({ description: "assertion=<the host app's user assertion>, form-encoded; nothing else" }),
      }),
      body: { required: true, content: { "application/json": { schema: LoginRequestSchema } } },
    },
    responses: {
      200: {
        description: "The code, valid 300 s, for one exchange",
        content: { "application/json": { schema: LoginResponseSchema } },
        headers: { [ASSERTION_STATUS_HEADER]: { description: "`verified`", schema: { type: "string" } } },
      },
      400: errorAnswer(`Malformed body or ${USER_HEADER} header`),
      401: {
        ...errorAnswer(
          "No user assertion, or one that does not verify: the header says why (malformed, unknown_key, bad_signature, wrong_issuer, wrong_audience, not_yet_valid, expired, lifetime_too_long)",
        ),
        headers: {
          [ASSERTION_STATUS_HEADER]: {
            description: "why the assertion was refused",
            schema: { type: "string" },
          },
        },
      },
      403: errorAnswer("The mini program is not bound to this host app"),
      404: errorAnswer("No such mini program"),
      409: errorAnswer("The mini program is off-shelf (delisted)"),
      413: errorAnswer(`Payload too large: the request body is over ${BODY_LIMIT / 1024} KiB`),
      415: errorAnswer("Unsupported media type: the body is not application/json"),
      429: rateLimitedAnswer("Too many logins from this client address"),
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/messages/subscribe",
    summary: "Record the user's subscription choices (WeChat requestSubscribeMessage; PRODUCT.md T3)",
    description: `After the user's tap, the host app shows the pop-up for the mini program's template ids and sends the user's choice per id. Rules (seed): at most 3 ids per call; one-time and long-term ids never in one call (400); ids whose template titles are the same collapse to the first ('filter' for the others). One-time: each accept allows one message; long-term: up to 5 a day per template. The user is the host app's assertion in the \`${USER_HEADER}\` header, as for POST /v1/login.`,
    request: {
      headers: z.object({
        [USER_HEADER]: z.string().max(QUERY_LIMIT).meta({ description: "assertion=<jws>" }),
      }),
      body: {
        required: true,
        content: {
          "application/json": {
            schema: SubscribeRequestSchema,
            example: {
              appId: "gcaaaabbbbccccddddeeeeff",
              hostAppId: "ha_demo_superapp",
              choices: [{ templateId: "mtabcdefghijklmnopqrstuvwx", decision: "accept" }],
            },
          },
        },
      },
    },
    responses: {
      200: {
        description: "The result per template id: accept, reject or filter",
        content: { "application/json": { schema: SubscribeResponseSchema } },
      },
      400: errorAnswer(
        "Malformed; more than 3 ids; one-time and long-term mixed; an id that is not the mini program's template",
      ),
      401: errorAnswer("No user assertion, or one that does not verify"),
      403: errorAnswer("The mini program is not bound to this host app"),
      404: errorAnswer("No such mini program"),
      409: errorAnswer("The mini program is off-shelf"),
    },
  }),
  createRoute({
    method: "get",
    path: "/v1/messages/inbox",
    summary: "The user's subscription messages of a mini program, newest first (PRODUCT.md T5)",
    description: `Kept 30 days. \`cursor\` is \`nextCursor\` of the previous page. The user is the assertion in the \`${USER_HEADER}\` header.`,
    request: {
      headers: z.object({
        [USER_HEADER]: z.string().max(QUERY_LIMIT).meta({ description: "assertion=<jws>" }),
      }),
      query: InboxQuerySchema,
    },
    responses: {
      200: {
        description: "A page of messages",
        content: { "application/json": { schema: InboxPageSchema } },
      },
      400: errorAnswer("Malformed query"),
      401: errorAnswer("No user assertion, or one that does not verify"),
      403: errorAnswer("The mini program is not bound to this host app"),
      404: errorAnswer("No such mini program"),
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/messages/inbox/read",
    summary: "Mark inbox messages read",
    description: `The user's own messages only; ids already read or not the user's are skipped. The user is the assertion in the \`${USER_HEADER}\` header.`,
    request: {
      headers: z.object({
        [USER_HEADER]: z.string().max(QUERY_LIMIT).meta({ description: "assertion=<jws>" }),
      }),
      body: { required: true, content: { "application/json": { schema: MarkReadRequestSchema } } },
    },
    responses: {
      200: {
        description: "How many were marked",
        content: { "application/json": { schema: z.object({ marked: z.number().int() }) } },
      },
      400: errorAnswer("Malformed body"),
      401: errorAnswer("No user assertion, or one that does not verify"),
    },
  }),
  createRoute({
    method: "post",
    path: "/v1/logs",
    summary: "Send a batch of real-time log entries (PRODUCT.md X4)",
    description: `At most ${LOG_LIMITS.batchEntries} entries, the device facts once per batch; a message of at most ${LOG_LIMITS.messageChars} characters, a page path of ${LOG_LIMITS.pageChars}, ${LOG_LIMITS.filterTags} filterMsg tags of ${LOG_LIMITS.filterTagChars}. The body may be gzip-compressed (\`Content-Encoding: gzip\`); at most ${LOG_LIMITS.batchBytes / 1024} KiB on the wire and after decompression. Entries older than ${LOG_LIMITS.maxAgeMs / 86_400_000} days (the retention) or more than ${LOG_LIMITS.futureSkewMs / 60_000} minutes in the future are left out and counted as \`dropped\`. Accepted entries are queued and readable in the admin API (GET /v1/mini-programs/{appId}/logs) seconds later. Rate limited per device (App ID + guid: 30 batches a minute) and per mini program (1,000 batches in 10 s), per Cloudflare location.`,
    request: {
      headers: z.object({
        "content-encoding": z.enum(["gzip", "identity"]).optional().meta({ description: "gzip, or none" }),
      }),
      body: { required: true, content: { "application/json": { schema: LogBatchSchema } } },
    },
    responses: {
      202: {
        description: "Queued: how many entries were accepted and how many left out",
        content: { "application/json": { schema: LogAcceptedSchema } },
      },
      400: errorAnswer("Malformed JSON, broken gzip, or a batch the schema refuses (issues name the field)"),
      404: errorAnswer("No such mini program"),
      413: errorAnswer(
        `Payload too large: over ${LOG_LIMITS.batchBytes / 1024} KiB on the wire or after decompression`,
      ),
      415: errorAnswer("The body is not application/json, or a Content-Encoding other than gzip"),
      429: rateLimitedAnswer("Too many batches from this device, or for this mini program"),
    },
  }),
  download("/v1/packages/{sha256}", "package", "application/zip"),
  download(
    "/v1/increments/{sha256}",
    "increment",
    "application/octet-stream",
    "Offered in a manifest's `increment` (format 3) or `incrementDelta` (format 4, the delta format, for clients that read it) to a client on its base version; formats in docs/increments.md. Encrypted (AES-256-GCM) when the offer's `encryption` says so.",
  ),
  createRoute({
    method: "get",
    path: "/v1/config",
    summary: "The signed runtime config of a mini program in a host app",
    description: `A compact JWS (typ \`graycast-config+jwt\`, Ed25519, signed with the manifest signing key: verify it against /.well-known/jwks.json) whose claims (ConfigClaims) carry the domain lists, the skip-domain flag, granted sensitive APIs, the privacy agreement version and text URL, the trial page path, the switches, and \`configRevision\`: clients never use an unsigned config or one with a lower revision than one they accepted. A client admitted to a grayscale task sends its signed check manifest in \`${MANIFEST_HEADER}\` to get that task's switch values (\`taskId\` in the claims); a manifest that does not verify is ignored, never an error. Shares the check's per-address rate limit. Reads only the snapshot, never D1.`,
    request: {
      query: ConfigQuerySchema,
      headers: z.object({
        [MANIFEST_HEADER]: z.string().max(MAX_MANIFEST_HEADER).optional().meta({
          description:
            "the client's signed check manifest (reason grayscale, taskId): proves admission to that task",
        }),
      }),
    },
    responses: {
      200: {
        description: "The signed runtime config",
        content: { "application/json": { schema: ConfigResponseSchema } },
        headers: {
          [TASK_STATUS_HEADER]: {
            description:
              "Present when the request carried a manifest: `applied`, `no_task_switches`, or why it was ignored (malformed, unknown_key, bad_signature, wrong_app, expired, not_in_task, task_gone)",
            schema: { type: "string" },
          },
        },
      },
      400: errorAnswer("A missing, unknown, repeated or invalid parameter, or a malformed manifest header"),
      404: errorAnswer("No such mini program, or it is not bound to this host app"),
      414: errorAnswer("Query over 1 KiB"),
      429: rateLimited,
    },
  }),
  createRoute({
    method: "get",
    path: "/v1/privacy/{sha256}",
    summary: "A published privacy agreement text (also HEAD)",
    description:
      "Content-addressed by the SHA-256 of its UTF-8 bytes, as the runtime config's `privacy.url` names it; immutable, so caches keep it (strong ETag, If-None-Match).",
    request: { params: z.object({ sha256: PrivacySha256Schema }) },
    responses: {
      200: { description: "The text", content: { "text/plain": { schema: { type: "string" } } } },
      304: { description: "Not modified" },
      400: errorAnswer("Not a sha256"),
      404: errorAnswer("No such text"),
    },
  }),
  createRoute({
    method: "get",
    path: "/.well-known/jwks.json",
    summary: "Public keys that verify check manifests",
    responses: {
      200: {
        description:
          "The signing key first, then upcoming keys (published before they sign) and retired keys (until their retireAfter); see docs/key-rotation.md",
        content: { "application/json": { schema: JwksSchema } },
      },
    },
  }),
];
