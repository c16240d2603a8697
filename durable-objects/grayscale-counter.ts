/**
 * GrayscaleCounter: one object per capped grayscale task (ARCHITECTURE.md "The hot path",
 * step 3). It only counts and serialises admissions; the rules that decide whether a user is
 * eligible at all stay in the pure core and run before it is asked. The log consumer also keeps
 * every running task's health figures here (capped or not; ./health-ledger.ts, PRODUCT.md G7),
 * off the admission path: one object per task was already the unit that serialises its counts.
 *
 * Storage (SQLite):
 *   admitted(user_key TEXT PRIMARY KEY, admitted_at INTEGER,   one row per admitted user;
 *            host_app_id TEXT, platform TEXT)                   host app and platform are NULL
 *                                                              for rows written before step 2
 *   counter(id = 1, admitted INTEGER,                         rows in `admitted`, kept so
 *           reserved INTEGER, stranded INTEGER)               admission is O(1), not a count(*);
 *                                                             slots in open leases; slots of
 *                                                             leases never settled (see alarm)
 *   leases(id TEXT PK, granted, settled, next_batch,          blocks of slots held by edge
 *          last_size, last_done, expires_at, open)            isolates (see `lease`); closed
 *                                                             ones are pruned after an hour
 *   by_host_app(host_app_id TEXT PK, admitted INTEGER)        the same count by host app,
 *   by_platform(platform TEXT PK, admitted INTEGER)           platform and hour of admission,
 *   by_hour(hour INTEGER PK, admitted INTEGER)                kept in step with `admitted` so
 *                                                             progress never scans the users
 *   schema_version(version INTEGER)                           migrations applied so far
 *   health_seen, health_bucket, health_crash                  health guardrail figures
 *                                                             (./health-ledger.ts)
 * Rows from before step 2 are tallied under host app and platform "unknown".
 *
 * Admission leases (docs/scale.md): a busy edge isolate takes a block of slots in one call
 * (`lease`), admits new users from it without calling the object, and reports them in batches
 * (`settle`). The invariant that makes the cap exact is `admitted + reserved <= cap`, kept by
 * this object's transactions: a slot is either free, reserved by an open lease, or a user.
 * A reported user already admitted (by another isolate, or directly) frees its slot, so each
 * user is counted once. A lease whose holder never settles it (the isolate died) keeps its
 * slots reserved: the cap may then be under-filled by them, never exceeded, because the users
 * such an isolate admitted before it died hold the version without the object knowing them.
 */
import { DurableObject } from "cloudflare:workers";
import type { Platform } from "../core/decide";
import type { TripFigures } from "../core/grayscale/health";
import { HEALTH_MIGRATION, type HealthBucket, HealthLedger, type HealthReport } from "./health-ledger";

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

/** A block of slots an edge isolate admits new users from, without a call per user. */
export interface Lease {
  id: string;
  granted: number;
  /** ms epoch; the holder stops admitting from the lease before this (LEASE_MARGIN_MS) */
  expiresAt: number;
}

/** A user an isolate admitted from a lease, reported by `settle`. */
export interface LeasedAdmission extends AdmitMeta {
  userKey: string;
  /** ms epoch of the admission (hourly progress) */
  at: number;
}

export interface SettleResult {
  /** users of the batch that were new to the task */
  admitted: number;
  /** users of the batch already admitted: their slots went back to the free pool */
  duplicates: number;
  /** users admitted so far */
  count: number;
}

/** How long a lease may be admitted from, by default and at most; its holder gives back what it did not use when it ends. */
export const LEASE_TTL_MS = 10_000;
export const MIN_LEASE_TTL_MS = 1_000;
/**
 * At most 15 s: the holder ends the lease from `waitUntil` work, which the runtime stops 30 s
 * after the response, and asking for the lease and the last report may take ~6 s each with retries.
 */
export const MAX_LEASE_TTL_MS = 15_000;
/** The holder stops admitting this long (at most a quarter of the lease) before its end, so clock skew cannot matter. */
export const LEASE_MARGIN_MS = 1_000;
/** Largest lease; and a lease never takes more than 1/LEASE_SHARE of the free slots. */
export const MAX_LEASE = 1_024;
const LEASE_SHARE = 4;
/** An open lease this long past its end is closed by the alarm, its unsettled slots stranded (past the 30 s a holder's background work may run). */
export const STRANDED_AFTER_MS = 60_000;
/** Lease ids: the holder picks one, so a lost answer can be asked for again. */
const LEASE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Closed leases are kept this long (an answer to a late retry), then deleted. */
const CLOSED_LEASE_KEEP_MS = 3_600_000;
/** Users per `settle` call. */
export const MAX_SETTLE_BATCH = 256;

