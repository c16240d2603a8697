/**
 * `GET /v1/mini-programs/{appId}/offline-package?hostAppId=...`: downloads the online version as
 * `{miniAppId}_{miniAppVersion}.apkg` (PRODUCT.md D4, format in core/offline.ts) for one host
 * app to ship as a preset. Every team role may download; see services/offline-packages.ts for
 * the refusals.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, IdSchema } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { buildOfflinePackage } from "../services/offline-packages";

export const offlinePackageRoutes = createRouter();

offlinePackageRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/offline-package",
    tags: ["versions"],
    summary: "Download the online version as an offline package (.apkg)",
    description:
      "The online version as an offline package (.apkg) for a host app to ship preset: the package with a manifest signed by the edge's key for that host app. Needs an approved binding and the host app auditor's approval of the online version.",
    request: {
      params: z.object({ appId: AppIdSchema }),
      query: z.object({
        hostAppId: IdSchema.meta({
          description:
            "the host app that will ship the preset (the manifest's `aud`); needs an approved binding, and its auditor's approval of the online version",
          example: "ha_demo_superapp",
        }),
      }),
    },
    responses: {
      200: {
        description:
          "The `.apkg`: a stored zip of `manifest.jws` (signed offline manifest) and `package.zip` (the online version's package)",
        headers: z.object({
          "content-disposition": z
            .string()
            .openapi({ example: 'attachment; filename="gcaaaabbbbccccdddd_1.2.0.apkg"' }),
        }),
        content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId } = c.req.valid("param");
    const { hostAppId } = c.req.valid("query");
    const file = await buildOfflinePackage(c.var.db, c.env, c.var.actor, appId, hostAppId);
    return new Response(file.bytes, {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(file.bytes.byteLength),
        // The name is App ID, "_" and a semver: nothing to quote or encode.
        "content-disposition": `attachment; filename="${file.fileName}"`,
        // Signed at download time and recorded per download: never served from a cache.
        "cache-control": "no-store",
        "x-graycast-version": file.version,
      },
    });
  },
);
