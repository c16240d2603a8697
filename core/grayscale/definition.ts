/**
 * Guards on what a developer writes into a grayscale task: creation (`checkTaskDefinition`)
 * and later edits (`checkTaskEdit`). Each returns null when allowed, else a Refusal whose rule
 * names the broken rule (core/lifecycle.ts). Re-exported by ./lifecycle.ts.
 */
import type { Network, Platform } from "../decide";
import type { Refusal } from "../lifecycle";
import { refusalOf } from "../lifecycle";
import { compareLoose, compareVersions, isSemver, parseLooseVersion } from "../semver";
import type { IncludeExclude, TaskDefinition, TaskState, VersionRange } from "./types";
import { TARGET_KINDS } from "./types";
import { parseWhitelistLine } from "./whitelist";

/** seed: "Fill in the grayscale task name to distinguish it, no more than 20 words." */
export const MAX_TASK_NAME = 20;
export const MAX_USER_CAP = 100_000_000;
export const MAX_PERCENTAGE_BP = 10_000;
/** Counter shards a capped task's cap may be split over (docs/scale.md 5b): 64 x ~700 admissions/s each. */
export const MAX_CAP_SHARDS = 64;
/** Typed-in target objects per kind; beyond that, upload a txt whitelist. */
export const MAX_INLINE_TARGETS = 1000;
export const MAX_RULE_LIST = 200;
export const MAX_RULE_ENTRY = 64;

/** Every network and platform, checked against the unions at compile time. */
export const NETWORKS: Readonly<Record<Network, true>> = {
  wifi: true,
  "5g": true,
  "4g": true,
  "3g": true,
  "2g": true,
  ethernet: true,
  other: true,
};
export const PLATFORMS: Readonly<Record<Platform, true>> = { android: true, ios: true };

export interface TaskFacts {
  /** status of the chosen version (core/lifecycle VersionStatus) */
  versionStatus: string;
  /** version ever online (released) */
  versionEverReleased: boolean;
  onlineVersion: string | null;
  /** host apps with an approved binding */
  boundHostApps: readonly string[];
  listed: boolean;
}

/**
 * One end of a VersionRange: absent or "" is an open end (seed: "there is no limit if the
 * version number range is empty"); otherwise a loose version. undefined = malformed.
 */
export function parseRangeEnd(text: string | null | undefined): number[] | null | undefined {
  if (text === undefined || text === null || text === "") return null;
  return typeof text === "string" ? parseLooseVersion(text) : undefined;
}

function isValidRange(range: VersionRange | null | undefined): boolean {
  if (range === undefined || range === null) return true;
  if (typeof range !== "object") return false;
  const min = parseRangeEnd(range.min);
  const max = parseRangeEnd(range.max);
  if (min === undefined || max === undefined) return false;
  return min === null || max === null || compareLoose(min, max) <= 0;
}

/** 1..20 Unicode code points, not blank, no control characters (also the wire schema's check). */
export function isValidName(name: unknown): boolean {
  if (typeof name !== "string" || name.trim().length === 0) return false;
  let points = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    points++;
  }
  return points <= MAX_TASK_NAME;
}

const isIntIn = (n: unknown, min: number, max: number): boolean =>
  Number.isInteger(n) && (n as number) >= min && (n as number) <= max;
const isValidCap = (cap: unknown) => cap === null || isIntIn(cap, 1, MAX_USER_CAP);
const isValidPercentage = (bp: unknown) => bp === null || isIntIn(bp, 1, MAX_PERCENTAGE_BP);
const isValidShards = (k: unknown) => k === undefined || isIntIn(k, 1, MAX_CAP_SHARDS);

/** The cap shards a task admits through: its `capShards` when capped, else 1 (an uncapped task counts nobody). */
export function capShardsOf(def: Pick<TaskDefinition, "userCap" | "capShards">): number {
  return def.userCap !== null && def.capShards !== undefined && def.capShards > 1 ? def.capShards : 1;
}

