/**
 * Switch configuration and the runtime-config preview (PRODUCT.md D5, issue 12). Mounted under
 * /v1/mini-programs. Switch rules in services/switches.ts; what clients get in
 * core/runtime-config.ts and the edge's `GET /v1/config`.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  OkSchema,
} from "../../../core/contracts/common";
import { notFound } from "../../../core/errors";
import {
  MAX_SWITCH_JSON_BYTES,
  MAX_SWITCH_STRING,
  MAX_SWITCHES,
  resolveConfig,
  SWITCH_KEY,
} from "../../../core/runtime-config";
import { createRouter } from "../app";
import { READ_ROLES, requireMiniProgram } from "../services/access";
import { compileCurrentSnapshot } from "../services/snapshot";
import { deleteSwitch, listSwitches, setSwitch } from "../services/switches";

export const switchRoutes = createRouter();

const TypeSchema = z.enum(["string", "number", "boolean", "json"]);
const KeySchema = z
  .string()
  .regex(SWITCH_KEY, "a letter, then up to 63 letters, digits, _ . or -")
  .openapi({ example: "checkout.newFlow" });
const SwitchSchema = z
  .object({
    key: z.string(),
    type: TypeSchema,
    value: z.unknown().openapi({ description: "the value, of the switch's type" }),
    hostAppId: z.string().nullable().openapi({ description: "null: every host app" }),
    taskId: z
      .string()
      .nullable()
      .openapi({ description: "null: every user; else only that grayscale task's admitted users" }),
    updatedBy: z.string(),
    updatedAt: z.number(),
  })
  .openapi("Switch");
const KeyParams = z.object({ appId: AppIdSchema, key: KeySchema });
const ScopeQuery = z.object({ hostAppId: IdSchema.optional(), taskId: IdSchema.optional() });

switchRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/switches",
    tags: ["development"],
    summary: "List switches",
    description:
      "Every switch row (base, per host app, per grayscale task) with who changed it last and when. Any team member.",
    request: { params: z.object({ appId: AppIdSchema }) },
    responses: {
      200: jsonResponse(
        z.object({ switches: z.array(SwitchSchema), limit: z.number() }),
        "Switch rows by key",
      ),
      ...errorResponses,
    },
  }),
  async (c) => c.json(await listSwitches(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

switchRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/switches/{key}",
    tags: ["development"],
    summary: "Set a switch",
    description: `Creates or replaces the row of \`key\` for the scope: every host app or \`hostAppId\` (bound, else 409), every user or \`taskId\` (a grayscale task of this mini program that has not ended: 404 / 409), so a task flips a switch for its admitted users only. The value must be of \`type\`: string (at most ${MAX_SWITCH_STRING} characters), finite number, boolean, or any JSON (at most ${MAX_SWITCH_JSON_BYTES} bytes). Every row of a key has one type (409 otherwise); at most ${MAX_SWITCHES} rows per mini program (409). Clients get the most specific row: task and host app, task, host app, base. Team admin or developer; reaches the edge in seconds.`,
    request: {
      params: KeyParams,
      body: jsonBody(
        z
          .object({
            type: TypeSchema,
            value: z.unknown(),
            hostAppId: IdSchema.optional(),
            taskId: IdSchema.optional(),
          })
          .strict()
          .openapi("SetSwitch"),
      ),
    },
    responses: { 200: jsonResponse(SwitchSchema, "Set"), ...errorResponses },
  }),
  async (c) => {
    const { appId, key } = c.req.valid("param");
    const body = c.req.valid("json");
    return c.json(
      await setSwitch(c.var.db, c.env.PACKAGES, c.var.actor, appId, key, { ...body, value: body.value }),
      200,
    );
  },
);

switchRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{appId}/switches/{key}",
    tags: ["development"],
    summary: "Delete a switch row",
    description:
      "Deletes the row of `key` for the scope named by the query (none: the base row). Team admin or developer.",
    request: { params: KeyParams, query: ScopeQuery },
    responses: { 200: jsonResponse(OkSchema, "Deleted"), ...errorResponses },
  }),
  async (c) => {
    const { appId, key } = c.req.valid("param");
    return c.json(
      await deleteSwitch(c.var.db, c.env.PACKAGES, c.var.actor, appId, key, c.req.valid("query")),
      200,
    );
  },
);

const ResolvedSchema = z
  .object({
    configRevision: z.number(),
    revision: z.number(),
    domains: z.record(z.string(), z.array(z.string())),
    skipDomainCheck: z.boolean(),
    apis: z.array(z.string()),
    privacy: z.object({ version: z.number(), sha256: z.string(), url: z.string() }).nullable(),
    trialPagePath: z.string().nullable(),
    switches: z.record(z.string(), z.object({ type: TypeSchema, value: z.unknown() })),
    taskId: z.string().optional(),
  })
  .openapi("RuntimeConfigPreview");

switchRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/runtime-config",
    tags: ["development"],
    summary: "Preview the runtime config a client gets",
    description:
      "What the edge signs for `GET /v1/config?appId&hostAppId` from the current state (unsigned here): domain lists, skip-domain flag, granted APIs, privacy version and text URL (path only), trial path and switches; with `taskId`, as a user admitted to that grayscale task gets it. Any team member.",
    request: {
      params: z.object({ appId: AppIdSchema }),
      query: z.object({ hostAppId: IdSchema, taskId: IdSchema.optional() }),
    },
    responses: { 200: jsonResponse(ResolvedSchema, "The resolved config"), ...errorResponses },
  }),
  async (c) => {
    const { appId } = c.req.valid("param");
    const { hostAppId, taskId } = c.req.valid("query");
    await requireMiniProgram(c.var.db, c.var.actor, appId, READ_ROLES);
    const snapshot = await compileCurrentSnapshot(c.var.db, appId, Date.now());
    if (!snapshot?.config || !snapshot.hostApps.includes(hostAppId))
      throw notFound("binding to this host app");
    const live = taskId !== undefined && snapshot.tasks.some((t) => t.id === taskId) ? taskId : undefined;
    const resolved = resolveConfig(snapshot.config, hostAppId, live, (sha) => `/v1/privacy/${sha}`);
    return c.json({ ...resolved, revision: snapshot.revision }, 200);
  },
);
