/**
 * Admission leases, the edge side (docs/scale.md "Admission leases"; the object's side and the
 * invariant are in durable-objects/grayscale-counter.ts). A first admission to a capped task is
 * otherwise one GrayscaleCounter call per new user, on the request path. An isolate that admits
 * many users to one task takes a block of slots instead, admits from it in memory, and reports
 * the users to the object in batches, off the request path (`waitUntil`):
 *
 * - demand: a lease is asked for after DEMAND direct admissions to the task within one second in
 *   this isolate, so quiet tasks and quiet isolates never hold slots; the next one is taken when
 *   the current one is half used, and leases grow while they run out early;
 * - use: a lease serves only the cap it was granted under (a changed cap retires it), and only
 *   until LEASE_MARGIN_MS before its end; a user already admitted from it takes no second slot;
 * - report: admissions are settled FLUSH_DELAY_MS after the first one of a batch; a lease that
 *   ran out or ended is settled with `done`, which frees what it did not use. A batch, once
 *   numbered, is resent unchanged until the object has it (the object ignores a batch it already
 *   applied), so a lost answer can neither drop a user nor count one twice;
 * - failure: every call is bounded in time. A report that keeps failing is tried again by the
 *   next check that reaches the task in this isolate; a lease whose answer was lost is ended
 *   under the id the isolate chose. Until then its slots stay reserved in the object, and a
 *   lease nobody ends is closed by the object's alarm with its slots counted as used, so the
 *   cap is never exceeded (at worst it is under-filled by them).
 *
 * A task split into cap shards (docs/scale.md 5b) is leased from shard by shard: a user's shard
 * (core `capShardOf`) is the object its lease comes from and its admission is reported to, and
 * `taskId` below is then the shard's object name (`${taskId}#${i}`), `shard` naming it to the object.
 *
 * All I/O runs in the context of a request that needed it: the stub is taken from that
 * request's binding, and the work is handed to that request's `waitUntil`. All time (the
 * request's `now`, the report delay, lease ends, back-off) comes from the request's clock:
 * the wall clock in production, a clock the test moves in the tests.
 */
import type {
  AdmitMeta,
  Lease,
  LeasedAdmission,
  SettleResult,
  ShardRef,
} from "../../durable-objects/grayscale-counter";
import { LEASE_MARGIN_MS, MAX_LEASE, MAX_SETTLE_BATCH } from "../../durable-objects/grayscale-counter";
import { TIMED_OUT, withTimeout } from "./timeout";

/** The part of a GrayscaleCounter stub leases use. */
export interface LeaseStub {
  lease(cap: number, want: number, ttlMs?: number, id?: string, shard?: ShardRef): Promise<Lease | null>;
  settle(leaseId: string, batch: number, admissions: LeasedAdmission[], done: boolean): Promise<SettleResult>;
}

