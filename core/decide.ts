/**
 * Which version a client runs: ONE decision, used by the edge (which admits users) and by
 * explain (which only reads), so the two cannot disagree (issue 11). `decide` owns the
 * precedence (delisted, not bound, trial, the grayscale walk, the host app's release) and the
 * walk over the grayscale tasks (PRODUCT.md G6: highest version first); the I/O the walk needs
 * (whitelist membership, admission tickets, the capped tasks' counters) is behind `DecidePorts`.
 * "Not eligible" is a normal answer with a reason, never an exception.
 *
 * The walk stops at the first task that gives the client its version:
 * 1. a valid admission ticket for the task and this user keeps the version, whatever the
 *    conditions or the phase say now (seed: admitted users keep it);
 * 2. a sticky-only task (suspended, or ended by manual / end time / cap) takes no new users;
 *    only a client already running its version is looked up (`isAdmitted`), and only while
 *    the task's tickets could still be valid;
 * 3. otherwise every rule of the task must hold (core/grayscale/rules.ts `isTaskEligible`; a
 *    verified-only task: a verified account, which is then the user key); whitelist membership
 *    is asked only when every other rule holds and no inline value names the client. The rules
 *    that do not depend on the user's ids are read from the plan's rule masks
 *    (core/grayscale/rule-masks.ts: about ten lookups per decision for all tasks at once), so
 *    the walk visits only the tasks they leave, and those a ticket, the trace, `reach` or a
 *    sticky counter must hear of;
 * 4. an uncapped task is then chosen; a capped one needs its admission (`lease`, else `admit`).
 * A task a host app's auditor has not approved is skipped before any ticket (audit scope), and
 * only tasks above the online version are walked (a release of the same or higher version
 * supersedes a task: it must not take a cap slot either).
 *
 * Ports may answer synchronously: with nothing to look up, `decide` returns the Decision itself,
 * with no promise and no await (the edge's common case, BENCHMARKS.md); a port that returns a
 * promise turns the rest of that decision asynchronous.
 */

import type { Murmur3Prefix } from "./grayscale/hash";
import { murmur3Utf16Prefix, murmur3Utf16Rest } from "./grayscale/hash";
import { targetMatches, targetValue } from "./grayscale/match";
import { RuleMasks } from "./grayscale/rule-masks";
import { ROLLOUT_BUCKETS, RuleMemo, taskUserKey } from "./grayscale/rules";
import type { CompiledTargets, CompiledTask, Geo, TargetKind, WhitelistRef } from "./grayscale/types";
import { TARGET_KINDS } from "./grayscale/types";
import { compareSemver, compareVersions, parseSemver, type Semver } from "./semver";
import { type PackageRef, releaseFor, type Snapshot, type SnapshotRelease } from "./snapshot";

export type Platform = "android" | "ios";
export type Network = "wifi" | "5g" | "4g" | "3g" | "2g" | "ethernet" | "other";

/** What a client tells the edge about itself (validated by the edge's zod schema). */
export interface ClientContext {
  appId: string;
  hostAppId: string;
  hostAppVersion: string;
  platform: Platform;
  osVersion: string;
  guid?: string;
  deviceId?: string;
  account?: string;
  network?: Network;
  brand?: string;
  model?: string;
  installedVersion?: string;
  baseLibraryVersion?: string;
  /** asks for the trial version (the team's testers only) */
  trial?: boolean;
  /**
   * Set by the edge (never by the client: the wire schema has no such field) when a host-app
   * user assertion verified (core/assertion.ts): `account` (and `deviceId`, when the assertion
   * named one) is vouched for by the host app. Trial versions, account targets and verified-only
   * tasks need it; guid and device-id targets do not (docs/trust.md).
   */
  verifiedAccount?: boolean;
}

/** The account a host app vouched for, or undefined (an unverified account proves nothing). */
export function verifiedAccountOf(client: ClientContext): string | undefined {
  return client.verifiedAccount === true && client.account !== undefined && client.account.length > 0
    ? client.account
    : undefined;
}

