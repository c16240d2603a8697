/**
 * The mini program server API (PRODUCT.md X6; issue 12 "Login and server API"), compatible in
 * shape with the WeChat / Tencent mini program server API so existing back ends port easily:
 *
 * - `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` ->
 *   `{ openid, session_key, unionid }`: "openid stable per mini program and user, unionid per
 *   team, neither reversible to the account; codes expire in 5 minutes and work once";
 * - `GET /cgi-bin/token?grant_type=client_credential&appid&secret` ->
 *   `{ access_token, expires_in: 7200 }`;
 * - errors `{ errcode, errmsg }` with WeChat's codes (core/contracts/login.ts ServerErrcode).
 *
 * Checks, in order: appid's shape (40013), the per-appid rate limit (45011, before any D1 read, so
 * a flood of guesses costs no storage), grant_type (40002), the mini program and its secret
 * (40013 unknown appid, 40001 wrong or no secret, 40243 frozen: only a caller holding the right
 * secret learns it is frozen), then the code (40029 malformed, forged, for another appid or
 * expired; 40163 already used: `used_login_codes`, insert-or-fail).
 *
 * The user ids are HMAC-SHA-256 under USER_ID_KEY (a Worker secret that must never change: every
 * openid would change with it) of the host app and its account, with the App ID (openid) or the
 * owning team (unionid): stable, distinct per mini program or team, and not reversible without
 * the key. The account itself is never stored or logged here.
 */
import { eq, lt } from "drizzle-orm";
import { toBase64Url } from "../../../core/encryption";
import { LoginCodeKeys, MIN_LOGIN_CODE_KEY_LENGTH, openLoginCode } from "../../../core/login-code";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../../core/rate-limit";
import { ServerErrcode, type ServerErrcodeValue } from "../../../core/server-errcode";
import type { Db } from "../db/client";
import { appSecrets, miniPrograms, serverAccessTokens, usedLoginCodes } from "../db/schema";
import type { AdminBindings } from "../env";
import { sha256Hex, toBase64 } from "../lib/encoding";
import { MIN_APP_SECRET_HASH_KEY_LENGTH, verifyAppSecret } from "./app-secrets";

/** The login-code keys this isolate derived (HKDF once per secret). */
const LOGIN_CODE_KEYS = new LoginCodeKeys();

/** Seconds an access token lives (WeChat's `expires_in`). */
export const ACCESS_TOKEN_TTL_SECONDS = 7200;
/** USER_ID_KEY's minimum length. */
export const MIN_USER_ID_KEY_LENGTH = 32;

