import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, IdSchema, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { requirePlatformAdmin } from "../services/access";
import { createUser, disableUser, enableUser, listUsers } from "../services/auth";

export const userRoutes = createRouter();

export const PasswordSchema = z.string().min(10, "at least 10 characters").max(256);
export const CreateUserSchema = z
  .object({
    email: z.email().max(254),
    name: z.string().trim().min(1).max(80),
    password: PasswordSchema,
    isPlatformAdmin: z.boolean().optional(),
  })
  .openapi("CreateUser");
export type CreateUserInput = z.infer<typeof CreateUserSchema>;
const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    isPlatformAdmin: z.boolean(),
    disabledAt: z
      .number()
      .nullable()
      .optional()
      .openapi({ description: "set while the account is disabled" }),
  })
  .openapi("User");
const UserParams = z.object({ userId: IdSchema });

// Create a user account (platform admin).
userRoutes.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["users"],
    summary: "Create a user",
    description: "Create a user account (platform admin).",
    request: { body: jsonBody(CreateUserSchema) },
    responses: { 201: jsonResponse(UserSchema, "Created"), ...errorResponses },
  }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json(await createUser(c.var.db, c.var.actor, c.req.valid("json")), 201);
  },
);

// List users (platform admin).
userRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["users"],
    summary: "List users",
    description: "List users (platform admin).",
    responses: { 200: jsonResponse(z.object({ users: z.array(UserSchema) }), "Users"), ...errorResponses },
  }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json({ users: await listUsers(c.var.db) }, 200);
  },
);

// Disable a user (platform admin, not oneself): every session and API token of theirs stops at once.
userRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{userId}/disable",
    tags: ["users"],
    summary: "Disable a user",
    description:
      "Platform admin only; disabling yourself is refused (409). Revokes every session and API token of the user in the same change, logged in the change log. " +
      "The user's logins then get the same 401 as a wrong password. Disabling a disabled user changes nothing.",
    request: { params: UserParams },
    responses: { 200: jsonResponse(UserSchema, "Disabled"), ...errorResponses },
  }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json(await disableUser(c.var.db, c.var.actor, c.req.valid("param").userId), 200);
  },
);

// Enable a disabled user again (platform admin); revoked sessions and tokens stay revoked.
userRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{userId}/enable",
    tags: ["users"],
    summary: "Enable a disabled user",
    description:
      "Platform admin only. The user can log in again; sessions and API tokens revoked by the disable stay revoked.",
    request: { params: UserParams },
    responses: { 200: jsonResponse(UserSchema, "Enabled"), ...errorResponses },
  }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json(await enableUser(c.var.db, c.var.actor, c.req.valid("param").userId), 200);
  },
);
