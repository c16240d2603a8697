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
 *   shard_config(id = 1, task_id, shards)                     coordinator of a sharded task:
 *   shard_grants(shard INTEGER PK, granted, returned, asks)    its shard count and the slots
 *                                                             granted to / given back by each
 *                                                             shard (totals; counter.leased is
 *                                                             the sum of granted - returned),
 *                                                             and the asks answered
 *   shard_self(id = 1, task_id, shard, shards,                a shard: who it is, the slots its
 *              granted, returned, cap)                        coordinator granted it and it gave
 *                                                             back (totals), the task cap it
 *                                                             last admitted under
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
 *
 * Cap shards (docs/scale.md 5b): a task compiled with `capShards` K > 1 admits through K objects
 * of this class named `${taskId}#${i}` (core `capShardName`; a user's shard is core `capShardOf`),
 * and the object named by the task id becomes their coordinator. A shard's own cap is the slots
 * the coordinator granted it minus those it gave back; it admits (and leases to edge isolates)
 * only from them, exactly as an unsharded counter does under the task's cap. The coordinator
 * keeps `admitted + reserved + stranded + leased <= cap` (leased = slots held by shards) and
 * grants a shard min(MAX_SHARD_GRANT, ceil(remaining / 2K)) in one transaction; each shard keeps
 * `admitted + reserved + stranded <= granted - returned` in its own. So the sum over the shards
 * never passes the cap, whatever the concurrency. Grants and returns travel as totals, so a lost
 * answer is repaired by the next exchange (a shard that never heard of a grant asks with its
 * lower total and is answered the same total again) and is never counted twice.
 */
import { DurableObject } from "cloudflare:workers";
import type { Platform } from "../core/decide";
import type { TripFigures } from "../core/grayscale/health";
import { HEALTH_MIGRATION, type HealthBucket, HealthLedger, type HealthReport } from "./health-ledger";

export interface AdmitResult {
  admitted: boolean;
  /** users admitted so far (by this shard, for a sharded task), this one included when admitted */
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

/** Which shard of which task an admission goes to (core `capShardOf`); absent for an unsharded task. */
export interface ShardRef {
  taskId: string;
  /** 0..shards-1 */
  shard: number;
  /** 2..MAX_CAP_SHARDS */
  shards: number;
}

/** A shard's slots as its coordinator counts them: totals granted to it and given back by it. */
export type ShardSlots = {
  granted: number;
  returned: number;
};

/** Largest grant of slots from a coordinator to a shard (the design's L, docs/scale.md 5b). */
export const MAX_SHARD_GRANT = 1_024;
/** A shard asks for its next grant, off the request path, once it has this many free slots or fewer (L/4). */
export const SHARD_LOW_WATERMARK = MAX_SHARD_GRANT / 4;
/** Bound on a shard's call to its coordinator: within the edge's 1 s bound on the call to the shard. */
export const COORDINATOR_TIMEOUT_MS = 600;
/**
 * A coordinator that answered "nothing left" is not asked again under the same cap for this long:
 * its slots only come back when a cap is lowered (another cap) or a task stops admitting.
 */
const DRY_BACKOFF_MS = 1_000;
const MAX_SHARDS = 64;
/** Grants a dry shard's admission waits for at most before it is refused (each ask may serve others waiting). */
const MAX_DRY_ROUNDS = 8;

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
  /** a coordinator's slots held by its shards (granted, not given back); 0 for an unsharded task */
  leased?: number;
  /** a shard's slots held free (granted, not admitted, leased to edge isolates or stranded) */
  free?: number;
  /** a coordinator's grant asks answered so far (its calls from shards) */
  asks?: number;
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
  // Cap shards (docs/scale.md 5b): the coordinator's grants, a shard's own slots.
  `ALTER TABLE counter ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE shard_config (id INTEGER PRIMARY KEY CHECK (id = 1), task_id TEXT NOT NULL, shards INTEGER NOT NULL);
   CREATE TABLE shard_grants (shard INTEGER PRIMARY KEY, granted INTEGER NOT NULL, returned INTEGER NOT NULL, asks INTEGER NOT NULL);
   CREATE TABLE shard_self (id INTEGER PRIMARY KEY CHECK (id = 1), task_id TEXT NOT NULL, shard INTEGER NOT NULL, shards INTEGER NOT NULL, granted INTEGER NOT NULL, returned INTEGER NOT NULL, cap INTEGER NOT NULL);`,
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

function checkShardRef(ref: ShardRef): void {
  if (typeof ref?.taskId !== "string" || ref.taskId.length === 0 || ref.taskId.length > 64)
    throw new RangeError("shard.taskId must be a task id");
  if (!Number.isSafeInteger(ref.shards) || ref.shards < 2 || ref.shards > MAX_SHARDS)
    throw new RangeError(`shard.shards must be 2..${MAX_SHARDS}`);
  if (!Number.isSafeInteger(ref.shard) || ref.shard < 0 || ref.shard >= ref.shards)
    throw new RangeError("shard.shard must be 0..shards-1");
}

const FAILED = Symbol("failed");

export class GrayscaleCounter extends DurableObject<EdgeEnv> {
  /** the grant this shard is waiting for (one at a time: a burst of dry admissions shares it) */
  #refilling: { cap: number; done: Promise<boolean> } | undefined;
  /** no background refill before then under this cap: the coordinator had nothing left */
  #dry: { cap: number; until: number } | undefined;

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
   *    leases reserve (and, on a coordinator, the slots its shards hold).
   * Runs synchronously in one transaction, so concurrent calls cannot both take the last slot.
   *
   * With `shard` (a task split into cap shards) this object is that shard: the cap it admits under
   * is the slots its coordinator granted it. Short of a free slot it waits for a grant (`#refill`,
   * one call to the coordinator shared by every admission waiting here), and it asks for the next
   * grant in the background once it is down to SHARD_LOW_WATERMARK free slots. A coordinator that
   * fails or times out grants nothing: the user is refused, as a failed counter call is.
   */
  async admit(userKey: string, cap: number, meta: AdmitMeta, shard?: ShardRef): Promise<AdmitResult> {
    checkUserKey(userKey);
    checkCap(cap);
    checkMeta(meta);
    if (shard === undefined) {
      const { admitted, count } = this.ctx.storage.transactionSync(() =>
        this.#admitUnder(userKey, cap, meta),
      );
      return { admitted, count };
    }
    checkShardRef(shard);
    let result = this.#admitShard(userKey, meta, cap, shard);
    // Dry: wait for grants while the coordinator still has slots (another admission waiting here
    // may take the one that came); a user gives up only when it has none left.
    for (let round = 0; result.free < 0 && round < MAX_DRY_ROUNDS; round++) {
      // The coordinator just had nothing left under this cap: refused without asking again, so a
      // full task's new users cost their shard one call, not the coordinator one more each.
      if (this.#coordinatorDry(cap)) break;
      const more = await this.#refill(cap, shard);
      result = this.#admitShard(userKey, meta, cap, shard);
      if (!more) break;
    }
    if (result.free >= 0 && result.free <= SHARD_LOW_WATERMARK) this.#refillSoon(cap, shard);
    return { admitted: result.admitted, count: result.count };
  }

  /** `admit`'s transaction under `cap`: slots held by leases (edge isolates', or shards') are not free. */
  #admitUnder(userKey: string, cap: number, meta: AdmitMeta): AdmitResult & { free: number } {
    const { admitted: count, reserved, stranded, leased } = this.#counter();
    const free = cap - count - reserved - stranded - leased;
    if (this.#isAdmitted(userKey)) return { admitted: true, count, free: Math.max(0, free) };
    if (free <= 0) return { admitted: false, count, free: -1 };
    this.#record(userKey, meta, Date.now());
    this.ctx.storage.sql.exec("UPDATE counter SET admitted = admitted + 1 WHERE id = 1");
    return { admitted: true, count: count + 1, free: free - 1 };
  }

  /** A shard's admission from its own slots; `free` -1 = none was free (the user was not admitted). */
  #admitShard(
    userKey: string,
    meta: AdmitMeta,
    cap: number,
    shard: ShardRef,
  ): AdmitResult & { free: number } {
    return this.ctx.storage.transactionSync(() =>
      this.#admitUnder(userKey, this.#shardCap(shard, cap), meta),
    );
  }

  /**
   * This shard's cap: slots granted minus slots given back. The first call records who the shard
   * is; a later one naming another task, index or shard count is refused (K is fixed once a task
   * admits, and a user's shard depends on it). `taskCap` is the task's cap the caller admits
   * under: when it is lower than the cap of this shard's grants (the cap was lowered), the shard
   * gives back its free slots first, so slots granted under the old cap are not admitted from
   * under the new one (the next grant is asked under the new cap). Call inside a transaction.
   */
  #shardCap(shard: ShardRef, taskCap: number): number {
    const sql = this.ctx.storage.sql;
    const self = sql
      .exec<{
        task_id: string;
        shard: number;
        shards: number;
        granted: number;
        returned: number;
        cap: number;
      }>("SELECT task_id, shard, shards, granted, returned, cap FROM shard_self WHERE id = 1")
      .toArray()[0];
    if (self === undefined) {
      sql.exec(
        "INSERT INTO shard_self (id, task_id, shard, shards, granted, returned, cap) VALUES (1, ?, ?, ?, 0, 0, ?)",
        shard.taskId,
        shard.shard,
        shard.shards,
        taskCap,
      );
      return 0;
    }
    if (self.task_id !== shard.taskId || self.shard !== shard.shard || self.shards !== shard.shards)
      throw new RangeError(`this counter is shard ${self.shard} of ${self.shards} of ${self.task_id}`);
    if (taskCap !== self.cap) {
      if (taskCap < self.cap) this.#giveBackFree();
      sql.exec("UPDATE shard_self SET cap = ? WHERE id = 1", taskCap);
    }
    const after = sql.exec<ShardSlots>("SELECT granted, returned FROM shard_self WHERE id = 1").one();
    return after.granted - after.returned;
  }

  /** Marks every free slot of this shard given back (its coordinator learns it with the next ask). Call inside a transaction. */
  #giveBackFree(): number {
    const slots = this.#shardSlots();
    const freed = Math.max(0, slots?.free ?? 0);
    if (freed > 0)
      this.ctx.storage.sql.exec("UPDATE shard_self SET returned = returned + ? WHERE id = 1", freed);
    return freed;
  }

  #shardSlots(): (ShardSlots & { free: number; cap: number }) | undefined {
    const row = this.ctx.storage.sql
      .exec<{ granted: number; returned: number; cap: number }>(
        "SELECT granted, returned, cap FROM shard_self WHERE id = 1",
      )
      .toArray()[0];
    if (row === undefined) return undefined;
    const { admitted, reserved, stranded } = this.#counter();
    return { ...row, free: row.granted - row.returned - admitted - reserved - stranded };
  }

  /** Asks for the next grant in the background, unless one is on its way or the coordinator just had none. */
  #refillSoon(cap: number, shard: ShardRef): void {
    if (this.#refilling !== undefined || this.#coordinatorDry(cap)) return;
    this.ctx.waitUntil(this.#refill(cap, shard));
  }

  /** Whether the coordinator answered "nothing left" under `cap` less than DRY_BACKOFF_MS ago. */
  #coordinatorDry(cap: number): boolean {
    const dry = this.#dry;
    return dry !== undefined && dry.cap === cap && Date.now() < dry.until;
  }

  /**
   * A grant from the coordinator under `cap`, asked once at a time: a caller finding one on its
   * way waits for it, and asks again when it was asked under another cap (at most twice).
   * Resolves whether the coordinator granted something or has slots left.
   */
  async #refill(cap: number, shard: ShardRef): Promise<boolean> {
    for (let round = 0; round < 3; round++) {
      const running = this.#refilling;
      if (running === undefined) {
        const started = this.#askCoordinator(cap, shard);
        this.#refilling = { cap, done: started };
        try {
          return await started;
        } finally {
          if (this.#refilling?.done === started) this.#refilling = undefined;
        }
      }
      const more = await running.done;
      if (running.cap === cap) return more;
    }
    return false;
  }

  /**
   * One ask (`grantShard`), its answer applied as a total: a grant whose answer was lost is
   * answered again to the next ask, never applied twice. A grant made under a cap higher than the
   * one this shard now admits under is given back at once. Never throws: a coordinator that
   * failed or timed out simply granted nothing (logged), and the admissions waiting on it are
   * refused, as they are when the edge's call to a counter fails.
   */
  async #askCoordinator(cap: number, shard: ShardRef): Promise<boolean> {
    try {
      const slots = this.#shardSlots() ?? { granted: 0, returned: 0 };
      const stub = this.env.GRAYSCALE_COUNTER.getByName(shard.taskId);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const answer = await Promise.race([
        stub.grantShard(cap, shard, slots.granted, slots.returned),
        new Promise<typeof FAILED>((resolve) => {
          timer = setTimeout(() => resolve(FAILED), COORDINATOR_TIMEOUT_MS);
        }),
      ]).finally(() => {
        if (timer !== undefined) clearTimeout(timer);
      });
      if (answer === FAILED) {
        console.error("grayscale coordinator timed out", { taskId: shard.taskId, shard: shard.shard });
        return false;
      }
      this.ctx.storage.transactionSync(() => {
        this.#shardCap(shard, this.#shardSlots()?.cap ?? cap);
        this.ctx.storage.sql.exec(
          "UPDATE shard_self SET granted = max(granted, ?) WHERE id = 1",
          answer.granted,
        );
        if (cap > (this.#shardSlots()?.cap ?? cap)) this.#giveBackFree();
      });
      this.#dry = answer.remaining > 0 ? undefined : { cap, until: Date.now() + DRY_BACKOFF_MS };
      return answer.granted > slots.granted || answer.remaining > 0;
    } catch (err) {
      console.error("grayscale coordinator failed", {
        taskId: shard.taskId,
        shard: shard.shard,
        error: String(err),
      });
      return false;
    }
  }

  /**
   * The coordinator's side of a shard's ask (docs/scale.md 5b). `received` and `returned` are the
   * totals the shard knows of. Ignores a `returned` above what was granted (a shard cannot give
   * back more); a `received` below the granted total means the last answer was lost: the same
   * total is answered, nothing more is granted. Otherwise grants min(MAX_SHARD_GRANT,
   * ceil(remaining / 2K)) of remaining = cap - admitted - reserved - stranded - leased, in one
   * transaction: shrinking grants keep the last slots from being stranded in idle shards.
   * The first ask fixes the task's shard count; an ask under another count is refused.
   */
  async grantShard(
    cap: number,
    shard: ShardRef,
    received: number,
    returned: number,
  ): Promise<{ granted: number; remaining: number }> {
    checkCap(cap);
    checkShardRef(shard);
    if (!Number.isSafeInteger(received) || received < 0 || !Number.isSafeInteger(returned) || returned < 0)
      throw new RangeError("received and returned must be non-negative integers");
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() => {
      this.#shardConfig(shard.taskId, shard.shards);
      const row = this.#applyReturned(shard.shard, returned);
      sql.exec("UPDATE shard_grants SET asks = asks + 1 WHERE shard = ?", shard.shard);
      if (received > row.granted) throw new RangeError("the shard holds more than was granted to it");
      const { admitted, reserved, stranded, leased } = this.#counter();
      const remaining = Math.max(0, cap - admitted - reserved - stranded - leased);
      if (received < row.granted) return { granted: row.granted, remaining };
      const grant =
        remaining === 0 ? 0 : Math.min(MAX_SHARD_GRANT, Math.ceil(remaining / (2 * shard.shards)));
      if (grant > 0) {
        sql.exec("UPDATE shard_grants SET granted = granted + ? WHERE shard = ?", grant, shard.shard);
        sql.exec("UPDATE counter SET leased = leased + ? WHERE id = 1", grant);
      }
      return { granted: row.granted + grant, remaining: remaining - grant };
    });
  }

  #coordinates(): boolean {
    return this.ctx.storage.sql.exec("SELECT 1 FROM shard_config WHERE id = 1").toArray().length > 0;
  }

  /** The coordinator's shard count, recorded by the first ask; another count is refused. Call inside a transaction. */
  #shardConfig(taskId: string, shards: number): void {
    const sql = this.ctx.storage.sql;
    const config = sql
      .exec<{ task_id: string; shards: number }>("SELECT task_id, shards FROM shard_config WHERE id = 1")
      .toArray()[0];
    if (config === undefined)
      sql.exec("INSERT INTO shard_config (id, task_id, shards) VALUES (1, ?, ?)", taskId, shards);
    else if (config.task_id !== taskId || config.shards !== shards)
      throw new RangeError(`this counter coordinates ${config.shards} shards of ${config.task_id}`);
  }

  /** Applies a shard's total of returned slots (never above its grants, never backwards). Call inside a transaction. */
  #applyReturned(shard: number, returned: number): ShardSlots {
    const sql = this.ctx.storage.sql;
    sql.exec(
      "INSERT INTO shard_grants (shard, granted, returned, asks) VALUES (?, 0, 0, 0) ON CONFLICT DO NOTHING",
      shard,
    );
    const row = sql
      .exec<ShardSlots>("SELECT granted, returned FROM shard_grants WHERE shard = ?", shard)
      .one();
    const next = Math.max(row.returned, Math.min(returned, row.granted));
    if (next > row.returned) {
      sql.exec("UPDATE shard_grants SET returned = ? WHERE shard = ?", next, shard);
      sql.exec("UPDATE counter SET leased = leased - ? WHERE id = 1", next - row.returned);
    }
    return { granted: row.granted, returned: next };
  }

  /**
   * A shard gives back every slot it holds free (not admitted, not in an edge lease, not
   * stranded), in one transaction, and answers its totals. Called by its coordinator's `reclaim`
   * (a lowered cap, a suspended task).
   */
  async returnSlots(): Promise<ShardSlots & { freed: number }> {
    // A grant on its way lands first, so its slots come back too.
    await this.#refilling?.done;
    return this.ctx.storage.transactionSync(() => {
      const freed = this.#giveBackFree();
      const slots = this.#shardSlots();
      return { granted: slots?.granted ?? 0, returned: slots?.returned ?? 0, freed };
    });
  }

  /**
   * Takes back the free slots of every shard of this coordinator's task (each shard's
   * `returnSlots`, all at once), so a lowered cap is checked against the slots really used.
   * Slots of a grant still on its way to a shard stay counted as leased (taking them back could
   * let that shard admit from slots the coordinator reuses). `failed`: shards that did not answer,
   * whose slots stay leased. An unsharded task has nothing to take back.
   */
  async reclaim(): Promise<{ returned: number; failed: number }> {
    const config = this.ctx.storage.sql
      .exec<{ task_id: string; shards: number }>("SELECT task_id, shards FROM shard_config WHERE id = 1")
      .toArray()[0];
    if (config === undefined) return { returned: 0, failed: 0 };
    const answers = await Promise.all(
      Array.from({ length: config.shards }, async (_, i) => {
        try {
          const stub = this.env.GRAYSCALE_COUNTER.getByName(`${config.task_id}#${i}`);
          const answer = await Promise.race([
            stub.returnSlots(),
            new Promise<typeof FAILED>((resolve) =>
              setTimeout(() => resolve(FAILED), 2 * COORDINATOR_TIMEOUT_MS),
            ),
          ]);
          return answer === FAILED ? undefined : { shard: i, returned: answer.returned };
        } catch (err) {
          console.error("grayscale shard return failed", {
            taskId: config.task_id,
            shard: i,
            error: String(err),
          });
          return undefined;
        }
      }),
    );
    let returned = 0;
    this.ctx.storage.transactionSync(() => {
      for (const answer of answers) {
        if (answer === undefined) continue;
        const before = this.ctx.storage.sql
          .exec<{ returned: number }>("SELECT returned FROM shard_grants WHERE shard = ?", answer.shard)
          .toArray()[0];
        const after = this.#applyReturned(answer.shard, answer.returned);
        returned += after.returned - (before?.returned ?? 0);
      }
    });
    return { returned, failed: answers.filter((a) => a === undefined).length };
  }

  /**
   * Reserves up to `want` slots under `cap` for one edge isolate, for LEASE_TTL_MS. Grants at
   * most a quarter of the free slots (so one isolate cannot strand the end of a cap) and nothing
   * when that is under one slot: near the cap every admission is judged here, one by one.
   * Returns null when nothing is granted. With `shard`, the free slots are this shard's (see
   * `admit`), and the shard asks its coordinator for more once they run low.
   */
  async lease(
    cap: number,
    want: number,
    ttlMs: number = LEASE_TTL_MS,
    id?: string,
    shard?: ShardRef,
  ): Promise<Lease | null> {
    checkCap(cap);
    if (shard !== undefined) checkShardRef(shard);
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
      const { admitted, reserved, stranded, leased } = this.#counter();
      const free =
        (shard === undefined ? cap : this.#shardCap(shard, cap)) - admitted - reserved - stranded - leased;
      const granted = Math.min(want, Math.floor(free / LEASE_SHARE));
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
    if (shard !== undefined && (this.#shardSlots()?.free ?? 0) <= SHARD_LOW_WATERMARK)
      this.#refillSoon(cap, shard);
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

  #counter(): { admitted: number; reserved: number; stranded: number; leased: number } {
    return this.ctx.storage.sql
      .exec<{ admitted: number; reserved: number; stranded: number; leased: number }>(
        "SELECT admitted, reserved, stranded, leased FROM counter WHERE id = 1",
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
    const { admitted, reserved, stranded, leased } = this.#counter();
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
    const shard = this.#shardSlots();
    return {
      admitted,
      reserved,
      stranded,
      // Only a sharded task's objects say how many slots they hold for shards or hold free.
      ...(leased > 0 || this.#coordinates()
        ? {
            leased,
            asks: sql.exec<{ n: number | null }>("SELECT sum(asks) AS n FROM shard_grants").one().n ?? 0,
          }
        : {}),
      ...(shard === undefined ? {} : { free: Math.max(0, shard.free) }),
      byHostApp,
      byPlatform,
      byHour,
    };
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
