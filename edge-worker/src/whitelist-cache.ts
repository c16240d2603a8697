/**
 * Per-isolate cache of uploaded whitelists (core/grayscale/types.ts WhitelistRef) for the
 * hot path. A whitelist is immutable under its id (a new upload gets a new id), so cached
 * bytes never need revalidation, only eviction:
 *
 * - the Bloom filter of a whitelist is read from R2 once and answers "surely not a member"
 *   with no further I/O, so a non-member costs nothing after the first check;
 * - only a Bloom positive reads the one shard the value hashes to, to confirm exactly; parsed
 *   shards are kept as raw bytes with an offsets index in a byte-bounded LRU (a 1M-value list
 *   has ~256 shards of ~4k values, and all of them fit);
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
  valueHashes,
} from "../../core/grayscale/whitelist";
import { whitelistBloomKey, whitelistShardKey } from "../../core/snapshot";
import { TIMED_OUT, withTimeout } from "./timeout";

/** Bloom filters: ~1.2 MB per million values; a dozen large lists fit. */
const BLOOM_CACHE_BYTES = 16 * 1024 * 1024;
/**
 * Shards, kept as raw UTF-8 bytes plus a 4-byte offset per value (no JS string per value): all
 * shards of a 1,000,000-value list of 36-character GUIDs (~37 MB raw + 4 MB index) fit, with
 * the Bloom budget and the isolate's own heap still inside workerd's 128 MB.
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

export class WhitelistCache {
  readonly #blooms = new ByteLru<Uint8Array>(BLOOM_CACHE_BYTES);
  readonly #shards = new ByteLru<ShardBytes>(SHARD_CACHE_BYTES);
  readonly #loads = new Map<string, { promise: Promise<unknown>; startedAt: number }>();
  /** R2 key -> until when it is known to be missing or corrupt */
  readonly #unreadable = new Map<string, number>();
  readonly stats: WhitelistCacheStats = { bloomReads: 0, shardReads: 0 };

  /** Whether `value` is in the whitelist `ref`: Bloom first, the exact shard only on a positive. */
  async has(bucket: R2Bucket, ref: WhitelistRef, value: string): Promise<boolean> {
    const bits = await this.#bloom(bucket, ref);
    if (!bits) return false;
    // The value is hashed once: Bloom positions and shard come from the same pass.
    const hashes = valueHashes(ref, value);
    if (!bloomHasHashes(bits, ref, hashes.h1, hashes.h2)) return false;
    const shard = await this.#shard(bucket, ref, hashes.shard);
    if (shard === undefined) return false;
    // Encoded into one reused buffer (no allocation per lookup); a value too long for it, never
    // seen from a validated client, is encoded on its own.
    const { read, written } = encoder.encodeInto(value, SCRATCH);
    return read === value.length
      ? shardBytesHas(shard, SCRATCH, written)
      : shardBytesHas(shard, encoder.encode(value));
  }

  async #bloom(bucket: R2Bucket, ref: WhitelistRef): Promise<Uint8Array | undefined> {
    const key = whitelistBloomKey(ref.id);
    const cached = this.#blooms.get(key);
    if (cached) return cached;
    return this.#coalesce(key, async () => {
      this.stats.bloomReads++;
      const object = await bucket.get(key);
      if (!object) return this.#unreadableObject(ref, key, "missing");
      const bits = new Uint8Array(await object.arrayBuffer());
      // Too few bytes would read absent bits as 0: a false negative, which a Bloom filter must never give.
      if (bits.byteLength * 8 < ref.bloomBits)
        return this.#unreadableObject(ref, key, "shorter than bloomBits");
      this.#blooms.set(key, bits, bits.byteLength);
      return bits;
    });
  }

  async #shard(bucket: R2Bucket, ref: WhitelistRef, shard: number): Promise<ShardBytes | undefined> {
    const key = whitelistShardKey(ref.id, shard);
    const cached = this.#shards.get(key);
    if (cached) return cached;
    return this.#coalesce(key, async () => {
      this.stats.shardReads++;
      const object = await bucket.get(key);
      if (!object) return this.#unreadableObject(ref, key, "missing");
      const indexed = indexShardBytes(new Uint8Array(await object.arrayBuffer()));
      this.#shards.set(key, indexed, shardBytesSize(indexed) + SHARD_OVERHEAD_BYTES);
      return indexed;
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

/** The isolate's cache, shared by every request the isolate serves. */
export const whitelistCache = new WhitelistCache();
