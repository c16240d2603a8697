/**
 * Semantic version order (MAJOR.MINOR.PATCH, optional numeric-free pre-release ignored):
 * ARCHITECTURE.md "Reading the seeds": "higher" is semver order.
 *
 * Versions are compared as integer triples. A sortable key (`versionKey`) lets D1 order
 * versions without parsing them in SQL.
 */

export type Semver = readonly [major: number, minor: number, patch: number];

const SEMVER = /^(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})\.(0|[1-9]\d{0,5})$/;

/** Parses `1.2.3` (each part 0..999999, no leading zeros); `undefined` when malformed. */
export function parseSemver(text: string): Semver | undefined {
  const m = SEMVER.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function isSemver(text: string): boolean {
  return parseSemver(text) !== undefined;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareSemver(a: Semver, b: Semver): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Parsed versions by text, for the hot path (`decide`, task ordering): the same few
 * versions (online, tasks, what clients run) are compared on every check, so the regex runs
 * once per distinct text. Bounded: cleared when full, so hostile inputs cannot grow it.
 */
const PARSED_MAX = 4_096;
const parsed = new Map<string, Semver | null>();

function parseSemverCached(text: string): Semver | undefined {
  let v = parsed.get(text);
  if (v === undefined) {
    v = parseSemver(text) ?? null;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, v);
  }
  return v ?? undefined;
}

/** Compares two version strings; both must be valid (callers validate at the boundary). */
export function compareVersions(a: string, b: string): number {
  if (a === b && parseSemverCached(a)) return 0;
  const pa = parseSemverCached(a);
  const pb = parseSemverCached(b);
  if (!pa || !pb) throw new RangeError(`not a semantic version: ${pa ? b : a}`);
  return compareSemver(pa, pb);
}

/** Zero-padded key whose string order equals semver order (for SQL ORDER BY). */
export function versionKey(text: string): string {
  const v = parseSemver(text);
  if (!v) throw new RangeError(`not a semantic version: ${text}`);
  return v.map((n) => String(n).padStart(6, "0")).join(".");
}

/**
 * Loose version used for host app and OS versions, which are not always semver
 * ("17.4", "14", "8.0.1.2"): dot-separated integers, compared part by part, missing parts
 * count as 0. `undefined` when malformed.
 */
export function parseLooseVersion(text: string): number[] | undefined {
  if (!/^\d{1,9}(\.\d{1,9}){0,4}$/.test(text)) return undefined;
  return text.split(".").map(Number);
}

export function compareLoose(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
