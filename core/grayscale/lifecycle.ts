/**
 * Grayscale task rules: creation checks (./definition.ts, re-exported here), the state machine,
 * time-derived states, what may be edited in which state, and compilation into the snapshot form.
 *
 * States (seed: "pending delivery, being delivered, suspended, ended"):
 *   pending --start time--> delivering --end time--> ended(end_time)
 *   pending | delivering --suspend--> suspended --resume--> delivering (pending before the start)
 *   pending | delivering | suspended --end--> ended(manual)
 *   any but withdrawn --end_and_revert--> ended(reverted)
 * ended(cap_reached / released / delisted) are set by the caller (counter, publish, off-shelf).
 */
import type { Refusal } from "../lifecycle";
import { refusalOf } from "../lifecycle";
import type { PackageRef } from "../snapshot";
import { ALL_FIELDS, capShardsOf, PLATFORMS, parseRangeEnd, RUNNING_EDITABLE } from "./definition";
import type {
  CompiledTargets,
  CompiledTask,
  EndReason,
  IncludeExclude,
  TaskDefinition,
  TaskState,
  VersionRange,
  WhitelistRef,
} from "./types";
import { TARGET_KINDS } from "./types";
import { parseWhitelistLine } from "./whitelist";

export type { TaskFacts } from "./definition";
export { capShardsOf, checkTaskDefinition, checkTaskEdit, MAX_CAP_SHARDS, MAX_TASK_NAME } from "./definition";

export type TaskAction = "suspend" | "resume" | "end" | "end_and_revert";

export interface TaskStatus {
  state: TaskState;
  endReason: EndReason | null;
}

/**
 * Ended tasks whose version users no longer keep: reverted (seed-beyond: withdrawn from
 * everyone), released (seed: "all users will be upgraded to the latest released version"),
 * delisted. The others (manual, end_time, cap_reached) stay sticky for admitted users.
 */
const WITHDRAWN: readonly EndReason[] = ["released", "reverted", "delisted"];

/**
 * The state the task is really in at `now`: past its end time a pending, delivering or
 * suspended task has ended (end_time); a pending task past its start time delivers. The edge
 * and the control plane use this rather than trusting a timer to have run.
 */
export function effectiveStatus(status: TaskStatus, startAt: number, endAt: number, now: number): TaskStatus {
  if (status.state === "ended") return status;
  if (now >= endAt) return { state: "ended", endReason: "end_time" };
  if (status.state === "pending" && now >= startAt) return { state: "delivering", endReason: null };
  return status;
}

/**
 * Applies a manual action to the effective status; a Refusal when the state does not allow it.
 * - suspend: pending or delivering -> suspended ("Suspend stops new admissions");
 * - resume: suspended -> delivering, or pending before the start time (after the end time the
 *   task has already ended). Resuming a task suspended by delisting must be refused by the
 *   caller while the mini program is off the shelf (this function does not know the shelf);
 * - end: pending, delivering or suspended -> ended(manual): admitted users keep the version;
 * - end_and_revert: any task not yet withdrawn -> ended(reverted), including a sticky ended one
 *   (manual, end_time, cap_reached); everyone gets the online version back.
 */
export function applyAction(
  status: TaskStatus,
  action: TaskAction,
  startAt: number,
  endAt: number,
  now: number,
): TaskStatus | Refusal {
  const current = effectiveStatus(status, startAt, endAt, now);
  const { state } = current;
  switch (action) {
    case "suspend":
      if (state === "ended") return refusalOf("task_ended");
      if (state === "suspended") return refusalOf("task_already_suspended");
      return { state: "suspended", endReason: null };
    case "resume":
      if (state === "ended") return refusalOf("task_ended");
      if (state !== "suspended") return refusalOf("task_not_suspended");
      return { state: now < startAt ? "pending" : "delivering", endReason: null };
    case "end":
      if (state === "ended") return refusalOf("task_ended");
      return { state: "ended", endReason: "manual" };
    case "end_and_revert":
      if (state === "ended" && current.endReason !== null && WITHDRAWN.includes(current.endReason))
        return refusalOf("task_already_withdrawn");
      return { state: "ended", endReason: "reverted" };
  }
}

/** Fields of TaskDefinition a developer may change in each state. */
export function editableFields(state: TaskState): readonly (keyof TaskDefinition)[] {
  switch (state) {
    case "pending":
      return ALL_FIELDS;
    case "delivering":
    case "suspended":
      return RUNNING_EDITABLE;
    case "ended":
      return [];
  }
}

