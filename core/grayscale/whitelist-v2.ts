/**
 * Format 2 of an uploaded whitelist (issue 17): what every new upload writes. Format 1
 * (./whitelist.ts: a classic Bloom filter and shards of UTF-8 text) stays readable for lists
 * uploaded before; `WhitelistRef.format` tells them apart (absent = 1).
 *
 * A value is known by its **fingerprint**: the 64 bits (h0, h1) of `whitelistHashes(seed, value)`
 * (two murmur3 x86_32 of its UTF-16LE code units), under the list's random 32-bit seed, which
 * only the control plane and the edge know. Its shard is h2 modulo the shard count, exactly as in
 * format 1 (`shardCount`, same R2 keys). Neither object holds a value's text.
 *
 *   whitelists/{id}/bloom.bin       a split-block Bloom filter over the fingerprints (below)
 *   whitelists/{id}/shard-{i}.txt   (binary, despite its name) the fingerprints of shard i in an
 *                                   open-addressing hash table (below)
 *
 * Both are little-endian 32-bit words, read in place through a Uint32Array view of the object's
 * bytes: no parse, no index, no string. (Every platform workerd and Node run on is
 * little-endian; on a big-endian one the magic would not match and the list would be unreadable,
 * never wrong.)
 *
 * Shard table: u32 magic "GCW2", u32 entry count, u32 slot count (a power of two, at least twice
 * the entries, at least 2), then per slot (u32 h0, u32 h1); (0, 0) is an empty slot, so the
 * fingerprint (0, 0) is stored and looked up as (0, 1). A fingerprint lives at slot
 * `h0 & (slots - 1)` or, when taken, the next free one (linear probing); with the table at most
 * half full a lookup reads one or two adjacent slots of one 64 KB table (4,096 values a shard).
 * Equal fingerprints are stored once, so the entry count is the number of distinct fingerprints.
 *
 * Exactness: a member is always found (never a false negative). A non-member is taken for a
 * member only if its 64-bit fingerprint equals a stored one that its probe visits: probability
 * about (slots probed, ~1-2) x 2^-64 per lookup, ~1e-19, and nobody outside can aim at it
 * without the seed. Two distinct values of one upload sharing a fingerprint are counted once
 * (about n^2 / 2^65 for the whole list: ~3e-8 at 1,000,000 values).
 *
 * Bloom filter: the split-block design of Apache Parquet's Bloom filter spec (written here from
 * the spec): blocks of 8 u32 words (256 bits, 32 bytes); a fingerprint picks block
 * floor(h1 * blocks / 2^32) and sets in word i the bit `Math.imul(h0, SALT[i]) >>> 27`. A check
 * reads 8 words of one block (one cache line) instead of 7 bits spread over the whole filter.
 * At FINGERPRINT_BLOOM_BITS_PER_VALUE (10) bits per value the measured false-positive rate is
 * ~1.3% (test/core-grayscale-whitelist.test.ts measures it over 100,000 non-members).
 */

import type { Murmur3Three } from "./hash";
import type { TargetKind, WhitelistRef } from "./types";
import { whitelistHashes, whitelistHashesAscii } from "./whitelist";

/** `WhitelistRef.format` of lists written this way. */
export const WHITELIST_FORMAT_2 = 2;
/** "GCW2" read as a little-endian u32 (bytes 0x47 0x43 0x57 0x32). */
export const SHARD_TABLE_MAGIC = 0x32574347;
/** magic, entry count, slot count */
const HEADER_WORDS = 3;
const BLOCK_WORDS = 8;
/** Bits of one Bloom block (`ref.bloomBits` is a multiple of it). */
export const BLOOM_BLOCK_BITS = 256;
/** Bits set per value: one in each word of its block (`ref.bloomHashes`). */
export const FINGERPRINT_BLOOM_HASHES = 8;
/**
 * Filter bits per value. False positives measured over 200,000 non-members of a 100,000-value
 * list: 9 bits 2.0%, 10 bits 1.3%, 11 bits 0.83%, 12 bits 0.55%, 14 bits 0.25%. 10 bits puts it
 * in the 1-2% aimed at (format 1: ~1% at 9.6 bits and 7 scattered probes) for 1.25 bytes a value
 * (1.2 MiB for a million); the core whitelist test keeps measuring it.
 */
export const FINGERPRINT_BLOOM_BITS_PER_VALUE = 10;
/** 2^-32: multiply-shift reduction of a 32-bit hash to a block index. */
const INV_2_32 = 2.3283064365386963e-10;
/** The eight odd salts of the split-block Bloom filter (Parquet spec), one per word of a block. */
const SALTS: readonly number[] = [
  0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
];

