/**
 * Per-isolate cache of uploaded whitelists (core/grayscale/types.ts WhitelistRef) for the
 * hot path. A whitelist is immutable under its id (a new upload gets a new id), so cached
 * bytes never need revalidation, only eviction:
 *
 * - the Bloom filter of a whitelist is read from R2 once and answers "surely not a member"
 *   with no further I/O, so a non-member costs nothing after the first check;
 * - only a Bloom positive reads the one shard the value hashes to, to confirm exactly; shards
 *   are kept in a byte-bounded LRU (a 1M-value list has 256 shards of ~4k values, and all of
 *   them fit);
 * - two storage formats (core WhitelistRef.format): format 2, what uploads write, is used as it
 *   comes from R2 (Uint32Array views of the split-block Bloom filter and of each shard's table of
 *   64-bit fingerprints: no index to build, no UTF-8 encoding of the value; a lookup is one hash
 *   pass, one 32-byte Bloom block, one or two table slots); format 1, lists uploaded before,
 *   keeps its classic Bloom filter and text shards indexed in place;
 * - a missing or corrupt object, or an R2 error, answers "not a member": the client then gets
 *   the online version rather than an error; a missing or corrupt object is not asked for
 *   again for UNREADABLE_RETRY_MS, so a broken snapshot does not turn every check into a read.
 * Concurrent loads of one object share a single R2 read (with a fallback, see COALESCE_WAIT_MS).
 */
import type { WhitelistRef } from "../../core/grayscale/types";
import {
  bloomHasHashes,
  indexShardBytes,
  type ShardBytes,
  shardBytesHas,
  shardBytesSize,
} from "../../core/grayscale/whitelist";
import {
  fingerprintBloomHas,
  readFingerprintBloom,
  readShardTable,
  shardTableHas,
  valueFingerprint,
} from "../../core/grayscale/whitelist-v2";
import { whitelistBloomKey, whitelistShardKey } from "../../core/snapshot";
import { TIMED_OUT, withTimeout } from "./timeout";

/** Bloom filters: ~1.2 MB per million values in either format; a dozen large lists fit. */
const BLOOM_CACHE_BYTES = 16 * 1024 * 1024;
/**
 * Shards. Format 2: 8 bytes a slot, at least two slots a value, so ~16 MB for all 256 shards of
 * a 1,000,000-value list (64 KB each), whatever the values' length: three such lists fit.
 * Format 1 (lists uploaded before it): raw UTF-8 bytes plus a 4-byte offset and a hash-table
 * slot per value (no JS string per value), so one 1,000,000-value list of 36-character GUIDs
 * (~37 MB raw + ~8 MB index) fits. Either way the Bloom budget and the isolate's own heap stay
 * inside workerd's 128 MB.
 */
const SHARD_CACHE_BYTES = 48 * 1024 * 1024;
/** Fixed cost of one cached shard (objects, typed-array headers, map entry). */
const SHARD_OVERHEAD_BYTES = 256;
const encoder = new TextEncoder();
/** Client ids are at most a few hundred UTF-8 bytes (core/contracts/check.ts). */
const SCRATCH = new Uint8Array(2048);
/** As in snapshot-cache.ts: workerd may cancel a wait on another request's promise. */
const COALESCE_WAIT_MS = 2_000;
const UNREADABLE_RETRY_MS = 10_000;
const MAX_UNREADABLE = 1_000;

/** A least-recently-used map bounded by the total of its entries' estimated sizes. */
export class ByteLru<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    // Delete then set moves the key to the end: the first key is the least recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, bytes: number): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    // Something larger than the whole budget is served but not kept.
    if (bytes > this.maxBytes) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** Counters for operators and tests: how often R2 was read, by kind. */
export interface WhitelistCacheStats {
  bloomReads: number;
  shardReads: number;
}

/** A cached Bloom filter: format-1 bits, or format-2 words. */
type CachedBloom = Uint8Array | Uint32Array;
/** A cached shard: format-1 indexed text, or a format-2 fingerprint table. */
type CachedShard = ShardBytes | Uint32Array;

export class WhitelistCache {
  // One budget per kind of object, shared by both formats: a list has one format, and its R2 keys
  // (under its id) always hold that format's objects, so a key's cached value has one type.
  readonly #blooms = new ByteLru<CachedBloom>(BLOOM_CACHE_BYTES);
  readonly #shards = new ByteLru<CachedShard>(SHARD_CACHE_BYTES);
  readonly #loads = new Map<string, { promise: Promise<unknown>; startedAt: number }>();
  /** R2 key -> until when it is known to be missing or corrupt */
  readonly #unreadable = new Map<string, number>();
  readonly stats: WhitelistCacheStats = { bloomReads: 0, shardReads: 0 };

  /** Whether `value` is in the whitelist `ref`: Bloom first, the exact shard only on a positive. */
  async has(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
    if (ref.format === 2) return this.#hasFingerprint(bucket, ref, value);
    const bits = await this.#bloom(bucket, ref);
    if (!bits) return false;
    // The value is hashed once: Bloom positions and shard come from the same pass.
    const hashes = valueFingerprint(ref, value);
    if (!bloomHasHashes(bits, ref, hashes.h0, hashes.h1)) return false;
    const shard = await this.#shard(bucket, ref, hashes.shard);
    if (shard === undefined) return false;
    // Encoded into one reused buffer (no allocation per lookup); a value too long for it, never
    // seen from a validated client, is encoded on its own.
    const { read, written } = encoder.encodeInto(value, SCRATCH);
    return read === value.length
      ? shardBytesHas(shard, SCRATCH, written)
      : shardBytesHas(shard, encoder.encode(value));
  }

