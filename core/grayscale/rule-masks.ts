/**
 * The rules of a list of tasks indexed by the client's values (issue 17: pure `decide` at
 * >= 1.5M decisions/s): for each rule dimension, a map from a client's value to the set of tasks
 * that value passes, as a bit mask (bit i of word i >> 5: the i-th task of the list). A decision
 * ANDs about ten such masks, one lookup each, instead of testing every rule of every task it
 * walks; then only the tasks left need their per-user rules (percentage bucket, target objects),
 * which depend on the user's own ids and are evaluated as before (core/grayscale/rules.ts).
 *
 * What a bit means: exactly `otherRulesHold` (rules.ts) without its percentage bucket, i.e. the
 * seed's intersection of conditions (phase, time window, host app and its version, platform and
 * OS version, network, brand, model, country, region, city, verified user, and "a capped or
 * percentage task needs a user id"). Each mask is computed at build time with the very
 * predicates the rule walk uses (`versionInRange`, `listRuleAllows`, `networkAllows`), so the
 * index cannot disagree with them; a property test (test/core-decide-masks.test.ts) compares it
 * against `evaluateTask` on random tasks and clients.
 *
 * Immutable once built: one index serves any number of decisions, in any order.
 */
import { type ClientContext, verifiedAccountOf } from "../decide";
import type { ParsedRange } from "./match";
import { listRuleAllows, networkAllows, versionInRange } from "./match";
import type { LastLower, LastMask, RuleMemo } from "./rules";
import type { CompiledTask, Geo, IncludeExclude } from "./types";

/** One bit per task: word w holds tasks 32w .. 32w+31 (bit i & 31 of word i >> 5). */
type Mask = Int32Array;

/** A dimension named by values: the mask of each value some task names, and of every other value. */
interface ValueIndex {
  readonly named: ReadonlyMap<string, Mask>;
  /** a value no task names, or no value at all (both pass exactly the tasks with no include list) */
  readonly other: Mask;
}

/** A versioned key (host app, platform): the tasks naming it, by the version range they set. */
interface RangeIndex {
  /** tasks naming the key with an open range (any version, even a malformed one) */
  readonly any: Mask;
  /** each distinct bounded range set for the key, tested once per decision */
  readonly ranges: readonly { readonly range: ParsedRange; readonly mask: Mask }[];
}

const EMPTY_INDEX: RangeIndex = Object.freeze({ any: new Int32Array(0), ranges: [] });

export class RuleMasks {
  /** number of tasks, and of 32-bit words per mask */
  readonly size: number;
  readonly words: number;
  /** sorted distinct start and end times; `#timeMasks[k]`: the admitting tasks open when k of them are <= now */
  readonly #times: readonly number[];
  readonly #timeMasks: readonly Mask[];
  /** tasks open at a `now` that is not a number (every comparison is false: every window passes) */
  readonly #timeNaN: Mask;
  readonly #hostApps: ReadonlyMap<string, RangeIndex>;
  readonly #platforms: ReadonlyMap<string, RangeIndex>;
  /** null: no task names the dimension (every task passes) */
  readonly #networks: ValueIndex | null;
  readonly #brands: ValueIndex | null;
  readonly #models: ValueIndex | null;
  readonly #countries: ValueIndex | null;
  readonly #regions: ValueIndex | null;
  readonly #cities: ValueIndex | null;
  /** tasks a client without a verified account passes (null: no task is verified-only) */
  readonly #unverified: Mask | null;
  /** tasks a client with no GUID, device id or account passes (null: none needs one) */
  readonly #keyless: Mask | null;