function isValidRuleList(rule: IncludeExclude | undefined): boolean {
  if (rule === undefined) return true;
  if (typeof rule !== "object" || rule === null) return false;
  for (const list of [rule.include, rule.exclude]) {
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length > MAX_RULE_LIST) return false;
    for (const entry of list) {
      if (typeof entry !== "string") return false;
      const n = entry.trim().length;
      if (n < 1 || n > MAX_RULE_ENTRY) return false;
    }
  }
  return true;
}

/**
 * Checks a new task (or a full edit of a pending one) against the seed rules; null = allowed.
 * Checks, in order:
 * 1. the mini program is listed (ARCHITECTURE.md: delisted -> "no version can be published or grayscaled");
 * 2. the version is a semantic version, approved, never online, higher than online (seed: "The
 *    version released in grayscale must have passed the mini program audit, has not been online
 *    yet, and has a higher version number than the online version.");
 * 3. the name has 1..20 code points (seed: "no more than 20 words");
 * 4. startAt < endAt, and endAt >= now (seed: "The end time of grayscale cannot be earlier than
 *    the time point when the creation is confirmed.");
 * 5. userCap is null or 1..100,000,000 (seed: "Set the limit on the total number of grayscale users");
 * 6. percentageBp is null or 1..10000; capShards absent or 1..64;
 * 7. at least one host app, each bound (seed: "Select from all the associated applications"),
 *    each range well-formed;
 * 8. at least one platform of android / ios (seed: "Select from Android and iOS platforms"),
 *    each OS range well-formed;
 * 9. typed target objects: known kinds, at most 1000 per kind, each a valid whitelist value;
 * 10. networks from the enum;
 * 11. brand / model / country / region / city lists: at most 200 entries of 1..64 characters.
 */
export function checkTaskDefinition(def: TaskDefinition, facts: TaskFacts, now: number): Refusal | null {
  if (!facts.listed) return refusalOf("task_delisted");

  if (typeof def.version !== "string" || !isSemver(def.version)) return refusalOf("task_version_invalid");
  // A released version has status "released", so "has been online" must be told first.
  if (facts.versionEverReleased || facts.versionStatus === "released")
    return refusalOf("task_version_was_online");
  if (facts.versionStatus !== "approved") return refusalOf("task_version_not_approved");
  if (facts.onlineVersion !== null && compareVersions(def.version, facts.onlineVersion) <= 0)
    return refusalOf("task_version_not_higher");

  if (!isValidName(def.name)) return refusalOf("task_name_invalid");

  if (!Number.isFinite(def.startAt) || !Number.isFinite(def.endAt) || def.startAt >= def.endAt)
    return refusalOf("task_time_invalid");
  if (def.endAt < now) return refusalOf("task_end_in_past");

  if (!isValidCap(def.userCap)) return refusalOf("task_cap_invalid");
  if (!isValidPercentage(def.percentageBp)) return refusalOf("task_percentage_invalid");
  if (!isValidShards(def.capShards)) return refusalOf("task_cap_shards_invalid");

  if (typeof def.hostApps !== "object" || def.hostApps === null) return refusalOf("task_no_host_app");
  const hostApps = Object.keys(def.hostApps);
  if (hostApps.length === 0) return refusalOf("task_no_host_app");
  for (const id of hostApps)
    if (!facts.boundHostApps.includes(id)) return refusalOf("task_host_app_not_bound");
  for (const id of hostApps) if (!isValidRange(def.hostApps[id])) return refusalOf("task_range_invalid");

  if (typeof def.platforms !== "object" || def.platforms === null) return refusalOf("task_no_platform");
  const platforms = Object.keys(def.platforms);
  if (platforms.length === 0) return refusalOf("task_no_platform");
  for (const p of platforms) if (!Object.hasOwn(PLATFORMS, p)) return refusalOf("task_platform_invalid");
  for (const p of platforms)
    if (!isValidRange(def.platforms[p as Platform])) return refusalOf("task_range_invalid");

  if (typeof def.targets !== "object" || def.targets === null) return refusalOf("task_target_invalid");
  for (const [kind, values] of Object.entries(def.targets)) {
    if (!(TARGET_KINDS as readonly string[]).includes(kind) || !Array.isArray(values))
      return refusalOf("task_target_invalid");
    if (values.length > MAX_INLINE_TARGETS) return refusalOf("task_too_many_targets");
    for (const v of values)
      if (typeof v !== "string" || !parseWhitelistLine(v).ok) return refusalOf("task_target_invalid");
  }

  if (def.networks !== undefined) {
    if (!Array.isArray(def.networks)) return refusalOf("task_network_invalid");
    for (const n of def.networks)
      if (typeof n !== "string" || !Object.hasOwn(NETWORKS, n)) return refusalOf("task_network_invalid");
  }

  for (const rule of [def.brands, def.models, def.countries, def.regions, def.cities]) {
    if (!isValidRuleList(rule)) return refusalOf("task_rule_list_invalid");
  }
  return null;
}

