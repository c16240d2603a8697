import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponse,
  errorResponses,
  jsonBody,
  jsonResponse,
  SemverSchema,
} from "../../../core/contracts/common";
import { ApiError } from "../../../core/errors";
import { createRouter } from "../app";
import { kickIncrements } from "../increments/queue";
import { refuseDeclaredLength } from "../lib/request-body";
import { auditRecords, submitForAudit, withdrawAudit } from "../services/audits";
import { publishVersion, rollbackTo } from "../services/releases";
import { parseSignatureHeader } from "../services/signing-keys";
import {
  getTrial,
  getVersion,
  listReleases,
  listVersions,
  MAX_PACKAGE_BYTES,
  setTrial,
  uploadVersion,
  versionOverview,
} from "../services/versions";
import { AuditKindSchema } from "./audits";
import { SignatureHeaderSchema } from "./signing-keys";

export const versionRoutes = createRouter();

const VersionStatusSchema = z.enum([
  "development",
  "in_audit",
  "approved",
  "rejected",
  "released",
  "discarded",
]);
const VersionSchema = z
  .object({
    id: z.string(),
    version: z.string(),
    status: VersionStatusSchema,
    online: z.boolean(),
    description: z.string(),
    package: z.object({
      sha256: z.string(),
      size: z.number(),
      fileCount: z.number(),
      unpackedSize: z.number(),
      filesSha256: z.string().openapi({
        description: "digest of the file list (docs/increments.md); what developer signatures sign",
      }),
    }),
    signature: z
      .object({ kid: z.string(), alg: z.enum(["EdDSA", "ES256"]) })
      .nullable()
      .openapi({ description: "the developer signature the upload carried (PRODUCT.md S2)" }),
    encrypted: z
      .boolean()
      .openapi({ description: "stored and delivered AES-256-GCM encrypted (PRODUCT.md S3)" }),
    uploadedBy: z.string(),
    createdAt: z.number(),
    firstReleasedAt: z.number().nullable(),
  })
  .openapi("Version");
const FileSchema = z.object({ path: z.string(), size: z.number(), sha256: z.string() });
const ReleaseSchema = z
  .object({
    seq: z.number(),
    version: z.string(),
    via: z.enum(["publish", "rollback"]),
    fromVersion: z.string().nullable(),
    releasedBy: z.string(),
    releasedAt: z.number(),
  })
  .openapi("Release");
const ReviewSchema = z.object({
  hostAppId: z.string(),
  decision: z.enum(["approve", "reject"]).nullable(),
  reason: z.string().nullable(),
  decidedAt: z.number().nullable(),
});
const AppParams = z.object({ appId: AppIdSchema });
const VersionParams = AppParams.extend({ version: SemverSchema });
const PagePathSchema = z
  .string()
  .min(1)
  .max(512)
  .regex(
    /^(?!\/)(?!.*\.\.)[A-Za-z0-9_\-./]+(\?[A-Za-z0-9_\-.=&%]*)?$/,
    "a relative page path such as pages/index/index?from=trial",
  );

// Upload a code package (zip body) as the new development version.
versionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/versions",
    tags: ["versions"],
    summary: "Upload a version",
    description: "Upload a code package (zip body) as the new development version.",
    request: {
      params: AppParams,
      query: z.object({ version: SemverSchema, description: z.string().max(2000).optional() }),
      headers: z.object({ "x-graycast-signature": SignatureHeaderSchema.optional() }),
      body: {
        required: true,
        content: { "application/zip": { schema: z.string().openapi({ format: "binary" }) } },
        description: `zip archive, at most ${MAX_PACKAGE_BYTES} bytes (32 MiB), with or without Content-Length; a longer body gets 413 payload_too_large`,
      },
    },
    responses: {
      201: jsonResponse(VersionSchema, "Uploaded"),
      413: errorResponse(
        `Payload too large (payload_too_large): the package is over ${MAX_PACKAGE_BYTES} bytes (32 MiB)`,
      ),
      415: errorResponse(
        "Unsupported media type (unsupported_media_type): send the package as application/zip (or application/octet-stream)",
      ),
      422: errorResponse(
        "Unprocessable package: the archive is broken, empty or unsafe (bad_package), or its developer signature is missing, unknown, revoked or wrong (bad_signature)",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/zip" && type !== "application/octet-stream")
      throw new ApiError("unsupported_media_type", "send the package as Content-Type: application/zip");
    await refuseDeclaredLength(
      c.req.raw,
      MAX_PACKAGE_BYTES,
      `packages are limited to ${MAX_PACKAGE_BYTES} bytes`,
    );
    const { version, description } = c.req.valid("query");
    const signature = parseSignatureHeader(c.req.valid("header")["x-graycast-signature"]);
    const body = await uploadVersion(c.var.db, c.env.PACKAGES, c.var.actor, c.req.valid("param").appId, {
      version,
      description,
      body: c.req.raw.body,
      signature,
      packageKeySecret: c.env.PACKAGE_KEY_SECRET,
    });
    return c.json(body, 201);
  },
);

// List versions, highest first.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/versions",
    tags: ["versions"],
    summary: "List versions",
    description: "List versions, highest first.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ versions: z.array(VersionSchema) }), "Versions"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ versions: await listVersions(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

// One version with its file manifest.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/versions/{version}",
    tags: ["versions"],
    summary: "Get a version",
    description: "One version with its file manifest.",
    request: { params: VersionParams },
    responses: {
      200: jsonResponse(VersionSchema.extend({ files: z.array(FileSchema) }), "Version"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId, version } = c.req.valid("param");
    return c.json(await getVersion(c.var.db, c.env.PACKAGES, c.var.actor, appId, version), 200);
  },
);

