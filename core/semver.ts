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
 * Whether `text` has exactly the grammar of SEMVER (three parts `0|[1-9]\d{0,5}` joined by
 * dots), read with `charCodeAt`: the hot path (`decide`, task ordering) compares versions on
 * every check, and this costs no regex match, no allocation and no cache (issue 11: core keeps
 * no module state).
 */
function isSemverText(text: string): boolean {
  let dots = 0;
  let digits = 0;
  let leadingZero = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 2) return false;
      dots++;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 0) leadingZero = c === 48;
      else if (leadingZero || digits === 6) return false;
      digits++;
    } else return false;
  }
  return dots === 2 && digits > 0;
}

/** The number of the part of a text `isSemverText` accepted that starts at `i` (its digits up to a dot or the end). */
function partAt(text: string, i: number): number {
  let value = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) break;
    value = value * 10 + (c - 48);
  }
  return value;
}

/** `compareSemver(parseSemver(a), parseSemver(b))` for two texts `isSemverText` accepted, read in place. */
function compareSemverTexts(a: string, b: string): number {
  let i = 0;
  let j = 0;
  for (let part = 0; part < 3; part++) {
    const x = partAt(a, i);
    const y = partAt(b, j);
    if (x !== y) return x - y;
    i = a.indexOf(".", i) + 1;
    j = b.indexOf(".", j) + 1;
  }
  return 0;
}

/** Compares two version strings; both must be valid (callers validate at the boundary). */
export function compareVersions(a: string, b: string): number {
  if (!isSemverText(a)) throw new RangeError(`not a semantic version: ${a}`);
  if (a === b) return 0;
  if (!isSemverText(b)) throw new RangeError(`not a semantic version: ${b}`);
  return compareSemverTexts(a, b);
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