export type DecisionStatus = "ok" | "delisted" | "no_release" | "not_bound";

/** Why this answer; a closed union mapped to the wire by the edge. */
export type DecisionReason =
  | "online" // the current online release
  | "trial" // the development version for a tester
  | "grayscale" // a grayscale task's version: the client is one of its users
  | "up_to_date" // the client already runs the version it should
  | "rollback" // the online version is lower than the client's: the server orders a downgrade
  | "delisted" // the mini program is off the shelf
  | "no_release" // nothing has been released yet
  | "not_bound"; // the mini program is not bound to this host app

export type Decision =
  | { status: "delisted" | "no_release" | "not_bound"; reason: DecisionReason }
  | {
      status: "ok";
      reason: DecisionReason;
      version: string;
      package: PackageRef;
      /** the target is lower than what the client runs: the server orders a downgrade */
      rollback: boolean;
      pagePath?: string;
      /** the grayscale task that gave this version */
      taskId?: string;
    };

/** A port's answer: a value when it is at hand, a promise when it needs I/O. */
export type MaybePromise<T> = T | Promise<T>;

/** What the walk did with one task, in walk order (explain reports it; the edge does not ask). */
export type TaskOutcome =
  | "not_reviewed" // the host app's auditor has not approved the task's version: skipped first
  | "ticket" // a valid admission ticket kept the version
  | "sticky_admitted" // sticky task; the counter admitted this user before: kept
  | "sticky_not_admitted" // sticky task; the counter never admitted this user
  | "sticky_closed" // sticky task; nothing to look up (uncapped, no user key, not running the version, tickets lapsed)
  | "not_eligible" // admitting task; a rule fails
  | "admitted" // admitting task; every rule holds and the user is admitted (uncapped, lease or counter)
  | "refused"; // admitting task; every rule holds but the counter refused (cap reached, error or timeout)

/** Whitelist membership, admission tickets and admission: the walk's only I/O. */
export interface DecidePorts {
  /** whether `value` (the client's value of `ref.kind`) is in the uploaded whitelist `ref` */
  member(ref: WhitelistRef, value: string): MaybePromise<boolean>;
  /** absent: the client presented no tickets, and none is handed over */
  tickets?: TicketPort;
  /** absent: a capped task admits nobody (no lease, no counter) and keeps no sticky user */
  admission?: AdmissionPort;
  /**
   * What `decide` keeps per snapshot object (the tasks worth walking, and per task what each
   * decision would otherwise compute again), kept by the caller across decisions (the edge: one
   * per isolate, for its cached snapshots). Absent: made for each decision.
   */
  plans?: WeakMap<Snapshot, DecidePlan>;
  /** what the rule walk remembers across decisions (the edge: one per isolate); absent: one per decision */
  memo?: RuleMemo;
  /** told what the walk did with each task it reached (explain) */
  trace?(task: CompiledTask, outcome: TaskOutcome): void;
}

export interface TicketPort {
  /** how many tickets the client presented: with none, `valid` is never asked */
  readonly presented: number;
  /** whether the client presented a valid ticket admitting `userKey` to `task` */
  valid(task: CompiledTask, userKey: string): MaybePromise<boolean>;
  /** `task` gives `userKey` its version: hand the client a ticket (the presented one, or a new one) */
  issue(task: CompiledTask, userKey: string): MaybePromise<void>;
}

export interface AdmissionPort {
  /** the walk reached a capped task (the edge retries its pending lease reports there) */
  reach?(task: CompiledTask): void;
  /** admits from slots already held, with no I/O (the edge's admission lease); absent = never */
  lease?(task: CompiledTask, userKey: string, client: ClientContext): boolean;
  /** admits `userKey` to the capped `task` if the cap allows (the counter is the one judge); false on error */
  admit(task: CompiledTask, userKey: string, client: ClientContext): MaybePromise<boolean>;
  /** whether the capped `task`'s counter admitted `userKey` before; false on error */
  isAdmitted(task: CompiledTask, userKey: string): MaybePromise<boolean>;
}