// Version overview: online, in audit (with progress), development, approved, rollback menu, releases.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/overview",
    tags: ["versions"],
    summary: "Version overview",
    description:
      "Version overview: online, in audit (with progress), development, approved, rollback menu, releases.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.record(z.string(), z.unknown()).openapi("VersionOverview"), "Overview"),
      ...errorResponses,
    },
  }),
  async (c) => c.json(await versionOverview(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

// Submit the development version for audit by every bound host app (version audit), or an
// approved or released version to the bound host apps that have not approved it (binding audit).
versionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/versions/{version}/submit",
    tags: ["versions"],
    description:
      "Submit the development version for audit by every bound host app (version audit), or an approved or released version to the bound host apps that have not approved it (binding audit).",
    summary:
      "Submit a version for audit (version audit), or an approved or released one to the bound host apps that have not approved it (binding audit)",
    request: {
      params: VersionParams,
      body: jsonBody(z.object({ note: z.string().max(2000).default("") }).openapi("SubmitAudit")),
    },
    responses: {
      201: jsonResponse(
        z.object({
          auditId: z.string(),
          version: z.string(),
          kind: AuditKindSchema,
          status: z.literal("pending"),
          hostApps: z.array(z.string()),
        }),
        "Submitted",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId, version } = c.req.valid("param");
    return c.json(await submitForAudit(c.var.db, c.var.actor, appId, version, c.req.valid("json").note), 201);
  },
);

// Withdraw a pending audit of this version (version or binding audit).
versionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/versions/{version}/withdraw",
    tags: ["versions"],
    summary: "Withdraw an audit",
    description: "Withdraw a pending audit of this version (version or binding audit).",
    request: { params: VersionParams },
    responses: { 200: jsonResponse(VersionSchema, "Withdrawn"), ...errorResponses },
  }),
  async (c) => {
    const { appId, version } = c.req.valid("param");
    return c.json(await withdrawAudit(c.var.db, c.var.actor, appId, version), 200);
  },
);

// Publish an approved version to every bound host app.
versionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/versions/{version}/publish",
    tags: ["versions"],
    summary: "Publish a version",
    description: "Publish an approved version to every bound host app.",
    request: { params: VersionParams },
    responses: { 200: jsonResponse(VersionSchema, "Published"), ...errorResponses },
  }),
  async (c) => {
    const { appId, version } = c.req.valid("param");
    const published = await publishVersion(c.var.db, c.env.PACKAGES, c.var.actor, appId, version);
    c.executionCtx.waitUntil(kickIncrements(c.env, appId));
    return c.json(published, 200);
  },
);

// Roll back the online version to an earlier released one.
versionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/rollback",
    tags: ["versions"],
    summary: "Roll back",
    description: "Roll back the online version to an earlier released one.",
    request: { params: AppParams, body: jsonBody(z.object({ version: SemverSchema }).openapi("Rollback")) },
    responses: { 200: jsonResponse(VersionSchema, "Rolled back"), ...errorResponses },
  }),
  async (c) => {
    const { appId } = c.req.valid("param");
    const rolledBack = await rollbackTo(
      c.var.db,
      c.env.PACKAGES,
      c.var.actor,
      appId,
      c.req.valid("json").version,
    );
    c.executionCtx.waitUntil(kickIncrements(c.env, appId));
    return c.json(rolledBack, 200);
  },
);

// Release history, newest first.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/releases",
    tags: ["versions"],
    summary: "Release history",
    description: "Release history, newest first.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ releases: z.array(ReleaseSchema) }), "Releases"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ releases: await listReleases(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

// Audit records of every version, newest first.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/audits",
    tags: ["versions"],
    summary: "Audit records",
    description: "Audit records of every version, newest first.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(
        z.object({
          audits: z.array(
            z
              .object({
                id: z.string(),
                kind: AuditKindSchema,
                version: z.string(),
                status: z.string(),
                note: z.string(),
                submittedBy: z.string(),
                submittedAt: z.number(),
                closedAt: z.number().nullable(),
                reviews: z.array(ReviewSchema),
              })
              .passthrough(),
          ),
        }),
        "Audit records",
      ),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ audits: await auditRecords(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

export const TrialConfigSchema = z
  .object({ pagePath: PagePathSchema, testers: z.array(z.string().trim().min(1).max(128)).max(200) })
  .openapi("TrialConfig");
export type TrialConfigInput = z.infer<typeof TrialConfigSchema>;

// Configure the trial version: start page and testers.
versionRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/trial",
    tags: ["versions"],
    summary: "Configure the trial version",
    description: "Configure the trial version: start page and testers.",
    request: {
      params: AppParams,
      body: jsonBody(TrialConfigSchema),
    },
    responses: {
      200: jsonResponse(
        z
          .object({
            pagePath: z.string().nullable(),
            testers: z.array(z.string()),
            version: z.string().nullable(),
          })
          .openapi("Trial"),
        "Trial",
      ),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await setTrial(c.var.db, c.env.PACKAGES, c.var.actor, c.req.valid("param").appId, c.req.valid("json")),
      200,
    ),
);

// The trial configuration and the version it serves.
versionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/trial",
    tags: ["versions"],
    summary: "Read the trial configuration",
    description: "The trial configuration and the version it serves.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(
        z.object({
          pagePath: z.string().nullable(),
          testers: z.array(z.string()),
          version: z.string().nullable(),
        }),
        "Trial",
      ),
      ...errorResponses,
    },
  }),
  async (c) => c.json(await getTrial(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);