/** The time leases run on: `now` as Date.now() does, `sleep` resolves once `ms` of it passed. */
export interface LeaseClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The wall clock: production's (one shared object, nothing allocated per check). */
export const wallClock: LeaseClock = {
  now: Date.now,
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

/** What the current request lends the leases: its counter binding, its `waitUntil` and its clock. */
export interface LeaseIo {
  /** slots to ask for (ADMISSION_LEASE_SIZE); 0 turns leases off */
  size: number;
  /** lease length asked for (ADMISSION_LEASE_TTL_MS) */
  ttlMs: number;
  stub(taskId: string): LeaseStub;
  waitUntil(work: Promise<unknown>): void;
  /** the clock the request's `now` was read from */
  clock: LeaseClock;
}

/** Direct admissions to one task within one second that make this isolate ask for a lease. */
export const DEMAND = 4;
/**
 * How long the first admission of a batch waits for others before the batch is reported: at most
 * four reports a second per lease, however busy the isolate (bench/shard-sim.mjs part 4: against
 * 20 ms, 3-8x fewer calls into the object at 10-1,000 admissions a second per isolate). The users
 * have their answer and ticket already; only the object's count lags by this much.
 */
export const FLUSH_DELAY_MS = 250;
/** Bound on one `lease` or `settle` call. */
export const CALL_TIMEOUT_MS = 2_000;
const ATTEMPTS = 3;
/** A loop or an acquisition older than this was cut off with its request: another may start. */
const STUCK_MS = 3 * ATTEMPTS * CALL_TIMEOUT_MS;

interface Batch {
  number: number;
  admissions: LeasedAdmission[];
  done: boolean;
}

interface Held {
  taskId: string;
  id: string;
  cap: number;
  granted: number;
  left: number;
  /** the holder admits from it until then */
  usableUntil: number;
  /** users admitted from it here: a second check of the same user takes no slot */
  users: Set<string>;
  /** admitted, not yet in a batch */
  pending: LeasedAdmission[];
  /** the batch being reported: resent unchanged until the object has it */
  inflight: Batch | undefined;
  /** number of the next batch */
  nextBatch: number;
  /** no more admissions; the last batch carries `done` */
  retired: boolean;
  /** the object knows the lease is done (or refused it for good): nothing more to report */
  closed: boolean;
  /** a lease asked for whose answer never came: only its end is reported, in case it exists */
  ghost: boolean;
  /** no report before then (after failures); consecutive failed reports */
  retryAt: number;
  failures: number;
  /** when the reporting loop started (0: none runs) */
  flushingSince: number;
}

interface TaskLeases {
  /** the shard these leases come from (absent: the task's one counter) */
  shard: ShardRef | undefined;
  /** the lease admissions are taken from */
  current: Held | undefined;
  /** taken ahead, when the current one is half used, so a busy isolate never waits for one */
  next: Held | undefined;
  /** every lease not yet closed, reported or not: a later check retries what failed */
  open: Set<Held>;
  /** when an acquisition started (0: none runs) */
  acquiringSince: number;
  /** no acquisition before then (after failures); consecutive failed acquisitions */
  acquireAfter: number;
  failures: number;
  /** slots to ask for next: doubles while leases run out early, back to `size` when one ends half unused */
  want: number;
  demandSecond: number;
  demand: number;
}

/** By counter object name: the task id, or `${taskId}#${i}` for a shard. */
const byTask = new Map<string, TaskLeases>();
/** A sharded task's leases of every shard, by task id (`retryLeaseReports`). */
const byShardedTask = new Map<string, TaskLeases[]>();

function stateOf(taskId: string, io: LeaseIo, shard?: ShardRef): TaskLeases {
  let state = byTask.get(taskId);
  if (state === undefined) {
    state = {
      shard,
      current: undefined,
      next: undefined,
      open: new Set(),
      acquiringSince: 0,
      acquireAfter: 0,
      failures: 0,
      want: io.size,
      demandSecond: 0,
      demand: 0,
    };
    byTask.set(taskId, state);
    if (shard !== undefined) {
      const shards = byShardedTask.get(shard.taskId);
      if (shards === undefined) byShardedTask.set(shard.taskId, [state]);
      else shards.push(state);
    }
  }
  return state;
}

const usable = (held: Held, cap: number, now: number) =>
  held.cap === cap && held.left > 0 && now < held.usableUntil;
const running = (since: number, now: number) => since !== 0 && now - since < STUCK_MS;

/**
 * Admits `userKey` to `taskId` from this isolate's lease when it holds a usable one for `cap`:
 * true = admitted (the caller issues the ticket), false = ask the counter directly.
 */
export function admitFromLease(
  taskId: string,
  cap: number,
  userKey: string,
  meta: AdmitMeta,
  now: number,
  io: LeaseIo,
): boolean {
  const state = byTask.get(taskId);
  if (state === undefined) return false;
  retryReports(state, now, io);
  let held = state.current;
  if (held !== undefined && !usable(held, cap, now)) {
    retire(state, held, now, io);
    held = undefined;
  }
  if (held === undefined && state.next !== undefined) {
    held = state.next;
    state.next = undefined;
    state.current = held;
    if (!usable(held, cap, now)) {
      retire(state, held, now, io);
      return false;
    }
  }
  if (held === undefined) return false;
  if (held.users.has(userKey)) return true;
  held.left--;
  held.users.add(userKey);
  held.pending.push({ userKey, hostAppId: meta.hostAppId, platform: meta.platform, at: now });
  if (held.left === 0) {
    // Used up while still young: the next lease asks for twice as many slots.
    if (now < held.usableUntil - io.ttlMs / 2) state.want = Math.min(state.want * 2, MAX_LEASE);
    retire(state, held, now, io);
  } else flushSoon(state, held, now, io);
  if (held.left <= held.granted / 2 && state.next === undefined && !running(state.acquiringSince, now))
    startAcquire(state, taskId, cap, now, io);
  return true;
}

/**
 * Records one direct admission to `taskId`; past DEMAND in the current second, asks the task's
 * counter for a lease (in the background: this request already has its answer).
 */
export function noteDirectAdmission(
  taskId: string,
  cap: number,
  now: number,
  io: LeaseIo,
  shard?: ShardRef,
): void {
  const state = stateOf(taskId, io, shard);
  retryReports(state, now, io);
  const second = Math.floor(now / 1000);
  if (state.demandSecond !== second) {
    state.demandSecond = second;
    state.demand = 0;
  }
  if (
    ++state.demand < DEMAND ||
    running(state.acquiringSince, now) ||
    state.current !== undefined ||
    state.next !== undefined
  )
    return;
  startAcquire(state, taskId, cap, now, io);
}

function startAcquire(state: TaskLeases, taskId: string, cap: number, now: number, io: LeaseIo): void {
  // Not after recent failures, nor while a lease whose grant was lost is not known to be ended.
  if (now < state.acquireAfter) return;
  for (const held of state.open) if (held.ghost) return;
  state.acquiringSince = now;
  io.waitUntil(acquire(state, taskId, cap, io));
}

/** 1 s, 2 s, 4 s... up to 30 s after the n-th consecutive failure. */
const backoffMs = (failures: number) => Math.min(30_000, 1_000 * 2 ** Math.min(failures - 1, 5));

async function acquire(state: TaskLeases, taskId: string, cap: number, io: LeaseIo): Promise<void> {
  // The id is ours, so a call whose answer was lost is asked again and finds the same lease.
  const id = crypto.randomUUID();
  const want = Math.min(Math.max(state.want, io.size), MAX_LEASE);
  let lease: Lease | null | typeof FAILED;
  try {
    lease = await call(
      taskId,
      "lease",
      (stub) =>
        state.shard === undefined
          ? stub.lease(cap, want, io.ttlMs, id)
          : stub.lease(cap, want, io.ttlMs, id, state.shard),
      io,
    );
  } catch (err) {
    // Refused (the arguments are wrong for the object): no lease was made.
    console.error("admission lease refused", { taskId, error: String(err) });
    lease = null;
  } finally {
    state.acquiringSince = 0;
  }
  if (lease === FAILED) {
    // The object is slow or away: the next acquisition waits longer each time.
    state.failures++;
    state.acquireAfter = io.clock.now() + backoffMs(state.failures);
  } else state.failures = 0;
  if (lease === null) return;
  if (lease === FAILED) {
    // The object may have granted it and the answer was lost: report its end under the id we
    // chose, so the slots come back (for a lease never made, the object remembers the id as
    // ended, so a grant still on its way is refused).
    const ghost = newHeld(taskId, id, cap, 0, 0, io);
    ghost.ghost = true;
    ghost.retired = true;
    state.open.add(ghost);
    flushSoon(state, ghost, io.clock.now(), io);
    return;
  }
  const held = newHeld(taskId, lease.id, cap, lease.granted, lease.expiresAt, io);
  state.open.add(held);
  if (state.current === undefined) state.current = held;
  else state.next = held;
  // The lease ends even if no check comes to end it: this request stays open until then.
  await io.clock.sleep(Math.max(0, held.usableUntil - io.clock.now()));
  if (held.left > held.granted / 2) state.want = io.size;
  retire(state, held, io.clock.now(), io);
}

function newHeld(
  taskId: string,
  id: string,
  cap: number,
  granted: number,
  expiresAt: number,
  io: LeaseIo,
): Held {
  return {
    taskId,
    id,
    cap,
    granted,
    left: granted,
    usableUntil: expiresAt - Math.min(LEASE_MARGIN_MS, io.ttlMs / 4),
    users: new Set(),
    pending: [],
    inflight: undefined,
    nextBatch: 0,
    retired: false,
    closed: false,
    ghost: false,
    retryAt: 0,
    failures: 0,
    flushingSince: 0,
  };
}

/** No more admissions from `held`; report what is pending and give back the rest. */
function retire(state: TaskLeases, held: Held, now: number, io: LeaseIo): void {
  if (state.current === held) state.current = undefined;
  if (state.next === held) state.next = undefined;
  if (held.retired) return;
  held.retired = true;
  flushSoon(state, held, now, io);
}

/**
 * Any check that reaches `taskId` (admitting or not) restarts the reporting of its leases whose
 * last attempt failed: a task that stopped admitting still gets its last reports through.
 */
export function retryLeaseReports(taskId: string, now: number, io: LeaseIo): void {
  const state = byTask.get(taskId);
  if (state !== undefined && state.open.size > 0) retryReports(state, now, io);
  const shards = byShardedTask.get(taskId);
  if (shards !== undefined) for (const shard of shards) if (shard.open.size > 0) retryReports(shard, now, io);
}

/** Restarts the reporting of leases whose last attempt failed (or whose loop was cut off). */
function retryReports(state: TaskLeases, now: number, io: LeaseIo): void {
  for (const held of state.open)
    if (held.inflight !== undefined || held.pending.length > 0 || held.retired)
      flushSoon(state, held, now, io);
}

/** Starts the reporting loop of `held` in this request's `waitUntil`, unless one runs already or it is backing off. */
function flushSoon(state: TaskLeases, held: Held, now: number, io: LeaseIo): void {
  if (held.closed || running(held.flushingSince, now) || now < held.retryAt) return;
  held.flushingSince = now;
  io.waitUntil(flush(state, held, io));
}

/**
 * Reports `held`'s admissions batch by batch, the last one with `done` once it is retired and
 * nothing is left; admissions that arrive meanwhile join the next batch. A batch is taken out
 * of `pending` when it is numbered and stays in `inflight` until the object has it.
 */
async function flush(state: TaskLeases, held: Held, io: LeaseIo): Promise<void> {
  try {
    await io.clock.sleep(FLUSH_DELAY_MS);
    for (;;) {
      if (held.inflight === undefined) {
        const admissions = held.pending.splice(0, MAX_SETTLE_BATCH);
        const done = held.retired && held.pending.length === 0;
        if (admissions.length === 0 && !done) return;
        held.inflight = { number: held.nextBatch++, admissions, done };
      }
      const batch = held.inflight;
      const result = await call(
        held.taskId,
        "settle",
        (stub) => stub.settle(held.id, batch.number, batch.admissions, batch.done),
        io,
      );
      if (result === FAILED) {
        held.failures++;
        held.retryAt = io.clock.now() + backoffMs(held.failures);
        return;
      }
      held.failures = 0;
      // Only this batch: a second loop (started when this one looked cut off) may own the next.
      if (held.inflight === batch) held.inflight = undefined;
      if (batch.done) {
        close(state, held);
        return;
      }
    }
  } catch (err) {
    // The object refused the batch for good (a bug, not an outage; for a ghost, the lease was
    // never made): stop reporting this lease. Its unreported slots stay counted, so the cap holds.
    if (!held.ghost)
      console.error("admission lease refused", { taskId: held.taskId, leaseId: held.id, error: String(err) });
    close(state, held);
  } finally {
    held.flushingSince = 0;
  }
}

function close(state: TaskLeases, held: Held): void {
  held.closed = true;
  state.open.delete(held);
  if (state.current === held) state.current = undefined;
  if (state.next === held) state.next = undefined;
}

const FAILED = Symbol("failed");

/**
 * One counter call, bounded in time and tried ATTEMPTS times with a fresh stub each time; FAILED
 * when it never answered. A refusal by the object (RangeError: the arguments are wrong for its
 * state) is thrown to the caller: trying it again cannot help.
 */
async function call<T>(
  taskId: string,
  method: string,
  run: (stub: LeaseStub) => Promise<T>,
  io: LeaseIo,
): Promise<T | typeof FAILED> {
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await withTimeout(run(io.stub(taskId)), CALL_TIMEOUT_MS);
      if (result !== TIMED_OUT) return result;
      if (attempt >= ATTEMPTS) {
        console.error("admission lease call timed out", { taskId, method });
        return FAILED;
      }
    } catch (err) {
      if (err instanceof Error && err.name === "RangeError") throw err;
      if (attempt >= ATTEMPTS) {
        console.error("admission lease call failed", { taskId, method, error: String(err) });
        return FAILED;
      }
    }
    await io.clock.sleep(50 * attempt);
  }
}

/** Whether this isolate holds a lease to admit from for `taskId` (tests). */
export function holdsLeaseForTests(taskId: string): boolean {
  const state = byTask.get(taskId);
  return state?.current !== undefined || state?.next !== undefined;
}

/** Forgets every lease of this isolate (tests). Pending reports are not sent. */
export function resetLeasesForTests(): void {
  byTask.clear();
  byShardedTask.clear();
}