/** Ports that look nothing up and admit nobody: decisions without a grayscale walk (and tests). */
export const CLOSED_PORTS: DecidePorts = Object.freeze({ member: () => false });

/** Admission tickets stay valid this long after their task's end time (sticky users keep the version). */
export const TICKET_GRACE_MS = 30 * 24 * 3_600_000;

/** `exp` (seconds) of tickets for a task ending at `endAt`: fixed per task, so any one may be reused. */
export function ticketExpiry(endAt: number): number {
  return Math.floor((endAt + TICKET_GRACE_MS) / 1000);
}

export const NO_GEO: Geo = Object.freeze({});

/**
 * The version `client` gets at `now`. Precedence: delisted, not bound, trial (testers with a
 * verified account), the grayscale walk (tasks above the online version, highest first), the
 * host app's release (`releaseFor`: a host app whose auditor has not approved the online
 * version gets the last release it approved, or `not_bound`). `geo` is where the edge saw the
 * client (request.cf), for the geo rules.
 */
export function decide(
  snapshot: Snapshot,
  client: ClientContext,
  now: number,
  ports: DecidePorts,
  geo: Geo = NO_GEO,
): MaybePromise<Decision> {
  // seed: "all associated applications will not be able to obtain corresponding services"
  if (!snapshot.listed) return { status: "delisted", reason: "delisted" };
  if (!snapshot.hostApps.includes(client.hostAppId)) return { status: "not_bound", reason: "not_bound" };

  const trial = snapshot.trial;
  // Issue 10: the unaudited trial version goes only to a tester the host app vouched for.
  const account = client.trial ? verifiedAccountOf(client) : undefined;
  if (trial && account !== undefined && trial.testers.includes(account)) {
    return {
      status: "ok",
      reason: "trial",
      version: trial.version,
      package: trial.package,
      rollback: false,
      pagePath: trial.pagePath,
    };
  }

  // Delisted, not bound and trial answers (above) walk nothing: no cap slot is spent on them.
  // Snapshots compiled before grayscale existed have no `tasks`. A bound host app that approved
  // no release yet may still get a task's version it approved.
  if (snapshot.tasks !== undefined && snapshot.tasks.length > 0) {
    const plan = planOf(snapshot, ports.plans);
    if (plan.steps.length > 0)
      return walkFrom(new Walk(snapshot, plan, client, geo, now, ports, ports.memo ?? new RuleMemo()), 0);
  }
  return releaseDecision(snapshot, client, null);
}

/** One task of a plan, with what every decision would otherwise read from it or compute again. */
class Step {
  readonly capped: boolean;
  readonly sticky: boolean;
  /** audit scope: bound host apps whose auditor has not approved the version (undefined: none) */
  readonly unreviewed: readonly string[] | undefined;
  readonly verifiedOnly: boolean;
  /** the task's uploaded whitelists (null: none), asked only when every other rule holds */
  readonly lists: readonly WhitelistRef[] | null;
  /** the task also names clients by typed-in values, checked before its lists */
  readonly inline: boolean;
  /**
   * Those typed-in values as sets, by kind: what `targetMatches` finds by binary search in the
   * sorted lists, in one hash lookup (undefined when a list is not sorted: then the search, whose
   * answer on an unsorted list is not plain membership, is kept).
   */
  readonly inlineSets: Readonly<Record<TargetKind, ReadonlySet<string> | undefined>> | undefined;
  /** the hash state of the task id's part of each rollout bucket (percentage tasks only) */
  readonly prefix: Murmur3Prefix | undefined;
  /** the task's version, parsed */
  readonly semver: Semver;
  /**
   * Admitting, uncapped, with no uploaded whitelist and no host app outside its audit scope: for
   * a client without tickets, its rules alone decide (no port is asked before they hold).
   */
  readonly rulesOnly: boolean;
  /** the task's rules are not all in its bit of the plan's masks: a percentage or target objects remain */
  readonly rest: boolean;

