/**
 * Skip-domain-verification applications (PRODUCT.md X2) and sensitive API permissions (X3):
 * the mini program side (apply, list; mounted under /v1/mini-programs) and the host app side
 * (declare sensitive APIs, list and decide applications; mounted under /v1/host-apps). Logic and
 * the seed rules in services/applications.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
} from "../../../core/contracts/common";
import { ApiError } from "../../../core/errors";
import { createRouter } from "../app";
import {
  applyForApi,
  applySkipDomain,
  decideApiApplication,
  decideSkipDomain,
  declareSensitiveApi,
  listApiApplicationsOfApp,
  listApiApplicationsOfHostApp,
  listSensitiveApis,
  listSkipDomainOfApp,
  listSkipDomainOfHostApp,
  MAX_SENSITIVE_APIS,
} from "../services/applications";

export const appApplicationRoutes = createRouter();
export const hostAppApplicationRoutes = createRouter();

const StatusSchema = z.enum(["pending", "approved", "rejected", "revoked"]);
const ReasonSchema = z.string().trim().min(1).max(500);
const ApiNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.]{0,63}$/, "an API name as clients call it, e.g. getLocation")
  .openapi({ example: "getLocation" });
const ApplicationSchema = z
  .object({
    id: z.string(),
    appId: z.string(),
    hostAppId: z.string(),
    apiName: z.string().optional().openapi({ description: "sensitive API applications only" }),
    status: StatusSchema,
    reason: z.string().openapi({ description: "the developer's reason" }),
    appliedBy: z.string(),
    appliedAt: z.number(),
    decidedBy: z.string().nullable(),
    decidedAt: z.number().nullable(),
    decisionReason: z.string().nullable(),
  })
  .openapi("Application");
const SensitiveApiSchema = z
  .object({
    hostAppId: z.string(),
    name: z.string(),
    description: z.string(),
    createdBy: z.string(),
    createdAt: z.number(),
  })
  .openapi("SensitiveApi");
const AppParams = z.object({ appId: AppIdSchema });
const HostParams = z.object({ hostAppId: IdSchema });
const StatusQuery = z.object({ status: StatusSchema.optional() });
/** A reason is required to reject or revoke, optional to approve. */
const DecisionBody = z.object({ reason: ReasonSchema.optional() }).strict().openapi("ApplicationDecision");
function requireReasonFor(decision: string, reason: string | undefined): void {
  if (decision !== "approve" && reason === undefined)
    throw new ApiError("bad_request", "the request is invalid", [
      { path: "reason", message: `a reason is required to ${decision}` },
    ]);
}

// ------------------------------------------------------------------ mini program side

appApplicationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/skip-domain-applications",
    tags: ["development"],
    summary: "Apply to skip domain verification in a host app",
    description:
      "Seed: the developer applies to the host app to skip domain name verification; once its manager approves, the mini program reaches any https/wss server in that host app. The mini program must be bound to the host app (409 otherwise); one pending or approved application per host app (409). Team admin or developer.",
    request: {
      params: AppParams,
      body: jsonBody(
        z.object({ hostAppId: IdSchema, reason: ReasonSchema }).strict().openapi("ApplySkipDomain"),
      ),
    },
    responses: { 201: jsonResponse(ApplicationSchema, "Applied (pending)"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await applySkipDomain(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json")),
      201,
    ),
);

appApplicationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/skip-domain-applications",
    tags: ["development"],
    summary: "List the mini program's skip-domain applications",
    description:
      "Newest first, with state (pending / approved / rejected), who applied and decided, and when. Any team member.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ applications: z.array(ApplicationSchema) }), "Applications"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      { applications: await listSkipDomainOfApp(c.var.db, c.var.actor, c.req.valid("param").appId) },
      200,
    ),
);

appApplicationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/api-applications",
    tags: ["development"],
    summary: "Apply for a host app's sensitive API",
    description:
      "Seed: the mini program developer applies to the host app for permission to call a sensitive API it declared; its manager or auditor decides. The mini program must be bound to the host app (409), the API declared by it (404); one pending or approved application per API (409). Team admin or developer.",
    request: {
      params: AppParams,
      body: jsonBody(
        z
          .object({ hostAppId: IdSchema, apiName: ApiNameSchema, reason: ReasonSchema })
          .strict()
          .openapi("ApplyForApi"),
      ),
    },
    responses: { 201: jsonResponse(ApplicationSchema, "Applied (pending)"), ...errorResponses },
  }),
  async (c) =>
    c.json(await applyForApi(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json")), 201),
);

appApplicationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/api-applications",
    tags: ["development"],
    summary: "List the mini program's sensitive API applications",
    description:
      "Newest first, with state (pending / approved / rejected / revoked), who applied and decided, and when. Any team member.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ applications: z.array(ApplicationSchema) }), "Applications"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      { applications: await listApiApplicationsOfApp(c.var.db, c.var.actor, c.req.valid("param").appId) },
      200,
    ),
);