/** A value's fingerprint in one list and its shard (`valueFingerprint`). */
export interface Fingerprint {
  h0: number;
  h1: number;
  shard: number;
}

/**
 * The fingerprint (unsigned halves h0, h1) of `value` in the list `ref` and its shard (h2 modulo
 * the shard count, as `shardOf`), from one hashing pass: what a lookup needs. A format-1 list
 * uses the same pass: h0 and h1 are `hashValue`'s two Bloom hashes there (`bloomHasHashes`).
 */
export function valueFingerprint(ref: Pick<WhitelistRef, "seed" | "shards">, value: string): Fingerprint {
  const h = whitelistHashes(ref.seed, value);
  return { h0: h.h0, h1: h.h1, shard: ref.shards <= 1 ? 0 : h.h2 % ref.shards };
}

/**
 * The per-value hashes of a list as an uploader keeps them while the values stream in: h0, h1 and
 * the shard hash (h2 modulo `maxShards`) in growable typed arrays, 9 bytes a value at 256
 * shards; no value's text is kept. `maxShards` is a power of two at least the largest shard count
 * the list may get: the shard count depends on how many values there are, and for powers of two
 * `h2 % shards === (h2 % maxShards) % shards`.
 */
export class FingerprintList {
  h0 = new Uint32Array(4096);
  h1 = new Uint32Array(4096);
  shardHash: Uint8Array | Uint16Array | Uint32Array;
  count = 0;

  constructor(
    readonly seed: number,
    readonly maxShards: number,
  ) {
    if (maxShards < 1 || (maxShards & (maxShards - 1)) !== 0)
      throw new RangeError(`maxShards must be a power of two, got ${maxShards}`);
    this.shardHash = this.#newShardHashes(4096);
  }

  /** Hashes `value` (one pass) and keeps its three hashes. */
  add(value: string): void {
    this.#keep(whitelistHashes(this.seed, value));
  }

  /** `add` of the ASCII value in `bytes[from, to)`, hashed from the bytes (the same hashes). */
  addAscii(bytes: Uint8Array, from: number, to: number): void {
    this.#keep(whitelistHashesAscii(this.seed, bytes, from, to));
  }

  #keep(h: Murmur3Three): void {
    if (this.count === this.h0.length) this.#grow();
    this.h0[this.count] = h.h0;
    this.h1[this.count] = h.h1;
    // maxShards is a power of two: the mask is the remainder (the unsigned h2 may exceed 2^31).
    this.shardHash[this.count] = h.h2 & (this.maxShards - 1);
    this.count++;
  }

  #newShardHashes(size: number) {
    return this.maxShards <= 0x100
      ? new Uint8Array(size)
      : this.maxShards <= 0x10000
        ? new Uint16Array(size)
        : new Uint32Array(size);
  }

  #grow(): void {
    const size = this.h0.length * 2;
    const h0 = new Uint32Array(size);
    h0.set(this.h0);
    const h1 = new Uint32Array(size);
    h1.set(this.h1);
    const shardHash = this.#newShardHashes(size);
    shardHash.set(this.shardHash);
    this.h0 = h0;
    this.h1 = h1;
    this.shardHash = shardHash;
  }
}

/** The values of a list grouped by shard: shard s holds `order[starts[s] .. starts[s + 1])`. */
export interface ShardPlan {
  shards: number;
  starts: Uint32Array;
  /** indexes into the FingerprintList, shard by shard */
  order: Uint32Array;
}

/**
 * Groups the values of `list` into `shards` shards (a power of two, at most `list.maxShards`)
 * with a counting sort over their shard numbers: one index array, values in upload order
 * within a shard.
 */
export function planShards(list: FingerprintList, shards: number): ShardPlan {
  if (shards < 1 || shards > list.maxShards || (shards & (shards - 1)) !== 0)
    throw new RangeError(`${shards} shards: a power of two up to ${list.maxShards} expected`);
  const n = list.count;
  const mask = shards - 1;
  const starts = new Uint32Array(shards + 1);
  for (let i = 0; i < n; i++) starts[(list.shardHash[i]! & mask) + 1]! += 1;
  for (let s = 0; s < shards; s++) starts[s + 1]! += starts[s]!;
  const fill = starts.slice(0, shards);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[fill[list.shardHash[i]! & mask]!++] = i;
  return { shards, starts, order };
}

/** Slots of a shard table for up to `entries` fingerprints: a power of two >= 2 x entries, >= 2. */
export function shardTableSlots(entries: number): number {
  let slots = 2;
  while (slots < entries * 2) slots *= 2;
  return slots;
}

/** An empty shard table with room for `entries` fingerprints. */
export function newShardTable(entries: number): Uint32Array {
  const slots = shardTableSlots(entries);
  const table = new Uint32Array(HEADER_WORDS + 2 * slots);
  table[0] = SHARD_TABLE_MAGIC;
  table[2] = slots;
  return table;
}

