import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, lt } from "drizzle-orm";
import { errorResponses, IdSchema, jsonResponse } from "../../../core/contracts/common";
import { notFound } from "../../../core/errors";
import { createRouter } from "../app";
import { changeLog, teams } from "../db/schema";
import { READ_ROLES, requirePlatformAdmin, requireTeamRole } from "../services/access";

export const changeLogRoutes = createRouter();

const EntrySchema = z
  .object({
    id: z.string(),
    at: z.number(),
    actorId: z.string(),
    action: z.string(),
    teamId: z.string().nullable(),
    targetType: z.string(),
    targetId: z.string(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("ChangeLogEntry");

// The audit trail (who changed what, when) of one team, or of everything for a platform admin.
changeLogRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["change log"],
    summary: "Read the change log",
    description:
      "The audit trail (who changed what, when) of one team, or of everything for a platform admin.",
    request: {
      query: z.object({
        teamId: IdSchema.optional(),
        before: z.coerce.number().int().positive().optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
      }),
    },
    responses: {
      200: jsonResponse(z.object({ entries: z.array(EntrySchema) }), "Entries, newest first"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { teamId, before, limit } = c.req.valid("query");
    const db = c.var.db;
    if (!teamId) requirePlatformAdmin(c.var.actor);
    else if (!c.var.actor.isPlatformAdmin) await requireTeamRole(db, c.var.actor, teamId, READ_ROLES);
    else if (!(await db.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId)).get()))
      throw notFound("team");
    const rows = await db
      .select()
      .from(changeLog)
      .where(
        and(teamId ? eq(changeLog.teamId, teamId) : undefined, before ? lt(changeLog.at, before) : undefined),
      )
      .orderBy(desc(changeLog.at))
      .limit(limit)
      .all();
    return c.json(
      { entries: rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> })) },
      200,
    );
  },
);