const APP_ID = /^gc[a-z2-7]{16,40}$/;
const ACCESS_TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A refusal of the server API: `{ errcode, errmsg }` with an HTTP status (never 5xx for a caller's mistake). */
export class ServerApiError extends Error {
  constructor(
    readonly errcode: ServerErrcodeValue,
    readonly errmsg: string,
    readonly status: 400 | 401 | 403 | 409 | 429 | 503,
    readonly retryAfterSeconds?: number,
  ) {
    super(errmsg);
    this.name = "ServerApiError";
  }

  toBody() {
    return { errcode: this.errcode, errmsg: this.errmsg };
  }
}

const invalidAppId = () => new ServerApiError(ServerErrcode.INVALID_APPID, "invalid appid", 400);
const invalidCredential = () =>
  new ServerApiError(
    ServerErrcode.INVALID_CREDENTIAL,
    "invalid credential, secret is wrong or not generated",
    401,
  );
const invalidCode = (why: string) =>
  new ServerApiError(ServerErrcode.INVALID_CODE, `invalid code: ${why}`, 400);
const busy = () => new ServerApiError(ServerErrcode.BUSY, "system busy, retry later", 503);

/** The Worker secrets the server API needs; a missing one is the operator's (logged, answered -1). */
function requireKeys(env: AdminBindings) {
  const { APP_SECRET_HASH_KEY: hashKey, LOGIN_CODE_KEY: codeKey, USER_ID_KEY: userKey } = env;
  if (
    !hashKey ||
    hashKey.length < MIN_APP_SECRET_HASH_KEY_LENGTH ||
    !codeKey ||
    codeKey.length < MIN_LOGIN_CODE_KEY_LENGTH ||
    !userKey ||
    userKey.length < MIN_USER_ID_KEY_LENGTH
  ) {
    console.error(
      "server API not configured: APP_SECRET_HASH_KEY, LOGIN_CODE_KEY and USER_ID_KEY must be set",
    );
    throw busy();
  }
  return { hashKey, codeKey, userKey };
}

/** appid's shape, then the per-appid limit (SERVER_API_LIMITER): both before any D1 read. */
async function checkAppIdAndLimit(env: AdminBindings, appid: string | undefined): Promise<string> {
  if (appid === undefined || !APP_ID.test(appid)) throw invalidAppId();
  const { success } = await env.SERVER_API_LIMITER.limit({ key: `app:${appid}` });
  if (!success)
    throw new ServerApiError(
      ServerErrcode.RATE_LIMITED,
      "api freq out of limit for this appid, retry after the Retry-After seconds",
      429,
      RATE_LIMIT_PERIOD_SECONDS.SERVER_API_LIMITER,
    );
  return appid;
}

/** The mini program and its secret, once `secret` is proven right and not frozen. */
async function authenticateApp(db: Db, hashKey: string, appId: string, secret: string | undefined) {
  const row = await db
    .select({
      teamId: miniPrograms.teamId,
      salt: appSecrets.salt,
      secretHash: appSecrets.secretHash,
      generation: appSecrets.generation,
      frozen: appSecrets.frozen,
    })
    .from(miniPrograms)
    .leftJoin(appSecrets, eq(appSecrets.miniProgramId, miniPrograms.id))
    .where(eq(miniPrograms.id, appId))
    .get();
  if (!row) throw invalidAppId();
  if (
    secret === undefined ||
    row.salt === null ||
    row.secretHash === null ||
    row.generation === null ||
    !(await verifyAppSecret(hashKey, appId, { salt: row.salt, secretHash: row.secretHash }, secret))
  )
    throw invalidCredential();
  // Told only to a caller holding the right secret: a guesser learns nothing from it.
  if (row.frozen)
    throw new ServerApiError(
      ServerErrcode.SECRET_FROZEN,
      "appsecret has been frozen, a team admin must unfreeze or reset it",
      403,
    );
  return { teamId: row.teamId, generation: row.generation };
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** HMAC-SHA-256 under USER_ID_KEY, 20 bytes in base64url behind `prefix` (28 characters, like WeChat's). */
async function userId(key: string, prefix: string, parts: string[]): Promise<string> {
  let k = hmacKeys.get(key);
  if (k === undefined) {
    k = crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(key),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    hmacKeys.set(key, k);
  }
  const mac = await crypto.subtle.sign("HMAC", await k, new TextEncoder().encode(parts.join("\n")));
  return prefix + toBase64Url(new Uint8Array(mac).subarray(0, 20));
}

/** openid: per mini program and host-app user. */
export const openIdOf = (key: string, appId: string, hostAppId: string, account: string) =>
  userId(key, "o", ["graycast openid v1", appId, hostAppId, account]);
/** unionid: per team and host-app user. */
export const unionIdOf = (key: string, teamId: string, hostAppId: string, account: string) =>
  userId(key, "u", ["graycast unionid v1", teamId, hostAppId, account]);

/** D1 errors become -1 "busy" (logged without the query, which holds secrets). */
async function storage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof ServerApiError) throw err;
    console.error("server API storage error", { error: String(err instanceof Error ? err.message : err) });
    throw busy();
  }
}

export interface Code2SessionQuery {
  appid?: string;
  secret?: string;
  js_code?: string;
  grant_type?: string;
}

/** `GET /sns/jscode2session`. `now` is injectable for tests (ms). */
export async function code2Session(env: AdminBindings, db: Db, q: Code2SessionQuery, now = Date.now()) {
  const appId = await checkAppIdAndLimit(env, q.appid);
  if (q.grant_type !== "authorization_code")
    throw new ServerApiError(
      ServerErrcode.INVALID_GRANT_TYPE,
      "invalid grant_type, use authorization_code",
      400,
    );
  const { hashKey, codeKey, userKey } = requireKeys(env);
  const app = await storage(authenticateApp(db, hashKey, appId, q.secret));
  if (q.js_code === undefined || q.js_code === "") throw invalidCode("js_code is missing");
  const code = await openLoginCode(codeKey, q.js_code, LOGIN_CODE_KEYS);
  if (code === undefined) throw invalidCode("not a login code");
  if (code.appId !== appId) throw invalidCode("issued for another appid");
  if (now >= code.expiresAt) throw invalidCode("expired, log in again");
  // Works once: the first exchange inserts the code's id; any later one finds it.
  const used = await storage(
    db
      .insert(usedLoginCodes)
      .values({ codeId: code.codeId, miniProgramId: appId, usedAt: now, expiresAt: code.expiresAt })
      .onConflictDoNothing()
      .returning({ codeId: usedLoginCodes.codeId }),
  );
  if (used.length === 0) throw new ServerApiError(ServerErrcode.CODE_USED, "code been used", 409);
  const [openid, unionid] = await Promise.all([
    openIdOf(userKey, appId, code.hostAppId, code.account),
    unionIdOf(userKey, app.teamId, code.hostAppId, code.account),
  ]);
  return { openid, session_key: toBase64(crypto.getRandomValues(new Uint8Array(16))), unionid };
}

