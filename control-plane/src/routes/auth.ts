import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, IdSchema, jsonBody, jsonResponse, OkSchema } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { TOKEN_SCOPES } from "../auth/scopes";
import { loginLimiters } from "../auth/throttle";
import type { AdminBindings } from "../env";
import {
  changePassword,
  createApiToken,
  DEFAULT_TOKEN_DAYS,
  DEFAULT_TOKEN_SCOPES,
  describeMe,
  listApiTokens,
  login,
  logout,
  MAX_TOKEN_DAYS,
  revokeApiToken,
} from "../services/auth";
import { PasswordSchema } from "./users";

export const authRoutes = createRouter();

export const LoginSchema = z
  .object({ email: z.email().max(254), password: z.string().min(1).max(256) })
  .openapi("Login");
export type LoginInput = z.infer<typeof LoginSchema>;
const SessionSchema = z
  .object({
    token: z.string(),
    expiresAt: z.number(),
    user: z.object({ id: z.string(), email: z.string(), name: z.string() }),
  })
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
export const ChangePasswordSchema = z
  .object({ currentPassword: z.string().min(1).max(256), newPassword: PasswordSchema })
  .openapi("ChangePassword");
export type ChangePasswordInput = z.infer<typeof ChangePasswordSchema>;
const ScopeSchema = z.enum(TOKEN_SCOPES);
export const CreateTokenSchema = z
  .object({
    name: z.string().trim().min(1).max(64),
    expiresInDays: z
      .int()
      .min(1)
      .max(MAX_TOKEN_DAYS)
      .optional()
      .openapi({
        description: `days until the token expires; ${DEFAULT_TOKEN_DAYS} when left out, at most ${MAX_TOKEN_DAYS}`,
      }),
    scopes: z
      .array(ScopeSchema)
      .min(1)
      .max(4)
      .optional()
      .openapi({
        description: `what the token may do (README, "Sessions, API tokens and rate limits"); ${JSON.stringify(DEFAULT_TOKEN_SCOPES)} when left out`,
      }),
  })
  .openapi("CreateApiToken");
export type CreateTokenInput = z.infer<typeof CreateTokenSchema>;
const TokenSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(ScopeSchema),
    createdAt: z.number(),
    expiresAt: z.number().nullable(),
    lastUsedAt: z.number().nullable().optional(),
    revokedAt: z.number().nullable().optional(),
  })
  .openapi("ApiToken");
const NewTokenSchema = TokenSchema.extend({
  token: z.string().openapi({ description: "shown once; only its hash is stored" }),
}).openapi("NewApiToken");

const sessionConfig = (env: AdminBindings) => ({
  secret: env.JWT_SECRET,
  ttlSeconds: Number(env.SESSION_TTL_SECONDS),
});

// Log in with email and password; returns a short-lived session JWT.
authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/login",
    tags: ["auth"],
    security: [],
    summary: "Log in",
    description:
      "Opens a session (a JWT with `exp`, valid until it expires or is revoked). Throttled per client address and per address and account together: " +
      "429 `rate_limited` with `Retry-After`. A wrong password, an unknown email and a disabled account get the same 401.",
    request: { body: jsonBody(LoginSchema) },
    responses: { 200: jsonResponse(SessionSchema, "A session"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await login(
        c.var.db,
        loginLimiters(c.env),
        c.req.valid("json"),
        c.req.header("cf-connecting-ip") ?? null,
        sessionConfig(c.env),
      ),
      200,
    ),
);

// End this session (a session only; an API token is revoked instead).
authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/logout",
    tags: ["auth"],
    summary: "Log out",
    description:
      "Revokes the caller's session at once. An API token gets 403: revoke it with `DELETE /v1/auth/tokens/{tokenId}`. API tokens the session created stay valid.",
    responses: { 200: jsonResponse(OkSchema, "Logged out"), ...errorResponses },
  }),
  async (c) => {
    await logout(c.var.db, c.var.actor);
    return c.json({ ok: true as const }, 200);
  },
);

// Change my password: every session of mine ends; the answer is a new session.
authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/password",
    tags: ["auth"],
    summary: "Change my password",
    description:
      "Needs the current password (403 when wrong; throttled like a login) and a session (an API token gets 403). Revokes every session of the user, " +
      "the caller's too, and answers with a fresh session. API tokens are not revoked.",
    request: { body: jsonBody(ChangePasswordSchema) },
    responses: { 200: jsonResponse(SessionSchema, "A new session"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await changePassword(
        c.var.db,
        loginLimiters(c.env),
        c.var.actor,
        c.req.valid("json"),
        c.req.header("cf-connecting-ip") ?? null,
        sessionConfig(c.env),
      ),
      200,
    ),
);

// Who am I: my teams and host apps with my roles.
authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me",
    tags: ["auth"],
    summary: "Who am I",
    description: "Who am I: my teams and host apps with my roles.",
    responses: { 200: jsonResponse(MeSchema, "The caller"), ...errorResponses },
  }),
  async (c) => c.json(await describeMe(c.var.db, c.var.actor), 200),
);

// Create an API token for scripts and CI (acts as the caller, within its scopes).
authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/tokens",
    tags: ["auth"],
    summary: "Create an API token",
    description:
      `Only a session can create tokens (an API token gets 403). Scopes default to ${JSON.stringify(DEFAULT_TOKEN_SCOPES)}; ` +
      `the token expires after \`expiresInDays\` (default ${DEFAULT_TOKEN_DAYS}, at most ${MAX_TOKEN_DAYS}).`,
    request: { body: jsonBody(CreateTokenSchema) },
    responses: { 201: jsonResponse(NewTokenSchema, "The new token"), ...errorResponses },
  }),
  async (c) => c.json(await createApiToken(c.var.db, c.var.actor, c.req.valid("json")), 201),
);

// List my API tokens (never the tokens themselves).
authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/tokens",
    tags: ["auth"],
    summary: "List my API tokens",
    description:
      "My API tokens with their names, scopes and expiry; never the tokens themselves (only their keyed hashes are stored).",
    responses: {
      200: jsonResponse(z.object({ tokens: z.array(TokenSchema) }), "My tokens"),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ tokens: await listApiTokens(c.var.db, c.var.actor) }, 200),
);

// Revoke one of my API tokens, and every token created from it; they stop working at once.
authRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/tokens/{tokenId}",
    tags: ["auth"],
    summary: "Revoke an API token and every token it created",
    description: "Revoke one of my API tokens, and every token created from it; they stop working at once.",
    request: { params: z.object({ tokenId: IdSchema }) },
    responses: { 200: jsonResponse(OkSchema, "Revoked"), ...errorResponses },
  }),
  async (c) => {
    await revokeApiToken(c.var.db, c.var.actor, c.req.valid("param").tokenId);
    return c.json({ ok: true as const }, 200);
  },
);
