/**
 * GrayscaleCounter: one object per capped grayscale task (ARCHITECTURE.md "The hot path",
 * step 3). It only counts and serialises admissions; the rules that decide whether a user is
 * eligible at all stay in the pure core and run before it is asked.
 *
 * Storage (SQLite):
 *   admitted(user_key TEXT PRIMARY KEY, admitted_at INTEGER)  one row per admitted user
 *   counter(id = 1, admitted INTEGER)                         rows in `admitted`, kept so
 *                                                             admission is O(1), not a count(*)
 *   schema_version(version INTEGER)                           migrations applied so far
 */
import { DurableObject } from "cloudflare:workers";

export interface AdmitResult {
  admitted: boolean;
  /** users admitted so far, this one included when admitted */
  count: number;
}

/** Schema steps in order; each runs once, inside one transaction with its version bump. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE admitted (user_key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), admitted INTEGER NOT NULL);
   INSERT INTO counter (id, admitted) VALUES (1, 0);`,
];

const MAX_USER_KEY_LENGTH = 256;

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
   * 1. a user already admitted stays admitted, whatever the cap is now (seed: users already
   *    in the grayscale keep the version);
   * 2. a new user is admitted only while fewer than `cap` users are.
   * Runs synchronously in one transaction, so concurrent calls cannot both take the last slot.
   */
  async admit(userKey: string, cap: number): Promise<AdmitResult> {
    if (typeof userKey !== "string" || userKey.length === 0 || userKey.length > MAX_USER_KEY_LENGTH) {
      throw new RangeError(`userKey must be 1..${MAX_USER_KEY_LENGTH} characters`);
    }
    if (!Number.isSafeInteger(cap) || cap < 0) throw new RangeError("cap must be a non-negative integer");

    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      const count = sql.exec<{ admitted: number }>("SELECT admitted FROM counter WHERE id = 1").one().admitted;
      const known = sql.exec("SELECT 1 FROM admitted WHERE user_key = ?", userKey).toArray().length > 0;
      if (known) return { admitted: true, count };
      if (count >= cap) return { admitted: false, count };
      sql.exec("INSERT INTO admitted (user_key, admitted_at) VALUES (?, ?)", userKey, Date.now());
      sql.exec("UPDATE counter SET admitted = admitted + 1 WHERE id = 1");
      return { admitted: true, count: count + 1 };
    });
  }
}
