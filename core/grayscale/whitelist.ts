/**
 * Whitelists of target objects (GUIDs, device ids, accounts): line parsing, hashing, the
 * Bloom filter and shard lookup (seed: "upload objects in batches through txt Whitelist";
 * PRODUCT.md G1: lists of 1,000,000 entries must work).
 *
 * Values are identifiers and are kept exactly as written (case-sensitive): "AbC" and "abc" are
 * two different GUIDs, and the client must send the same spelling. Only surrounding
 * whitespace is trimmed.
 *
 * Layout of one whitelist (see WhitelistRef): a Bloom filter (~1% false positives, never a
 * false negative) answers "surely not a member" at the edge; a positive is confirmed in the
 * exact, sorted values of one shard. Hashes: `hashValue` (murmur3, ./hash.ts).
 */
import { murmur3Utf16, murmur3Utf16x3 } from "./hash";
import type { WhitelistRef } from "./types";

export const MAX_WHITELIST_LINES = 1_000_000;
export const MAX_TARGET_LENGTH = 128;
/** Bloom target false-positive rate. */
export const BLOOM_FALSE_POSITIVE_RATE = 0.01;
/** Values per shard the shard count aims at (one shard file is then ~100-500 KB). */
export const VALUES_PER_SHARD = 4096;

/** Seed offsets of the three hashes: two for Bloom positions, one for the shard. */
const SECOND_HASH = 0x9e3779b9;
const SHARD_HASH = 0x7f4a7c15;

export type LineResult = { ok: true; value: string } | { ok: false; error: string };

/** Unicode White_Space characters (what `String.prototype.trim` strips, minus the BOM). */
function isSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * One line of an uploaded txt whitelist (blank lines are skipped by the caller). Checks, in order:
 * 1. trimmed (spaces, tabs, a CR of CRLF, a leading BOM);
 * 2. not empty;
 * 3. at most MAX_TARGET_LENGTH UTF-16 code units;
 * 4. no control character (C0, DEL, C1);
 * 5. no whitespace inside;
 * 6. no lone surrogate (it would not survive the UTF-8 shard file, making a false negative).
 */
export function parseWhitelistLine(line: string): LineResult {
  const value = line.trim();
  if (value.length === 0) return { ok: false, error: "empty value" };
  if (value.length > MAX_TARGET_LENGTH) return { ok: false, error: `longer than ${MAX_TARGET_LENGTH} characters` };
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return { ok: false, error: "control character" };
    if (isSpace(c)) return { ok: false, error: "whitespace inside the value" };
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return { ok: false, error: "invalid character" };
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return { ok: false, error: "invalid character" };
    }
  }
  return { ok: true, value };
}

/**
 * Two independent 32-bit hashes of `value` under `seed`: murmur3 x86_32 of the value's UTF-16LE
 * bytes with seeds `seed` and `seed ^ 0x9e3779b9`.
 */
export function hashValue(value: string, seed: number): [number, number] {
  return [murmur3Utf16(value, seed), murmur3Utf16(value, seed ^ SECOND_HASH)];
}

/**
 * The shard of a value: a third murmur3 (seed `seed ^ 0x7f4a7c15`) modulo the shard count, so
 * the shard does not depend on the Bloom positions.
 */
export function shardOf(ref: Pick<WhitelistRef, "seed" | "shards">, value: string): number {
  if (ref.shards <= 1) return 0;
  return murmur3Utf16(value, ref.seed ^ SHARD_HASH) % ref.shards;
}

/** A value's hashes in one whitelist: the two Bloom hashes and its shard (see `valueHashes`). */
export interface ValueHashes {
  h1: number;
  h2: number;
  shard: number;
}

/**
 * `hashValue(value, ref.seed)` and `shardOf(ref, value)` in one pass over the value (the hot
 * path computes them once per check and reuses them for the Bloom filter and the shard).
 */
export function valueHashes(ref: Pick<WhitelistRef, "seed" | "shards">, value: string): ValueHashes {
  const out = new Uint32Array(3);
  murmur3Utf16x3(value, ref.seed, ref.seed ^ SECOND_HASH, ref.seed ^ SHARD_HASH, out);
  return { h1: out[0]!, h2: out[1]!, shard: ref.shards <= 1 ? 0 : out[2]! % ref.shards };
}

/** `bloomHas` from precomputed hashes (`valueHashes`). */
export function bloomHasHashes(bits: Uint8Array, ref: Pick<WhitelistRef, "bloomBits" | "bloomHashes">, h1: number, h2: number): boolean {
  const m = ref.bloomBits;
  if (m <= 0) return false;
  for (let i = 0; i < ref.bloomHashes; i++) {
    const p = (h1 + i * h2) % m;
    if (((bits[p >>> 3] ?? 0) & (1 << (p & 7))) === 0) return false;
  }
  return true;
}

/**
 * One shard file kept as its raw UTF-8 bytes plus the start offset of each value (values are
 * separated by "\n", which never occurs inside a UTF-8 multi-byte sequence): a few bytes per
 * value instead of a JS string and an array slot each.
 */