  /** `has` for a format-2 list: the value's fingerprint, in the filter, then in its shard's table. */
  async #hasFingerprint(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
    const blooms = this.#blooms as ByteLru<Uint32Array>;
    const words = await this.#load(
      blooms,
      bucket,
      ref,
      whitelistBloomKey(ref.id),
      "bloomReads",
      readFingerprintBloom,
      wordsSize,
    );
    if (!words) return false;
    const fp = valueFingerprint(ref, value);
    if (!fingerprintBloomHas(words, fp.h0, fp.h1)) return false;
    const tables = this.#shards as ByteLru<Uint32Array>;
    const key = whitelistShardKey(ref.id, fp.shard);
    const table = await this.#load(tables, bucket, ref, key, "shardReads", readShardTable, tableSize);
    return table !== undefined && shardTableHas(table, fp.h0, fp.h1);
  }

  #bloom(bucket: R2Bucket, ref: WhitelistRef): Promise<Uint8Array | undefined> {
    const blooms = this.#blooms as ByteLru<Uint8Array>;
    return this.#load(blooms, bucket, ref, whitelistBloomKey(ref.id), "bloomReads", readBloomBits, bitsSize);
  }

  #shard(bucket: R2Bucket, ref: WhitelistRef, shard: number): Promise<ShardBytes | undefined> {
    const shards = this.#shards as ByteLru<ShardBytes>;
    const key = whitelistShardKey(ref.id, shard);
    return this.#load(shards, bucket, ref, key, "shardReads", readShardBytes, shardSize);
  }

  /**
   * One object of a whitelist, from the cache or read from R2 once (`#coalesce`) and kept:
   * `read` makes it usable from its bytes, or says why it is not (then it is unreadable: not a
   * member, and not asked for again for a while); `size` is its cost in the cache's budget.
   * (Module-level functions, passed positionally: a cached object costs no allocation.)
   */
  async #load<T extends CachedBloom | CachedShard>(
    lru: ByteLru<T>,
    bucket: R2Bucket,
    ref: WhitelistRef,
    key: string,
    stat: keyof WhitelistCacheStats,
    read: (buffer: ArrayBuffer, ref: WhitelistRef) => T | string,
    size: (value: T) => number,
  ): Promise<T | undefined> {
    const cached = lru.get(key);
    if (cached) return cached;
    return this.#coalesce(key, async () => {
      this.stats[stat]++;
      const stored = await bucket.get(key);
      if (!stored) return this.#unreadableObject(ref, key, "missing");
      const value = read(await stored.arrayBuffer(), ref);
      if (typeof value === "string") return this.#unreadableObject(ref, key, value);
      lru.set(key, value, size(value));
      return value;
    });
  }

  #unreadableObject(ref: WhitelistRef, key: string, why: string): undefined {
    // A control-plane bug (the snapshot names a whitelist R2 does not hold): fail closed.
    console.error("whitelist object unreadable", { whitelistId: ref.id, key, why });
    if (this.#unreadable.size >= MAX_UNREADABLE) this.#unreadable.clear();
    this.#unreadable.set(key, Date.now() + UNREADABLE_RETRY_MS);
    return undefined;
  }

  /** One R2 read per key at a time; R2 errors degrade to "not a member". */
  async #coalesce<T>(key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = Date.now();
    const retryAt = this.#unreadable.get(key);
    if (retryAt !== undefined && now < retryAt) return undefined;
    const pending = this.#loads.get(key);
    if (pending && pending.startedAt + COALESCE_WAIT_MS > now) {
      const shared = await withTimeout(
        pending.promise as Promise<T | undefined>,
        pending.startedAt + COALESCE_WAIT_MS - now,
      );
      if (shared !== TIMED_OUT) return shared;
    }
    const promise = load().catch((err: unknown) => {
      console.error("whitelist read failed", { key, error: String(err) });
      return undefined;
    });
    const entry = { promise, startedAt: now };
    this.#loads.set(key, entry);
    try {
      return await promise;
    } finally {
      if (this.#loads.get(key) === entry) this.#loads.delete(key);
    }
  }
}

/** A format-1 Bloom filter's bits, or why they cannot be the filter `ref` names. */
function readBloomBits(buffer: ArrayBuffer, ref: WhitelistRef): Uint8Array | string {
  const bits = new Uint8Array(buffer);
  // Too few bytes would read absent bits as 0: a false negative, which a Bloom filter must never give.
  return bits.byteLength * 8 < ref.bloomBits ? "shorter than bloomBits" : bits;
}

/** A format-1 shard file, indexed in place. */
function readShardBytes(buffer: ArrayBuffer): ShardBytes {
  return indexShardBytes(new Uint8Array(buffer));
}

const bitsSize = (bits: Uint8Array) => bits.byteLength;
const wordsSize = (words: Uint32Array) => words.byteLength;
const tableSize = (table: Uint32Array) => table.byteLength + SHARD_OVERHEAD_BYTES;
const shardSize = (shard: ShardBytes) => shardBytesSize(shard) + SHARD_OVERHEAD_BYTES;

/** The isolate's cache, shared by every request the isolate serves. */
export const whitelistCache = new WhitelistCache();
