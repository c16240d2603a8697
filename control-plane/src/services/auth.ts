/**
 * Accounts, sessions and API tokens (issue 10, "Tokens and sessions"):
 *
 * - A login opens a session: a `sessions` row keyed by the JWT's `jti`; logout, a password change
 *   and disabling the user revoke rows, and a revoked session stops at once (auth/middleware.ts).
 * - Logins are throttled per client address and per address and account together
 *   (auth/throttle.ts), never by locking the account; every answer that is not a session is the
 *   same for a known and an unknown email, after the same work (one PBKDF2).
 * - API tokens carry scopes (auth/scopes.ts) and always expire; only a session mints them, and
 *   revoking a token revokes every token minted from it, down the chain.
 */
import { and, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { ApiError, conflict, forbidden, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import { hashPassword, verifyPassword } from "../auth/password";
import { hashApiToken, newApiToken, newSessionId, signSessionJwt } from "../auth/session";
import { countLoginAttempt, type LoginLimiters } from "../auth/throttle";
import type { Db } from "../db/client";
import {
  apiTokens,
  hostAppMembers,
  hostApps,
  sessions,
  type TokenScope,
  teamMembers,
  teams,
  users,
} from "../db/schema";
import { randomId } from "../lib/encoding";
import type { ChangePasswordInput, CreateTokenInput, LoginInput } from "../routes/auth";
import type { CreateUserInput } from "../routes/users";
import { recordChange } from "./change-log";

/** Verified against when the email is unknown, so both paths cost one PBKDF2. */
const DUMMY_HASH =
  "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const WRONG_CREDENTIALS = "wrong email or password";

/** API tokens: what a new one may do and how long it lives unless the request says otherwise. */
export const DEFAULT_TOKEN_SCOPES: readonly TokenScope[] = ["read", "write"];
export const DEFAULT_TOKEN_DAYS = 90;
export const MAX_TOKEN_DAYS = 365;

export interface SessionConfig {
  secret: string;
  ttlSeconds: number;
}

/**
 * A new session for `userId`: its JWT and the insert of its row, to run alone or in the batch
 * of the change that opens it (a password change).
 */
export async function prepareSession(db: Db, userId: string, config: SessionConfig, now = Date.now()) {
  const id = newSessionId();
  const expiresAt = now + config.ttlSeconds * 1000;
  const token = await signSessionJwt({ userId, sessionId: id, issuedAt: now, expiresAt }, config.secret);
  return {
    id,
    token,
    expiresAt,
    insert: db.insert(sessions).values({ id, userId, createdAt: now, expiresAt }),
  };
}

/**
 * Opens a session for `userId` (a login, or a test's bootstrap user). The user's sessions that
 * have expired are deleted in the same batch, so the table holds about one lifetime of sessions.
 */
export async function openSession(db: Db, userId: string, config: SessionConfig, now = Date.now()) {
  const session = await prepareSession(db, userId, config, now);
  await db.batch([
    db.delete(sessions).where(and(eq(sessions.userId, userId), lte(sessions.expiresAt, now))),
    session.insert,
  ]);
  return { id: session.id, token: session.token, expiresAt: session.expiresAt };
}

/**
 * Email and password -> a session. Throttled first (auth/throttle.ts); a throttled attempt, an
 * unknown email, a wrong password and a disabled account all cost one PBKDF2 and answer without
 * telling whether the email exists.
 */
export async function login(
  db: Db,
  limiters: LoginLimiters,
  input: LoginInput,
  clientAddress: string | null,
  config: SessionConfig,
  now = Date.now(),
) {
  const email = input.email.toLowerCase();
  const throttled = await countLoginAttempt(limiters, clientAddress, email, config.secret);
  if (throttled) {
    await verifyPassword(input.password, DUMMY_HASH);
    throw throttled;
  }
  const user = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      passwordHash: users.passwordHash,
      disabledAt: users.disabledAt,
    })
    .from(users)
    .where(eq(users.email, email))
    .get();
  const ok = await verifyPassword(input.password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok || user.disabledAt !== null) throw new ApiError("unauthenticated", WRONG_CREDENTIALS);
  const session = await openSession(db, user.id, config, now);
  return {
    token: session.token,
    expiresAt: session.expiresAt,
    user: { id: user.id, email: user.email, name: user.name },
  };
}

