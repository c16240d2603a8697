import { createRoute, z } from "@hono/zod-openapi";
import { IdSchema, OkSchema, errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { createApiToken, describeMe, listApiTokens, login, revokeApiToken } from "../services/auth";

export const authRoutes = createRouter();

const LoginSchema = z.object({ email: z.email().max(254), password: z.string().min(1).max(256) }).openapi("Login");
const SessionSchema = z
  .object({ token: z.string(), expiresAt: z.number(), user: z.object({ id: z.string(), email: z.string(), name: z.string() }) })
  .openapi("Session");
const MeSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    isPlatformAdmin: z.boolean(),
    teams: z.array(z.object({ id: z.string(), name: z.string(), role: z.string() })),
    hostApps: z.array(z.object({ id: z.string(), name: z.string(), role: z.string() })),
  })
  .openapi("Me");
const CreateTokenSchema = z.object({ name: z.string().trim().min(1).max(64), expiresInDays: z.int().min(1).max(365).optional() }).openapi("CreateApiToken");
const TokenSchema = z
  .object({ id: z.string(), name: z.string(), createdAt: z.number(), expiresAt: z.number().nullable(), lastUsedAt: z.number().nullable().optional(), revokedAt: z.number().nullable().optional() })
  .openapi("ApiToken");
const NewTokenSchema = TokenSchema.extend({ token: z.string().openapi({ description: "shown once; only its hash is stored" }) }).openapi("NewApiToken");

// Log in with email and password; returns a short-lived session JWT.
authRoutes.openapi(
  createRoute({ method: "post", path: "/login", tags: ["auth"], security: [], request: { body: jsonBody(LoginSchema) }, responses: { 200: jsonResponse(SessionSchema, "A session"), ...errorResponses } }),
  async (c) => c.json(await login(c.var.db, c.req.valid("json"), c.env.JWT_SECRET, Number(c.env.SESSION_TTL_SECONDS)), 200),
);

// Who am I: my teams and host apps with my roles.
authRoutes.openapi(
  createRoute({ method: "get", path: "/me", tags: ["auth"], responses: { 200: jsonResponse(MeSchema, "The caller"), ...errorResponses } }),
  async (c) => c.json(await describeMe(c.var.db, c.var.actor), 200),
);

// Create an API token for scripts and CI (acts as the caller).
authRoutes.openapi(
  createRoute({ method: "post", path: "/tokens", tags: ["auth"], request: { body: jsonBody(CreateTokenSchema) }, responses: { 201: jsonResponse(NewTokenSchema, "The new token"), ...errorResponses } }),
  async (c) => c.json(await createApiToken(c.var.db, c.var.actor, c.req.valid("json")), 201),
);

// List my API tokens (never the tokens themselves).
authRoutes.openapi(
  createRoute({ method: "get", path: "/tokens", tags: ["auth"], responses: { 200: jsonResponse(z.object({ tokens: z.array(TokenSchema) }), "My tokens"), ...errorResponses } }),
  async (c) => c.json({ tokens: await listApiTokens(c.var.db, c.var.actor) }, 200),
);

// Revoke one of my API tokens; it stops working at once.
authRoutes.openapi(
  createRoute({ method: "delete", path: "/tokens/{tokenId}", tags: ["auth"], request: { params: z.object({ tokenId: IdSchema }) }, responses: { 200: jsonResponse(OkSchema, "Revoked"), ...errorResponses } }),
  async (c) => {
    await revokeApiToken(c.var.db, c.var.actor, c.req.valid("param").tokenId);
    return c.json({ ok: true as const }, 200);
  },
);
