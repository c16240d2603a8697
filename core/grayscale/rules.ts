/**
 * Pure evaluation of one compiled grayscale task for one client (seed: "The intersection
 * between multiple grayscale conditions is taken"; mPaaS: "Multiple filtering rules can be
 * superimposed, and the mini program package will only be delivered if all filtering rules are
 * met").
 *
 * `evaluateTask` reports every condition (for explain); `isTaskEligible` gives the same answer
 * with no allocation and stops at the first failing condition (for the hot path). Both use the
 * predicates of ./match.ts, and a test checks that they agree.
 */
import { type ClientContext, verifiedAccountOf } from "../decide";
import { parseSemver, type Semver } from "../semver";
import { type Murmur3Prefix, murmur3Utf16, murmur3Utf16Prefix, murmur3Utf16Rest } from "./hash";
import type { ParsedRange } from "./match";
import {
  formatRange,
  listRuleAllows,
  lowerOrUndefined,
  matchTarget,
  networkAllows,
  targetMatches,
  versionInRange,
} from "./match";
import type {
  CompiledTask,
  ConditionName,
  ConditionResult,
  Geo,
  IncludeExclude,
  TaskVerdict,
  WhitelistRef,
} from "./types";

/** Buckets of a percentage rollout: 10000, so a bucket is one basis point. */
export const ROLLOUT_BUCKETS = 10_000;

/**
 * The identity a task counts and hashes: the GUID, else the custom device id, else the account,
 * prefixed by kind ("g:", "d:", "a:"); undefined when the client sent none (empty = none).
 */
export function userKeyOf(client: ClientContext): string | undefined {
  if (client.guid) return `g:${client.guid}`;
  if (client.deviceId) return `d:${client.deviceId}`;
  if (client.account) return `a:${client.account}`;
  return undefined;
}

/**
 * The identity `task` counts and hashes: for a verified-only task the verified account ("a:"),
 * undefined without one; otherwise `userKeyOf`.
 */
export function taskUserKey(task: CompiledTask, client: ClientContext): string | undefined {
  if (task.verifiedOnly !== true) return userKeyOf(client);
  const account = verifiedAccountOf(client);
  return account === undefined ? undefined : `a:${account}`;
}

/**
 * Stable bucket 0..9999 of a user in a task: murmur3 x86_32 (seed 0) of the UTF-16LE bytes of
 * `${taskId}\u0000${userKey}`, modulo 10000 (bias < 3e-6, negligible). Per task, so a user at
 * the front of one rollout is not at the front of every rollout. A user is admitted when
 * `bucket < percentageBp`: raising the percentage only adds buckets, it never drops a user.
 */
export function rolloutBucket(taskId: string, userKey: string, memo?: RuleMemo): number {
  const prefix = memo !== undefined ? memo.prefix(taskId) : murmur3Utf16Prefix(taskId, 0);
  return murmur3Utf16Rest(prefix, userKey) % ROLLOUT_BUCKETS;
}

/** Seed of the cap-shard hash: not the rollout's 0, so a user's shard says nothing of their bucket. */
export const CAP_SHARD_SEED = 0x5bd1e995;

/**
 * The counter shard 0..shards-1 of a user in a capped task split into `shards` (docs/scale.md
 * 5b): murmur3 x86_32 of the same `${taskId}\u0000${userKey}` as `rolloutBucket`, under
 * CAP_SHARD_SEED, modulo `shards`. Stable, so a user always reaches the same shard and is counted
 * there once. Another seed than the bucket's because 16 divides 10000: under the same hash a 0.01%
 * rollout (bucket 0) would send every admitted user to shard 0.
 */
export function capShardOf(taskId: string, userKey: string, shards: number): number {
  return shards <= 1 ? 0 : murmur3Utf16(taskId, CAP_SHARD_SEED, userKey) % shards;
}

/** The GrayscaleCounter object of shard `shard`: the task's own id for an unsharded task, else `${taskId}#${shard}`. */
export function capShardName(taskId: string, shards: number, shard: number): string {
  return shards <= 1 ? taskId : `${taskId}#${shard}`;
}

const MAX_PREFIXES = 1_024;

/**
 * The range a task sets for `key` (a host app id or a platform). Ranges are arrays, and nothing an
 * object inherits ("constructor", "__proto__"...) is one, so `Array.isArray` also rules out keys
 * that are not the task's own, without the cost of `Object.hasOwn` on the hot path.
 */
const rangeOf = (ranges: Partial<Record<string, ParsedRange>>, key: string): ParsedRange | undefined => {
  const range = ranges[key];
  return Array.isArray(range) ? range : undefined;
};