/** Ends the caller's session. An API token cannot log out: it is revoked instead. */
export async function logout(db: Db, actor: Actor, now = Date.now()) {
  if (actor.via !== "session" || !actor.sessionId)
    throw forbidden("an API token cannot log out: revoke it with DELETE /v1/auth/tokens/{tokenId}");
  await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.id, actor.sessionId), isNull(sessions.revokedAt)))
    .run();
}

/**
 * Changes the caller's password: the current one must be right (throttled like a login). Every
 * session of the user ends, this one too, and the answer is a fresh session; API tokens are not
 * touched (revoke them separately if they may have leaked). Only a session may do this: a token
 * must not be able to turn itself into a password.
 */
export async function changePassword(
  db: Db,
  limiters: LoginLimiters,
  actor: Actor,
  input: ChangePasswordInput,
  clientAddress: string | null,
  config: SessionConfig,
  now = Date.now(),
) {
  if (actor.via !== "session")
    throw forbidden("only a console session can change the password, not an API token");
  const throttled = await countLoginAttempt(limiters, clientAddress, actor.email, config.secret);
  if (throttled) throw throttled;
  const user = await db
    .select({ id: users.id, email: users.email, name: users.name, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, actor.userId))
    .get();
  if (!user) throw notFound("user");
  if (!(await verifyPassword(input.currentPassword, user.passwordHash)))
    throw forbidden("the current password is wrong");
  if (input.newPassword === input.currentPassword)
    throw new ApiError("bad_request", "the new password must differ from the current one");
  const session = await prepareSession(db, user.id, config, now);
  await db.batch([
    db
      .update(users)
      .set({ passwordHash: await hashPassword(input.newPassword) })
      .where(eq(users.id, user.id)),
    db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.userId, user.id), isNull(sessions.revokedAt))),
    session.insert,
    recordChange(
      db,
      actor,
      { action: "user.password_change", teamId: null, targetType: "user", targetId: user.id },
      now,
    ),
  ]);
  return {
    token: session.token,
    expiresAt: session.expiresAt,
    user: { id: user.id, email: user.email, name: user.name },
  };
}

export async function describeMe(db: Db, actor: Actor) {
  const user = await db
    .select({ id: users.id, email: users.email, name: users.name, isPlatformAdmin: users.isPlatformAdmin })
    .from(users)
    .where(eq(users.id, actor.userId))
    .get();
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

/**
 * Creates an API token; the token itself is returned once and only its hash is kept. Only a
 * session may mint one (a leaked token must not breed more), with at most the scopes given and
 * an expiry of at most MAX_TOKEN_DAYS.
 */
export async function createApiToken(db: Db, actor: Actor, input: CreateTokenInput) {
  if (actor.via !== "session" || !actor.sessionId)
    throw forbidden("an API token cannot create API tokens: create them from a console session");
  const token = newApiToken();
  const now = Date.now();
  const id = randomId("tok_", 10);
  const expiresAt = now + (input.expiresInDays ?? DEFAULT_TOKEN_DAYS) * 86_400_000;
  const scopes = [...new Set(input.scopes ?? DEFAULT_TOKEN_SCOPES)];
  await db.batch([
    db.insert(apiTokens).values({
      id,
      userId: actor.userId,
      name: input.name,
      tokenHash: await hashApiToken(token),
      createdAt: now,
      expiresAt,
      scopes,
      createdBySessionId: actor.sessionId,
    }),
    recordChange(
      db,
      actor,
      {
        action: "api_token.create",
        teamId: null,
        targetType: "api_token",
        targetId: id,
        detail: { name: input.name, scopes, expiresAt },
      },
      now,
    ),
  ]);
  return { id, name: input.name, token, scopes, createdAt: now, expiresAt };
}

export async function listApiTokens(db: Db, actor: Actor) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      scopes: apiTokens.scopes,
      createdAt: apiTokens.createdAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, actor.userId))
    .all();
}

