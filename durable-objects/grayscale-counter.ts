/**
 * GrayscaleCounter: one object per capped grayscale task (ARCHITECTURE.md "The hot path",
 * step 3). It only counts and serialises admissions; the rules that decide whether a user is
 * eligible at all stay in the pure core and run before it is asked.
 *
 * Storage (SQLite):
 *   admitted(user_key TEXT PRIMARY KEY, admitted_at INTEGER,   one row per admitted user;
 *            host_app_id TEXT, platform TEXT)                   host app and platform are NULL
 *                                                              for rows written before step 2
 *   counter(id = 1, admitted INTEGER)                         rows in `admitted`, kept so
 *                                                             admission is O(1), not a count(*)
 *   by_host_app(host_app_id TEXT PK, admitted INTEGER)        the same count by host app,
 *   by_platform(platform TEXT PK, admitted INTEGER)           platform and hour of admission,
 *   by_hour(hour INTEGER PK, admitted INTEGER)                kept in step with `admitted` so
 *                                                             progress never scans the users
 *   schema_version(version INTEGER)                           migrations applied so far
 * Rows from before step 2 are tallied under host app and platform "unknown".
 */
import { DurableObject } from "cloudflare:workers";
import type { Platform } from "../core/decide";

export interface AdmitResult {
  admitted: boolean;
  /** users admitted so far, this one included when admitted */
  count: number;
}

/** Who is being admitted, for progress by host app and platform (seed: "progress ... by platform and app"). */
export interface AdmitMeta {
  hostAppId: string;
  platform: Platform;
}

export interface CounterProgress {
  admitted: number;
  byHostApp: Record<string, number>;
  byPlatform: Record<string, number>;
  /** hour = ms epoch of the start of the hour (UTC), ascending; hours without admissions are left out */
  byHour: Array<{ hour: number; admitted: number }>;
}

