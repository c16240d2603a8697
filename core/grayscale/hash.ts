/**
 * The one 32-bit hash behind grayscale buckets, whitelist Bloom positions and whitelist shards:
 * MurmurHash3 x86_32 (Appleby) over the UTF-16LE bytes of a string.
 *
 * Why UTF-16LE: JS strings are UTF-16, so the hash reads `charCodeAt` directly, with no
 * TextEncoder and no byte buffer on the hot path; two code units make one 32-bit block, a last
 * odd code unit is the two-byte tail. Any other implementation reproduces it by hashing the
 * string's UTF-16LE encoding with the reference algorithm (the tests check exactly that).
 * Values in whitelists are well-formed (no lone surrogates), so the encoding is unambiguous.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Code unit `i` of `a + "\u0000" + b` (or of `a` alone), without building that string. */
function unitAt(a: string, b: string | undefined, i: number): number {
  const la = a.length;
  if (i < la) return a.charCodeAt(i);
  if (i === la || b === undefined) return 0;
  return b.charCodeAt(i - la - 1);
}

/**
 * MurmurHash3 x86_32 of the UTF-16LE bytes of `a`, or, when `b` is given, of
 * `a + "\u0000" + b` (a separator no valid task id or user key contains, so ("ab","c") and
 * ("a","bc") differ). Unsigned result.
 */
export function murmur3Utf16(a: string, seed: number, b?: string): number {
  const total = b === undefined ? a.length : a.length + 1 + b.length;
  let h = seed | 0;
  let i = 0;
  for (; i + 1 < total; i += 2) {
    h = mixState(h, scramble(unitAt(a, b, i) | (unitAt(a, b, i + 1) << 16)));
  }
  if (i < total) {
    h ^= scramble(unitAt(a, b, i));
  }
  return fmix(h ^ (total * 2));
}

/**
 * The state of `murmur3Utf16(a, seed, ·)` after the blocks of `a + "\u0000"`: the same for every
 * `b`, so a caller hashing many `b` under one `a` (a task and its users) computes it once and
 * finishes each hash with `murmur3Utf16Rest`.
 */
export interface Murmur3Prefix {
  /** state after the whole blocks of `a + "\u0000"` */
  h: number;
  /** its last code unit when that prefix has an odd length (-1 when it is block-aligned) */
  carry: number;
  /** length of `a + "\u0000"` in code units */
  length: number;
}

export function murmur3Utf16Prefix(a: string, seed: number): Murmur3Prefix {
  const length = a.length + 1;
  let h = seed | 0;
  let i = 0;
  for (; i + 1 < length; i += 2) h = mixState(h, scramble(unitAt(a, "", i) | (unitAt(a, "", i + 1) << 16)));
  return { h, carry: i < length ? unitAt(a, "", i) : -1, length };
}

/** `murmur3Utf16(a, seed, b)` from `murmur3Utf16Prefix(a, seed)`: identical results. */
export function murmur3Utf16Rest(prefix: Murmur3Prefix, b: string): number {
  const total = prefix.length + b.length;
  let h = prefix.h;
  let j = 0;
  if (prefix.carry >= 0) {
    if (b.length === 0) return fmix(h ^ scramble(prefix.carry) ^ (total * 2));
    h = mixState(h, scramble(prefix.carry | (b.charCodeAt(0) << 16)));
    j = 1;
  }
  for (; j + 1 < b.length; j += 2) h = mixState(h, scramble(b.charCodeAt(j) | (b.charCodeAt(j + 1) << 16)));
  if (j < b.length) h ^= scramble(b.charCodeAt(j));
  return fmix(h ^ (total * 2));
}

/** `murmur3Utf16(value, seed)` under three seeds (`murmur3Utf16Three`). */
export interface Murmur3Three {
  h0: number;
  h1: number;
  h2: number;
}

/**
 * `murmur3Utf16(value, seed)` for three seeds in one pass over `value`: the block mixing does
 * not depend on the seed, so it is done once and folded into three states. Unsigned results,
 * identical to three separate calls; one small object, no buffer (the whitelist lookup of every
 * check calls it).
 */
export function murmur3Utf16Three(value: string, seed0: number, seed1: number, seed2: number): Murmur3Three {
  const total = value.length;
  let h0 = seed0 | 0;
  let h1 = seed1 | 0;
  let h2 = seed2 | 0;
  let i = 0;
  for (; i + 1 < total; i += 2) {
    const k = scramble(value.charCodeAt(i) | (value.charCodeAt(i + 1) << 16));
    h0 = mixState(h0, k);
    h1 = mixState(h1, k);
    h2 = mixState(h2, k);
  }
  if (i < total) {
    const k = scramble(value.charCodeAt(i));
    h0 ^= k;
    h1 ^= k;
    h2 ^= k;
  }
  return { h0: fmix(h0 ^ (total * 2)), h1: fmix(h1 ^ (total * 2)), h2: fmix(h2 ^ (total * 2)) };
}

/**
 * `murmur3Utf16Three` of the ASCII text in `bytes[from, to)` (every byte < 0x80, so each byte is
 * one UTF-16 code unit): identical results, without decoding the bytes into a string (an upload
 * of a million lines hashes them straight from the body's chunks).
 */
export function murmur3AsciiThree(
  bytes: Uint8Array,
  from: number,
  to: number,
  seed0: number,
  seed1: number,
  seed2: number,
): Murmur3Three {
  const total = to - from;
  let h0 = seed0 | 0;
  let h1 = seed1 | 0;
  let h2 = seed2 | 0;
  let i = from;
  for (; i + 1 < to; i += 2) {
    const k = scramble(bytes[i]! | (bytes[i + 1]! << 16));
    h0 = mixState(h0, k);
    h1 = mixState(h1, k);
    h2 = mixState(h2, k);
  }
  if (i < to) {
    const k = scramble(bytes[i]!);
    h0 ^= k;
    h1 ^= k;
    h2 ^= k;
  }
  return { h0: fmix(h0 ^ (total * 2)), h1: fmix(h1 ^ (total * 2)), h2: fmix(h2 ^ (total * 2)) };
}

/** `murmur3Utf16Three`, its three results written to `out[0..2]`. */
export function murmur3Utf16x3(
  value: string,
  seed0: number,
  seed1: number,
  seed2: number,
  out: Uint32Array,
): void {
  const h = murmur3Utf16Three(value, seed0, seed1, seed2);
  out[0] = h.h0;
  out[1] = h.h1;
  out[2] = h.h2;
}

/** MurmurHash3's per-block scramble of a 32-bit block (seed-independent). */
function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Folds a scrambled block into the running state. */
function mixState(h: number, k: number): number {
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