// ------------------------------------------------------------------ host app side

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/sensitive-apis",
    tags: ["host apps"],
    summary: "Declare a sensitive API",
    description: `The host app's manager (or a platform admin) declares an API mini programs must apply for (name as clients call it, and what it does). At most ${MAX_SENSITIVE_APIS}; a name already declared is refused with 409.`,
    request: {
      params: HostParams,
      body: jsonBody(
        z
          .object({ name: ApiNameSchema, description: z.string().trim().min(1).max(500) })
          .strict()
          .openapi("DeclareSensitiveApi"),
      ),
    },
    responses: { 201: jsonResponse(SensitiveApiSchema, "Declared"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await declareSensitiveApi(c.var.db, c.var.actor, c.req.valid("param").hostAppId, c.req.valid("json")),
      201,
    ),
);

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/sensitive-apis",
    tags: ["host apps"],
    summary: "List a host app's sensitive APIs",
    description:
      "Visible to the host app's managers and auditors, platform admins, and members of teams whose mini programs are bound (or asking to be bound) to it.",
    request: { params: HostParams },
    responses: {
      200: jsonResponse(z.object({ apis: z.array(SensitiveApiSchema) }), "Sensitive APIs by name"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ apis: await listSensitiveApis(c.var.db, c.var.actor, c.req.valid("param").hostAppId) }, 200),
);

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/skip-domain-applications",
    tags: ["host apps"],
    summary: "List skip-domain applications to this host app",
    description: "Newest first (at most 500), optionally by status. The host app's managers and auditors.",
    request: { params: HostParams, query: StatusQuery },
    responses: {
      200: jsonResponse(z.object({ applications: z.array(ApplicationSchema) }), "Applications"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      {
        applications: await listSkipDomainOfHostApp(
          c.var.db,
          c.var.actor,
          c.req.valid("param").hostAppId,
          c.req.valid("query").status,
        ),
      },
      200,
    ),
);

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/skip-domain-applications/{applicationId}/{decision}",
    tags: ["host apps"],
    summary: "Approve or reject a skip-domain application",
    description:
      "The host app's manager decides a pending application; a reason is required to reject. An approval reaches the mini program's runtime config for this host app in seconds. Deciding a decided application is refused with 409.",
    request: {
      params: HostParams.extend({ applicationId: IdSchema, decision: z.enum(["approve", "reject"]) }),
      body: jsonBody(DecisionBody),
    },
    responses: { 200: jsonResponse(ApplicationSchema, "Decided"), ...errorResponses },
  }),
  async (c) => {
    const { hostAppId, applicationId, decision } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    requireReasonFor(decision, reason);
    return c.json(
      await decideSkipDomain(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        hostAppId,
        applicationId,
        decision,
        reason,
      ),
      200,
    );
  },
);

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/api-applications",
    tags: ["host apps"],
    summary: "List sensitive API applications to this host app",
    description: "Newest first (at most 500), optionally by status. The host app's managers and auditors.",
    request: { params: HostParams, query: StatusQuery },
    responses: {
      200: jsonResponse(z.object({ applications: z.array(ApplicationSchema) }), "Applications"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      {
        applications: await listApiApplicationsOfHostApp(
          c.var.db,
          c.var.actor,
          c.req.valid("param").hostAppId,
          c.req.valid("query").status,
        ),
      },
      200,
    ),
);

hostAppApplicationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/api-applications/{applicationId}/{decision}",
    tags: ["host apps"],
    summary: "Approve, reject or revoke a sensitive API application",
    description:
      "The host app's manager or auditor approves or rejects a pending application, or revokes an approved one; a reason is required to reject or revoke. Grants and revocations reach the mini program's runtime config for this host app in seconds. Any other transition is refused with 409.",
    request: {
      params: HostParams.extend({
        applicationId: IdSchema,
        decision: z.enum(["approve", "reject", "revoke"]),
      }),
      body: jsonBody(DecisionBody),
    },
    responses: { 200: jsonResponse(ApplicationSchema, "Decided"), ...errorResponses },
  }),
  async (c) => {
    const { hostAppId, applicationId, decision } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    requireReasonFor(decision, reason);
    return c.json(
      await decideApiApplication(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        hostAppId,
        applicationId,
        decision,
        reason,
      ),
      200,
    );
  },
);