/**
 * Evaluates every condition of `task` for `client` at `now` and reports each one, in the order
 * of ConditionName: phase, time_window, host_app, host_app_version, platform, os_version,
 * target, verified_user, network, brand, model, country, region, city, percentage, user_id.
 * `whitelistMember(ref)` tells whether the client's value of `ref.kind` is in that uploaded
 * whitelist (resolved by the caller, which may need I/O); it is called only when the client
 * sent a value of that kind and no inline value matched.
 *
 * `eligible` means a NEW user may be admitted (the cap is checked separately, by the counter).
 * A sticky task is never eligible; whether an already admitted user keeps it is the caller's
 * business (admission ticket), whatever the conditions say now.
 */
export function evaluateTask(
  task: CompiledTask,
  client: ClientContext,
  geo: Geo,
  now: number,
  whitelistMember: (ref: WhitelistRef) => boolean,
  memo?: RuleMemo,
): TaskVerdict {
  const conditions: ConditionResult[] = [];
  const add = (condition: ConditionName, pass: boolean, detail: string) =>
    conditions.push({ condition, pass, detail });

  const sticky = task.phase === "sticky";
  add(
    "phase",
    !sticky,
    sticky ? "sticky: no new users; users already admitted keep the version" : "admitting new users",
  );

  if (now < task.startAt) add("time_window", false, `not started: starts at ${task.startAt}, now ${now}`);
  else if (now >= task.endAt) add("time_window", false, `ended: ended at ${task.endAt}, now ${now}`);
  else add("time_window", true, `now ${now} in [${task.startAt}, ${task.endAt})`);

  const appRange = rangeOf(task.hostApps, client.hostAppId);
  add(
    "host_app",
    appRange !== undefined,
    appRange ? `host app ${client.hostAppId} is targeted` : hostAppMiss(task, client.hostAppId),
  );
  versionCondition(
    add,
    "host_app_version",
    `app version ${client.hostAppVersion}`,
    client.hostAppVersion,
    appRange,
  );

  const osRange = rangeOf(task.platforms, client.platform);
  add(
    "platform",
    osRange !== undefined,
    osRange ? `platform ${client.platform} is targeted` : `platform ${client.platform} is not targeted`,
  );
  versionCondition(add, "os_version", `OS version ${client.osVersion}`, client.osVersion, osRange);

  if (task.targets === null) add("target", true, "no target objects: every user");
  else {
    const match = matchTarget(task.targets, client, whitelistMember);
    if (match === undefined)
      add(
        "target",
        false,
        `no GUID, device id or account of the client is a target object${unverifiedNote(client)}`,
      );
    else
      add(
        "target",
        true,
        match.whitelist
          ? `${match.kind} in whitelist ${match.whitelist.id}`
          : `${match.kind} listed in the task`,
      );
  }

  if (task.verifiedOnly !== true) add("verified_user", true, "any user (the task is not verified-only)");
  else if (verifiedAccountOf(client) !== undefined)
    add("verified_user", true, `account ${client.account} is verified by the host app`);
  else
    add(
      "verified_user",
      false,
      `verified users only: ${client.account ? `account ${client.account} is not verified (no valid user assertion from the host app)` : "no verified account (send a user assertion from the host app)"}`,
    );

  if (task.networks === null) add("network", true, "any network");
  else if (client.network === undefined)
    add("network", false, `network unknown; task needs ${task.networks.join("/")}`);
  else
    add(
      "network",
      networkAllows(task.networks, client.network),
      `network ${client.network}; task needs ${task.networks.join("/")}`,
    );

  listCondition(add, "brand", task.brands, client.brand);
  listCondition(add, "model", task.models, client.model);
  listCondition(add, "country", task.countries, geo.country);
  listCondition(add, "region", task.regions, geo.region);
  listCondition(add, "city", task.cities, geo.city);

  const userKey = taskUserKey(task, client);
  if (task.percentageBp === null) add("percentage", true, "no percentage: every eligible user");
  else if (userKey === undefined)
    add("percentage", false, `percentage ${task.percentageBp}bp needs a GUID, device id or account`);
  else {
    const bucket = rolloutBucket(task.id, userKey, memo);
    add(
      "percentage",
      bucket < task.percentageBp,
      `bucket ${bucket} ${bucket < task.percentageBp ? "<" : ">="} ${task.percentageBp}bp`,
    );
  }

  const needsKey = task.userCap !== null || task.percentageBp !== null;
  if (userKey !== undefined) add("user_id", true, `user ${userKey}`);
  else if (task.verifiedOnly === true)
    add("user_id", false, "no verified account: a verified-only task counts users by their verified account");
  else
    add(
      "user_id",
      !needsKey,
      needsKey
        ? "no GUID, device id or account: a capped or percentage task cannot count this user"
        : "no user id (not needed)",
    );

  let eligible = true;
  for (const c of conditions) eligible &&= c.pass;
  return { taskId: task.id, version: task.version, eligible, stickyOnly: sticky, conditions };
}

