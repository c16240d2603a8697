/**
 * `GET|PUT /v1/mini-programs/{appId}/encryption`: package encryption on or off (PRODUCT.md S3).
 * Team admins change it; it applies to versions uploaded afterwards.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { getEncryption, setEncryption } from "../services/package-encryption";

export const packageEncryptionRoutes = createRouter();

const AppParams = z.object({ appId: AppIdSchema });
const EncryptionSchema = z
  .object({
    appId: z.string(),
    enabled: z.boolean().openapi({
      description:
        "versions uploaded while on are stored and delivered AES-256-GCM encrypted; the key travels only in signed manifests",
    }),
  })
  .openapi("PackageEncryption");

packageEncryptionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/encryption",
    tags: ["mini programs"],
    summary: "Read the package encryption setting",
    description: "Whether versions uploaded from now on are stored and delivered AES-256-GCM encrypted.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(EncryptionSchema, "Setting"), ...errorResponses },
  }),
  async (c) => c.json(await getEncryption(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

packageEncryptionRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/encryption",
    tags: ["mini programs"],
    summary: "Turn package encryption on or off",
    description:
      "Turn package encryption on or off for versions uploaded from now on (team admin); versions already uploaded keep how they were stored.",
    request: {
      params: AppParams,
      body: jsonBody(z.object({ enabled: z.boolean() }).strict().openapi("SetPackageEncryption")),
    },
    responses: { 200: jsonResponse(EncryptionSchema, "Changed"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await setEncryption(
        c.var.db,
        c.var.actor,
        c.req.valid("param").appId,
        c.req.valid("json").enabled,
        c.env.PACKAGE_KEY_SECRET,
      ),
      200,
    ),
);