export interface CounterProgress {
  admitted: number;
  /** slots held by edge isolates' open leases, not yet settled */
  reserved: number;
  /** slots of leases closed unsettled, presumed used (admitted + reserved + stranded <= cap) */
  stranded: number;
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
  `ALTER TABLE counter ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE leases (id TEXT PRIMARY KEY, granted INTEGER NOT NULL, settled INTEGER NOT NULL, next_batch INTEGER NOT NULL, last_size INTEGER NOT NULL, last_done INTEGER NOT NULL, expires_at INTEGER NOT NULL, open INTEGER NOT NULL) WITHOUT ROWID;`,
  `ALTER TABLE counter ADD COLUMN stranded INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX leases_by_state ON leases (open, expires_at);`,
  // Health figures of the task's guardrails (./health-ledger.ts).
  HEALTH_MIGRATION,
];

const MAX_USER_KEY_LENGTH = 256;
const MAX_HOST_APP_ID_LENGTH = 64;
const HOUR_MS = 3_600_000;

function checkUserKey(userKey: unknown): asserts userKey is string {
  if (typeof userKey !== "string" || userKey.length === 0 || userKey.length > MAX_USER_KEY_LENGTH) {
    throw new RangeError(`userKey must be 1..${MAX_USER_KEY_LENGTH} characters`);
  }
}

function checkCap(cap: unknown): asserts cap is number {
  if (!Number.isSafeInteger(cap) || (cap as number) < 0)
    throw new RangeError("cap must be a non-negative integer");
}

function checkMeta(meta: AdmitMeta | undefined, where = "meta"): asserts meta is AdmitMeta {
  const hostAppId = meta?.hostAppId;
  if (typeof hostAppId !== "string" || hostAppId.length === 0 || hostAppId.length > MAX_HOST_APP_ID_LENGTH) {
    throw new RangeError(`${where}.hostAppId must be 1..${MAX_HOST_APP_ID_LENGTH} characters`);
  }
  if (meta!.platform !== "android" && meta!.platform !== "ios")
    throw new RangeError(`${where}.platform must be android or ios`);
}

export class GrayscaleCounter extends DurableObject<EdgeEnv> {
  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    // No request may reach the object before its tables exist.
    void ctx.blockConcurrencyWhile(async () => this.#migrate());
  }