  constructor(tasks: readonly CompiledTask[]) {
    const n = tasks.length;
    this.size = n;
    this.words = (n + 31) >>> 5;
    const maskOf = (pass: (task: CompiledTask) => boolean): Mask => {
      const mask = new Int32Array(this.words);
      tasks.forEach((task, i) => {
        if (pass(task)) mask[i >>> 5] = (mask[i >>> 5] as number) | (1 << (i & 31));
      });
      return mask;
    };
    // The exact window test of `otherRulesHold`, at one instant.
    const open = (t: number) => (task: CompiledTask) =>
      task.phase === "admitting" && !(t < task.startAt || t >= task.endAt);

    // Between two consecutive boundaries every window is either open or shut throughout, so
    // each interval's mask is the one at its first instant (before the first: any earlier one).
    const times = [
      ...new Set(
        tasks.flatMap((t) => [t.startAt, t.endAt]).filter((t) => typeof t === "number" && !Number.isNaN(t)),
      ),
    ].sort((a, b) => a - b);
    this.#times = times;
    this.#timeMasks = [Number.NEGATIVE_INFINITY, ...times].map((t) => maskOf(open(t)));
    this.#timeNaN = maskOf(open(Number.NaN));

    this.#hostApps = rangeIndexes(tasks, (t) => t.hostApps, maskOf);
    this.#platforms = rangeIndexes(tasks, (t) => t.platforms, maskOf);

    const networks = new Set(tasks.flatMap((t) => t.networks ?? []));
    this.#networks = tasks.some((t) => t.networks !== null)
      ? {
          named: new Map([...networks].map((v) => [v, maskOf((t) => networkAllows(t.networks, v))])),
          other: maskOf((t) => networkAllows(t.networks, undefined)),
        }
      : null;
    this.#brands = valueIndex(tasks, (t) => t.brands, maskOf);
    this.#models = valueIndex(tasks, (t) => t.models, maskOf);
    this.#countries = valueIndex(tasks, (t) => t.countries, maskOf);
    this.#regions = valueIndex(tasks, (t) => t.regions, maskOf);
    this.#cities = valueIndex(tasks, (t) => t.cities, maskOf);
    this.#unverified = tasks.some((t) => t.verifiedOnly === true)
      ? maskOf((t) => t.verifiedOnly !== true)
      : null;
    // A verified-only task's key is the verified account (checked above); any other capped or
    // percentage task needs a GUID, device id or account (`userKeyOf`).
    const needsKey = (t: CompiledTask) =>
      t.verifiedOnly !== true && (t.userCap !== null || t.percentageBp !== null);
    this.#keyless = tasks.some(needsKey) ? maskOf((t) => !needsKey(t)) : null;
  }