export interface AccessTokenQuery {
  grant_type?: string;
  appid?: string;
  secret?: string;
}

/** `GET /cgi-bin/token`: a fresh access token, stored only as its SHA-256. */
export async function issueAccessToken(env: AdminBindings, db: Db, q: AccessTokenQuery, now = Date.now()) {
  const appId = await checkAppIdAndLimit(env, q.appid);
  if (q.grant_type !== "client_credential")
    throw new ServerApiError(
      ServerErrcode.INVALID_GRANT_TYPE,
      "invalid grant_type, use client_credential",
      400,
    );
  const { hashKey } = requireKeys(env);
  const app = await storage(authenticateApp(db, hashKey, appId, q.secret));
  const token = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  await storage(
    db
      .insert(serverAccessTokens)
      .values({
        tokenHash: await sha256Hex(token),
        miniProgramId: appId,
        secretGeneration: app.generation,
        createdAt: now,
        expiresAt: now + ACCESS_TOKEN_TTL_SECONDS * 1000,
      })
      .run(),
  );
  return { access_token: token, expires_in: ACCESS_TOKEN_TTL_SECONDS as 7200 };
}

/**
 * For server APIs that take `?access_token=` (subscription messages, issue 14): the mini program
 * it was minted for, or a ServerApiError to answer with. Refused: malformed, unknown, expired
 * (42001), minted from a secret since reset (its row is deleted by the reset, and the generation
 * is checked again here), or a secret now frozen (40243).
 */
export async function authenticateAccessToken(
  db: Db,
  token: string | undefined,
  now = Date.now(),
): Promise<{ appId: string; teamId: string }> {
  const invalid = () =>
    new ServerApiError(ServerErrcode.INVALID_CREDENTIAL, "invalid credential, access_token is invalid", 401);
  if (token === undefined || !ACCESS_TOKEN.test(token)) throw invalid();
  const row = await storage(
    db
      .select({
        appId: serverAccessTokens.miniProgramId,
        expiresAt: serverAccessTokens.expiresAt,
        tokenGeneration: serverAccessTokens.secretGeneration,
        generation: appSecrets.generation,
        frozen: appSecrets.frozen,
        teamId: miniPrograms.teamId,
      })
      .from(serverAccessTokens)
      .innerJoin(appSecrets, eq(appSecrets.miniProgramId, serverAccessTokens.miniProgramId))
      .innerJoin(miniPrograms, eq(miniPrograms.id, serverAccessTokens.miniProgramId))
      .where(eq(serverAccessTokens.tokenHash, await sha256Hex(token)))
      .get(),
  );
  if (!row || row.tokenGeneration !== row.generation) throw invalid();
  if (now >= row.expiresAt)
    throw new ServerApiError(ServerErrcode.ACCESS_TOKEN_EXPIRED, "access_token expired", 401);
  if (row.frozen)
    throw new ServerApiError(
      ServerErrcode.SECRET_FROZEN,
      "appsecret has been frozen, a team admin must unfreeze or reset it",
      403,
    );
  return { appId: row.appId, teamId: row.teamId };
}

/** Cron: forgets used codes and access tokens past their expiry (a used code cannot come back after it). */
export async function sweepServerApi(db: Db, now = Date.now()): Promise<void> {
  await db.batch([
    db.delete(usedLoginCodes).where(lt(usedLoginCodes.expiresAt, now)),
    db.delete(serverAccessTokens).where(lt(serverAccessTokens.expiresAt, now)),
  ]);
}
