/**
 * The admin API's form of a grayscale task and the core `TaskDefinition` (core/grayscale/types.ts),
 * converted both ways. On the wire, host apps and platforms are arrays of rules (a console form
 * is a list of rows), targets are named by plural kind, times are epoch ms (ISO strings are
 * accepted on input) and the share of users is a percentage; the core keeps maps and basis
 * points. Pure: no zod at run time, no I/O (the zod schemas live in routes/grayscale-schemas.ts;
 * the wire types here are inferred from them).
 */
import type { z } from "@hono/zod-openapi";
import type { Platform } from "../../../core/decide";
import type { IncludeExclude, TargetKind, TaskDefinition, VersionRange } from "../../../core/grayscale/types";
import type {
  CreateTaskSchema,
  EditTaskSchema,
  HostAppRuleSchema,
  PlatformRuleSchema,
  TargetsSchema,
} from "../routes/grayscale-schemas";

// The wire types are the route schemas' (routes/grayscale-schemas.ts), inferred: one definition.
export type HostAppRuleWire = z.infer<typeof HostAppRuleSchema>;
export type PlatformRuleWire = z.infer<typeof PlatformRuleSchema>;
export type TargetsWire = z.infer<typeof TargetsSchema>;

type Advanced = "brands" | "models" | "countries" | "regions" | "cities";
export const ADVANCED_RULES: readonly Advanced[] = ["brands", "models", "countries", "regions", "cities"];

/** A task as the admin API accepts it (create; every field of PATCH is optional). */
export type TaskInputWire = Omit<z.infer<typeof CreateTaskSchema>, "guardrails">;

/** A PATCH's definition fields; its guardrails are applied on their own (services/grayscale-tasks.ts). */
export type TaskPatchWire = Omit<z.infer<typeof EditTaskSchema>, "guardrails">;

/** Wire target field -> core target kind. */
export const TARGET_FIELDS: ReadonlyArray<readonly [keyof TargetsWire, TargetKind]> = [
  ["guids", "guid"],
  ["deviceIds", "deviceId"],
  ["accounts", "account"],
];

/** Epoch ms, or an ISO 8601 date-time (validated by the route's schema). */
export function toEpochMs(time: number | string): number {
  return typeof time === "number" ? time : Date.parse(time);
}

/** 0.01..100 percent -> 1..10000 basis points. */
export function percentageToBp(percentage: number | null | undefined): number | null {
  return percentage === null || percentage === undefined ? null : Math.round(percentage * 100);
}

