/**
 * Grayscale tasks: the shapes shared by the control plane (which validates and compiles them),
 * the snapshot (which carries them to the edge) and the pure rule evaluator.
 * Seed chapter "Grayscale Release"; ARCHITECTURE.md "Reading the seeds".
 */
import type { Network, Platform } from "../decide";
import type { PackageRef } from "../snapshot";

export type TaskState = "pending" | "delivering" | "suspended" | "ended";
export type EndReason = "manual" | "end_time" | "cap_reached" | "released" | "reverted" | "delisted";
export type TargetKind = "guid" | "deviceId" | "account";
export const TARGET_KINDS: readonly TargetKind[] = ["guid", "deviceId", "account"];

/** An inclusive range of loose versions ("8.0", "17.4.1"); either end may be open. */
export interface VersionRange {
  min?: string;
  max?: string;
}

/** Include / exclude lists for advanced rules; matching is case-insensitive. */
export interface IncludeExclude {
  include?: string[];
  exclude?: string[];
}

/** A task as the developer defines it (stored in D1; validated by the control plane). */
export interface TaskDefinition {
  name: string;
  version: string;
  startAt: number;
  endAt: number;
  /** total users admitted at most; null = no cap */
  userCap: number | null;
  /** beyond the seeds: share of eligible users, in basis points (0..10000); null = everyone eligible */
  percentageBp: number | null;
  /** host app id -> its app version range (empty = any version) */
  hostApps: Record<string, VersionRange>;
  /** platform -> OS version range; at least one platform */
  platforms: Partial<Record<Platform, VersionRange>>;
  /** typed-in target objects (uploaded txt whitelists are attached separately) */
  targets: Partial<Record<TargetKind, string[]>>;
  /** empty or absent = any network */
  networks?: Network[];
  brands?: IncludeExclude;
  models?: IncludeExclude;
  countries?: IncludeExclude;
  regions?: IncludeExclude;
  cities?: IncludeExclude;
  /**
   * Issue 10: admit only clients whose account the host app vouched for (a verified user
   * assertion), counted and hashed by that account, so invented GUIDs cannot drain the cap.
   * Absent = false.
   */
  verifiedOnly?: boolean;
  /**
   * Issue 17: how many counter shards a capped task's cap is split over (docs/scale.md 5b),
   * 1..MAX_CAP_SHARDS. Absent = 1: the task's one GrayscaleCounter judges every admission. Fixed
   * once the task starts (a user's shard depends on it), so only a pending task may change it.
   */
  capShards?: number;
}

/**
 * A large uploaded whitelist in R2: a Bloom filter (no false negatives) decides non-members at
 * the edge; a positive is confirmed exactly in one shard. Two storage formats:
 * - format 1 (`format` absent; lists uploaded before issue 17, ./whitelist.ts):
 *     whitelists/{id}/bloom.bin        classic Bloom filter bits (bloomHashes positions per value)
 *     whitelists/{id}/shard-{i}.txt    sorted unique values of shard i, "\n"-separated
 *   The Bloom positions and the shard come from `whitelistHashes(seed, value)`.
 * - format 2 (every new upload, ./whitelist-v2.ts): the same keys, holding a split-block Bloom
 *   filter (bloomBits = 256 x blocks, bloomHashes = 8) and per shard a binary hash table of the
 *   values' 64-bit fingerprints, both read in place as 32-bit words.
 */
export interface WhitelistRef {
  id: string;
  kind: TargetKind;
  /** distinct values (format 2: distinct fingerprints) */
  count: number;
  seed: number;
  bloomBits: number;
  bloomHashes: number;
  shards: number;
  /** storage format; absent = 1 */
  format?: 2;
}

/** How a task's population is named: typed values inline, and/or uploaded whitelists. */
export interface CompiledTargets {
  /** exact values, sorted by plain string order (`compileTask`): the evaluator binary-searches them */
  inline: Partial<Record<TargetKind, string[]>>;
  whitelists: WhitelistRef[];
}

/**
 * What the edge may still do with a task:
 * - "admitting": delivering; new users may be admitted (until endAt, even if the timer is late);
 * - "sticky": suspended or ended by manual / end time / cap: no new users, admitted users keep it.
 * Tasks ended by release, revert or delisting are not in the snapshot at all.
 */
export type TaskPhase = "admitting" | "sticky";

/** A task as compiled into the snapshot: ranges parsed, lists lower-cased and sorted. */
export interface CompiledTask {
  id: string;
  version: string;
  package: PackageRef;
  phase: TaskPhase;
  startAt: number;
  endAt: number;
  userCap: number | null;
  percentageBp: number | null;
  /** host app id -> [min, max] parsed loose versions (null = open end) */
  hostApps: Record<string, [number[] | null, number[] | null]>;
  platforms: Partial<Record<Platform, [number[] | null, number[] | null]>>;
  /** null when the task names no target objects (everyone passes this condition) */
  targets: CompiledTargets | null;
  networks: Network[] | null;
  brands: IncludeExclude | null;
  models: IncludeExclude | null;
  countries: IncludeExclude | null;
  regions: IncludeExclude | null;
  cities: IncludeExclude | null;
  /**
   * Audit scope: bound host apps whose auditor has not approved this version. Never in
   * `hostApps`; their clients never get the task's version, admission ticket or not.
   */
  unreviewedHostApps?: string[];
  /** present (true) only for verified-only tasks; absent in snapshots compiled before it existed */
  verifiedOnly?: true;
  /** present (2..64) only for a capped task split into counter shards (docs/scale.md 5b); absent = 1 */
  capShards?: number;
}

/** Where the client is, from the edge's own `request.cf` (never from the client's body). */
export interface Geo {
  country?: string;
  region?: string;
  city?: string;
}

export type ConditionName =
  | "phase"
  | "time_window"
  | "host_app"
  | "host_app_version"
  | "platform"
  | "os_version"
  | "target"
  | "verified_user"
  | "network"
  | "brand"
  | "model"
  | "country"
  | "region"
  | "city"
  | "percentage"
  | "user_id";

export interface ConditionResult {
  condition: ConditionName;
  pass: boolean;
  /** human-readable detail for explain, e.g. "8.0.1 not in [8.1, -]" */
  detail: string;
}

export interface TaskVerdict {
  taskId: string;
  version: string;
  /** every condition passed (the cap is checked separately, by the counter) */
  eligible: boolean;
  /** true when the task is sticky-only: only already admitted users may keep it */
  stickyOnly: boolean;
  conditions: ConditionResult[];
}
