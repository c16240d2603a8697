import { and, eq, gt, isNull, or } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { ApiError } from "../../../core/errors";
import { apiTokens, users } from "../db/schema";
import type { AdminHono } from "../env";
import { API_TOKEN_PREFIX, hashApiToken, verifySession } from "./session";

/**
 * Every admin route behind this middleware needs `Authorization: Bearer <session JWT or API
 * token>`. Sets `actor`; role checks happen in the services (see access.ts), per team or host app.
 */
export const authenticate = createMiddleware<AdminHono>(async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{10,2048})$/.exec(header);
  if (!match?.[1]) throw new ApiError("unauthenticated", "send Authorization: Bearer <token>");
  const token = match[1];
  const db = c.var.db;
  let userId: string | undefined;
  let via: "session" | "api_token" = "session";
  if (token.startsWith(API_TOKEN_PREFIX)) {
    via = "api_token";
    const now = Date.now();
    const row = await db
      .select({ id: apiTokens.id, userId: apiTokens.userId })
      .from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, await hashApiToken(token)), isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now))))
      .get();
    if (row) {
      userId = row.userId;
      c.executionCtx.waitUntil(db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id)).run().then(() => undefined, () => undefined));
    }
  } else {
    userId = await verifySession(token, c.env.JWT_SECRET);
  }
  if (!userId) throw new ApiError("unauthenticated", "the token is invalid, expired or revoked");
  const user = await db.select({ id: users.id, email: users.email, isPlatformAdmin: users.isPlatformAdmin }).from(users).where(eq(users.id, userId)).get();
  if (!user) throw new ApiError("unauthenticated", "the token's user no longer exists");
  c.set("actor", { userId: user.id, email: user.email, isPlatformAdmin: user.isPlatformAdmin, via });
  await next();
});