function range(min: string | undefined, max: string | undefined): VersionRange {
  return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

function cleanList(list: IncludeExclude | null | undefined): IncludeExclude | undefined {
  if (!list) return undefined;
  const include = list.include?.length ? [...new Set(list.include)] : undefined;
  const exclude = list.exclude?.length ? [...new Set(list.exclude)] : undefined;
  if (!include && !exclude) return undefined;
  return { ...(include ? { include } : {}), ...(exclude ? { exclude } : {}) };
}

function targetsOf(targets: TargetsWire | undefined): TaskDefinition["targets"] {
  const out: TaskDefinition["targets"] = {};
  for (const [field, kind] of TARGET_FIELDS) {
    const values = targets?.[field];
    if (values?.length) out[kind] = [...new Set(values)];
  }
  return out;
}

/** The core definition of a task as sent on create. */
export function toTaskDefinition(input: TaskInputWire): TaskDefinition {
  const def: TaskDefinition = {
    name: input.name,
    version: input.version,
    startAt: toEpochMs(input.startAt),
    endAt: toEpochMs(input.endAt),
    userCap: input.userCap ?? null,
    percentageBp: percentageToBp(input.percentage),
    hostApps: Object.fromEntries(
      (input.hostApps ?? []).map((h) => [h.hostAppId, range(h.minVersion, h.maxVersion)]),
    ),
    platforms: Object.fromEntries(
      input.platforms.map((p) => [p.platform, range(p.minOsVersion, p.maxOsVersion)]),
    ),
    targets: targetsOf(input.targets),
  };
  if (input.networks?.length) def.networks = [...new Set(input.networks)];
  for (const key of ADVANCED_RULES) {
    const list = cleanList(input[key]);
    if (list) def[key] = list;
  }
  if (input.verifiedOnly === true) def.verifiedOnly = true;
  // 1 is the default: kept absent, so an old task and a new one with 1 compare equal.
  if (input.capShards !== undefined && input.capShards !== null && input.capShards !== 1)
    def.capShards = input.capShards;
  return def;
}

/** Wire field -> the TaskDefinition field it changes. */
const PATCH_FIELD: Record<keyof TaskInputWire, keyof TaskDefinition> = {
  version: "version",
  name: "name",
  startAt: "startAt",
  endAt: "endAt",
  userCap: "userCap",
  percentage: "percentageBp",
  hostApps: "hostApps",
  platforms: "platforms",
  targets: "targets",
  networks: "networks",
  brands: "brands",
  models: "models",
  countries: "countries",
  regions: "regions",
  cities: "cities",
  verifiedOnly: "verifiedOnly",
  capShards: "capShards",
};

/** TaskDefinition field -> its wire name (for `editableFields` in responses and refusals). */
export function wireFieldOf(field: keyof TaskDefinition): string {
  return field === "percentageBp" ? "percentage" : field;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Applies a PATCH to a definition. Returns the new definition and the fields whose value really
 * changed (a console that sends back the whole form changes only what the developer edited).
 */
export function applyTaskPatch(
  current: TaskDefinition,
  patch: TaskPatchWire,
): { definition: TaskDefinition; changed: (keyof TaskDefinition)[] } {
  // Omitted fields keep their value; null clears a cap, a percentage or an advanced rule.
  const provided = Object.fromEntries(
    Object.entries(patch).filter(([, v]) => v !== undefined),
  ) as TaskPatchWire;
  const next = toTaskDefinition({ ...definitionToWire(current), ...provided });
  const changed = new Set<keyof TaskDefinition>();
  for (const key of Object.keys(patch) as (keyof TaskInputWire)[]) {
    if (patch[key] === undefined) continue;
    const field = PATCH_FIELD[key];
    if (!same(current[field], next[field])) changed.add(field);
  }
  return { definition: next, changed: [...changed] };
}

/** The wire form of a definition (responses, and the base a PATCH is applied to). */
export function definitionToWire(def: TaskDefinition) {
  return {
    version: def.version,
    name: def.name,
    startAt: def.startAt,
    endAt: def.endAt,
    userCap: def.userCap,
    percentage: def.percentageBp === null ? null : def.percentageBp / 100,
    hostApps: Object.entries(def.hostApps).map(([hostAppId, r]) => ({
      hostAppId,
      ...(r.min !== undefined ? { minVersion: r.min } : {}),
      ...(r.max !== undefined ? { maxVersion: r.max } : {}),
    })),
    platforms: (Object.entries(def.platforms) as [Platform, VersionRange][]).map(([platform, r]) => ({
      platform,
      ...(r.min !== undefined ? { minOsVersion: r.min } : {}),
      ...(r.max !== undefined ? { maxOsVersion: r.max } : {}),
    })),
    targets: {
      guids: def.targets.guid ?? [],
      deviceIds: def.targets.deviceId ?? [],
      accounts: def.targets.account ?? [],
    },
    networks: def.networks ?? [],
    brands: def.brands ?? null,
    models: def.models ?? null,
    countries: def.countries ?? null,
    regions: def.regions ?? null,
    cities: def.cities ?? null,
    verifiedOnly: def.verifiedOnly === true,
    capShards: def.capShards ?? 1,
  };
}

export type TaskDefinitionWire = ReturnType<typeof definitionToWire>;