  #migrate() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const applied =
      sql.exec<{ version: number }>("SELECT version FROM schema_version").toArray()[0]?.version ?? 0;
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
   * 3. a new user is admitted only while fewer than `cap` users are, counting the slots open
   *    leases reserve.
   * Runs synchronously in one transaction, so concurrent calls cannot both take the last slot.
   */
  async admit(userKey: string, cap: number, meta: AdmitMeta): Promise<AdmitResult> {
    checkUserKey(userKey);
    checkCap(cap);
    checkMeta(meta);
    return this.ctx.storage.transactionSync(() => {
      const { admitted: count, reserved, stranded } = this.#counter();
      if (this.#isAdmitted(userKey)) return { admitted: true, count };
      // Slots in leases are not free: their holders may be admitting from them now.
      if (count + reserved + stranded >= cap) return { admitted: false, count };
      this.#record(userKey, meta, Date.now());
      this.ctx.storage.sql.exec("UPDATE counter SET admitted = admitted + 1 WHERE id = 1");
      return { admitted: true, count: count + 1 };
    });
  }

  /**
   * Reserves up to `want` slots under `cap` for one edge isolate, for LEASE_TTL_MS. Grants at
   * most a quarter of the free slots (so one isolate cannot strand the end of a cap) and nothing
   * when that is under one slot: near the cap every admission is judged here, one by one.
   * Returns null when nothing is granted.
   */
  async lease(cap: number, want: number, ttlMs: number = LEASE_TTL_MS, id?: string): Promise<Lease | null> {
    checkCap(cap);
    if (!Number.isSafeInteger(want) || want < 1 || want > MAX_LEASE)
      throw new RangeError(`want must be 1..${MAX_LEASE}`);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_LEASE_TTL_MS || ttlMs > MAX_LEASE_TTL_MS)
      throw new RangeError(`ttlMs must be ${MIN_LEASE_TTL_MS}..${MAX_LEASE_TTL_MS}`);
    if (id !== undefined && (typeof id !== "string" || !LEASE_ID.test(id)))
      throw new RangeError("id must be 1..64 letters, digits, '-' or '_'");
    const sql = this.ctx.storage.sql;
    const granted = this.ctx.storage.transactionSync((): Lease | null => {
      const now = Date.now();
      // A retried call (its answer was lost) gets the lease it already made, not a second one.
      const known =
        id === undefined
          ? undefined
          : sql
              .exec<{ granted: number; expires_at: number; open: number }>(
                "SELECT granted, expires_at, open FROM leases WHERE id = ?",
                id,
              )
              .toArray()[0];
      // A closed id is never granted again: its holder already ended it (see settle's tombstone).
      if (known !== undefined)
        return known.open === 0 ? null : { id: id!, granted: known.granted, expiresAt: known.expires_at };
      sql.exec("DELETE FROM leases WHERE open = 0 AND expires_at < ?", now - CLOSED_LEASE_KEEP_MS);
      const { admitted, reserved, stranded } = this.#counter();
      const granted = Math.min(want, Math.floor((cap - admitted - reserved - stranded) / LEASE_SHARE));
      if (granted < 1) return null;
      const lease: Lease = { id: id ?? crypto.randomUUID(), granted, expiresAt: now + ttlMs };
      sql.exec(
        "INSERT INTO leases (id, granted, settled, next_batch, last_size, last_done, expires_at, open) VALUES (?, ?, 0, 0, 0, 0, ?, 1)",
        lease.id,
        granted,
        lease.expiresAt,
      );
      sql.exec("UPDATE counter SET reserved = reserved + ? WHERE id = 1", granted);
      return lease;
    });
    await this.#rearm();
    return granted;
  }

  /** Sets the alarm for the earliest open lease (or clears it when none is open). Idempotent. */
  async #rearm(): Promise<void> {
    const first = this.ctx.storage.sql
      .exec<{ at: number | null }>("SELECT min(expires_at) AS at FROM leases WHERE open = 1")
      .one().at;
    if (first === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(first + STRANDED_AFTER_MS);
  }