/**
 * Adds the fingerprint (h0, h1) (unsigned 32-bit halves) to a table; false when it was there
 * already. Refuses to fill a table past half its slots (the lookup relies on free slots).
 */
export function addToShardTable(table: Uint32Array, h0: number, h1: number): boolean {
  h0 >>>= 0;
  h1 = (h0 | h1) === 0 ? 1 : h1 >>> 0;
  const slots = table[2]!;
  const mask = slots - 1;
  for (let slot = h0 & mask; ; slot = (slot + 1) & mask) {
    const at = HEADER_WORDS + 2 * slot;
    const a = table[at]!;
    const b = table[at + 1]!;
    if (a === h0 && b === h1) return false;
    if ((a | b) === 0) {
      if ((table[1]! + 1) * 2 > slots) throw new RangeError(`shard table of ${slots} slots is half full`);
      table[at] = h0;
      table[at + 1] = h1;
      table[1]! += 1;
      return true;
    }
  }
}

/** The table of shard `shard` of a plan: every fingerprint of its values, once. */
export function buildShardTable(list: FingerprintList, plan: ShardPlan, shard: number): Uint32Array {
  const from = plan.starts[shard]!;
  const to = plan.starts[shard + 1]!;
  const table = newShardTable(to - from);
  for (let j = from; j < to; j++) {
    const i = plan.order[j]!;
    addToShardTable(table, list.h0[i]!, list.h1[i]!);
  }
  // The table was sized for the values before duplicates were dropped: a list that repeats its
  // values (a million copies of one GUID) gets the table its distinct values need, not one sized
  // for the repeats (which the edge and explain would download).
  return shardTableSlots(shardTableCount(table)) < table[2]! ? resizedShardTable(table) : table;
}

/** The fingerprints of `table` in a table of the slots their count needs. */
function resizedShardTable(table: Uint32Array): Uint32Array {
  const out = newShardTable(shardTableCount(table));
  for (let at = HEADER_WORDS; at < table.length; at += 2) {
    const h0 = table[at]!;
    const h1 = table[at + 1]!;
    if ((h0 | h1) !== 0) addToShardTable(out, h0, h1);
  }
  return out;
}

/** Distinct fingerprints in a table. */
export function shardTableCount(table: Uint32Array): number {
  return table[1]!;
}

/**
 * Whether the fingerprint (h0, h1) (unsigned 32-bit halves, as `whitelistHashes` gives them) is
 * in a table from `readShardTable` or `newShardTable`. Probes at most every slot once, so even a
 * table with no free slot ends.
 */
export function shardTableHas(table: Uint32Array, h0: number, h1: number): boolean {
  h0 >>>= 0;
  h1 = (h0 | h1) === 0 ? 1 : h1 >>> 0;
  const slots = table[2]!;
  const mask = slots - 1;
  let slot = h0 & mask;
  for (let n = slots; n > 0; n--) {
    const at = HEADER_WORDS + 2 * slot;
    const a = table[at]!;
    const b = table[at + 1]!;
    if (a === h0 && b === h1) return true;
    if ((a | b) === 0) return false;
    slot = (slot + 1) & mask;
  }
  return false;
}

/**
 * A shard table object's bytes as a table, in place (a Uint32Array view, no copy), or why it is
 * not one: too short, a length that is not whole words, the wrong magic, a slot count that is not
 * a power of two >= 2, a length that does not match it, more entries than half the slots, or an
 * entry count that differs from the occupied slots. A reader treats such an object as unreadable
 * (not a member), as for a missing one.
 */
export function readShardTable(buffer: ArrayBuffer): Uint32Array | string {
  if (buffer.byteLength < HEADER_WORDS * 4 || buffer.byteLength % 4 !== 0) return "not a shard table";
  const table = new Uint32Array(buffer);
  if (table[0] !== SHARD_TABLE_MAGIC) return "not a format-2 shard table (magic)";
  const count = table[1]!;
  const slots = table[2]!;
  if (slots < 2 || slots > 0x40000000 || (slots & (slots - 1)) !== 0)
    return "slot count is not a power of two";
  if (buffer.byteLength !== (HEADER_WORDS + 2 * slots) * 4) return "length does not match the slot count";
  if (count * 2 > slots) return "more entries than half the slots";
  let used = 0;
  for (let at = HEADER_WORDS; at < table.length; at += 2) if ((table[at]! | table[at + 1]!) !== 0) used++;
  if (used !== count) return "entry count does not match the table";
  return table;
}

