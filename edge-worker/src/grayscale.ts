/**
 * Which grayscale task (if any) a client gets on `check` (ARCHITECTURE.md "The hot path",
 * step 3). The rules are the pure core's (`isTaskEligible`, the allocation-free form of
 * `evaluateTask` / `rankTasks`); this module does the I/O around them. Tasks are walked highest
 * version first (PRODUCT.md G6), stopping at the first that gives the client its version:
 *
 * 1. a valid admission ticket for the task and this user keeps the version, whatever the
 *    conditions or the phase say now (seed: admitted users keep it), with no Durable Object call;
 * 2. a sticky-only task (suspended, or ended by manual / end time / cap) takes no new users;
 *    only a client already running its version without a ticket is looked up (`isAdmitted`);
 * 3. otherwise the task's rules must all hold (a verified-only task: a verified account, which is
 *    then the user key its counter and tickets know the user by); whitelist membership is looked up only when every
 *    other rule holds (Bloom filter in isolate memory; one R2 shard read on a Bloom positive;
 *    never a Durable Object or D1);
 * 4. an uncapped task is then chosen; a capped one admits the user from this isolate's lease of
 *    slots when it holds one (edge-worker/src/admission-leases.ts), else asks its
 *    GrayscaleCounter, which is the one judge of the cap either way.
 * A refusal, an error or a timeout moves on to the next task: a client never gets an error and
 * the cap is never exceeded (the counter is the only judge of admission). A chosen task hands
 * the client a ticket (new, or the one it presented), so its next checks need no counter call.
 */
import { decideVersion, type ClientContext, type GrayscaleChoice } from "../../core/decide";
import { targetMatches, targetValue } from "../../core/grayscale/match";
import { isTaskEligible, taskUserKey, userKeyOf } from "../../core/grayscale/rules";
import type { CompiledTask, Geo, WhitelistRef } from "../../core/grayscale/types";
import { compareVersions } from "../../core/semver";
import type { Snapshot } from "../../core/snapshot";
import type { AdmitMeta, AdmitResult } from "../../durable-objects/grayscale-counter";
import { admitFromLease, noteDirectAdmission, retryLeaseReports, type LeaseIo } from "./admission-leases";
import { issueTicket, loadTicketKey, peekTicket, ticketExpiry, verifyTicket, type TicketPayload } from "./tickets";
import { TIMED_OUT, withTimeout } from "./timeout";
import { whitelistCache as defaultWhitelistCache, type WhitelistCache } from "./whitelist-cache";

/** The part of a GrayscaleCounter stub this module calls (the leases call theirs through `LeaseIo`). */
export interface CounterStub {
  admit(userKey: string, cap: number, meta: AdmitMeta): Promise<AdmitResult>;
  isAdmitted(userKey: string): Promise<boolean>;
}

/** `env.GRAYSCALE_COUNTER`, one object per task id. */
export interface CounterNamespace {
  getByName(name: string): CounterStub;
}

export interface GrayscaleDeps {
  /** R2 bucket holding the whitelists */
  bucket: R2Bucket;
  counters: CounterNamespace;
  /** ADMISSION_TICKET_SECRET */
  ticketSecret: string;
  /** bound on one counter call; past it the task is skipped for this check */
  counterTimeoutMs?: number;
  /** admission leases (edge-worker/src/admission-leases.ts); without, every first admission calls the counter */
  leases?: LeaseIo;
  whitelists?: WhitelistCache;
}

export interface GrayscaleOutcome {
  choice: GrayscaleChoice | null;
  /** admission tickets for the client to store (new, or the presented one that chose the task) */
  tickets: string[];
}

/** ARCHITECTURE.md: "If the Durable Object cannot be reached the client gets the online version". */
export const COUNTER_TIMEOUT_MS = 1_000;

/** No grayscale task applies: the online (or trial) answer, no tickets. */
export const NO_GRAYSCALE: GrayscaleOutcome = { choice: null, tickets: [] };

/**
 * Tasks of a snapshot that can win, highest version first: a version not above online never
 * wins in `decideVersion` (a release of the same or higher version supersedes the task), so it
 * must not take a cap slot either. Computed once per cached snapshot object.
 */