export interface ShardBytes {
  bytes: Uint8Array;
  /** starts[i] = offset of value i; starts[count] = bytes.length + 1 (one past the last "\n") */
  starts: Uint32Array;
}

/** Indexes a shard file's bytes (`shardText` encoded as UTF-8). */
export function indexShardBytes(bytes: Uint8Array): ShardBytes {
  if (bytes.length === 0) return { bytes, starts: new Uint32Array([0]) };
  let count = 1;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) count++;
  const starts = new Uint32Array(count + 1);
  let n = 1;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts[n++] = i + 1;
  starts[count] = bytes.length + 1;
  return { bytes, starts };
}

/** Number of values in an indexed shard. */
export function shardBytesCount(shard: ShardBytes): number {
  return shard.starts.length - 1;
}

/**
 * UTF-8 lead bytes ranked in UTF-16 code unit order: shards are sorted by JS string order,
 * where a supplementary character (surrogates 0xD800.., UTF-8 lead 0xF0-0xF4) sorts before
 * U+E000-U+FFFF (lead 0xEE-0xEF); every other byte compares as itself.
 */
function utf16Rank(b: number): number {
  if (b >= 0xf0) return b - 2;
  if (b >= 0xee) return b + 5;
  return b;
}

/**
 * Exact membership of `value` (its UTF-8 bytes) in an indexed shard: binary search comparing
 * bytes in the shard's order (`shardHas`'s plain string order; see `utf16Rank`).
 */
export function shardBytesHas(shard: ShardBytes, value: Uint8Array): boolean {
  const { bytes, starts } = shard;
  let lo = 0;
  let hi = starts.length - 2;
  const n = value.length;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const start = starts[mid]!;
    const len = starts[mid + 1]! - 1 - start;
    const common = len < n ? len : n;
    let cmp = 0;
    for (let i = 0; i < common; i++) {
      const a = bytes[start + i]!;
      const b = value[i]!;
      if (a !== b) {
        cmp = utf16Rank(a) - utf16Rank(b);
        break;
      }
    }
    if (cmp === 0) cmp = len - n;
    if (cmp === 0) return true;
    if (cmp < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Bloom positions by double hashing: position i = (h1 + i * h2) mod bloomBits, i = 0..k-1,
 * in exact integer arithmetic (i * h2 < 2^36). Bit p is bit (p & 7) of byte p >> 3 (LSB first).
 */
export function bloomHas(bits: Uint8Array, ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">, value: string): boolean {
  const m = ref.bloomBits;
  if (m <= 0) return false;
  const h1 = murmur3Utf16(value, ref.seed);
  const h2 = murmur3Utf16(value, ref.seed ^ SECOND_HASH);
  for (let i = 0; i < ref.bloomHashes; i++) {
    const p = (h1 + i * h2) % m;
    if (((bits[p >>> 3] ?? 0) & (1 << (p & 7))) === 0) return false;
  }
  return true;
}

export function addToBloom(bits: Uint8Array, ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">, value: string): void {
  const m = ref.bloomBits;
  if (bits.length * 8 < m) throw new RangeError(`Bloom filter has ${bits.length * 8} bits, expected ${m}`);
  const h1 = murmur3Utf16(value, ref.seed);
  const h2 = murmur3Utf16(value, ref.seed ^ SECOND_HASH);
  for (let i = 0; i < ref.bloomHashes; i++) {
    const p = (h1 + i * h2) % m;
    bits[p >>> 3] = (bits[p >>> 3] ?? 0) | (1 << (p & 7));
  }
}

/**
 * Exact membership in one shard's values, sorted by plain JS string order (`<`, UTF-16 code
 * units, which is what `Array.prototype.sort()` without a comparator gives): binary search.
 */
export function shardHas(sortedValues: readonly string[], value: string): boolean {
  let lo = 0;
  let hi = sortedValues.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sortedValues[mid] as string;
    if (v === value) return true;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Bloom filter sizing for `count` values at about 1% false positives:
 * bits = ceil(-n ln p / (ln 2)^2) rounded up to a multiple of 8 (at least 64);
 * hashes = round(bits / n * ln 2), clamped to 1..16.
 */
export function bloomSize(count: number): { bloomBits: number; bloomHashes: number } {
  const n = Math.max(1, Math.ceil(count));
  const raw = Math.ceil((-n * Math.log(BLOOM_FALSE_POSITIVE_RATE)) / (Math.LN2 * Math.LN2));
  const bloomBits = Math.max(64, Math.ceil(raw / 8) * 8);
  const bloomHashes = Math.min(16, Math.max(1, Math.round((bloomBits / n) * Math.LN2)));
  return { bloomBits, bloomHashes };
}

/** Number of shards for `count` values: the smallest power of two giving <= 4096 values per shard. */
export function shardCount(count: number): number {
  const needed = Math.ceil(Math.max(0, count) / VALUES_PER_SHARD);
  let shards = 1;
  while (shards < needed) shards *= 2;
  return shards;
}