/** Bloom blocks for `count` values (at least one). */
export function fingerprintBloomBlocks(count: number): number {
  return Math.max(1, Math.ceil((Math.max(0, count) * FINGERPRINT_BLOOM_BITS_PER_VALUE) / BLOOM_BLOCK_BITS));
}

/**
 * The first word of the block of h1 among `blocks`: floor(h1 * blocks / 2^32) (multiply-shift,
 * exact in doubles while blocks < 2^21, ~175 million values; the same arithmetic on both sides
 * in any case), times 8.
 */
function blockStart(h1: number, blocks: number): number {
  return Math.floor((h1 >>> 0) * blocks * INV_2_32) * BLOCK_WORDS;
}

/** Sets the 8 bits of the fingerprint (h0, h1) in a filter of whole blocks. */
export function addToFingerprintBloom(words: Uint32Array, h0: number, h1: number): void {
  const blocks = words.length / BLOCK_WORDS;
  if (blocks < 1 || !Number.isInteger(blocks))
    throw new RangeError(`a split-block Bloom filter has whole blocks of ${BLOCK_WORDS} words`);
  const base = blockStart(h1, blocks);
  for (let i = 0; i < BLOCK_WORDS; i++) words[base + i]! |= 1 << (Math.imul(h0, SALTS[i]!) >>> 27);
}

/**
 * Whether the fingerprint (h0, h1) may be in the filter: its 8 bits, one per word of one block,
 * are all set (false = surely not a member). Unrolled with the salts inline: the hot path of
 * every check that reaches a format-2 list.
 */
export function fingerprintBloomHas(words: Uint32Array, h0: number, h1: number): boolean {
  const blocks = words.length >>> 3;
  if (blocks === 0) return false;
  const b = blockStart(h1, blocks);
  // A bit missing in any word: (~word & bit) is non-zero.
  return (
    ((~words[b]! & (1 << (Math.imul(h0, 0x47b6137b) >>> 27))) |
      (~words[b + 1]! & (1 << (Math.imul(h0, 0x44974d91) >>> 27))) |
      (~words[b + 2]! & (1 << (Math.imul(h0, 0x8824ad5b) >>> 27))) |
      (~words[b + 3]! & (1 << (Math.imul(h0, 0xa2b7289d) >>> 27))) |
      (~words[b + 4]! & (1 << (Math.imul(h0, 0x705495c7) >>> 27))) |
      (~words[b + 5]! & (1 << (Math.imul(h0, 0x2df1424b) >>> 27))) |
      (~words[b + 6]! & (1 << (Math.imul(h0, 0x9efc4947) >>> 27))) |
      (~words[b + 7]! & (1 << (Math.imul(h0, 0x5c6bfb31) >>> 27)))) ===
    0
  );
}

/** The split-block Bloom filter of every value of `list` (sized for `list.count` values). */
export function buildFingerprintBloom(list: FingerprintList): Uint32Array {
  const words = new Uint32Array(fingerprintBloomBlocks(list.count) * BLOCK_WORDS);
  for (let i = 0; i < list.count; i++) addToFingerprintBloom(words, list.h0[i]!, list.h1[i]!);
  return words;
}

/**
 * A Bloom filter object's bytes as its words, in place, or why they cannot be the filter `ref`
 * names: `ref.bloomBits` must be whole blocks, `ref.bloomHashes` 8, and the object exactly
 * bloomBits / 8 bytes (a shorter one would read absent bits as 0: a false negative).
 */
export function readFingerprintBloom(
  buffer: ArrayBuffer,
  ref: Pick<WhitelistRef, "bloomBits" | "bloomHashes">,
): Uint32Array | string {
  if (ref.bloomBits < BLOOM_BLOCK_BITS || ref.bloomBits % BLOOM_BLOCK_BITS !== 0)
    return "bloomBits is not whole 256-bit blocks";
  if (ref.bloomHashes !== FINGERPRINT_BLOOM_HASHES) return "bloomHashes is not 8";
  if (buffer.byteLength !== ref.bloomBits / 8) return "length does not match bloomBits";
  return new Uint32Array(buffer);
}

/** The bytes of a table or filter as they are stored (a view, no copy). */
export function wordBytes(words: Uint32Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

/** The ref of a format-2 list (its `count` is the sum of its shard tables' counts). */
export function fingerprintRef(input: {
  id: string;
  kind: TargetKind;
  seed: number;
  count: number;
  bloom: Uint32Array;
  shards: number;
}): WhitelistRef {
  return {
    id: input.id,
    kind: input.kind,
    count: input.count,
    seed: input.seed | 0,
    bloomBits: input.bloom.length * 32,
    bloomHashes: FINGERPRINT_BLOOM_HASHES,
    shards: input.shards,
    format: WHITELIST_FORMAT_2,
  };
}
