/**
 * AppSecret key management (PRODUCT.md X5; seed "Key Management"): "Only the mini program team
 * administrator has the authority to view and operate key management. You can generate, reset,
 * and freeze keys". Generate: "you cannot copy it again after closing the pop-up window ... The
 * platform will not display or save the key in plain text". Reset: "the mini program function
 * using the original AppSecret will not be available". Freeze: "the mini program function using
 * the original AppSecret will not be able to be used normally".
 *
 * A secret is 32 lowercase hex characters, like WeChat's. Its first 8 are its public id: stored as
 * the row's salt and shown as the hint, so a team can tell which secret a server holds without the
 * platform keeping anything that unlocks it. D1 keeps only HMAC-SHA-256(APP_SECRET_HASH_KEY,
 * appId + salt + secret): a copy of the database alone cannot test guesses.
 *
 * Every action is one D1 batch with its change-log entry (never the secret). A reset bumps the
 * row's generation and deletes the access tokens minted from the old secret in the same batch, so
 * the old secret and its tokens stop working at once; a frozen secret is refused by every server
 * API (services/server-api.ts).
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import { ApiError, conflict } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { appSecrets, changeLog, serverAccessTokens } from "../db/schema";
import { toHex } from "../lib/encoding";
import { ADMIN_ROLES, requireMiniProgram } from "./access";
import { recordChangeIfChanged } from "./change-log";

/** APP_SECRET_HASH_KEY's minimum length. */
export const MIN_APP_SECRET_HASH_KEY_LENGTH = 32;
/** Characters of the secret that are its public id (salt and hint). */
const PUBLIC_ID_LENGTH = 8;
export const APP_SECRET_PATTERN = /^[0-9a-f]{32}$/;

const TARGET = "app_secret";

export interface AppSecretStatus {
  appId: string;
  exists: boolean;
  frozen: boolean;
  /** the secret's first 8 characters and an ellipsis, e.g. "3f9a1c07…"; null when none exists */
  hint: string | null;
  /** 1 for the first secret, +1 on each reset; 0 when none exists */
  generation: number;
  createdAt: number | null;
  createdBy: string | null;
  resetAt: number | null;
  resetBy: string | null;
  frozenAt: number | null;
  frozenBy: string | null;
}

export interface NewAppSecret extends AppSecretStatus {
  /** shown once, in this answer only */
  secret: string;
}

/** APP_SECRET_HASH_KEY, or a 409 naming the operator's fix. */
export function requireHashKey(key: string | undefined): string {
  if (!key || key.length < MIN_APP_SECRET_HASH_KEY_LENGTH)
    throw new ApiError(
      "conflict",
      `AppSecrets are not configured on this deployment: APP_SECRET_HASH_KEY must be set, at least ${MIN_APP_SECRET_HASH_KEY_LENGTH} characters`,
    );
  return key;
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKeyOf(key: string): Promise<CryptoKey> {
  let k = hmacKeys.get(key);
  if (k === undefined) {
    k = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    hmacKeys.set(key, k);
  }
  return k;
}

const hashInput = (appId: string, salt: string, secret: string) =>
  new TextEncoder().encode(`graycast app secret v1\n${appId}\n${salt}\n${secret}`);

/** The stored keyed hash of `secret` (hex). */
export async function hashAppSecret(
  key: string,
  appId: string,
  salt: string,
  secret: string,
): Promise<string> {
  return toHex(await crypto.subtle.sign("HMAC", await hmacKeyOf(key), hashInput(appId, salt, secret)));
}

/** Whether `secret` is the one whose keyed hash is `hash` (WebCrypto's verify compares in constant time). */
export async function verifyAppSecret(
  key: string,
  appId: string,
  row: { salt: string; secretHash: string },
  secret: string,
): Promise<boolean> {
  if (!APP_SECRET_PATTERN.test(secret) || secret.slice(0, PUBLIC_ID_LENGTH) !== row.salt) return false;
  if (!/^[0-9a-f]{64}$/.test(row.secretHash)) return false;
  const expected = new Uint8Array(32);
  for (let i = 0; i < 32; i++) expected[i] = Number.parseInt(row.secretHash.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify("HMAC", await hmacKeyOf(key), expected, hashInput(appId, row.salt, secret));
}

function newSecret(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(16)));
}

const hintOf = (salt: string) => `${salt}…`;

type SecretRow = typeof appSecrets.$inferSelect;

/** Who last reset and froze the secret: the newest change-log entries of those actions. */
async function actorsOf(db: Db, appId: string): Promise<{ resetBy: string | null; frozenBy: string | null }> {
  const rows = await db
    .select({ action: changeLog.action, actorId: changeLog.actorId })
    .from(changeLog)
    .where(
      and(
        eq(changeLog.targetType, TARGET),
        eq(changeLog.targetId, appId),
        inArray(changeLog.action, ["app_secret.reset", "app_secret.freeze"]),
      ),
    )
    .orderBy(desc(changeLog.at))
    .limit(50)
    .all();
  return {
    resetBy: rows.find((r) => r.action === "app_secret.reset")?.actorId ?? null,
    frozenBy: rows.find((r) => r.action === "app_secret.freeze")?.actorId ?? null,
  };
}

function statusOf(
  appId: string,
  row: SecretRow | undefined,
  by: { resetBy: string | null; frozenBy: string | null },
): AppSecretStatus {
  if (!row)
    return {
      appId,
      exists: false,
      frozen: false,
      hint: null,
      generation: 0,
      createdAt: null,
      createdBy: null,
      resetAt: null,
      resetBy: null,
      frozenAt: null,
      frozenBy: null,
    };
  return {
    appId,
    exists: true,
    frozen: row.frozen,
    hint: hintOf(row.salt),
    generation: row.generation,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    resetAt: row.resetAt,
    resetBy: row.resetAt === null ? null : by.resetBy,
    frozenAt: row.frozen ? row.frozenAt : null,
    frozenBy: row.frozen ? by.frozenBy : null,
  };
}

