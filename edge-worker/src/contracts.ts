/**
 * The edge's wire contract in `zod/mini` (zod 4's tree-shakable API): the same checks as
 * core/contracts/check.ts (which the control plane uses through @hono/zod-openapi), without
 * pulling the classic API and the OpenAPI generator into the edge bundle. A test
 * (test/edge-contracts.test.ts) runs both schemas over the same inputs so they cannot drift,
 * and the type assertion at the bottom fails the build if this one drifts from ClientContext.
 */
import en from "zod/v4/locales/en.js";
import * as z from "zod/mini";
import type { ClientContext } from "../../core/decide";
import { isSemver, parseLooseVersion } from "../../core/semver";

// zod/mini ships no messages by default; the error shape names them (`issues[].message`).
z.config(en());

export const MAX_TICKETS = 8;
export const MAX_TICKET_LENGTH = 512;

const LooseVersionSchema = z.string().check(
  z.maxLength(32),
  z.refine((v) => parseLooseVersion(v) !== undefined, "must be dot-separated numbers, e.g. 17.4.1"),
);
const ClientTextSchema = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[^\p{Cc}]+$/u, "must not contain control characters"));
const SemverSchema = z.string().check(z.maxLength(20), z.refine(isSemver, "must be a semantic version MAJOR.MINOR.PATCH, e.g. 1.2.0"));
const TicketSchema = z.string().check(z.minLength(1), z.maxLength(MAX_TICKET_LENGTH), z.regex(/^[A-Za-z0-9_.-]+$/, "must be an admission ticket as issued by check"));

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
  tickets: z.optional(z.array(TicketSchema).check(z.maxLength(MAX_TICKETS))),
});

export type CheckRequest = z.infer<typeof CheckRequestSchema>;

export const CheckResponseSchema = z.object({
  manifest: z.string(),
  tickets: z.optional(z.array(z.string())),
});

export const Sha256Schema = z.string().check(z.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"));

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

/** Splits a check request into the client's facts (what the domain decides on) and its tickets. */
export function splitCheckRequest(request: CheckRequest): { client: ClientContext; tickets: string[] } {
  const { tickets = [], ...client } = request;
  return { client, tickets };
}

const json = (schema: unknown) => ({ "application/json": { schema } });
const ref = (name: string) => json({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => ({ description, content: ref("Error") });

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
        200: { description: `The whole ${what}`, content: { [contentType]: { schema: { type: "string", format: "binary" } } } },
        206: { description: "The requested byte range" },
        304: { description: "Not modified: the client already holds these bytes" },
        400: error("Not a sha256"),
        404: error(`No such ${what}`),
        416: error("Range not satisfiable"),
      },
    },
  };
}

/** The edge's OpenAPI 3.1 document, built from the schemas above on first request. */
export function edgeOpenApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "Graycast edge API", version: "1.0.0", description: "Client API of the Graycast mini program delivery network." },
    components: {
      schemas: {
        CheckRequest: componentOf(CheckRequestSchema),
        CheckResponse: componentOf(CheckResponseSchema),
        Error: componentOf(ErrorBodySchema),
        PublicJwk: componentOf(PublicJwkSchema),
        Jwks: { type: "object", properties: { keys: { type: "array", items: { $ref: "#/components/schemas/PublicJwk" } } }, required: ["keys"] },
      },
    },
    paths: {
      "/v1/check": {
        post: {
          summary: "Decide which version this client runs",
          description:
            "Every answer, including delisted / not bound / nothing released, is a signed manifest; clients must verify it against /.well-known/jwks.json.",
          requestBody: { required: true, content: ref("CheckRequest") },
          responses: {
            200: { description: "A signed manifest, and admission tickets to store when a grayscale task admitted the client", content: ref("CheckResponse") },
            400: error("Malformed or invalid request"),
            404: error("No such mini program"),
            413: error("Request body over 16 KiB"),
            415: error("Body is not JSON"),
          },
        },
      },
      "/v1/packages/{sha256}": download("package", "application/zip"),
      "/v1/increments/{sha256}": download(
        "increment",
        "application/octet-stream",
        "Offered in a manifest's `increment` to a client on its base version; format in docs/increments.md. Encrypted (AES-256-GCM) when the manifest's `increment.encryption` says so.",
      ),
      "/.well-known/jwks.json": {
        get: {
          summary: "Public keys that verify check manifests",
          responses: { 200: { description: "The signing key first, then upcoming keys (published before they sign) and retired keys (until their retireAfter); see docs/key-rotation.md", content: ref("Jwks") } },
        },
      },
    },
  };
}

// Compile-time check that the wire schema (minus transport fields) and the domain type describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checkRequestMatchesClientContext: Same<Omit<CheckRequest, "tickets">, ClientContext> = true;
void checkRequestMatchesClientContext;