/** Schema steps in order; each runs once, inside one transaction with its version bump. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE admitted (user_key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), admitted INTEGER NOT NULL);
   INSERT INTO counter (id, admitted) VALUES (1, 0);`,
  `ALTER TABLE admitted ADD COLUMN host_app_id TEXT;
   ALTER TABLE admitted ADD COLUMN platform TEXT;
   CREATE TABLE by_host_app (host_app_id TEXT PRIMARY KEY, admitted INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE by_platform (platform TEXT PRIMARY KEY, admitted INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE by_hour (hour INTEGER PRIMARY KEY, admitted INTEGER NOT NULL);
   INSERT INTO by_host_app SELECT 'unknown', count(*) FROM admitted HAVING count(*) > 0;
   INSERT INTO by_platform SELECT 'unknown', count(*) FROM admitted HAVING count(*) > 0;
   INSERT INTO by_hour SELECT (admitted_at / 3600000) * 3600000, count(*) FROM admitted GROUP BY 1;`,
];

const MAX_USER_KEY_LENGTH = 256;
const MAX_HOST_APP_ID_LENGTH = 64;
const HOUR_MS = 3_600_000;

function checkUserKey(userKey: unknown): asserts userKey is string {
  if (typeof userKey !== "string" || userKey.length === 0 || userKey.length > MAX_USER_KEY_LENGTH) {
    throw new RangeError(`userKey must be 1..${MAX_USER_KEY_LENGTH} characters`);
  }
}

export class GrayscaleCounter extends DurableObject<Cloudflare.EdgeEnv> {
  constructor(ctx: DurableObjectState, env: Cloudflare.EdgeEnv) {
    super(ctx, env);
    // No request may reach the object before its tables exist.
    void ctx.blockConcurrencyWhile(async () => this.#migrate());
  }

  #migrate() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const applied = sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0;
    for (let version = applied; version < MIGRATIONS.length; version++) {
      this.ctx.storage.transactionSync(() => {
        sql.exec(MIGRATIONS[version] as string);
        sql.exec("DELETE FROM schema_version");
        sql.exec("INSERT INTO schema_version (version) VALUES (?)", version + 1);
      });
    }
  }

  /**
   * Admits `userKey` under `cap`. Checks, in order:
   * 1. the arguments (user key length, cap a non-negative integer, host app id, platform);
   * 2. a user already admitted stays admitted, whatever the cap is now (seed: users already
   *    in the grayscale keep the version); their first host app and platform are kept;
   * 3. a new user is admitted only while fewer than `cap` users are.
   * Runs synchronously in one transaction, so concurrent calls cannot both take the last slot.
   */
  async admit(userKey: string, cap: number, meta: AdmitMeta): Promise<AdmitResult> {
    checkUserKey(userKey);
    if (!Number.isSafeInteger(cap) || cap < 0) throw new RangeError("cap must be a non-negative integer");
    const hostAppId = meta?.hostAppId;
    if (typeof hostAppId !== "string" || hostAppId.length === 0 || hostAppId.length > MAX_HOST_APP_ID_LENGTH) {
      throw new RangeError(`meta.hostAppId must be 1..${MAX_HOST_APP_ID_LENGTH} characters`);
    }
    if (meta.platform !== "android" && meta.platform !== "ios") throw new RangeError("meta.platform must be android or ios");

    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const count = sql.exec<{ admitted: number }>("SELECT admitted FROM counter WHERE id = 1").one().admitted;
      const known = sql.exec("SELECT 1 FROM admitted WHERE user_key = ?", userKey).toArray().length > 0;
      if (known) return { admitted: true, count };
      if (count >= cap) return { admitted: false, count };
      const now = Date.now();
      sql.exec("INSERT INTO admitted (user_key, admitted_at, host_app_id, platform) VALUES (?, ?, ?, ?)", userKey, now, hostAppId, meta.platform);
      sql.exec("UPDATE counter SET admitted = admitted + 1 WHERE id = 1");
      sql.exec("INSERT INTO by_host_app VALUES (?, 1) ON CONFLICT (host_app_id) DO UPDATE SET admitted = admitted + 1", hostAppId);
      sql.exec("INSERT INTO by_platform VALUES (?, 1) ON CONFLICT (platform) DO UPDATE SET admitted = admitted + 1", meta.platform);
      sql.exec("INSERT INTO by_hour VALUES (?, 1) ON CONFLICT (hour) DO UPDATE SET admitted = admitted + 1", Math.floor(now / HOUR_MS) * HOUR_MS);
      return { admitted: true, count: count + 1 };
    });
  }

  /** Whether `userKey` was ever admitted (sticky-only tasks: a client that lost its ticket). */
  async isAdmitted(userKey: string): Promise<boolean> {
    checkUserKey(userKey);
    return this.ctx.storage.sql.exec("SELECT 1 FROM admitted WHERE user_key = ?", userKey).toArray().length > 0;
  }

  /**
   * Admitted users against the cap, by host app, platform and hour of admission (read by the
   * control plane's task progress and cap check; not on the client hot path). Reads only the
   * tallies, so it costs the same for ten users or ten million.
   */
  async progress(): Promise<CounterProgress> {
    const sql = this.ctx.storage.sql;
    const admitted = sql.exec<{ admitted: number }>("SELECT admitted FROM counter WHERE id = 1").one().admitted;
    const byHostApp: Record<string, number> = {};
    for (const row of sql.exec<{ key: string; admitted: number }>("SELECT host_app_id AS key, admitted FROM by_host_app")) byHostApp[row.key] = row.admitted;
    const byPlatform: Record<string, number> = {};
    for (const row of sql.exec<{ key: string; admitted: number }>("SELECT platform AS key, admitted FROM by_platform")) byPlatform[row.key] = row.admitted;
    const byHour = sql
      .exec<{ hour: number; admitted: number }>("SELECT hour, admitted FROM by_hour ORDER BY hour")
      .toArray()
      .map((row) => ({ hour: row.hour, admitted: row.admitted }));
    return { admitted, byHostApp, byPlatform, byHour };
  }
}