/** Why a host app is not among a task's: not chosen, or chosen but its auditor has not approved the version (audit scope). */
function hostAppMiss(task: CompiledTask, hostAppId: string): string {
  return task.unreviewedHostApps?.includes(hostAppId) === true
    ? `host app ${hostAppId} has not approved version ${task.version} in an audit: a binding audit is needed`
    : `host app ${hostAppId} is not targeted`;
}

/** Why an account the client sent did not count (explain only). */
function unverifiedNote(client: ClientContext): string {
  return client.account && verifiedAccountOf(client) === undefined
    ? ` (account ${client.account} is not verified: account targets need a user assertion from the host app)`
    : "";
}

function versionCondition(
  add: (c: ConditionName, pass: boolean, detail: string) => void,
  condition: ConditionName,
  label: string,
  version: string,
  range: ParsedRange | undefined,
): void {
  if (range === undefined) add(condition, false, `${label}: not targeted`);
  else if (range[0] === null && range[1] === null) add(condition, true, `${label}: any version`);
  else {
    const pass = versionInRange(version, range);
    add(condition, pass, `${label} ${pass ? "in" : "not in"} ${formatRange(range)}`);
  }
}

function listCondition(
  add: (c: ConditionName, pass: boolean, detail: string) => void,
  condition: ConditionName,
  rule: IncludeExclude | null,
  raw: string | undefined,
): void {
  if (rule === null) {
    add(condition, true, `any ${condition}`);
    return;
  }
  const value = lowerOrUndefined(raw);
  const pass = listRuleAllows(rule, value);
  const shown = value === undefined ? `${condition} unknown` : `${condition} ${value}`;
  add(
    condition,
    pass,
    pass
      ? `${shown}: allowed`
      : `${shown}: ${value !== undefined && rule.exclude?.includes(value) ? "excluded" : "not included"}`,
  );
}

/**
 * `lowerOrUndefined` remembering its last input: a walk over many tasks asks for the same
 * client's brand (model, region...) once per task, and lower-casing allocates a string each time.
 */
export class LastLower {
  #raw: string | undefined;
  #lower: string | undefined;

  of(raw: string | undefined): string | undefined {
    if (raw !== this.#raw || raw === undefined) {
      this.#raw = raw;
      this.#lower = lowerOrUndefined(raw);
    }
    return this.#lower;
  }
}

/**
 * The mask word a rule index last gave for a raw client value (`RuleMasks`): successive clients
 * often share a brand, a model, and above all the place the edge sees them in, and the mask of
 * a value depends on nothing else (the index it came from and the word are compared too).
 */
export class LastMask {
  index: object | undefined = undefined;
  value: string | undefined = undefined;
  w = -1;
  word = 0;
}

/**
 * The user key of the client being walked, built once per walk rather than once per task (the
 * ids it is made of are compared, so a reused client object with other ids is never stale).
 */
class LastUserKey {
  #ids: [string | undefined, string | undefined, string | undefined] = [undefined, undefined, undefined];
  #key: string | undefined;

  of(client: ClientContext): string | undefined {
    const ids = this.#ids;
    if (
      client.guid !== ids[0] ||
      client.deviceId !== ids[1] ||
      client.account !== ids[2] ||
      this.#key === undefined
    ) {
      ids[0] = client.guid;
      ids[1] = client.deviceId;
      ids[2] = client.account;
      this.#key = userKeyOf(client);
    }
    return this.#key;
  }
}

/**
 * The parsed form of the last version text asked for (`parseSemver`): the installed versions of
 * successive clients repeat (a handful of releases), and `decide` compares each against the
 * version it answers with.
 */
class LastSemver {
  #text: string | undefined;
  #parsed: Semver | undefined;

  of(text: string): Semver | undefined {
    if (text !== this.#text) {
      this.#parsed = parseSemver(text);
      this.#text = text;
    }
    return this.#parsed;
  }
}

/**
 * What the rule walk remembers between calls, owned by the caller (issue 11: the core keeps no
 * mutable module state): the edge keeps one per isolate, a walk without one computes afresh.
 * Nothing in it changes an answer, only what it costs.
 */
