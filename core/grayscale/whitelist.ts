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
import { type Murmur3Three, murmur3AsciiThree, murmur3Utf16, murmur3Utf16Three } from "./hash";
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
  if (value.length > MAX_TARGET_LENGTH)
    return { ok: false, error: `longer than ${MAX_TARGET_LENGTH} characters` };
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

/** The ASCII characters `String.prototype.trim` removes: TAB, LF, VT, FF, CR and space. */
export function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * `parseWhitelistLine` for a value of ASCII bytes `bytes[from, to)`, already trimmed of ASCII
 * whitespace and not empty: the same checks in the same order with the same messages (for ASCII,
 * the control characters are C0 and DEL, and the only whitespace left inside is a space);
 * `undefined` when the value is valid. An upload checks its lines from the body's bytes with
 * this, without a string per line.
 */
export function asciiWhitelistLineError(bytes: Uint8Array, from: number, to: number): string | undefined {
  if (to - from > MAX_TARGET_LENGTH) return `longer than ${MAX_TARGET_LENGTH} characters`;
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    if (c < 0x20 || c === 0x7f) return "control character";
    if (c === 0x20) return "whitespace inside the value";
  }
  return undefined;
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
  return shardHash(ref.seed, value) % ref.shards;
}

/**
 * The unsigned 32-bit hash `shardOf` reduces modulo the shard count: an uploader that reads a list
 * before it knows how many values (so how many shards) it holds keeps this and reduces it later.
 */
export function shardHash(seed: number, value: string): number {
  return murmur3Utf16(value, seed ^ SHARD_HASH);
}

/**
 * The three hashes of a value in a whitelist of seed `seed`, in one pass over the value:
 * `h0`, `h1` = `hashValue(value, seed)` (format 1: the Bloom positions; format 2: the value's
 * 64-bit fingerprint) and `h2` = `shardHash(seed, value)` (the shard, modulo the shard count).
 */
export function whitelistHashes(seed: number, value: string): Murmur3Three {
  return murmur3Utf16Three(value, seed, seed ^ SECOND_HASH, seed ^ SHARD_HASH);
}

/** `whitelistHashes` of the ASCII value in `bytes[from, to)` (`murmur3AsciiThree`): the same three hashes. */
export function whitelistHashesAscii(
  seed: number,
  bytes: Uint8Array,
  from: number,
  to: number,
): Murmur3Three {
  return murmur3AsciiThree(bytes, from, to, seed, seed ^ SECOND_HASH, seed ^ SHARD_HASH);
}

/**
 * `bloomHas` from precomputed hashes: h0 and h1 of core/grayscale/whitelist-v2.ts
 * `valueFingerprint` (the same one hashing pass serves both formats).
 */
export function bloomHasHashes(
  bits: Uint8Array,
  ref: Pick<WhitelistRef, "bloomBits" | "bloomHashes">,
  h1: number,
  h2: number,
): boolean {
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
 * value instead of a JS string and an array slot each. `slots` is an open-addressing hash table
 * over the values (value index + 1, 0 = empty; at most half full), so a lookup reads one or two
 * slots and compares one value instead of a dozen scattered ones in a binary search (BENCHMARKS.md:
 * the binary search was half the cost of a decision).
 */
export interface ShardBytes {
  bytes: Uint8Array;
  /** starts[i] = offset of value i; starts[count] = bytes.length + 1 (one past the last "\n") */
  starts: Uint32Array;
  /** 16-bit entries when the shard has fewer than 65,535 values (always, at 4,096 per shard) */
  slots: Uint16Array | Uint32Array;
}

/** FNV-1a over `bytes[from, to)`, then MurmurHash3's finaliser for a good spread of low bits. */
function bytesHash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Indexes a shard file's bytes (`shardText` encoded as UTF-8): value offsets and the hash table. */
export function indexShardBytes(bytes: Uint8Array): ShardBytes {
  if (bytes.length === 0) return { bytes, starts: new Uint32Array([0]), slots: new Uint16Array(1) };
  let count = 1;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) count++;
  const starts = new Uint32Array(count + 1);
  let n = 1;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts[n++] = i + 1;
  starts[count] = bytes.length + 1;
  let size = 2;
  while (size < count * 2) size *= 2;
  const slots = count < 0xffff ? new Uint16Array(size) : new Uint32Array(size);
  const mask = size - 1;
  for (let v = 0; v < count; v++) {
    let slot = bytesHash(bytes, starts[v]!, starts[v + 1]! - 1) & mask;
    while (slots[slot] !== 0) slot = (slot + 1) & mask;
    slots[slot] = v + 1;
  }
  return { bytes, starts, slots };
}

/** Bytes an indexed shard holds in memory (for cache budgets). */
export function shardBytesSize(shard: ShardBytes): number {
  return shard.bytes.byteLength + shard.starts.byteLength + shard.slots.byteLength;
}

/** Number of values in an indexed shard. */
export function shardBytesCount(shard: ShardBytes): number {
  return shard.starts.length - 1;
}

/**
 * Exact membership of a value, its UTF-8 bytes in `value[0, n)`, in an indexed shard, through
 * its hash table (`n` lets a caller encode into one reused buffer).
 */
export function shardBytesHas(shard: ShardBytes, value: Uint8Array, n = value.length): boolean {
  const { bytes, starts, slots } = shard;
  const mask = slots.length - 1;
  for (let slot = bytesHash(value, 0, n) & mask; ; slot = (slot + 1) & mask) {
    const entry = slots[slot]!;
    if (entry === 0) return false;
    const start = starts[entry - 1]!;
    if (starts[entry]! - 1 - start !== n) continue;
    let i = 0;
    while (i < n && bytes[start + i] === value[i]) i++;
    if (i === n) return true;
  }
}

/**
 * Bloom positions by double hashing: position i = (h1 + i * h2) mod bloomBits, i = 0..k-1,
 * in exact integer arithmetic (i * h2 < 2^36). Bit p is bit (p & 7) of byte p >> 3 (LSB first).
 */
export function bloomHas(
  bits: Uint8Array,
  ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">,
  value: string,
): boolean {
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

export function addToBloom(
  bits: Uint8Array,
  ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">,
  value: string,
): void {
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

/**
 * Shards of the largest list. Every shard count is a power of two up to this, so a value's shard
 * hash modulo this number determines its shard for any count (`h % s === (h % MAX) % s`): an
 * uploader keeps only that while it does not yet know how many values there are.
 */
export const MAX_WHITELIST_SHARDS = shardCount(MAX_WHITELIST_LINES);
