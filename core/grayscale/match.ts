/**
 * The allocation-free predicates behind each grayscale condition, shared by `evaluateTask`
 * (which also explains) and `isTaskEligible` (the hot path), so both always agree.
 */
import { type ClientContext, type Network, verifiedAccountOf } from "../decide";
import type { CompiledTargets, IncludeExclude, TargetKind, WhitelistRef } from "./types";
import { TARGET_KINDS } from "./types";
import { shardHas } from "./whitelist";

export type ParsedRange = readonly [number[] | null, number[] | null];

/**
 * An inclusive range check of a loose client version. An unbounded range admits anything, even
 * a malformed version; a bounded one refuses a malformed version (we cannot say it is inside).
 *
 * One pass over `text` with exactly the grammar of `parseLooseVersion`
 * (/^\d{1,9}(\.\d{1,9}){0,4}$/), comparing each part with the bounds as it is read, the way
 * `compareLoose` orders them (missing parts count as 0): no array, no scratch buffer (issue 11:
 * core keeps no module state).
 */
export function versionInRange(text: string, range: ParsedRange): boolean {
  const min = range[0];
  const max = range[1];
  if (min === null && max === null) return true;
  // the first non-zero difference of the text's parts from each bound's, once known
  let toMin = 0;
  let toMax = 0;
  let parts = 0;
  let digits = 0;
  let value = 0;
  const n = text.length;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : -1;
    if (c >= 48 && c <= 57) {
      if (++digits > 9) return false;
      value = value * 10 + (c - 48);
      continue;
    }
    // a dot ends a part (at most five parts), and so does the end of the text
    if (digits === 0 || (c !== 46 && c !== -1) || (c === 46 && parts === 4)) return false;
    if (toMin === 0 && min !== null) toMin = value - (min[parts] ?? 0);
    if (toMax === 0 && max !== null) toMax = value - (max[parts] ?? 0);
    parts++;
    digits = 0;
    value = 0;
  }
  if (min !== null) for (let k = parts; toMin === 0 && k < min.length; k++) toMin = -(min[k] ?? 0);
  if (max !== null) for (let k = parts; toMax === 0 && k < max.length; k++) toMax = -(max[k] ?? 0);
  return (min === null || toMin >= 0) && (max === null || toMax <= 0);
}

/** Whether `text` is a well-formed loose version (same grammar as parseLooseVersion). */
export function isLooseVersion(text: string): boolean {
  let parts = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 9) return false;
    } else if (c === 46) {
      if (digits === 0 || parts === 4) return false;
      parts++;
      digits = 0;
    } else return false;
  }
  return digits > 0;
}

/**
 * An advanced include/exclude rule on an already lower-cased value (undefined = not known).
 * A non-empty include list needs a value on it; an exclude list refuses a value on it; a
 * missing value passes an exclude-only rule.
 */
export function listRuleAllows(rule: IncludeExclude | null, value: string | undefined): boolean {
  if (rule === null) return true;
  const include = rule.include;
  if (include !== undefined && include.length > 0 && (value === undefined || !include.includes(value)))
    return false;
  const exclude = rule.exclude;
  if (exclude !== undefined && value !== undefined && exclude.includes(value)) return false;
  return true;
}

/** Lower-cases a client value for list rules; empty counts as missing. */
export function lowerOrUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value.toLowerCase();
}

export function networkAllows(networks: readonly Network[] | null, network: Network | undefined): boolean {
  return networks === null || (network !== undefined && networks.includes(network));
}

/**
 * The client's value of one target kind (empty counts as missing). An account counts only when
 * the host app vouched for it (issue 10: account targets match verified accounts only); GUIDs and
 * device ids are what the device says they are.
 */
export function targetValue(client: ClientContext, kind: TargetKind): string | undefined {
  const v = kind === "guid" ? client.guid : kind === "deviceId" ? client.deviceId : verifiedAccountOf(client);
  return v === undefined || v.length === 0 ? undefined : v;
}

/**
 * How the client is named by the task's target objects: GUID, device id and account are
 * alternative names of a user, so ANY of them listed (inline, exact and case-sensitive, or in an
 * uploaded whitelist of that kind) admits. Returns the matching kind and whitelist (null for an
 * inline match), or undefined when none matches. `inline` lists are sorted (compileTask).
 */
export function matchTarget(
  targets: CompiledTargets,
  client: ClientContext,
  whitelistMember: (ref: WhitelistRef) => boolean,
): { kind: TargetKind; whitelist: WhitelistRef | null } | undefined {
  for (const kind of TARGET_KINDS) {
    const value = targetValue(client, kind);
    if (value === undefined) continue;
    const inline = targets.inline[kind];
    if (inline !== undefined && shardHas(inline, value)) return { kind, whitelist: null };
    for (const ref of targets.whitelists) {
      if (ref.kind === kind && whitelistMember(ref)) return { kind, whitelist: ref };
    }
  }
  return undefined;
}

/** Boolean form of `matchTarget` that allocates nothing. */
export function targetMatches(
  targets: CompiledTargets | null,
  client: ClientContext,
  whitelistMember: (ref: WhitelistRef) => boolean,
): boolean {
  if (targets === null) return true;
  for (const kind of TARGET_KINDS) {
    const value = targetValue(client, kind);
    if (value === undefined) continue;
    const inline = targets.inline[kind];
    if (inline !== undefined && shardHas(inline, value)) return true;
    for (const ref of targets.whitelists) {
      if (ref.kind === kind && whitelistMember(ref)) return true;
    }
  }
  return false;
}

/** "8.0.1" for a parsed version, "-" for an open end (explanations only). */
export function formatRange(range: ParsedRange): string {
  return `[${range[0] === null ? "-" : range[0].join(".")}, ${range[1] === null ? "-" : range[1].join(".")}]`;
}
