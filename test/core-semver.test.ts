/**
 * core/semver.ts: "higher" is semver order (ARCHITECTURE.md "Reading the seeds"). The hot path's
 * `compareVersions` reads the texts in place (no regex, no cache); it must give exactly what
 * parsing with SEMVER and comparing the triples gives, and refuse exactly what SEMVER refuses.
 */
import { describe, expect, it } from "vitest";
import { compareSemver, compareVersions, isSemver, parseSemver, versionKey } from "../core/semver";

/** The reference: SEMVER's parse, then the triples' order; the error names the first bad text. */
function reference(a: string, b: string): number | string {
  const pa = parseSemver(a);
  const pb = parseSemver(b);
  if (!pa) return `not a semantic version: ${a}`;
  if (!pb) return `not a semantic version: ${b}`;
  return compareSemver(pa, pb);
}

function actual(a: string, b: string): number | string {
  try {
    return compareVersions(a, b);
  } catch (err) {
    expect(err).toBeInstanceOf(RangeError);
    return (err as Error).message;
  }
}

/** Deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("compareVersions", () => {
  it.each([
    ["1.2.3", "1.2.3", 0],
    ["1.2.3", "1.2.4", -1],
    ["1.10.0", "1.9.9", 1], // numeric, not string order
    ["2.0.0", "10.0.0", -8],
    ["0.0.0", "0.0.1", -1],
    ["999999.999999.999999", "999999.999999.999998", 1],
    ["3.0.20", "3.0.2", 18],
  ])("%s vs %s gives %d (the difference of the first differing part)", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it.each([
    "",
    "1",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "1.2.3-beta",
    "v1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1..3",
    ".1.2",
    "1.2.",
    "1234567.0.0",
    "1.2.x",
    "１.2.3", // a full-width digit is not \d
    "1.2.3\n",
  ])("refuses %j, naming it, as SEMVER does (and compares nothing with it)", (bad) => {
    expect(isSemver(bad)).toBe(false);
    expect(() => compareVersions(bad, "1.0.0")).toThrow(new RangeError(`not a semantic version: ${bad}`));
    expect(() => compareVersions("1.0.0", bad)).toThrow(new RangeError(`not a semantic version: ${bad}`));
    // the same text twice is still not a version
    expect(() => compareVersions(bad, bad)).toThrow(RangeError);
  });

  it("equals parsing with SEMVER and comparing the triples, for generated texts", () => {
    const r = rng(0x5e11);
    const alphabet = "0123456789..-x";
    const texts: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      if (r() < 0.5) {
        // well-formed, with parts of every length 1..7 (7 digits is refused) and leading zeros
        const part = () => {
          const len = 1 + Math.floor(r() * 7);
          let p = "";
          for (let k = 0; k < len; k++) p += String(Math.floor(r() * (k === 0 && r() < 0.8 ? 3 : 10)));
          return r() < 0.3 ? String(Math.floor(r() * 4)) : p;
        };
        texts.push(`${part()}.${part()}.${part()}`);
      } else {
        const len = Math.floor(r() * 12);
        let t = "";
        for (let k = 0; k < len; k++) t += alphabet[Math.floor(r() * alphabet.length)];
        texts.push(t);
      }
    }
    expect(texts.filter(isSemver).length).toBeGreaterThan(500);
    for (let i = 0; i < texts.length; i++) {
      const a = texts[i] as string;
      const b = texts[(i * 7 + 3) % texts.length] as string;
      expect(actual(a, b)).toEqual(reference(a, b));
      expect(actual(a, a)).toEqual(reference(a, a));
    }
  });

  it("sorts like versionKey's string order", () => {
    const versions = ["1.0.0", "0.9.12", "10.0.0", "1.10.0", "1.9.0", "0.0.1", "2.0.0", "1.0.10"];
    const bySemver = [...versions].sort(compareVersions);
    const byKey = [...versions].sort((a, b) => (versionKey(a) < versionKey(b) ? -1 : 1));
    expect(bySemver).toEqual(byKey);
    expect(bySemver).toEqual(["0.0.1", "0.9.12", "1.0.0", "1.0.10", "1.9.0", "1.10.0", "2.0.0", "10.0.0"]);
  });
});