export class RuleMemo {
  /** the hash state of each task id's part, shared by all its users' buckets (bounded: task ids come from snapshots) */
  readonly #prefixes = new Map<string, Murmur3Prefix>();
  readonly userKey = new LastUserKey();
  readonly brand = new LastLower();
  readonly model = new LastLower();
  readonly country = new LastLower();
  readonly region = new LastLower();
  readonly city = new LastLower();
  /** the last mask word each list dimension's value gave (core/grayscale/rule-masks.ts) */
  readonly brandMask = new LastMask();
  readonly modelMask = new LastMask();
  readonly countryMask = new LastMask();
  readonly regionMask = new LastMask();
  readonly cityMask = new LastMask();
  readonly installed = new LastSemver();

  prefix(taskId: string): Murmur3Prefix {
    let prefix = this.#prefixes.get(taskId);
    if (prefix === undefined) {
      if (this.#prefixes.size >= MAX_PREFIXES) this.#prefixes.clear();
      prefix = murmur3Utf16Prefix(taskId, 0);
      this.#prefixes.set(taskId, prefix);
    }
    return prefix;
  }
}

const lowerVia = (memo: LastLower | undefined, raw: string | undefined) =>
  memo === undefined ? lowerOrUndefined(raw) : memo.of(raw);

/**
 * The same answer as `evaluateTask(...).eligible` (every condition must hold, so the order does
 * not change it), stopping at the first failing condition, the costly target rule (hashes,
 * whitelist probes) last, and allocating only the user key and lower-cased list values (with a
 * `memo`, once per client rather than once per task). `prefix`: the task id's hash state
 * (`murmur3Utf16Prefix(task.id, 0)`) when the caller keeps it with the task (core `decide`'s plan).
 */
export function isTaskEligible(
  task: CompiledTask,
  client: ClientContext,
  geo: Geo,
  now: number,
  whitelistMember: (ref: WhitelistRef) => boolean,
  memo?: RuleMemo,
  prefix?: Murmur3Prefix,
): boolean {
  // Last: the only rule that may hash the client's ids and probe a whitelist.
  const targets = task.targets;
  return (
    otherRulesHold(task, client, geo, now, memo, prefix) &&
    (targets === null || targetMatches(targets, client, whitelistMember))
  );
}

/**
 * Every rule of `isTaskEligible` but the target rule, in the same order (core `decide` asks a
 * task's uploaded whitelists only once these hold, then decides the target rule itself).
 */
export function otherRulesHold(
  task: CompiledTask,
  client: ClientContext,
  geo: Geo,
  now: number,
  memo?: RuleMemo,
  prefix?: Murmur3Prefix,
): boolean {
  if (task.phase !== "admitting") return false;
  if (now < task.startAt || now >= task.endAt) return false;
  const appRange = rangeOf(task.hostApps, client.hostAppId);
  if (appRange === undefined || !versionInRange(client.hostAppVersion, appRange)) return false;
  const osRange = rangeOf(task.platforms, client.platform);
  if (osRange === undefined || !versionInRange(client.osVersion, osRange)) return false;
  if (!networkAllows(task.networks, client.network)) return false;
  if (task.brands !== null && !listRuleAllows(task.brands, lowerVia(memo?.brand, client.brand))) return false;
  if (task.models !== null && !listRuleAllows(task.models, lowerVia(memo?.model, client.model))) return false;
  if (task.countries !== null && !listRuleAllows(task.countries, lowerVia(memo?.country, geo.country)))
    return false;
  if (task.regions !== null && !listRuleAllows(task.regions, lowerVia(memo?.region, geo.region)))
    return false;
  if (task.cities !== null && !listRuleAllows(task.cities, lowerVia(memo?.city, geo.city))) return false;
  // Issue 10: only an account the host app vouched for; counted by that account.
  if (task.verifiedOnly === true && verifiedAccountOf(client) === undefined) return false;
  if (task.percentageBp !== null || task.userCap !== null) {
    const userKey =
      task.verifiedOnly === true
        ? taskUserKey(task, client)
        : memo !== undefined
          ? memo.userKey.of(client)
          : userKeyOf(client);
    if (userKey === undefined) return false;
    if (
      task.percentageBp !== null &&
      (prefix !== undefined
        ? murmur3Utf16Rest(prefix, userKey) % ROLLOUT_BUCKETS
        : rolloutBucket(task.id, userKey, memo)) >= task.percentageBp
    )
      return false;
  }
  return true;
}