const plans = new WeakMap<Snapshot, readonly CompiledTask[]>();

function candidateTasks(snapshot: Snapshot): readonly CompiledTask[] {
  let tasks = plans.get(snapshot);
  if (!tasks) {
    const online = snapshot.online?.version;
    tasks = snapshot.tasks
      .filter((t) => online === undefined || compareVersions(t.version, online) > 0)
      .sort((a, b) => compareVersions(b.version, a.version) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    plans.set(snapshot, tasks);
  }
  return tasks;
}

/**
 * The grayscale task `client` gets at `now`, if any, and tickets to hand back.
 * `presentedTickets` are the client's stored tickets (bounded in number and size by the contract).
 */
export async function chooseGrayscale(
  snapshot: Snapshot,
  client: ClientContext,
  geo: Geo,
  presentedTickets: readonly string[],
  now: number,
  deps: GrayscaleDeps,
): Promise<GrayscaleOutcome> {
  // Snapshots compiled before grayscale existed have no `tasks`.
  if (!snapshot.tasks || snapshot.tasks.length === 0) return NO_GRAYSCALE;
  const tasks = candidateTasks(snapshot);
  if (tasks.length === 0) return NO_GRAYSCALE;
  // Delisted, not bound and trial answers ignore grayscale: never spend a cap slot on them. A
  // bound host app that approved no release yet may still get a task's version it approved.
  const base = decideVersion(snapshot, client, now);
  if (base.status === "delisted" || (base.status === "not_bound" && !snapshot.hostApps.includes(client.hostAppId)) || base.reason === "trial") return NO_GRAYSCALE;

  const walk = new Walk(client, geo, now, userKeyOf(client), new TicketBook(deps.ticketSecret, presentedTickets, now), deps);
  for (const task of tasks) {
    // Audit scope: a host app whose auditor has not approved the version never gets it, ticket or not.
    if (task.unreviewedHostApps?.includes(client.hostAppId)) continue;
    const ticket = await walk.decide(task);
    if (ticket !== undefined) {
      return { choice: { taskId: task.id, version: task.version, package: task.package }, tickets: ticket === null ? [] : [ticket] };
    }
  }
  return NO_GRAYSCALE;
}

/** The state of one check's walk over the tasks. */
class Walk {
  /** whitelist id -> membership of this client, looked up at most once per check */
  readonly #members = new Map<string, boolean>();

  constructor(
    readonly client: ClientContext,
    readonly geo: Geo,
    readonly now: number,
    readonly userKey: string | undefined,
    readonly tickets: TicketBook,
    readonly deps: GrayscaleDeps,
  ) {}

  /**
   * Whether `task` gives the client its version: undefined = no; otherwise the ticket to hand
   * back (null when the client has no user key to bind one to).
   */
  async decide(task: CompiledTask): Promise<string | null | undefined> {
    const { client, tickets } = this;
    // A verified-only task knows its users by their verified account (issue 10), not by GUID.
    const userKey = task.verifiedOnly === true ? taskUserKey(task, client) : this.userKey;
    if (task.userCap !== null && this.deps.leases !== undefined) retryLeaseReports(task.id, this.now, this.deps.leases);
    if (userKey !== undefined) {
      const held = await tickets.valid(task, userKey);
      // A ticket issued before the task's end time moved still admits; the client gets a fresh one.
      if (held !== undefined) return held.exp >= ticketExpiry(task.endAt) ? held.token : tickets.issue(task, userKey);
    }

    if (task.phase === "sticky") {
      // No new users. Only a client already running this version may have lost its ticket, and
      // only a capped task has a counter that remembers its users: everyone else, no call at all.
      if (userKey === undefined || task.userCap === null || client.installedVersion !== task.version) return undefined;
      // Past the tickets' own lifetime the task keeps nobody new-ticketed either.
      if (ticketExpiry(task.endAt) * 1000 <= this.now) return undefined;
      const admitted = await this.#callCounter(task, "isAdmitted", (stub) => stub.isAdmitted(userKey));
      return admitted === true ? tickets.issue(task, userKey) : undefined;
    }

    if (!(await this.#eligible(task))) return undefined;
    // Eligibility already required a user key for a capped or percentage task.
    if (userKey === undefined) return task.userCap === null ? null : undefined;
    if (task.userCap === null) return tickets.issue(task, userKey);
    const cap = task.userCap;
    const meta: AdmitMeta = { hostAppId: client.hostAppId, platform: client.platform };
    // A busy isolate admits from a lease of slots, with no call on the request path.
    const leases = this.deps.leases;
    if (leases !== undefined && admitFromLease(task.id, cap, userKey, meta, this.now, leases)) return tickets.issue(task, userKey);
    const result = await this.#callCounter(task, "admit", (stub) => stub.admit(userKey, cap, meta));
    if (result?.admitted !== true) return undefined;
    if (leases !== undefined) noteDirectAdmission(task.id, cap, this.now, leases);
    return tickets.issue(task, userKey);
  }

  /** All of the task's rules hold; whitelists are read only when nothing else excludes the client. */
  async #eligible(task: CompiledTask): Promise<boolean> {
    const { client, geo, now } = this;
    const whitelists = task.targets?.whitelists ?? [];
    if (whitelists.length === 0) return isTaskEligible(task, client, geo, now, notMember);
    // Membership only decides the target rule: every rule once with membership granted, then
    // the target rule alone (inline values first, no I/O), then with the looked-up lists.
    if (!isTaskEligible(task, client, geo, now, anyMember)) return false;
    if (targetMatches(task.targets, client, notMember)) return true;
    await Promise.all(whitelists.map((ref) => this.#lookUp(ref)));
    return targetMatches(task.targets, client, (ref) => this.#members.get(ref.id) === true);
  }

  async #lookUp(ref: WhitelistRef): Promise<void> {
    if (this.#members.has(ref.id)) return;
    const value = targetValue(this.client, ref.kind);
    const cache = this.deps.whitelists ?? defaultWhitelistCache;
    this.#members.set(ref.id, value !== undefined && (await cache.has(this.deps.bucket, ref, value)));
  }

  /** A counter call bounded in time; undefined on error or timeout (the caller moves on). */
  async #callCounter<T>(task: CompiledTask, method: string, call: (stub: CounterStub) => Promise<T>): Promise<T | undefined> {
    try {
      const result = await withTimeout(call(this.deps.counters.getByName(task.id)), this.deps.counterTimeoutMs ?? COUNTER_TIMEOUT_MS);
      if (result === TIMED_OUT) {
        console.error("grayscale counter timed out", { taskId: task.id, method });
        return undefined;
      }
      return result;
    } catch (err) {
      console.error("grayscale counter failed", { taskId: task.id, method, error: String(err) });
      return undefined;
    }
  }
}

const notMember = () => false;
const anyMember = () => true;

/**
 * The client's presented tickets, parsed once; the HMAC key is imported only when a ticket is
 * verified or issued (most checks do neither).
 */
class TicketBook {
  readonly #presented: { token: string; payload: TicketPayload }[] = [];
  #key: CryptoKey | undefined;

  constructor(
    readonly secret: string,
    tokens: readonly string[],
    readonly now: number,
  ) {
    for (const token of tokens) {
      const payload = peekTicket(token);
      if (payload) this.#presented.push({ token, payload });
    }
  }

  /** The presented ticket that admits `userKey` to `task`, verified; undefined when none. */
  async valid(task: CompiledTask, userKey: string): Promise<{ token: string; exp: number } | undefined> {
    // The task's end time may have been moved earlier since the ticket was issued.
    if (ticketExpiry(task.endAt) * 1000 <= this.now) return undefined;
    for (const { token, payload } of this.#presented) {
      if (payload.t !== task.id || payload.u !== userKey || payload.v !== task.version) continue;
      const expected = { taskId: task.id, userKey, version: task.version };
      if (await verifyTicket(await this.#loadKey(), token, expected, this.now)) return { token, exp: payload.exp };
    }
    return undefined;
  }

  async issue(task: CompiledTask, userKey: string): Promise<string> {
    return issueTicket(await this.#loadKey(), { t: task.id, u: userKey, v: task.version, exp: ticketExpiry(task.endAt) });
  }

  async #loadKey(): Promise<CryptoKey> {
    this.#key ??= await loadTicketKey(this.secret);
    return this.#key;
  }
}