  /**
   * Closes the leases still open STRANDED_AFTER_MS past their end: their unsettled slots move
   * from `reserved` to `stranded` (still counted against the cap), then the alarm is set for
   * the next open lease, if any.
   */
  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    this.ctx.storage.transactionSync(() => {
      const cutoff = Date.now() - STRANDED_AFTER_MS;
      const late = sql
        .exec<{ id: string; unsettled: number }>(
          "SELECT id, granted - settled AS unsettled FROM leases WHERE open = 1 AND expires_at <= ?",
          cutoff,
        )
        .toArray();
      const slots = late.reduce((n, l) => n + l.unsettled, 0);
      if (late.length > 0) {
        sql.exec("UPDATE leases SET open = 2 WHERE open = 1 AND expires_at <= ?", cutoff);
        sql.exec(
          "UPDATE counter SET reserved = reserved - ?, stranded = stranded + ? WHERE id = 1",
          slots,
          slots,
        );
        console.error("admission leases stranded", { leases: late.length, slots });
      }
    });
    await this.#rearm();
  }

  /**
   * Records batch number `batch` (0, 1, 2... per lease) of users an isolate admitted from lease
   * `leaseId` (at most what the lease has left); with `done`, the lease ends and its unused slots
   * are free again. A user already admitted frees the slot it took. One transaction, and a batch
   * number already applied changes nothing: a call whose answer was lost can be retried as is
   * (the last batch retried with other content is refused: a holder must resend it unchanged).
   */
  async settle(
    leaseId: string,
    batch: number,
    admissions: LeasedAdmission[],
    done: boolean,
  ): Promise<SettleResult> {
    if (typeof leaseId !== "string" || leaseId.length === 0 || leaseId.length > 64)
      throw new RangeError("leaseId must be a lease id");
    if (!Number.isSafeInteger(batch) || batch < 0)
      throw new RangeError("batch must be a non-negative integer");
    if (!Array.isArray(admissions) || admissions.length > MAX_SETTLE_BATCH)
      throw new RangeError(`admissions must be an array of at most ${MAX_SETTLE_BATCH}`);
    admissions.forEach((a, i) => {
      checkUserKey(a?.userKey);
      checkMeta(a, `admissions[${i}]`);
      if (!Number.isSafeInteger(a.at) || a.at < 0)
        throw new RangeError(`admissions[${i}].at must be a ms epoch`);
    });
    const sql = this.ctx.storage.sql;
    const result = this.ctx.storage.transactionSync(() => {
      const lease = sql
        .exec<{
          granted: number;
          settled: number;
          next_batch: number;
          last_size: number;
          last_done: number;
          open: number;
        }>(
          "SELECT granted, settled, next_batch, last_size, last_done, open FROM leases WHERE id = ?",
          leaseId,
        )
        .toArray()[0];
      if (lease === undefined) {
        // The end of a lease its holder never heard about (the grant's answer was lost) may come
        // before the grant itself: remember the id as ended, so a late grant under it is refused.
        if (admissions.length > 0 || !done || batch !== 0) throw new RangeError("no such lease");
        sql.exec(
          "INSERT INTO leases (id, granted, settled, next_batch, last_size, last_done, expires_at, open) VALUES (?, 0, 0, 1, 0, 1, ?, 0)",
          leaseId,
          Date.now(),
        );
        return { admitted: 0, duplicates: 0, count: this.#counter().admitted };
      }
      if (
        batch === lease.next_batch - 1 &&
        (admissions.length !== lease.last_size || done !== (lease.last_done === 1))
      ) {
        throw new RangeError(`batch ${batch} was applied with other content`);
      }
      if (batch < lease.next_batch) return { admitted: 0, duplicates: 0, count: this.#counter().admitted };
      if (batch > lease.next_batch) throw new RangeError(`expected batch ${lease.next_batch}`);
      if (lease.open === 0) throw new RangeError("the lease is closed");
      if (admissions.length > lease.granted - lease.settled)
        throw new RangeError("more admissions than the lease has left");
      // One row per new user; the tallies once per distinct host app, platform and hour of the batch.
      const byHostApp = new Map<string, number>();
      const byPlatform = new Map<string, number>();
      const byHour = new Map<number, number>();
      const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
      let added = 0;
      for (const a of admissions) {
        const inserted = sql
          .exec(
            "INSERT INTO admitted (user_key, admitted_at, host_app_id, platform) VALUES (?, ?, ?, ?) ON CONFLICT (user_key) DO NOTHING RETURNING 1",
            a.userKey,
            a.at,
            a.hostAppId,
            a.platform,
          )
          .toArray().length;
        if (inserted === 0) continue;
        added++;
        bump(byHostApp, a.hostAppId);
        bump(byPlatform, a.platform);
        bump(byHour, Math.floor(a.at / HOUR_MS) * HOUR_MS);
      }
      for (const [key, n] of byHostApp)
        sql.exec(
          "INSERT INTO by_host_app VALUES (?, ?) ON CONFLICT (host_app_id) DO UPDATE SET admitted = admitted + excluded.admitted",
          key,
          n,
        );
      for (const [key, n] of byPlatform)
        sql.exec(
          "INSERT INTO by_platform VALUES (?, ?) ON CONFLICT (platform) DO UPDATE SET admitted = admitted + excluded.admitted",
          key,
          n,
        );
      for (const [key, n] of byHour)
        sql.exec(
          "INSERT INTO by_hour VALUES (?, ?) ON CONFLICT (hour) DO UPDATE SET admitted = admitted + excluded.admitted",
          key,
          n,
        );
      // Every reported slot leaves `reserved` (`stranded`, for a lease the alarm closed): a new
      // user became `admitted`, a duplicate is free; `done` frees the slots never used.
      const released = done ? lease.granted - lease.settled : admissions.length;
      const pool = lease.open === 2 ? "stranded" : "reserved";
      sql.exec(
        "UPDATE leases SET settled = settled + ?, next_batch = next_batch + 1, last_size = ?, last_done = ?, open = ? WHERE id = ?",
        admissions.length,
        admissions.length,
        done ? 1 : 0,
        done ? 0 : lease.open,
        leaseId,
      );
      sql.exec(
        `UPDATE counter SET admitted = admitted + ?, ${pool} = ${pool} - ? WHERE id = 1`,
        added,
        released,
      );
      return { admitted: added, duplicates: admissions.length - added, count: this.#counter().admitted };
    });
    // An ended lease no longer needs the alarm (or moves it to the next open one).
    if (done) await this.#rearm();
    return result;
  }

  #counter(): { admitted: number; reserved: number; stranded: number } {
    return this.ctx.storage.sql
      .exec<{ admitted: number; reserved: number; stranded: number }>(
        "SELECT admitted, reserved, stranded FROM counter WHERE id = 1",
      )
      .one();
  }

  #isAdmitted(userKey: string): boolean {
    return (
      this.ctx.storage.sql.exec("SELECT 1 FROM admitted WHERE user_key = ?", userKey).toArray().length > 0
    );
  }

  /** One user's row and tallies (the caller bumps `counter.admitted`). */
  #record(userKey: string, meta: AdmitMeta, at: number): void {
    const sql = this.ctx.storage.sql;
    sql.exec(
      "INSERT INTO admitted (user_key, admitted_at, host_app_id, platform) VALUES (?, ?, ?, ?)",
      userKey,
      at,
      meta.hostAppId,
      meta.platform,
    );
    sql.exec(
      "INSERT INTO by_host_app VALUES (?, 1) ON CONFLICT (host_app_id) DO UPDATE SET admitted = admitted + 1",
      meta.hostAppId,
    );
    sql.exec(
      "INSERT INTO by_platform VALUES (?, 1) ON CONFLICT (platform) DO UPDATE SET admitted = admitted + 1",
      meta.platform,
    );
    sql.exec(
      "INSERT INTO by_hour VALUES (?, 1) ON CONFLICT (hour) DO UPDATE SET admitted = admitted + 1",
      Math.floor(at / HOUR_MS) * HOUR_MS,
    );
  }

  /** Whether `userKey` was ever admitted (sticky-only tasks: a client that lost its ticket). */
  async isAdmitted(userKey: string): Promise<boolean> {
    checkUserKey(userKey);
    return this.#isAdmitted(userKey);
  }

  /**
   * Admitted users against the cap, by host app, platform and hour of admission (read by the
   * control plane's task progress and cap check; not on the client hot path). Reads only the
   * tallies, so it costs the same for ten users or ten million.
   */
  async progress(): Promise<CounterProgress> {
    const sql = this.ctx.storage.sql;
    const { admitted, reserved, stranded } = this.#counter();
    const byHostApp: Record<string, number> = {};
    for (const row of sql.exec<{ key: string; admitted: number }>(
      "SELECT host_app_id AS key, admitted FROM by_host_app",
    ))
      byHostApp[row.key] = row.admitted;
    const byPlatform: Record<string, number> = {};
    for (const row of sql.exec<{ key: string; admitted: number }>(
      "SELECT platform AS key, admitted FROM by_platform",
    ))
      byPlatform[row.key] = row.admitted;
    const byHour = sql
      .exec<{ hour: number; admitted: number }>("SELECT hour, admitted FROM by_hour ORDER BY hour")
      .toArray()
      .map((row) => ({ hour: row.hour, admitted: row.admitted }));
    return { admitted, reserved, stranded, byHostApp, byPlatform, byHour };
  }

  /**
   * Health guardrails (PRODUCT.md G7): records what the log consumer read of one or more log
   * batches and answers the figures of a guardrail that trips, if any (./health-ledger.ts). One
   * transaction, so concurrent consumers count exactly; idempotent for a redelivered batch.
   */
  async recordHealth(report: HealthReport): Promise<TripFigures | null> {
    return this.ctx.storage.transactionSync(() =>
      new HealthLedger(this.ctx.storage.sql).record(report, Date.now()),
    );
  }

  /** Health tallies per 10-minute bucket and version role from `from` (ms epoch), oldest first. */
  async healthBuckets(from: number): Promise<HealthBucket[]> {
    if (!Number.isSafeInteger(from)) throw new RangeError("from must be a ms epoch");
    return new HealthLedger(this.ctx.storage.sql).buckets(from);
  }
}