  constructor(readonly task: CompiledTask) {
    this.semver = semverOf(task.version);
    this.capped = task.userCap !== null;
    this.sticky = task.phase === "sticky";
    this.unreviewed =
      task.unreviewedHostApps !== undefined && task.unreviewedHostApps.length > 0
        ? task.unreviewedHostApps
        : undefined;
    this.verifiedOnly = task.verifiedOnly === true;
    const targets = task.targets;
    this.lists = targets !== null && targets.whitelists.length > 0 ? targets.whitelists : null;
    this.inline =
      targets !== null &&
      (targets.inline.guid !== undefined ||
        targets.inline.deviceId !== undefined ||
        targets.inline.account !== undefined);
    this.inlineSets = this.inline ? inlineSetsOf(task.targets as CompiledTargets) : undefined;
    this.prefix = task.percentageBp !== null ? murmur3Utf16Prefix(task.id, 0) : undefined;
    this.rulesOnly = !this.sticky && !this.capped && this.lists === null && this.unreviewed === undefined;
    this.rest = task.percentageBp !== null || targets !== null;
  }
}

/**
 * What `decide` keeps per snapshot object (`DecidePorts.plans`): the tasks that can win, highest
 * version first, each with what the walk reads of it. A version not above online never wins (a
 * release of the same or higher version supersedes the task), so it must not take a cap slot
 * either. Immutable once made: one plan serves any number of decisions, in any order.
 */
export class DecidePlan {
  readonly tasks: readonly CompiledTask[];
  readonly steps: readonly Step[];
  /** the snapshot's online release and its version, parsed */
  readonly online: SnapshotRelease | null;
  readonly onlineSemver: Semver | undefined;
  /** the steps' rules indexed by the client's values (core/grayscale/rule-masks.ts) */
  readonly masks: RuleMasks;
  /** capped steps (each one the walk reaches tells `AdmissionPort.reach`), and those of them that are sticky */
  readonly capped: Int32Array;
  readonly stickyCapped: Int32Array;
  /** per host app, the steps outside its audit scope (skipped before anything else) */
  readonly unreviewed: ReadonlyMap<string, Int32Array>;