const loadRow = (db: Db, appId: string) =>
  db.select().from(appSecrets).where(eq(appSecrets.miniProgramId, appId)).get();

/** Status, never the secret (team admins only: the seed lets no one else even view key management). */
export async function getAppSecretStatus(db: Db, actor: Actor, appId: string): Promise<AppSecretStatus> {
  await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  const [row, by] = await Promise.all([loadRow(db, appId), actorsOf(db, appId)]);
  return statusOf(appId, row, by);
}

/** The first secret of a mini program; 409 when one exists (reset replaces it). */
export async function generateAppSecret(
  db: Db,
  actor: Actor,
  appId: string,
  hashKey: string | undefined,
): Promise<NewAppSecret> {
  const mp = await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  const key = requireHashKey(hashKey);
  const existing = await loadRow(db, appId);
  if (existing) throw conflict("this mini program already has an AppSecret: reset it to get a new one");
  const secret = newSecret();
  const salt = secret.slice(0, PUBLIC_ID_LENGTH);
  const now = Date.now();
  // Insert-or-nothing: of two racing generates one inserts (and logs), the other gets 409.
  const [inserted] = await db.batch([
    db
      .insert(appSecrets)
      .values({
        miniProgramId: appId,
        salt,
        secretHash: await hashAppSecret(key, appId, salt, secret),
        generation: 1,
        frozen: false,
        createdBy: actor.userId,
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning({ id: appSecrets.miniProgramId }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "app_secret.generate",
        teamId: mp.teamId,
        targetType: TARGET,
        targetId: appId,
        detail: { hint: hintOf(salt), generation: 1 },
      },
      now,
    ),
  ]);
  if (inserted.length === 0)
    throw conflict("this mini program already has an AppSecret: reset it to get a new one");
  const row = (await loadRow(db, appId)) as SecretRow;
  return { ...statusOf(appId, row, { resetBy: null, frozenBy: null }), secret };
}

/**
 * A new secret in place of the current one, effective at once: the old secret no longer matches
 * the stored hash and the access tokens minted from it are deleted in the same batch. A frozen
 * secret may be reset (the seed's order: freeze a leaked key until it is replaced); the new one
 * is not frozen. 409 when there is no secret yet.
 */
export async function resetAppSecret(
  db: Db,
  actor: Actor,
  appId: string,
  hashKey: string | undefined,
): Promise<NewAppSecret> {
  const mp = await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  const key = requireHashKey(hashKey);
  const existing = await loadRow(db, appId);
  if (!existing) throw conflict("this mini program has no AppSecret yet: generate one");
  const secret = newSecret();
  const salt = secret.slice(0, PUBLIC_ID_LENGTH);
  const generation = existing.generation + 1;
  const now = Date.now();
  // Guarded by the generation: of two racing resets one applies (and logs), the other gets 409.
  const [changed] = await db.batch([
    db
      .update(appSecrets)
      .set({
        salt,
        secretHash: await hashAppSecret(key, appId, salt, secret),
        generation,
        frozen: false,
        frozenAt: null,
        resetAt: now,
      })
      .where(and(eq(appSecrets.miniProgramId, appId), eq(appSecrets.generation, existing.generation)))
      .returning({ id: appSecrets.miniProgramId }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "app_secret.reset",
        teamId: mp.teamId,
        targetType: TARGET,
        targetId: appId,
        detail: { hint: hintOf(salt), previousHint: hintOf(existing.salt), generation },
      },
      now,
    ),
    db
      .delete(serverAccessTokens)
      .where(
        and(
          eq(serverAccessTokens.miniProgramId, appId),
          eq(serverAccessTokens.secretGeneration, existing.generation),
        ),
      ),
  ]);
  if (changed.length === 0) throw conflict("the AppSecret changed meanwhile; read its status again");
  const row = (await loadRow(db, appId)) as SecretRow;
  return { ...statusOf(appId, row, { resetBy: actor.userId, frozenBy: null }), secret };
}

/** Freezes (`frozen` true) or unfreezes the secret; 409 when there is none or it already is so. */
export async function setAppSecretFrozen(
  db: Db,
  actor: Actor,
  appId: string,
  frozen: boolean,
): Promise<AppSecretStatus> {
  const mp = await requireMiniProgram(db, actor, appId, ADMIN_ROLES);
  const existing = await loadRow(db, appId);
  if (!existing) throw conflict("this mini program has no AppSecret yet: generate one");
  if (existing.frozen === frozen)
    throw conflict(frozen ? "the AppSecret is already frozen" : "the AppSecret is not frozen");
  const now = Date.now();
  const [changed] = await db.batch([
    db
      .update(appSecrets)
      .set({ frozen, frozenAt: frozen ? now : null })
      .where(and(eq(appSecrets.miniProgramId, appId), eq(appSecrets.frozen, !frozen)))
      .returning({ id: appSecrets.miniProgramId }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: frozen ? "app_secret.freeze" : "app_secret.unfreeze",
        teamId: mp.teamId,
        targetType: TARGET,
        targetId: appId,
        detail: { hint: hintOf(existing.salt), generation: existing.generation },
      },
      now,
    ),
  ]);
  if (changed.length === 0)
    throw conflict(frozen ? "the AppSecret is already frozen" : "the AppSecret is not frozen");
  const [row, by] = await Promise.all([loadRow(db, appId), actorsOf(db, appId)]);
  return statusOf(appId, row, by);
}
