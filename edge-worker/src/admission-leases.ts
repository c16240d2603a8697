/**
 * Admission leases, the edge side (docs/scale.md "Removing it"; the object's side and the
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
 *   ran out or ended is settled with `done`, which frees what it did not use;
 * - failure: a failed report is retried; what cannot be reported stays reserved in the object,
 *   so the cap is never exceeded (it may be under-filled by those slots).
 *
 * All I/O runs in the context of a request that needed it: the stub is taken from that
 * request's binding, and the work is handed to that request's `waitUntil`.
 */
import type { AdmitMeta, Lease, LeasedAdmission, SettleResult } from "../../durable-objects/grayscale-counter";
import { LEASE_MARGIN_MS, MAX_LEASE, MAX_SETTLE_BATCH } from "../../durable-objects/grayscale-counter";

/** The part of a GrayscaleCounter stub leases use. */
export interface LeaseStub {
  lease(cap: number, want: number, ttlMs?: number): Promise<Lease | null>;
  settle(leaseId: string, batch: number, admissions: LeasedAdmission[], done: boolean): Promise<SettleResult>;
}

/** What the current request lends the leases: its counter binding and its `waitUntil`. */
export interface LeaseIo {
  /** slots to ask for (ADMISSION_LEASE_SIZE); 0 turns leases off */
  size: number;
  /** lease length asked for (ADMISSION_LEASE_TTL_MS) */
  ttlMs: number;
  stub(taskId: string): LeaseStub;
  waitUntil(work: Promise<unknown>): void;
}

/** Direct admissions to one task within one second that make this isolate ask for a lease. */
export const DEMAND = 4;
/** How long the first admission of a batch waits for others before the batch is reported. */
export const FLUSH_DELAY_MS = 20;
const SETTLE_ATTEMPTS = 3;

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
  pending: LeasedAdmission[];
  /** number of the next batch reported (the object ignores one it already applied) */
  batch: number;
  /** no more admissions; settle what is pending with `done` */
  retired: boolean;
  /** the object knows the lease is done */
  closed: boolean;
  flushing: boolean;
}

interface TaskLeases {
  /** the lease admissions are taken from */
  current: Held | undefined;
  /** taken ahead, when the current one is half used, so a busy isolate never waits for one */
  next: Held | undefined;
  acquiring: boolean;
  /** slots to ask for next: doubles while leases run out early, back to `size` when one ends half unused */
  want: number;
  demandSecond: number;
  demand: number;
}

const byTask = new Map<string, TaskLeases>();

function stateOf(taskId: string, io: LeaseIo): TaskLeases {
  let state = byTask.get(taskId);
  if (state === undefined) {
    state = { current: undefined, next: undefined, acquiring: false, want: io.size, demandSecond: 0, demand: 0 };
    byTask.set(taskId, state);
  }
  return state;
}

const usable = (held: Held, cap: number, now: number) => held.cap === cap && held.left > 0 && now < held.usableUntil;

/**
 * Admits `userKey` to `taskId` from this isolate's lease when it holds a usable one for `cap`:
 * true = admitted (the caller issues the ticket), false = ask the counter directly.
 */