  constructor(snapshot: Snapshot) {
    this.online = snapshot.online;
    this.onlineSemver = snapshot.online === null ? undefined : parseSemver(snapshot.online.version);
    const online = snapshot.online?.version;
    this.tasks = (snapshot.tasks ?? [])
      .filter((t) => online === undefined || compareVersions(t.version, online) > 0)
      .sort((a, b) => compareVersions(b.version, a.version) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.steps = this.tasks.map((t) => new Step(t));
    this.masks = new RuleMasks(this.tasks);
    const maskOf = (pass: (step: Step) => boolean) => {
      const mask = new Int32Array(this.masks.words);
      this.steps.forEach((step, i) => {
        if (pass(step)) mask[i >>> 5] = (mask[i >>> 5] as number) | (1 << (i & 31));
      });
      return mask;
    };
    this.capped = maskOf((s) => s.capped);
    this.stickyCapped = maskOf((s) => s.sticky && s.capped);
    const hosts = new Set(this.steps.flatMap((s) => s.unreviewed ?? []));
    this.unreviewed = new Map([...hosts].map((h) => [h, maskOf((s) => s.unreviewed?.includes(h) === true)]));
  }

  /** The bits of word `w` that are steps (all 32 but in the last word). */
  full(w: number): number {
    const left = this.steps.length - (w << 5);
    return left >= 32 ? -1 : (1 << left) - 1;
  }
}

/** The plan of `snapshot`: the one `plans` keeps for it, else a new one (kept there when given). */
export function planOf(snapshot: Snapshot, plans?: WeakMap<Snapshot, DecidePlan>): DecidePlan {
  let plan = plans?.get(snapshot);
  if (plan === undefined) {
    plan = new DecidePlan(snapshot);
    plans?.set(snapshot, plan);
  }
  return plan;
}

/** Tasks of a snapshot that can win, highest version first (`DecidePlan`). */
export function candidateTasks(
  snapshot: Snapshot,
  plans?: WeakMap<Snapshot, DecidePlan>,
): readonly CompiledTask[] {
  return planOf(snapshot, plans).tasks;
}

/** The answer after the walk: the chosen task's version when above the host app's release, else that release. */
function releaseDecision(snapshot: Snapshot, client: ClientContext, chosen: CompiledTask | null): Decision {
  const online = releaseFor(snapshot, client.hostAppId);
  if (chosen !== null && (!online || compareVersions(chosen.version, online.version) > 0)) {
    const order =
      client.installedVersion === undefined ? 1 : compareVersions(chosen.version, client.installedVersion);
    return {
      status: "ok",
      reason: "grayscale",
      version: chosen.version,
      package: chosen.package,
      rollback: order < 0,
      taskId: chosen.id,
    };
  }
  // Released, but never to this host app: its auditor approved no release yet.
  if (!online && snapshot.online) return { status: "not_bound", reason: "not_bound" };
  if (!online) return { status: "no_release", reason: "no_release" };
  const installed = client.installedVersion;
  const order = installed === undefined ? 1 : compareVersions(online.version, installed);
  return {
    status: "ok",
    reason: order === 0 ? "up_to_date" : order < 0 ? "rollback" : "online",
    version: online.version,
    package: online.package,
    rollback: order < 0,
  };
}

/** One decision's walk over the tasks. */
class Walk {
  /** the client presented tickets: only then is a ticket looked for */
  readonly presented: boolean;
  /** whitelist membership of this client, asked at most once per decision: the first list inline, others in a map made on first use */
  #firstId: string | undefined = undefined;
  #first = false;
  #others: Map<string, boolean> | undefined = undefined;

  /** which word of the plan's masks `rules` and `visits` hold (-1: none yet) */
  word = -1;
  /** the steps of that word whose rules hold, all but their percentage and target objects (`RuleMasks`) */
  rules = 0;
  /** the steps of that word the walk visits: those whose rules hold, and any other a port or the trace must hear of */
  visits = 0;

  constructor(
    readonly snapshot: Snapshot,
    readonly plan: DecidePlan,
    readonly client: ClientContext,
    readonly geo: Geo,
    readonly now: number,
    readonly ports: DecidePorts,
    readonly memo: RuleMemo,
  ) {
    this.presented = ports.tickets !== undefined && ports.tickets.presented > 0;
  }

  /**
   * Reads word `w` of the masks. A step whose rules fail changes nothing unless it is visited
   * for something else: a presented ticket may keep it (so is every step when tickets are
   * presented), the trace reports every step (explain), `reach` hears of every capped step
   * inside the host app's audit scope, and a sticky capped step may keep a user its counter
   * admitted. Any other such step would only be skipped as not eligible (or not reviewed), so
   * it is not visited at all.
   */
  load(w: number): void {
    const plan = this.plan;
    const rules = plan.masks.word(this.client, this.geo, this.now, this.memo, w);
    this.word = w;
    this.rules = rules;
    if (this.presented || this.ports.trace !== undefined) this.visits = plan.full(w);
    else {
      const extra = (this.ports.admission?.reach !== undefined ? plan.capped : plan.stickyCapped)[
        w
      ] as number;
      this.visits =
        extra === 0 ? rules : rules | (extra & ~(plan.unreviewed.get(this.client.hostAppId)?.[w] ?? 0));
    }
  }

  remembered(id: string): boolean | undefined {
    return id === this.#firstId ? this.#first : this.#others?.get(id);
  }

