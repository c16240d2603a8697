/**
 * The edge's ports for the core decision (core/decide.ts `decide`, which owns the precedence and
 * the walk over the grayscale tasks; ARCHITECTURE.md "The hot path", step 3). This module does
 * the I/O the walk asks for, and admits:
 *
 * - tickets: the client's presented admission tickets, parsed once; one that names the task,
 *   the user and the version is verified (HMAC) only then, so a client without tickets costs
 *   no crypto and no await. A chosen task hands the client a ticket (the presented one while it
 *   is still good for the task's end time, else a new one), so its next checks need no counter call;
 * - whitelists: Bloom filter in isolate memory, one R2 shard read on a Bloom positive; never a
 *   Durable Object or D1;
 * - admission: a capped task admits the user from this isolate's lease of slots when it holds
 *   one (edge-worker/src/admission-leases.ts), else asks its GrayscaleCounter, which is the one
 *   judge of the cap either way. An error or a timeout counts as a refusal: the walk moves on
 *   to the next task, a client never gets an error and the cap is never exceeded. A task split
 *   into cap shards (`capShards`, docs/scale.md 5b) is admitted by the user's shard (core
 *   `capShardOf`), which admits from slots its coordinator granted it; the same rules hold per shard.
 */
import {
  type ClientContext,
  type DecidePlan,
  type DecidePorts,
  type Decision,
  decide,
  ticketExpiry,
} from "../../core/decide";
import { capShardName, capShardOf, RuleMemo } from "../../core/grayscale/rules";
import type { CompiledTask, Geo, WhitelistRef } from "../../core/grayscale/types";
import type { PackageRef, Snapshot } from "../../core/snapshot";
import type { AdmitMeta, AdmitResult, ShardRef } from "../../durable-objects/grayscale-counter";
import { admitFromLease, type LeaseIo, noteDirectAdmission, retryLeaseReports } from "./admission-leases";
import { issueTicket, loadTicketKey, peekTicket, type TicketPayload, verifyTicket } from "./tickets";
import { TIMED_OUT, withTimeout } from "./timeout";
import { whitelistCache as defaultWhitelistCache, type WhitelistCache } from "./whitelist-cache";

/** The part of a GrayscaleCounter stub this module calls (the leases call theirs through `LeaseIo`). */
export interface CounterStub {
  admit(userKey: string, cap: number, meta: AdmitMeta, shard?: ShardRef): Promise<AdmitResult>;
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

/** The grayscale task a check chose. */
export interface GrayscaleChoice {
  taskId: string;
  version: string;
  package: PackageRef;
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

/** The walk's plan of each cached snapshot object, made once (core `DecidePlan`: the tasks worth walking, precomputed). */
const plans = new WeakMap<Snapshot, DecidePlan>();
/** What the rule walk remembers across this isolate's checks (core `RuleMemo`: hash states, lower-cased values). */
const memo = new RuleMemo();

/**
 * The admitting ports of one check. `presentedTickets` are the client's stored tickets (bounded
 * in number and size by the contract); `issued` holds the tickets to hand back afterwards.
 */
export class EdgePorts implements DecidePorts {
  readonly plans = plans;
  readonly memo = memo;
  readonly tickets = this;
  readonly admission = this;
  /** tickets to hand back: at most one (the chosen task's) */
  readonly issued: string[] = [];
  readonly #presented: { token: string; payload: TicketPayload }[] = [];
  /** the presented ticket `valid` last verified */
  #held: { taskId: string; token: string; exp: number } | undefined;
  #key: CryptoKey | undefined;

  constructor(
    readonly deps: GrayscaleDeps,
    presentedTickets: readonly string[],
    readonly now: number,
  ) {
    for (const token of presentedTickets) {
      const payload = peekTicket(token);
      if (payload) this.#presented.push({ token, payload });
    }
  }

  get presented(): number {
    return this.#presented.length;
  }

  member(ref: WhitelistRef, value: string): Promise<boolean> {
    return (this.deps.whitelists ?? defaultWhitelistCache).has(this.deps.bucket, ref, value);
  }