  /**
   * Word `w` of the tasks whose rules, all but the percentage bucket and the target objects,
   * hold for `client` at `now`. `memo` keeps the lower-cased list values across calls.
   */
  word(client: ClientContext, geo: Geo, now: number, memo: RuleMemo, w: number): number {
    const time = Number.isNaN(now) ? this.#timeNaN : (this.#timeMasks[countAtMost(this.#times, now)] as Mask);
    let m = time[w] as number;
    if (m === 0) return 0;
    m &= rangeWord(this.#hostApps.get(client.hostAppId) ?? EMPTY_INDEX, client.hostAppVersion, m, w);
    if (m === 0) return 0;
    m &= rangeWord(this.#platforms.get(client.platform) ?? EMPTY_INDEX, client.osVersion, m, w);
    if (m === 0) return 0;
    const networks = this.#networks;
    if (networks !== null) {
      const network = client.network;
      m &= ((network === undefined ? undefined : networks.named.get(network)) ?? networks.other)[w] as number;
    }
    if (this.#brands !== null) m &= listWord(this.#brands, memo.brand, memo.brandMask, client.brand, w);
    if (this.#models !== null) m &= listWord(this.#models, memo.model, memo.modelMask, client.model, w);
    if (m === 0) return 0;
    if (this.#countries !== null)
      m &= listWord(this.#countries, memo.country, memo.countryMask, geo.country, w);
    if (this.#regions !== null) m &= listWord(this.#regions, memo.region, memo.regionMask, geo.region, w);
    if (this.#cities !== null) m &= listWord(this.#cities, memo.city, memo.cityMask, geo.city, w);
    if (this.#unverified !== null && verifiedAccountOf(client) === undefined)
      m &= this.#unverified[w] as number;
    // `userKeyOf` finds a key exactly when one of these is a non-empty string
    if (this.#keyless !== null && !client.guid && !client.deviceId && !client.account)
      m &= this.#keyless[w] as number;
    return m;
  }
}

/** How many of the sorted `times` are <= `now` (a number, not NaN). */
function countAtMost(times: readonly number[], now: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] as number) <= now) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Word `w` of the tasks whose range for the key admits `version`; only ranges that could add a bit of `alive` are tested. */
function rangeWord(index: RangeIndex, version: string, alive: number, w: number): number {
  let m = (index.any[w] ?? 0) as number;
  for (const { range, mask } of index.ranges) {
    const bits = mask[w] as number;
    if ((bits & alive & ~m) !== 0 && versionInRange(version, range)) m |= bits;
  }
  return m;
}

function valueWord(index: ValueIndex, value: string | undefined, w: number): number {
  return ((value === undefined ? undefined : index.named.get(value)) ?? index.other)[w] as number;
}

/** Word `w` of an include/exclude dimension for the raw client value: lower-cased, then looked up (or as last time). */
function listWord(
  index: ValueIndex,
  lower: LastLower,
  last: LastMask,
  raw: string | undefined,
  w: number,
): number {
  if (last.index === index && last.value === raw && last.w === w) return last.word;
  const word = valueWord(index, lower.of(raw), w);
  last.index = index;
  last.value = raw;
  last.w = w;
  last.word = word;
  return word;
}

/**
 * The range indexes of a versioned dimension: for each key some task names (its own keys whose
 * value is a range, as `rangeOf` in rules.ts reads them), the tasks by distinct range.
 */
function rangeIndexes(
  tasks: readonly CompiledTask[],
  rangesOf: (task: CompiledTask) => Partial<Record<string, ParsedRange>>,
  maskOf: (pass: (task: CompiledTask) => boolean) => Mask,
): Map<string, RangeIndex> {
  const rangeFor = (task: CompiledTask, key: string): ParsedRange | undefined => {
    const range = rangesOf(task)[key];
    return Array.isArray(range) ? range : undefined;
  };
  // one key per distinct bounded range ("" for an open one)
  const keyOf = (range: ParsedRange) =>
    range[0] === null && range[1] === null
      ? ""
      : `${range[0]?.join(".") ?? "-"}/${range[1]?.join(".") ?? "-"}`;
  const keys = new Set(tasks.flatMap((t) => Object.keys(rangesOf(t)).filter((k) => rangeFor(t, k))));
  const out = new Map<string, RangeIndex>();
  for (const key of keys) {
    const distinct = new Map<string, ParsedRange>();
    for (const task of tasks) {
      const range = rangeFor(task, key);
      if (range !== undefined && keyOf(range) !== "") distinct.set(keyOf(range), range);
    }
    const setting = (k: string) => (t: CompiledTask) => {
      const r = rangeFor(t, key);
      return r !== undefined && keyOf(r) === k;
    };
    out.set(key, {
      any: maskOf(setting("")),
      ranges: [...distinct].map(([k, range]) => ({ range, mask: maskOf(setting(k)) })),
    });
  }
  return out;
}

/** The value index of an include/exclude dimension (null when no task sets it). */
function valueIndex(
  tasks: readonly CompiledTask[],
  ruleOf: (task: CompiledTask) => IncludeExclude | null,
  maskOf: (pass: (task: CompiledTask) => boolean) => Mask,
): ValueIndex | null {
  if (!tasks.some((t) => ruleOf(t) !== null)) return null;
  const values = new Set(
    tasks.flatMap((t) => [...(ruleOf(t)?.include ?? []), ...(ruleOf(t)?.exclude ?? [])]),
  );
  return {
    named: new Map([...values].map((v) => [v, maskOf((t) => listRuleAllows(ruleOf(t), v))])),
    // A value no rule names passes a rule exactly when it has no include list, and so does a
    // missing value (an exclude list refuses only the values it names).
    other: maskOf((t) => listRuleAllows(ruleOf(t), undefined)),
  };
}