  remember(id: string, member: boolean): boolean {
    if (this.#firstId === undefined || this.#firstId === id) {
      this.#firstId = id;
      this.#first = member;
    } else (this.#others ??= new Map()).set(id, member);
    return member;
  }
}

/** Walks the plan's steps from index `i`; synchronous until a port returns a promise. */
function walkFrom(walk: Walk, i: number): MaybePromise<Decision> {
  const steps = walk.plan.steps;
  const n = steps.length;
  while (i < n) {
    const w = i >>> 5;
    if (walk.word !== w) walk.load(w);
    // the next step at or after i that is visited
    const bits = walk.visits & (-1 << (i & 31));
    if (bits === 0) {
      i = (w + 1) << 5;
      continue;
    }
    const bit = 31 - Math.clz32(bits & -bits);
    i = (w << 5) | bit;
    const step = steps[i] as Step;
    const pass = ((walk.rules >>> bit) & 1) === 1;
    // Most steps of a walk need only the rules (`visit` would take the same path, step by step).
    const given =
      step.rulesOnly && !walk.presented
        ? pass && (!step.rest || restHolds(walk, step))
          ? admit(walk, step)
          : skip(walk, step.task, "not_eligible")
        : visit(walk, step, pass);
    i++;
    if (given === false) continue;
    if (given === true) return walkedDecision(walk, step);
    const next = i;
    return given.then((yes) => (yes ? walkedDecision(walk, step) : walkFrom(walk, next)));
  }
  return walkedDecision(walk, null);
}

/**
 * The task's rules the masks leave out, for a step whose masked rules hold: its percentage
 * bucket, then its target objects without uploaded whitelists (`isTaskEligible` then holds).
 */
function restHolds(walk: Walk, step: Step): boolean {
  return percentageHolds(walk, step) && inlineMatches(step, walk.client);
}

/** `targetMatches(task.targets, client, notMember)`: a typed-in value names the client (or the task names nobody). */
function inlineMatches(step: Step, client: ClientContext): boolean {
  const sets = step.inlineSets;
  if (sets === undefined) return targetMatches(step.task.targets, client, notMember);
  for (const kind of TARGET_KINDS) {
    const set = sets[kind];
    if (set === undefined) continue;
    const value = targetValue(client, kind);
    if (value !== undefined && set.has(value)) return true;
  }
  return false;
}

/** The sets of `inlineMatches`, when every typed-in list is sorted as `shardHas` needs. */
function inlineSetsOf(
  targets: CompiledTargets,
): Record<TargetKind, ReadonlySet<string> | undefined> | undefined {
  const sorted = (list: readonly string[]) => list.every((v, i) => i === 0 || !(v < (list[i - 1] as string)));
  const setOf = (list: readonly string[] | undefined) => (list === undefined ? undefined : new Set(list));
  const { guid, deviceId, account } = targets.inline;
  if (![guid, deviceId, account].every((list) => list === undefined || sorted(list))) return undefined;
  return { guid: setOf(guid), deviceId: setOf(deviceId), account: setOf(account) };
}

/** The rollout bucket of the task's user key is inside its percentage (`otherRulesHold`'s last rule). */
function percentageHolds(walk: Walk, step: Step): boolean {
  const bp = step.task.percentageBp;
  if (bp === null) return true;
  const userKey = step.verifiedOnly ? taskUserKey(step.task, walk.client) : walk.memo.userKey.of(walk.client);
  return (
    userKey !== undefined && murmur3Utf16Rest(step.prefix as Murmur3Prefix, userKey) % ROLLOUT_BUCKETS < bp
  );
}

/**
 * `releaseDecision` after a walk, with the versions the plan parsed: the same answer, compared
 * as numbers (the client's installed version parsed once, through the memo).
 */
function walkedDecision(walk: Walk, chosen: Step | null): Decision {
  const { snapshot, client, plan } = walk;
  const online = releaseFor(snapshot, client.hostAppId);
  if (online === null)
    return chosen === null ? releaseDecision(snapshot, client, null) : grayscale(walk, chosen);
  // parsed once per plan for the snapshot's online release; a host app's own release (audit scope) here
  const onlineSemver =
    online === plan.online && plan.onlineSemver !== undefined ? plan.onlineSemver : semverOf(online.version);
  if (chosen !== null && compareSemver(chosen.semver, onlineSemver) > 0) return grayscale(walk, chosen);
  const order =
    client.installedVersion === undefined ? 1 : compareSemver(onlineSemver, installedOf(walk.memo, client));
  return {
    status: "ok",
    reason: order === 0 ? "up_to_date" : order < 0 ? "rollback" : "online",
    version: online.version,
    package: online.package,
    rollback: order < 0,
  };
}

/** The chosen task's version. */
function grayscale(walk: Walk, chosen: Step): Decision {
  const client = walk.client;
  const task = chosen.task;
  const order =
    client.installedVersion === undefined ? 1 : compareSemver(chosen.semver, installedOf(walk.memo, client));
  return {
    status: "ok",
    reason: "grayscale",
    version: task.version,
    package: task.package,
    rollback: order < 0,
    taskId: task.id,
  };
}

/** A version from a snapshot, parsed; one that is not a version is refused as `compareVersions` refuses it. */
function semverOf(text: string): Semver {
  const parsed = parseSemver(text);
  if (parsed === undefined) throw new RangeError(`not a semantic version: ${text}`);
  return parsed;
}

/** The client's installed version, parsed (the memo keeps the last one); refused as `compareVersions` refuses it. */
function installedOf(memo: RuleMemo, client: ClientContext): Semver {
  const text = client.installedVersion as string;
  const parsed = memo.installed.of(text);
  if (parsed === undefined) throw new RangeError(`not a semantic version: ${text}`);
  return parsed;
}

/**
 * Whether the step's task gives the client its version (and, when it does, its ticket was
 * handed over). `pass`: its masked rules hold (`RuleMasks`).
 */
function visit(walk: Walk, step: Step, pass: boolean): MaybePromise<boolean> {
  const task = step.task;
  // Audit scope: a host app whose auditor has not approved the version never gets it, ticket or not.
  if (step.unreviewed?.includes(walk.client.hostAppId) === true) return skip(walk, task, "not_reviewed");
  if (step.capped) walk.ports.admission?.reach?.(task);
  if (walk.presented) {
    const userKey = userKeyFor(walk, step);
    if (userKey !== undefined) {
      const held = (walk.ports.tickets as TicketPort).valid(task, userKey);
      if (held === true) return give(walk, task, userKey, "ticket");
      if (held !== false)
        return held.then((yes) =>
          yes ? give(walk, task, userKey, "ticket") : withoutTicket(walk, step, pass),
        );
    }
  }
  return withoutTicket(walk, step, pass);
}

/** The identity the task knows the client by: a verified-only task, its verified account (issue 10); any other, `userKeyOf`. */
function userKeyFor(walk: Walk, step: Step): string | undefined {
  if (step.verifiedOnly) return taskUserKey(step.task, walk.client);
  // the memo's key: the one the rules already built for a percentage or capped task of this client
  return walk.memo.userKey.of(walk.client);
}

function withoutTicket(walk: Walk, step: Step, pass: boolean): MaybePromise<boolean> {
  const task = step.task;
  if (step.sticky) {
    const userKey = userKeyFor(walk, step);
    // No new users. Only a client already running this version may have lost its ticket, and
    // only a capped task has a counter that remembers its users; past the tickets' own
    // lifetime the task keeps nobody new-ticketed either.
    if (
      userKey === undefined ||
      !step.capped ||
      walk.client.installedVersion !== task.version ||
      ticketExpiry(task.endAt) * 1000 <= walk.now
    ) {
      return skip(walk, task, "sticky_closed");
    }
    const admitted = walk.ports.admission?.isAdmitted(task, userKey) ?? false;
    if (admitted === true) return give(walk, task, userKey, "sticky_admitted");
    if (admitted === false) return skip(walk, task, "sticky_not_admitted");
    return admitted.then((yes) =>
      yes ? give(walk, task, userKey, "sticky_admitted") : skip(walk, task, "sticky_not_admitted"),
    );
  }
  const eligible = !pass
    ? false
    : step.lists === null
      ? !step.rest || restHolds(walk, step)
      : isEligibleByLists(walk, step, step.lists);
  if (eligible === true) return admit(walk, step);
  if (eligible === false) return skip(walk, task, "not_eligible");
  return eligible.then((yes) => (yes ? admit(walk, step) : skip(walk, task, "not_eligible")));
}

function admit(walk: Walk, step: Step): MaybePromise<boolean> {
  const task = step.task;
  const userKey = userKeyFor(walk, step);
  // Eligibility already required a user key for a capped or percentage task.
  if (userKey === undefined)
    return step.capped ? skip(walk, task, "not_eligible") : give(walk, task, undefined, "admitted");
  if (!step.capped) return give(walk, task, userKey, "admitted");
  const admission = walk.ports.admission;
  if (admission === undefined) return skip(walk, task, "refused");
  // A busy edge isolate admits from a lease of slots, with no call on the request path.
  if (admission.lease?.(task, userKey, walk.client) === true) return give(walk, task, userKey, "admitted");
  const admitted = admission.admit(task, userKey, walk.client);
  if (admitted === true) return give(walk, task, userKey, "admitted");
  if (admitted === false) return skip(walk, task, "refused");
  return admitted.then((yes) => (yes ? give(walk, task, userKey, "admitted") : skip(walk, task, "refused")));
}

/**
 * All of the task's rules hold, for a task with uploaded whitelists whose masked rules hold: the
 * lists are asked only when nothing else excludes the client. Membership only decides the target
 * rule: every other rule first (the masked ones, then the percentage), then the target rule
 * (inline values first, no I/O), then the lists. With no inline match, the rule holds exactly when one of the task's lists holds one of the client's values
 * (a list of a kind the client sent no value of is never asked).
 */
function isEligibleByLists(walk: Walk, step: Step, lists: readonly WhitelistRef[]): MaybePromise<boolean> {
  const client = walk.client;
  if (!percentageHolds(walk, step)) return false;
  if (step.inline && inlineMatches(step, client)) return true;
  let pending: Promise<boolean>[] | undefined;
  for (const ref of lists) {
    let member = walk.remembered(ref.id);
    if (member === undefined) {
      const value = targetValue(client, ref.kind);
      if (value === undefined) continue;
      const asked = walk.ports.member(ref, value);
      if (typeof asked !== "boolean") {
        (pending ??= []).push(asked.then((yes) => walk.remember(ref.id, yes)));
        continue;
      }
      member = walk.remember(ref.id, asked);
    }
    if (member) return true;
  }
  return pending === undefined ? false : Promise.all(pending).then(anyTrue);
}

const anyTrue = (answers: boolean[]) => answers.includes(true);

/** The task gives the client its version: note it, and hand over its ticket when there is a user to bind it to. */
function give(
  walk: Walk,
  task: CompiledTask,
  userKey: string | undefined,
  outcome: TaskOutcome,
): MaybePromise<boolean> {
  walk.ports.trace?.(task, outcome);
  if (userKey === undefined) return true;
  const issued = walk.ports.tickets?.issue(task, userKey);
  return issued === undefined ? true : issued.then(yes);
}

function skip(walk: Walk, task: CompiledTask, outcome: TaskOutcome): false {
  walk.ports.trace?.(task, outcome);
  return false;
}

const yes = () => true;
const notMember = () => false;