export function admitFromLease(taskId: string, cap: number, userKey: string, meta: AdmitMeta, now: number, io: LeaseIo): boolean {
  const state = byTask.get(taskId);
  if (state === undefined) return false;
  let held = state.current;
  if (held !== undefined && !usable(held, cap, now)) {
    retire(state, held, io);
    held = undefined;
  }
  if (held === undefined && state.next !== undefined) {
    held = state.next;
    state.next = undefined;
    state.current = held;
    if (!usable(held, cap, now)) {
      retire(state, held, io);
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
    retire(state, held, io);
  } else flushSoon(held, io);
  if (held.left <= held.granted / 2 && state.next === undefined && !state.acquiring) {
    state.acquiring = true;
    io.waitUntil(acquire(state, taskId, cap, io));
  }
  return true;
}

/**
 * Records one direct admission to `taskId`; past DEMAND in the current second, asks the task's
 * counter for a lease (in the background: this request already has its answer).
 */
export function noteDirectAdmission(taskId: string, cap: number, now: number, io: LeaseIo): void {
  if (io.size <= 0) return;
  const state = stateOf(taskId, io);
  const second = Math.floor(now / 1000);
  if (state.demandSecond !== second) {
    state.demandSecond = second;
    state.demand = 0;
  }
  if (++state.demand < DEMAND || state.acquiring || state.current !== undefined || state.next !== undefined) return;
  state.acquiring = true;
  io.waitUntil(acquire(state, taskId, cap, io));
}

async function acquire(state: TaskLeases, taskId: string, cap: number, io: LeaseIo): Promise<void> {
  let held: Held | undefined;
  try {
    const lease = await io.stub(taskId).lease(cap, Math.min(Math.max(state.want, io.size), MAX_LEASE), io.ttlMs);
    if (lease === null) return;
    held = {
      taskId,
      id: lease.id,
      cap,
      granted: lease.granted,
      left: lease.granted,
      usableUntil: lease.expiresAt - Math.min(LEASE_MARGIN_MS, io.ttlMs / 4),
      users: new Set(),
      pending: [],
      batch: 0,
      retired: false,
      closed: false,
      flushing: false,
    };
    if (state.current === undefined) state.current = held;
    else state.next = held;
  } catch (err) {
    console.error("admission lease failed", { taskId, error: String(err) });
    return;
  } finally {
    state.acquiring = false;
  }
  // The lease ends even if no check comes to end it: this request stays open until then.
  await sleep(Math.max(0, held.usableUntil - Date.now()));
  if (held.left > held.granted / 2) state.want = io.size;
  retire(state, held, io);
}

/** No more admissions from `held`; report what is pending and give back the rest. */
function retire(state: TaskLeases, held: Held, io: LeaseIo): void {
  if (state.current === held) state.current = undefined;
  if (state.next === held) state.next = undefined;
  if (held.retired) return;
  held.retired = true;
  flushSoon(held, io);
}

/** Starts the reporting loop of `held` in this request's `waitUntil`, unless one runs already. */
function flushSoon(held: Held, io: LeaseIo): void {
  if (held.flushing || held.closed) return;
  held.flushing = true;
  io.waitUntil(flush(held, io));
}

/**
 * Reports `held`'s pending admissions in batches, the last one with `done` once it is retired
 * and nothing is left; admissions that arrive meanwhile join the next batch. Synchronous between
 * the checks and the flag, so no admission can be left without a loop to report it.
 */
async function flush(held: Held, io: LeaseIo): Promise<void> {
  try {
    await sleep(FLUSH_DELAY_MS);
    for (;;) {
      const batch = held.pending.slice(0, MAX_SETTLE_BATCH);
      const done = held.retired && held.pending.length === batch.length;
      if (batch.length === 0 && !done) return;
      if (!(await settle(io.stub(held.taskId), held, batch, done))) return;
      held.pending.splice(0, batch.length);
      held.batch++;
      if (done) {
        held.closed = true;
        return;
      }
    }
  } finally {
    held.flushing = false;
  }
}

async function settle(stub: LeaseStub, held: Held, batch: LeasedAdmission[], done: boolean): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      await stub.settle(held.id, held.batch, batch, done);
      return true;
    } catch (err) {
      // The batch number makes a retry of a batch the object already applied a no-op.
      if (attempt >= SETTLE_ATTEMPTS) {
        console.error("admission lease settle failed", { taskId: held.taskId, leaseId: held.id, users: batch.length, done, error: String(err) });
        return false;
      }
      await sleep(50 * attempt);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Forgets every lease of this isolate (tests). Pending reports are not sent. */
export function resetLeasesForTests(): void {
  byTask.clear();
}
