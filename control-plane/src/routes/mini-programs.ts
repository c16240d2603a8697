import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  OkSchema,
} from "../../../core/contracts/common";
import { createRouter } from "../app";
import {
  createMiniProgram,
  editMiniProgram,
  getMiniProgram,
  listMiniPrograms,
  removeBinding,
  requestBinding,
  setShelf,
} from "../services/mini-programs";

export const miniProgramRoutes = createRouter();

const NameSchema = z.string().trim().min(1).max(60);
const DescriptionSchema = z.string().max(2000);
const BindingSchema = z.object({
  hostAppId: z.string(),
  hostAppName: z.string(),
  status: z.enum(["pending", "approved", "rejected"]),
  createdAt: z.number(),
  decidedAt: z.number().nullable(),
});
const EdgeStateSchema = z
  .object({
    revision: z
      .number()
      .int()
      .openapi({ description: "snapshot revision of the latest change clients can see" }),
    publishedRevision: z.number().int().openapi({ description: "highest revision written for the edge" }),
    pending: z.boolean().openapi({
      description:
        "true while the latest change has not reached the edge yet (a failed publish is retried by the sweep within a minute)",
    }),
  })
  .openapi("EdgeState");
const MiniProgramSchema = z
  .object({
    appId: z.string().openapi({ description: "the App ID: keep it safe" }),
    teamId: z.string(),
    name: z.string(),
    description: z.string(),
    listed: z.boolean(),
    onlineVersion: z.string().nullable(),
    bindings: z.array(BindingSchema),
    edge: EdgeStateSchema,
    ideDownloadUrl: z.string(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi("MiniProgram");
const MiniProgramSummarySchema = z
  .object({
    appId: z.string(),
    teamId: z.string(),
    name: z.string(),
    description: z.string(),
    listed: z.boolean(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi("MiniProgramSummary");
const AppParams = z.object({ appId: AppIdSchema });

export const CreateMiniProgramSchema = z
  .object({ teamId: IdSchema, name: NameSchema, description: DescriptionSchema.optional() })
  .openapi("CreateMiniProgram");
export type CreateMiniProgramInput = z.infer<typeof CreateMiniProgramSchema>;

export const EditMiniProgramSchema = z
  .object({ name: NameSchema.optional(), description: DescriptionSchema.optional() })
  .strict()
  .refine((b) => b.name !== undefined || b.description !== undefined, "change at least one field")
  .openapi("EditMiniProgram");
export type EditMiniProgramInput = z.infer<typeof EditMiniProgramSchema>;

// Create a mini program in one of my teams (admin or developer).
miniProgramRoutes.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["mini programs"],
    summary: "Create a mini program",
    description: "Create a mini program in one of my teams (admin or developer).",
    request: {
      body: jsonBody(CreateMiniProgramSchema),
    },
    responses: { 201: jsonResponse(MiniProgramSchema, "Created"), ...errorResponses },
  }),
  async (c) => {
    const mp = await createMiniProgram(c.var.db, c.env.PACKAGES, c.var.actor, c.req.valid("json"));
    return c.json({ ...mp, ideDownloadUrl: c.env.IDE_DOWNLOAD_URL }, 201);
  },
);

// List mini programs of my teams, optionally filtered by team.
miniProgramRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["mini programs"],
    summary: "List mini programs",
    description: "List mini programs of my teams, optionally filtered by team.",
    request: { query: z.object({ teamId: IdSchema.optional() }) },
    responses: {
      200: jsonResponse(z.object({ miniPrograms: z.array(MiniProgramSummarySchema) }), "Mini programs"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ miniPrograms: await listMiniPrograms(c.var.db, c.var.actor, c.req.valid("query").teamId) }, 200),
);

// Details: App ID, shelf status, online version, bindings, IDE download link.
miniProgramRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}",
    tags: ["mini programs"],
    summary: "Get a mini program",
    description: "Details: App ID, shelf status, online version, bindings, IDE download link.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(MiniProgramSchema, "Details"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      {
        ...(await getMiniProgram(c.var.db, c.var.actor, c.req.valid("param").appId)),
        ideDownloadUrl: c.env.IDE_DOWNLOAD_URL,
      },
      200,
    ),
);

// Edit the name and description.
miniProgramRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/{appId}",
    tags: ["mini programs"],
    summary: "Edit a mini program",
    description: "Edit the name and description.",
    request: {
      params: AppParams,
      body: jsonBody(EditMiniProgramSchema),
    },
    responses: { 200: jsonResponse(MiniProgramSchema, "Edited"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      {
        ...(await editMiniProgram(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json"))),
        ideDownloadUrl: c.env.IDE_DOWNLOAD_URL,
      },
      200,
    ),
);

// Put the mini program on or off the shelf.
miniProgramRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/shelf",
    tags: ["mini programs"],
    summary: "List or delist a mini program",
    description:
      "Put the mini program on or off the shelf: off the shelf, clients are told it is delisted and no version can be published or grayscaled.",
    request: { params: AppParams, body: jsonBody(z.object({ listed: z.boolean() }).openapi("Shelf")) },
    responses: { 200: jsonResponse(MiniProgramSchema, "Shelf status changed"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      {
        ...(await setShelf(
          c.var.db,
          c.env.PACKAGES,
          c.var.actor,
          c.req.valid("param").appId,
          c.req.valid("json").listed,
        )),
        ideDownloadUrl: c.env.IDE_DOWNLOAD_URL,
      },
      200,
    ),
);

// Ask a host app to carry this mini program (its manager approves).
miniProgramRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/bindings",
    tags: ["mini programs"],
    summary: "Request a binding to a host app",
    description: "Ask a host app to carry this mini program (its manager approves).",
    request: {
      params: AppParams,
      body: jsonBody(z.object({ hostAppId: IdSchema }).openapi("RequestBinding")),
    },
    responses: {
      201: jsonResponse(
        z.object({ appId: z.string(), hostAppId: z.string(), status: z.literal("pending") }),
        "Requested",
      ),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await requestBinding(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json").hostAppId),
      201,
    ),
);

// Remove a binding (team admin): clients of that host app stop getting the mini program.
miniProgramRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{appId}/bindings/{hostAppId}",
    tags: ["mini programs"],
    summary: "Remove a binding",
    description: "Remove a binding (team admin): clients of that host app stop getting the mini program.",
    request: { params: AppParams.extend({ hostAppId: IdSchema }) },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => {
    const { appId, hostAppId } = c.req.valid("param");
    await removeBinding(c.var.db, c.env.PACKAGES, c.var.actor, appId, hostAppId);
    return c.json({ ok: true as const }, 200);
  },
);
