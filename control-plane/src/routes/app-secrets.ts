/**
 * `/v1/mini-programs/{appId}/secret`: AppSecret key management (PRODUCT.md X5; seed "Key
 * Management": "Only the mini program team administrator has the authority to view and operate
 * key management. You can generate, reset, and freeze keys"). Team admins only, API tokens need
 * the `admin` scope, reads included (auth/scopes.ts). Logic in services/app-secrets.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import {
  generateAppSecret,
  getAppSecretStatus,
  resetAppSecret,
  setAppSecretFrozen,
} from "../services/app-secrets";

export const appSecretRoutes = createRouter();

const AppParams = z.object({ appId: AppIdSchema });

const StatusSchema = z
  .object({
    appId: z.string(),
    exists: z.boolean(),
    frozen: z
      .boolean()
      .openapi({ description: "a frozen secret is refused by every server API (errcode 40243)" }),
    hint: z.string().nullable().openapi({
      description:
        "the secret's first 8 characters (its public id) and an ellipsis, to tell which secret a server holds; null when none exists",
      example: "3f9a1c07…",
    }),
    generation: z
      .number()
      .int()
      .openapi({ description: "1 for the first secret, +1 on each reset; 0 when none" }),
    createdAt: z.number().nullable().openapi({ description: "when the first secret was generated (ms)" }),
    createdBy: z.string().nullable().openapi({ description: "the user who generated the first secret" }),
    resetAt: z.number().nullable(),
    resetBy: z.string().nullable(),
    frozenAt: z.number().nullable(),
    frozenBy: z.string().nullable(),
  })
  .openapi("AppSecretStatus");

const NewSecretSchema = StatusSchema.extend({
  secret: z.string().openapi({
    description:
      "The AppSecret, 32 hex characters. Shown in this answer only: the platform keeps a keyed hash, never the secret. Lost it? Reset.",
  }),
}).openapi("NewAppSecret");

const NO_STORE = { "cache-control": "no-store" };

appSecretRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/secret",
    tags: ["key management"],
    summary: "AppSecret status (team admin)",
    description:
      "Whether a secret exists, whether it is frozen, when and by whom it was generated, reset and frozen, and a non-secret hint. Never the secret. Team admins only; an API token needs the `admin` scope.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(StatusSchema, "Status"), ...errorResponses },
  }),
  async (c) => c.json(await getAppSecretStatus(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

appSecretRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/secret/generate",
    tags: ["key management"],
    summary: "Generate the AppSecret (shown once)",
    description:
      "Generates the mini program's first AppSecret and returns it in this answer only (copy it now: the platform keeps only a keyed hash). 409 when one exists: reset it instead. Recorded in the change log (without the secret).",
    request: { params: AppParams },
    responses: { 201: jsonResponse(NewSecretSchema, "Generated"), ...errorResponses },
  }),
  async (c) => {
    const body = await generateAppSecret(
      c.var.db,
      c.var.actor,
      c.req.valid("param").appId,
      c.env.APP_SECRET_HASH_KEY,
    );
    return c.json(body, 201, NO_STORE);
  },
);

appSecretRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/secret/reset",
    tags: ["key management"],
    summary: "Reset the AppSecret (old one dead at once)",
    description:
      "Replaces the secret with a new one, returned in this answer only. The old secret stops working at once, and so do the access tokens minted with it. A frozen secret may be reset; the new one is not frozen. 409 when none exists yet.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(NewSecretSchema, "Reset"), ...errorResponses },
  }),
  async (c) => {
    const body = await resetAppSecret(
      c.var.db,
      c.var.actor,
      c.req.valid("param").appId,
      c.env.APP_SECRET_HASH_KEY,
    );
    return c.json(body, 200, NO_STORE);
  },
);

appSecretRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/secret/freeze",
    tags: ["key management"],
    summary: "Freeze the AppSecret",
    description:
      "For a secret that leaked or may have leaked, until it is reset: every server API refuses it and the access tokens minted with it (errcode 40243). 409 when there is no secret or it is already frozen.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(StatusSchema, "Frozen"), ...errorResponses },
  }),
  async (c) => c.json(await setAppSecretFrozen(c.var.db, c.var.actor, c.req.valid("param").appId, true), 200),
);

appSecretRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/secret/unfreeze",
    tags: ["key management"],
    summary: "Unfreeze the AppSecret",
    description:
      "The same secret (and its unexpired access tokens) works again. 409 when there is no secret or it is not frozen.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(StatusSchema, "Unfrozen"), ...errorResponses },
  }),
  async (c) =>
    c.json(await setAppSecretFrozen(c.var.db, c.var.actor, c.req.valid("param").appId, false), 200),
);
