/**
 * Real-time logs, read side (PRODUCT.md X4; issue 15): `GET /v1/mini-programs/{appId}/logs` with
 * exactly the seed's query criteria ("time, log level dimensions (all, info and above, warn and
 * above, error and above), system type, Guid, page link, filterMsg content, basic library
 * version, and client version"), newest first, by cursor. Only the owning team reads its logs
 * (any team role; a token needs `read`). Storage and retention: services/logs.ts, docs/storage.md.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, jsonResponse } from "../../../core/contracts/common";
import { LOG_LIMITS, LOG_QUERY_LIMITS, LogPageSchema, LogQuerySchema } from "../../../core/contracts/logs";
import { createRouter } from "../app";
import { READ_ROLES, requireMiniProgram } from "../services/access";
import { queryLogs } from "../services/logs";

export const logRoutes = createRouter();

logRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/logs",
    tags: ["logs"],
    summary: "Query real-time logs",
    description: `Entries clients sent to the edge's POST /v1/logs, newest first, filtered by the seed's criteria: time range (\`from\`/\`to\`, ms), level (\`all\`, or \`info\` / \`warn\` / \`error\` meaning that level and above), platform (system type), \`guid\`, \`page\` (page link), \`filterMsg\` (text within a filterMsg tag), \`baseLibraryVersion\` and \`clientVersion\`. Pages of \`limit\` entries (default ${LOG_QUERY_LIMITS.defaultPageSize}, at most ${LOG_QUERY_LIMITS.maxPageSize}); pass \`nextCursor\` back as \`cursor\` with the same filters for the next page. Entries are kept ${LOG_LIMITS.maxAgeMs / 86_400_000} days; an entry appears a few seconds after the edge accepted it (queue delivery). Any member of the owning team; guids are personal data (docs/storage.md).`,
    request: { params: z.object({ appId: AppIdSchema }), query: LogQuerySchema },
    responses: {
      200: jsonResponse(LogPageSchema, "One page of entries, newest first"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId } = c.req.valid("param");
    await requireMiniProgram(c.var.db, c.var.actor, appId, READ_ROLES);
    return c.json(await queryLogs(c.env, appId, c.req.valid("query")), 200);
  },
);
