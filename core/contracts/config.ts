/**
 * Wire contract of the edge's runtime-config routes (PRODUCT.md D5, X7; issue 12):
 * `GET /v1/config?appId&hostAppId` (answer: a signed JWS, typ `graycast-config+jwt`) and
 * `GET /v1/privacy/{sha256}` (the published privacy agreement text). The edge validates
 * with these very schemas and its OpenAPI document (edge-worker/openapi/routes.ts) is generated
 * from them, like the check's (core/contracts/check.ts: zod 4 classic, which @hono/zod-openapi reads).
 */
import * as z from "zod";
import { DOMAIN_KINDS } from "../runtime-config";

export const ConfigAppIdSchema = z.string().check(z.regex(/^gc[a-z2-7]{16,40}$/, "not an App ID"));
export const ConfigHostAppIdSchema = z
  .string()
  .check(z.minLength(1), z.maxLength(64), z.regex(/^[A-Za-z0-9_-]+$/, "not an id"));

/** The query of `GET /v1/config`: both parameters required, each once, nothing else. */
export const ConfigQuerySchema = z.strictObject({
  appId: ConfigAppIdSchema,
  hostAppId: ConfigHostAppIdSchema,
});
export type ConfigQuery = z.infer<typeof ConfigQuerySchema>;

/**
 * Optional request header: the client's signed check manifest (a compact JWS the edge issued).
 * When it verifies, names this app and host app, has not expired and says the client was admitted
 * to a grayscale task (`reason: grayscale`, `taskId`), that task's switch values apply.
 */
export const MANIFEST_HEADER = "x-graycast-manifest";
/** Answer header: what became of that manifest (`applied`, `no_task_switches` or why it was ignored). */
export const TASK_STATUS_HEADER = "x-graycast-task";
export const MAX_MANIFEST_HEADER = 8 * 1024;
export const ManifestHeaderSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(MAX_MANIFEST_HEADER),
    z.regex(
      /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
      "must be a compact JWS (header.claims.signature)",
    ),
  );

export const ConfigResponseSchema = z
  .object({
    /** compact JWS, typ graycast-config+jwt, signed with the manifest signing key (verify with the JWKS) */
    config: z.string(),
  })
  .meta({ id: "ConfigResponse" });

const TypedValueSchema = z.object({
  type: z.enum(["string", "number", "boolean", "json"]),
  value: z.unknown(),
});

/** The signed claims (core/runtime-config.ts ConfigClaims), for documentation and clients. */
export const ConfigClaimsSchema = z
  .object({
    iss: z.literal("graycast"),
    sub: ConfigAppIdSchema,
    aud: ConfigHostAppIdSchema,
    iat: z.number(),
    exp: z.number(),
    revision: z.number(),
    configRevision: z.number(),
    domains: z.object(
      Object.fromEntries(DOMAIN_KINDS.map((k) => [k, z.array(z.string())])) as Record<
        (typeof DOMAIN_KINDS)[number],
        z.ZodArray<z.ZodString>
      >,
    ),
    skipDomainCheck: z.boolean(),
    apis: z.array(z.string()),
    privacy: z.nullable(z.object({ version: z.number(), sha256: z.string(), url: z.string() })),
    trialPagePath: z.nullable(z.string()),
    switches: z.record(z.string(), TypedValueSchema),
    taskId: z.optional(z.string()),
  })
  .meta({ id: "ConfigClaims" });

export const PrivacySha256Schema = z
  .string()
  .check(z.regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"));