/** A range end that failed to parse compiles to an empty range: fail closed, never open. */
function compileRange(range: VersionRange | undefined): [number[] | null, number[] | null] {
  const min = parseRangeEnd(range?.min);
  const max = parseRangeEnd(range?.max);
  if (min === undefined || max === undefined) return [[1], [0]];
  return [min, max];
}

/** Trimmed, lower-cased, unique, sorted entries. */
function compileEntries(entries: readonly string[] | undefined): string[] {
  if (entries === undefined) return [];
  const set = new Set<string>();
  for (const e of entries) {
    const v = e.trim().toLowerCase();
    if (v.length > 0) set.add(v);
  }
  return [...set].sort();
}

function compileRule(rule: IncludeExclude | undefined): IncludeExclude | null {
  const include = compileEntries(rule?.include);
  const exclude = compileEntries(rule?.exclude);
  if (include.length === 0 && exclude.length === 0) return null;
  const out: IncludeExclude = {};
  if (include.length > 0) out.include = include;
  if (exclude.length > 0) out.exclude = exclude;
  return out;
}

function compileTargets(def: TaskDefinition, whitelists: readonly WhitelistRef[]): CompiledTargets | null {
  const inline: CompiledTargets["inline"] = {};
  let any = false;
  for (const kind of TARGET_KINDS) {
    const set = new Set<string>();
    for (const raw of def.targets[kind] ?? []) {
      const parsed = parseWhitelistLine(raw);
      if (parsed.ok) set.add(parsed.value);
    }
    if (set.size > 0) {
      // plain string order: the order `shardHas` searches in
      inline[kind] = [...set].sort();
      any = true;
    }
  }
  if (!any && whitelists.length === 0) return null;
  return { inline, whitelists: [...whitelists] };
}

/**
 * The snapshot form of a task, or null when clients can no longer get it (ended by release,
 * revert or delisting). Phase: admitting when (effectively) pending or delivering (the edge
 * enforces the start and end times itself, through the time_window condition); sticky when
 * suspended or ended by manual end, end time or cap. Ranges are parsed, list rules trimmed,
 * lower-cased and sorted, inline targets trimmed, deduplicated and sorted; `targets` is null
 * when the task names no target objects at all.
 *
 * Audit scope (core/audit-scope.ts): `unreviewedHostApps` are the bound host apps whose auditor
 * has not approved the task's version; they are taken out of the task's host apps and listed on
 * the compiled task, so no client of theirs gets the version, not even with a ticket.
 */
export function compileTask(
  input: {
    id: string;
    definition: TaskDefinition;
    status: TaskStatus;
    package: PackageRef;
    whitelists: readonly WhitelistRef[];
    unreviewedHostApps?: readonly string[];
  },
  now: number,
): CompiledTask | null {
  const def = input.definition;
  const status = effectiveStatus(input.status, def.startAt, def.endAt, now);
  if (status.state === "ended" && status.endReason !== null && WITHDRAWN.includes(status.endReason))
    return null;
  const phase = status.state === "pending" || status.state === "delivering" ? "admitting" : "sticky";

  const hostApps: CompiledTask["hostApps"] = {};
  const unreviewed = [...new Set(input.unreviewedHostApps ?? [])].sort();
  for (const [id, range] of Object.entries(def.hostApps))
    if (!unreviewed.includes(id)) hostApps[id] = compileRange(range);
  const platforms: CompiledTask["platforms"] = {};
  for (const p of Object.keys(PLATFORMS) as (keyof typeof PLATFORMS)[]) {
    if (Object.hasOwn(def.platforms, p)) platforms[p] = compileRange(def.platforms[p]);
  }

  return {
    id: input.id,
    version: def.version,
    package: input.package,
    phase,
    startAt: def.startAt,
    endAt: def.endAt,
    userCap: def.userCap,
    percentageBp: def.percentageBp,
    hostApps,
    platforms,
    targets: compileTargets(def, input.whitelists),
    networks: def.networks !== undefined && def.networks.length > 0 ? [...new Set(def.networks)] : null,
    brands: compileRule(def.brands),
    models: compileRule(def.models),
    countries: compileRule(def.countries),
    regions: compileRule(def.regions),
    cities: compileRule(def.cities),
    ...(unreviewed.length > 0 ? { unreviewedHostApps: unreviewed } : {}),
    ...(def.verifiedOnly === true ? { verifiedOnly: true as const } : {}),
    ...(capShardsOf(def) > 1 ? { capShards: capShardsOf(def) } : {}),
  };
}
