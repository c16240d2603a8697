import { and, eq, isNull, sql } from "drizzle-orm";
import { ApiError, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import { hashPassword, verifyPassword } from "../auth/password";
import { hashApiToken, issueSession, newApiToken } from "../auth/session";
import type { Db } from "../db/client";
import { apiTokens, hostAppMembers, hostApps, teamMembers, teams, users } from "../db/schema";
import { randomId } from "../lib/encoding";
import { recordChange } from "./change-log";

/** Failed logins before an account is locked, and for how long (brute-force guard). */
export const MAX_FAILED_LOGINS = 5;
export const LOCK_MS = 15 * 60 * 1000;
/** Verified against when the email is unknown, so both paths cost one PBKDF2. */
const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

export async function login(db: Db, input: { email: string; password: string }, secret: string, ttlSeconds: number) {
  const email = input.email.toLowerCase();
  const user = await db.select().from(users).where(eq(users.email, email)).get();
  const now = Date.now();
  if (user?.lockedUntil && user.lockedUntil > now) {
    throw new ApiError("rate_limited", "too many failed logins: the account is locked for a while, try again later");
  }
  const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok) {
    // One atomic statement, so failures sent in parallel are all counted.
    if (user) {
      await db
        .update(users)
        .set({
          failedLogins: sql`case when ${users.failedLogins} + 1 >= ${MAX_FAILED_LOGINS} then 0 else ${users.failedLogins} + 1 end`,
          lockedUntil: sql`case when ${users.failedLogins} + 1 >= ${MAX_FAILED_LOGINS} then ${now + LOCK_MS} else ${users.lockedUntil} end`,
        })
        .where(eq(users.id, user.id))
        .run();
    }
    throw new ApiError("unauthenticated", "wrong email or password");
  }
  if (user.failedLogins > 0 || user.lockedUntil) {
    // A successful login starts a fresh count.
    await db.update(users).set({ failedLogins: 0, lockedUntil: null }).where(eq(users.id, user.id)).run();
  }
  const session = await issueSession(user.id, secret, ttlSeconds);
  return { token: session.token, expiresAt: session.expiresAt, user: { id: user.id, email: user.email, name: user.name } };
}

export async function describeMe(db: Db, actor: Actor) {
  const user = await db.select({ id: users.id, email: users.email, name: users.name, isPlatformAdmin: users.isPlatformAdmin }).from(users).where(eq(users.id, actor.userId)).get();
  if (!user) throw notFound("user");
  const myTeams = await db
    .select({ id: teams.id, name: teams.name, role: teamMembers.role })
    .from(teamMembers)
    .innerJoin(teams, eq(teams.id, teamMembers.teamId))
    .where(eq(teamMembers.userId, actor.userId))
    .all();
  const myHostApps = await db
    .select({ id: hostApps.id, name: hostApps.name, role: hostAppMembers.role })
    .from(hostAppMembers)
    .innerJoin(hostApps, eq(hostApps.id, hostAppMembers.hostAppId))
    .where(eq(hostAppMembers.userId, actor.userId))
    .all();
  return { ...user, teams: myTeams, hostApps: myHostApps };
}

/** Creates an API token; the token itself is returned once and only its hash is kept. */
export async function createApiToken(db: Db, actor: Actor, input: { name: string; expiresInDays?: number | undefined }) {
  const token = newApiToken();
  const now = Date.now();
  const id = randomId("tok_", 10);
  const expiresAt = input.expiresInDays ? now + input.expiresInDays * 86_400_000 : null;
  await db.batch([
    db.insert(apiTokens).values({ id, userId: actor.userId, name: input.name, tokenHash: await hashApiToken(token), createdAt: now, expiresAt }),
    recordChange(db, actor, { action: "api_token.create", teamId: null, targetType: "api_token", targetId: id, detail: { name: input.name } }, now),
  ]);
  return { id, name: input.name, token, createdAt: now, expiresAt };
}

export async function listApiTokens(db: Db, actor: Actor) {
  return db
    .select({ id: apiTokens.id, name: apiTokens.name, createdAt: apiTokens.createdAt, expiresAt: apiTokens.expiresAt, lastUsedAt: apiTokens.lastUsedAt, revokedAt: apiTokens.revokedAt })
    .from(apiTokens)
    .where(eq(apiTokens.userId, actor.userId))
    .all();
}

export async function revokeApiToken(db: Db, actor: Actor, id: string) {
  const row = await db.select({ id: apiTokens.id }).from(apiTokens).where(and(eq(apiTokens.id, id), eq(apiTokens.userId, actor.userId), isNull(apiTokens.revokedAt))).get();
  if (!row) throw notFound("API token");
  const now = Date.now();
  await db.batch([
    db.update(apiTokens).set({ revokedAt: now }).where(eq(apiTokens.id, id)),
    recordChange(db, actor, { action: "api_token.revoke", teamId: null, targetType: "api_token", targetId: id }, now),
  ]);
}

export async function createUser(db: Db, actor: Actor, input: { email: string; name: string; password: string; isPlatformAdmin?: boolean | undefined }) {
  const email = input.email.toLowerCase();
  const exists = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (exists) throw new ApiError("conflict", "a user with this email already exists");
  const id = randomId("usr_", 10);
  const now = Date.now();
  await db.batch([
    db.insert(users).values({ id, email, name: input.name, passwordHash: await hashPassword(input.password), isPlatformAdmin: input.isPlatformAdmin ?? false, createdAt: now }),
    recordChange(db, actor, { action: "user.create", teamId: null, targetType: "user", targetId: id, detail: { email } }, now),
  ]);
  return { id, email, name: input.name, isPlatformAdmin: input.isPlatformAdmin ?? false };
}

export async function listUsers(db: Db) {
  return db.select({ id: users.id, email: users.email, name: users.name, isPlatformAdmin: users.isPlatformAdmin, createdAt: users.createdAt }).from(users).all();
}

export async function findUserByEmail(db: Db, email: string) {
  const user = await db.select({ id: users.id, email: users.email, name: users.name }).from(users).where(eq(users.email, email.toLowerCase())).get();
  if (!user) throw notFound("user with this email");
  return user;
}