/**
 * Revokes one of the caller's tokens and every token minted from it, down the chain
 * (`created_by_token_id`, a recursive query in the same statement).
 */
export async function revokeApiToken(db: Db, actor: Actor, id: string) {
  const row = await db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(and(eq(apiTokens.id, id), eq(apiTokens.userId, actor.userId), isNull(apiTokens.revokedAt)))
    .get();
  if (!row) throw notFound("API token");
  const now = Date.now();
  const descendants = sql`(with recursive chain(id) as (select ${id} union select t.id from api_tokens t join chain on t.created_by_token_id = chain.id) select id from chain)`;
  await db.batch([
    db
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(and(sql`${apiTokens.id} in ${descendants}`, isNull(apiTokens.revokedAt))),
    recordChange(
      db,
      actor,
      { action: "api_token.revoke", teamId: null, targetType: "api_token", targetId: id },
      now,
    ),
  ]);
}

export async function createUser(db: Db, actor: Actor, input: CreateUserInput) {
  const email = input.email.toLowerCase();
  const exists = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (exists) throw new ApiError("conflict", "a user with this email already exists");
  const id = randomId("usr_", 10);
  const now = Date.now();
  await db.batch([
    db.insert(users).values({
      id,
      email,
      name: input.name,
      passwordHash: await hashPassword(input.password),
      isPlatformAdmin: input.isPlatformAdmin ?? false,
      createdAt: now,
    }),
    recordChange(
      db,
      actor,
      { action: "user.create", teamId: null, targetType: "user", targetId: id, detail: { email } },
      now,
    ),
  ]);
  return { id, email, name: input.name, isPlatformAdmin: input.isPlatformAdmin ?? false };
}

export async function listUsers(db: Db) {
  return db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      isPlatformAdmin: users.isPlatformAdmin,
      createdAt: users.createdAt,
      disabledAt: users.disabledAt,
    })
    .from(users)
    .all();
}

/**
 * Disables a user (platform admin; not oneself): in one batch the user is marked, every open
 * session and API token of theirs is revoked, and the change is logged. A disabled user's login
 * answers like a wrong password. Disabling a disabled user changes nothing.
 */
export async function disableUser(db: Db, actor: Actor, userId: string, now = Date.now()) {
  if (userId === actor.userId) throw conflict("you cannot disable your own account");
  const user = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      isPlatformAdmin: users.isPlatformAdmin,
      disabledAt: users.disabledAt,
    })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  if (!user) throw notFound("user");
  if (user.disabledAt !== null) return user;
  await db.batch([
    db.update(users).set({ disabledAt: now }).where(eq(users.id, userId)),
    db
      .update(sessions)
      .set({ revokedAt: now })
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now))),
    db
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt))),
    recordChange(
      db,
      actor,
      { action: "user.disable", teamId: null, targetType: "user", targetId: userId },
      now,
    ),
  ]);
  return { ...user, disabledAt: now };
}

/** Lets a disabled user log in again. Their old sessions and tokens stay revoked. */
export async function enableUser(db: Db, actor: Actor, userId: string, now = Date.now()) {
  const user = await db
    .select({
      id: users.id,
      email: users.email,
      name: users.name,
      isPlatformAdmin: users.isPlatformAdmin,
      disabledAt: users.disabledAt,
    })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  if (!user) throw notFound("user");
  if (user.disabledAt === null) return user;
  await db.batch([
    db.update(users).set({ disabledAt: null }).where(eq(users.id, userId)),
    recordChange(
      db,
      actor,
      { action: "user.enable", teamId: null, targetType: "user", targetId: userId },
      now,
    ),
  ]);
  return { ...user, disabledAt: null };
}

export async function findUserByEmail(db: Db, email: string) {
  const user = await db
    .select({ id: users.id, email: users.email, name: users.name })
    .from(users)
    .where(eq(users.email, email.toLowerCase()))
    .get();
  if (!user) throw notFound("user with this email");
  return user;
}
