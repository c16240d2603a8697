import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
} from "../../../core/contracts/common";
import { createRouter } from "../app";
import {
  createHostApp,
  decideBinding,
  listHostAppBindings,
  listHostAppMembers,
  listHostApps,
  setHostAppMember,
} from "../services/host-apps";

export const hostAppRoutes = createRouter();

const HostAppRoleSchema = z.enum(["manager", "auditor"]);
const BindingStatusSchema = z.enum(["pending", "approved", "rejected"]);
const HostAppSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: z.number() })
  .openapi("HostApp");
const MemberSchema = z
  .object({ userId: z.string(), email: z.string(), name: z.string(), role: HostAppRoleSchema })
  .openapi("HostAppMember");
const BindingRequestSchema = z
  .object({
    appId: z.string(),
    name: z.string(),
    status: BindingStatusSchema,
    createdAt: z.number(),
    decidedAt: z.number().nullable(),
  })
  .openapi("BindingRequest");
const HostParams = z.object({ hostAppId: IdSchema });

export const CreateHostAppSchema = z
  .object({ name: z.string().trim().min(1).max(80) })
  .openapi("CreateHostApp");
export type CreateHostAppInput = z.infer<typeof CreateHostAppSchema>;
export const SetHostAppMemberSchema = z
  .object({ email: z.email().max(254), role: HostAppRoleSchema })
  .openapi("SetHostAppMember");
export type SetHostAppMemberInput = z.infer<typeof SetHostAppMemberSchema>;

// Register a host app (platform admin).
hostAppRoutes.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["host apps"],
    summary: "Register a host app",
    description: "Register a host app (platform admin).",
    request: {
      body: jsonBody(CreateHostAppSchema),
    },
    responses: { 201: jsonResponse(HostAppSchema, "Created"), ...errorResponses },
  }),
  async (c) => c.json(await createHostApp(c.var.db, c.var.actor, c.req.valid("json")), 201),
);

// List host apps (to pick bindings from).
hostAppRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["host apps"],
    summary: "List host apps",
    description: "List host apps (to pick bindings from).",
    responses: {
      200: jsonResponse(z.object({ hostApps: z.array(HostAppSchema) }), "Host apps"),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ hostApps: await listHostApps(c.var.db) }, 200),
);

// List a host app's managers and auditors.
hostAppRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/members",
    tags: ["host apps"],
    summary: "List host app members",
    description: "List a host app's managers and auditors.",
    request: { params: HostParams },
    responses: {
      200: jsonResponse(z.object({ members: z.array(MemberSchema) }), "Members"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ members: await listHostAppMembers(c.var.db, c.var.actor, c.req.valid("param").hostAppId) }, 200),
);

// Add a manager or auditor (platform admin or host app manager).
hostAppRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/members",
    tags: ["host apps"],
    summary: "Add a host app member",
    description: "Add a manager or auditor (platform admin or host app manager).",
    request: {
      params: HostParams,
      body: jsonBody(SetHostAppMemberSchema),
    },
    responses: { 200: jsonResponse(MemberSchema, "Member"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await setHostAppMember(c.var.db, c.var.actor, c.req.valid("param").hostAppId, c.req.valid("json")),
      200,
    ),
);

// Binding requests of mini programs to this host app.
hostAppRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/bindings",
    tags: ["host apps"],
    summary: "List binding requests",
    description:
      "Binding requests of mini programs to this host app (managers and auditors), optionally filtered by status.",
    request: { params: HostParams, query: z.object({ status: BindingStatusSchema.optional() }) },
    responses: {
      200: jsonResponse(z.object({ bindings: z.array(BindingRequestSchema) }), "Binding requests"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      {
        bindings: await listHostAppBindings(
          c.var.db,
          c.var.actor,
          c.req.valid("param").hostAppId,
          c.req.valid("query").status,
        ),
      },
      200,
    ),
);

// Approve or reject a binding request (host app manager).
hostAppRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/bindings/{appId}/{decision}",
    tags: ["host apps"],
    summary: "Approve or reject a binding",
    description: "Approve or reject a binding request (host app manager).",
    request: { params: HostParams.extend({ appId: AppIdSchema, decision: z.enum(["approve", "reject"]) }) },
    responses: {
      200: jsonResponse(
        z.object({
          appId: z.string(),
          hostAppId: z.string(),
          status: BindingStatusSchema,
          awaitingAudit: z.string().nullable().openapi({
            description:
              "the online version when this host app's auditor has not approved it: its clients get it only after a binding audit (README, Audits)",
          }),
        }),
        "Decided",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { hostAppId, appId, decision } = c.req.valid("param");
    return c.json(
      await decideBinding(c.var.db, c.env.PACKAGES, c.var.actor, hostAppId, appId, decision),
      200,
    );
  },
);
