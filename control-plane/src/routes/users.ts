import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { requirePlatformAdmin } from "../services/access";
import { createUser, listUsers } from "../services/auth";

export const userRoutes = createRouter();

export const PasswordSchema = z.string().min(10, "at least 10 characters").max(256);
const CreateUserSchema = z
  .object({ email: z.email().max(254), name: z.string().trim().min(1).max(80), password: PasswordSchema, isPlatformAdmin: z.boolean().optional() })
  .openapi("CreateUser");
const UserSchema = z.object({ id: z.string(), email: z.string(), name: z.string(), isPlatformAdmin: z.boolean() }).openapi("User");

// Create a user account (platform admin).
userRoutes.openapi(
  createRoute({ method: "post", path: "/", tags: ["users"], request: { body: jsonBody(CreateUserSchema) }, responses: { 201: jsonResponse(UserSchema, "Created"), ...errorResponses } }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json(await createUser(c.var.db, c.var.actor, c.req.valid("json")), 201);
  },
);

// List users (platform admin).
userRoutes.openapi(
  createRoute({ method: "get", path: "/", tags: ["users"], responses: { 200: jsonResponse(z.object({ users: z.array(UserSchema) }), "Users"), ...errorResponses } }),
  async (c) => {
    requirePlatformAdmin(c.var.actor);
    return c.json({ users: await listUsers(c.var.db) }, 200);
  },
);