/** Deep equality of JSON-like values; an `undefined` property counts as absent. */
function isSameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => isSameValue(x, b[i]));
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
  for (const k of keys) if (!isSameValue(ra[k], rb[k])) return false;
  return true;
}

/** Fields that stay editable once a task has started (a running audience cannot be redefined). */
export const RUNNING_EDITABLE: readonly (keyof TaskDefinition)[] = [
  "name",
  "endAt",
  "userCap",
  "percentageBp",
];

/** Every field of TaskDefinition: a new field fails the build until it is listed here. */
const FIELDS: Readonly<Record<keyof TaskDefinition, true>> = {
  name: true,
  version: true,
  startAt: true,
  endAt: true,
  userCap: true,
  percentageBp: true,
  hostApps: true,
  platforms: true,
  targets: true,
  networks: true,
  brands: true,
  models: true,
  countries: true,
  regions: true,
  cities: true,
  verifiedOnly: true,
  capShards: true,
};
export const ALL_FIELDS = Object.keys(FIELDS) as readonly (keyof TaskDefinition)[];

/**
 * An edit of a task in (effective) `state`, with `admittedSoFar` users already admitted.
 * Checks, in order:
 * 1. the task has not ended;
 * 2. only fields editable in this state changed (pending: all; delivering / suspended: name,
 *    end time, user cap, percentage);
 * 3. the name is valid; startAt < endAt; endAt >= now (seed: "The end time of grayscale cannot
 *    be earlier than the time point when the creation is confirmed.");
 * 4. userCap is null or 1..100,000,000, and not below `admittedSoFar` (admitted users are sticky);
 * 5. percentageBp is null or 1..10000, and once started never lowered (raising never drops a
 *    user; lowering would).
 * A pending task's full edit must also pass `checkTaskDefinition` (the caller has the facts).
 */
export function checkTaskEdit(
  before: TaskDefinition,
  after: TaskDefinition,
  state: TaskState,
  now: number,
  admittedSoFar: number,
): Refusal | null {
  if (state === "ended") return refusalOf("task_ended");
  const editable = state === "pending" ? ALL_FIELDS : RUNNING_EDITABLE;
  for (const field of ALL_FIELDS) {
    if (!editable.includes(field) && !isSameValue(before[field], after[field]))
      return refusalOf("task_field_locked");
  }
  if (!isValidName(after.name)) return refusalOf("task_name_invalid");
  if (!Number.isFinite(after.startAt) || !Number.isFinite(after.endAt) || after.startAt >= after.endAt)
    return refusalOf("task_time_invalid");
  if (after.endAt < now) return refusalOf("task_end_in_past");
  if (!isValidCap(after.userCap)) return refusalOf("task_cap_invalid");
  if (after.userCap !== null && after.userCap < admittedSoFar) return refusalOf("task_cap_below_admitted");
  if (!isValidPercentage(after.percentageBp)) return refusalOf("task_percentage_invalid");
  if (!isValidShards(after.capShards)) return refusalOf("task_cap_shards_invalid");
  if (state !== "pending" && lowersPercentage(before.percentageBp, after.percentageBp))
    return refusalOf("task_percentage_lowered");
  return null;
}

/** null means every eligible user (100%). */
function lowersPercentage(before: number | null, after: number | null): boolean {
  if (after === null) return false;
  return before === null || after < before;
}
