import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { ApiError, forbidden, RateLimitedError } from "../../../core/errors";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../../core/rate-limit";
import { apiTokens, sessions, users } from "../db/schema";
import type { AdminHono } from "../env";
import type { Actor } from "./actor";
import { isWrite, requiredScope } from "./scopes";
import { API_TOKEN_PREFIX, hashApiToken, verifySessionJwt } from "./session";

const UNAUTHENTICATED = "the token is invalid, expired or revoked";

/**
 * Every admin route behind this middleware needs `Authorization: Bearer <session JWT or API
 * token>`, in this order (issue 10, "Tokens and sessions"):
 *
 * 1. The credential: a session JWT with `sub`, `jti`, `iat` and `exp`, HS256, younger than
 *    SESSION_TTL_SECONDS (auth/session.ts), whose `sessions` row is open (not revoked, not
 *    expired); or an API token whose row is not revoked and not expired. Either way the user must
 *    not be disabled. One D1 query (credential joined with its user).
 * 2. An API token's scope for the route (auth/scopes.ts); sessions are limited by roles only.
 * 3. Writes: the per-credential rate limit (`ADMIN_WRITE_LIMITER`, keyed by session or token id).
 *
 * Sets `actor`; role checks happen in the services (see access.ts), per team or host app.
 */
export const authenticate = createMiddleware<AdminHono>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{10,2048})$/.exec(header);
  if (!match?.[1]) throw new ApiError("unauthenticated", "send Authorization: Bearer <token>");
  const token = match[1];
  const now = Date.now();
  const actor = token.startsWith(API_TOKEN_PREFIX)
    ? await tokenActor(c, token, now)
    : await sessionActor(c, token, now);
  if (!actor) throw new ApiError("unauthenticated", UNAUTHENTICATED);

  const method = c.req.method;
  if (actor.scopes) {
    const route = matchedRoutes(c).find(
      (r) => r.method === method || (method === "HEAD" && r.method === "GET"),
    );
    // No route matched: let the router answer 404 rather than guess a scope.
    if (route) {
      const scope = requiredScope(method, route.path);
      if (!actor.scopes.includes(scope))
        throw forbidden(
          `this API token lacks the "${scope}" scope (it has: ${actor.scopes.join(", ") || "none"})`,
        );
    }
  }
  if (isWrite(method)) {
    const { success } = await c.env.ADMIN_WRITE_LIMITER.limit({
      key: actor.tokenId ?? actor.sessionId ?? actor.userId,
    });
    if (!success)
      throw new RateLimitedError(
        "too many changes with this credential: slow down and retry later",
        RATE_LIMIT_PERIOD_SECONDS.ADMIN_WRITE_LIMITER,
      );
  }
  c.set("actor", actor);
  await next();
});

async function tokenActor(c: Context<AdminHono>, token: string, now: number): Promise<Actor | undefined> {
  const db = c.var.db;
  const row = await db
    .select({
      tokenId: apiTokens.id,
      scopes: apiTokens.scopes,
      userId: users.id,
      email: users.email,
      isPlatformAdmin: users.isPlatformAdmin,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(
      and(
        eq(apiTokens.tokenHash, await hashApiToken(token)),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
        isNull(users.disabledAt),
      ),
    )
    .get();
  if (!row) return undefined;
  c.executionCtx.waitUntil(
    db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(eq(apiTokens.id, row.tokenId))
      .run()
      .then(
        () => undefined,
        () => undefined,
      ),
  );
  return {
    userId: row.userId,
    email: row.email,
    isPlatformAdmin: row.isPlatformAdmin,
    via: "api_token",
    tokenId: row.tokenId,
    scopes: row.scopes,
  };
}

async function sessionActor(c: Context<AdminHono>, token: string, now: number): Promise<Actor | undefined> {
  const claims = await verifySessionJwt(token, c.env.JWT_SECRET, Number(c.env.SESSION_TTL_SECONDS));
  if (!claims) return undefined;
  const row = await c.var.db
    .select({ userId: users.id, email: users.email, isPlatformAdmin: users.isPlatformAdmin })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.id, claims.sessionId),
        eq(sessions.userId, claims.userId),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, now),
        isNull(users.disabledAt),
      ),
    )
    .get();
  if (!row) return undefined;
  return {
    userId: row.userId,
    email: row.email,
    isPlatformAdmin: row.isPlatformAdmin,
    via: "session",
    sessionId: claims.sessionId,
  };
}
