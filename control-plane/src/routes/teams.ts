import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, IdSchema, jsonBody, jsonResponse, OkSchema } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { createTeam, listTeamMembers, listTeams, removeTeamMember, setTeamMember } from "../services/teams";

export const teamRoutes = createRouter();

export const TeamRoleSchema = z.enum(["admin", "developer", "viewer"]);
export const CreateTeamSchema = z
  .object({ name: z.string().trim().min(1).max(80), adminEmail: z.email().max(254).optional() })
  .openapi("CreateTeam");
export type CreateTeamInput = z.infer<typeof CreateTeamSchema>;
const TeamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.number(),
    role: TeamRoleSchema.nullable().optional(),
  })
  .openapi("Team");
const MemberSchema = z
  .object({
    userId: z.string(),
    email: z.string(),
    name: z.string(),
    role: TeamRoleSchema,
    since: z.number().optional(),
  })
  .openapi("TeamMember");
export const SetMemberSchema = z
  .object({ email: z.email().max(254), role: TeamRoleSchema })
  .openapi("SetTeamMember");
export type SetTeamMemberInput = z.infer<typeof SetMemberSchema>;
const TeamParams = z.object({ teamId: IdSchema });

// Create a team (platform admin), optionally naming its first admin.
teamRoutes.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["teams"],
    summary: "Create a team",
    description: "Create a team (platform admin), optionally naming its first admin.",
    request: { body: jsonBody(CreateTeamSchema) },
    responses: { 201: jsonResponse(TeamSchema, "Created"), ...errorResponses },
  }),
  async (c) => c.json(await createTeam(c.var.db, c.var.actor, c.req.valid("json")), 201),
);

// List my teams with my role in each.
teamRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["teams"],
    summary: "List my teams",
    description: "List my teams with my role in each.",
    responses: { 200: jsonResponse(z.object({ teams: z.array(TeamSchema) }), "Teams"), ...errorResponses },
  }),
  async (c) => c.json({ teams: await listTeams(c.var.db, c.var.actor) }, 200),
);

// List a team's members (any member).
teamRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{teamId}/members",
    tags: ["teams"],
    summary: "List team members",
    description: "List a team's members (any member).",
    request: { params: TeamParams },
    responses: {
      200: jsonResponse(z.object({ members: z.array(MemberSchema) }), "Members"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ members: await listTeamMembers(c.var.db, c.var.actor, c.req.valid("param").teamId) }, 200),
);

// Add a member or change a role (team admin).
teamRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{teamId}/members",
    tags: ["teams"],
    summary: "Add a team member or change a role",
    description: "Add a member or change a role (team admin).",
    request: { params: TeamParams, body: jsonBody(SetMemberSchema) },
    responses: { 200: jsonResponse(MemberSchema, "Member"), ...errorResponses },
  }),
  async (c) =>
    c.json(await setTeamMember(c.var.db, c.var.actor, c.req.valid("param").teamId, c.req.valid("json")), 200),
);

// Remove a member (team admin); the last admin stays.
teamRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{teamId}/members/{userId}",
    tags: ["teams"],
    summary: "Remove a team member",
    description: "Remove a member (team admin); the last admin stays.",
    request: { params: TeamParams.extend({ userId: IdSchema }) },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => {
    const { teamId, userId } = c.req.valid("param");
    await removeTeamMember(c.var.db, c.var.actor, teamId, userId);
    return c.json({ ok: true as const }, 200);
  },
);