  /** A presented ticket that admits `userKey` to `task`, verified; false at once when none names them. */
  valid(task: CompiledTask, userKey: string): boolean | Promise<boolean> {
    // The task's end time may have been moved earlier since the ticket was issued.
    if (this.#presented.length === 0 || ticketExpiry(task.endAt) * 1000 <= this.now) return false;
    for (const { payload } of this.#presented) {
      if (payload.t === task.id && payload.u === userKey && payload.v === task.version)
        return this.#verify(task, userKey);
    }
    return false;
  }

  async #verify(task: CompiledTask, userKey: string): Promise<boolean> {
    const expected = { taskId: task.id, userKey, version: task.version };
    for (const { token, payload } of this.#presented) {
      if (payload.t !== task.id || payload.u !== userKey || payload.v !== task.version) continue;
      if (await verifyTicket(await this.#loadKey(), token, expected, this.now)) {
        this.#held = { taskId: task.id, token, exp: payload.exp };
        return true;
      }
    }
    return false;
  }

  /** The presented ticket while it is good for the task's end time (which may have moved later), else a new one. */
  async issue(task: CompiledTask, userKey: string): Promise<void> {
    const expiry = ticketExpiry(task.endAt);
    const held = this.#held;
    if (held !== undefined && held.taskId === task.id && held.exp >= expiry) this.issued.push(held.token);
    else
      this.issued.push(
        await issueTicket(await this.#loadKey(), { t: task.id, u: userKey, v: task.version, exp: expiry }),
      );
  }

  reach(task: CompiledTask): void {
    if (this.deps.leases !== undefined) retryLeaseReports(task.id, this.now, this.deps.leases);
  }

  lease(task: CompiledTask, userKey: string, client: ClientContext): boolean {
    const leases = this.deps.leases;
    if (leases === undefined) return false;
    // A shard's leases were made by its direct admissions (`noteDirectAdmission`), which name the shard.
    const { name } = counterOf(task, userKey);
    return admitFromLease(name, task.userCap as number, userKey, metaOf(client), this.now, leases);
  }

  async admit(task: CompiledTask, userKey: string, client: ClientContext): Promise<boolean> {
    const cap = task.userCap as number;
    const meta = metaOf(client);
    const { name, shard } = counterOf(task, userKey);
    const result = await this.#callCounter(task, name, "admit", (stub) =>
      shard === undefined ? stub.admit(userKey, cap, meta) : stub.admit(userKey, cap, meta, shard),
    );
    if (result?.admitted !== true) return false;
    if (this.deps.leases !== undefined) noteDirectAdmission(name, cap, this.now, this.deps.leases, shard);
    return true;
  }

  async isAdmitted(task: CompiledTask, userKey: string): Promise<boolean> {
    const { name } = counterOf(task, userKey);
    return (await this.#callCounter(task, name, "isAdmitted", (stub) => stub.isAdmitted(userKey))) === true;
  }

  /** A call to counter object `name` of `task`, bounded in time; undefined on error or timeout (the walk moves on). */
  async #callCounter<T>(
    task: CompiledTask,
    name: string,
    method: string,
    call: (stub: CounterStub) => Promise<T>,
  ): Promise<T | undefined> {
    try {
      const result = await withTimeout(
        call(this.deps.counters.getByName(name)),
        this.deps.counterTimeoutMs ?? COUNTER_TIMEOUT_MS,
      );
      if (result === TIMED_OUT) {
        console.error("grayscale counter timed out", { taskId: task.id, counter: name, method });
        return undefined;
      }
      return result;
    } catch (err) {
      console.error("grayscale counter failed", {
        taskId: task.id,
        counter: name,
        method,
        error: String(err),
      });
      return undefined;
    }
  }

  async #loadKey(): Promise<CryptoKey> {
    this.#key ??= await loadTicketKey(this.deps.ticketSecret);
    return this.#key;
  }
}

/** The counter object that judges `userKey` in `task`: the task's own, or the user's cap shard. */
function counterOf(task: CompiledTask, userKey: string): { name: string; shard: ShardRef | undefined } {
  const shards = task.capShards ?? 1;
  if (shards <= 1) return { name: task.id, shard: undefined };
  const shard = capShardOf(task.id, userKey, shards);
  return { name: capShardName(task.id, shards, shard), shard: { taskId: task.id, shard, shards } };
}

const metaOf = (client: ClientContext): AdmitMeta => ({
  hostAppId: client.hostAppId,
  platform: client.platform,
});

/**
 * The grayscale part of the decision alone: the task the edge's ports gave `client` at `now`,
 * if any, and the tickets to hand back (the orchestration tests; `answerCheck` calls `decide`).
 */
export async function chooseGrayscale(
  snapshot: Snapshot,
  client: ClientContext,
  geo: Geo,
  presentedTickets: readonly string[],
  now: number,
  deps: GrayscaleDeps,
): Promise<GrayscaleOutcome> {
  const ports = new EdgePorts(deps, presentedTickets, now);
  const decision: Decision = await decide(snapshot, client, now, ports, geo);
  if (decision.status !== "ok" || decision.taskId === undefined)
    return ports.issued.length === 0 ? NO_GRAYSCALE : { choice: null, tickets: ports.issued };
  return {
    choice: { taskId: decision.taskId, version: decision.version, package: decision.package },
    tickets: ports.issued,
  };
}
