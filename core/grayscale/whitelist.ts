/**
 * Whitelists of target objects (GUIDs, device ids, accounts): line parsing, hashing, the
 * Bloom filter and shard lookup. TO BE IMPLEMENTED (signatures fixed).
 */
import type { WhitelistRef } from "./types";

export const MAX_WHITELIST_LINES = 1_000_000;
export const MAX_TARGET_LENGTH = 128;

export type LineResult = { ok: true; value: string } | { ok: false; error: string };

/** One line of an uploaded txt whitelist: trimmed; blank lines are skipped by the caller. */
export function parseWhitelistLine(line: string): LineResult {
  throw new Error("not implemented");
}

/** Two independent 32-bit hashes of `value` under `seed` (for Bloom positions and shards). */
export function hashValue(value: string, seed: number): [number, number] {
  throw new Error("not implemented");
}

export function shardOf(ref: Pick<WhitelistRef, "seed" | "shards">, value: string): number {
  throw new Error("not implemented");
}

export function bloomHas(bits: Uint8Array, ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">, value: string): boolean {
  throw new Error("not implemented");
}

/** Exact membership in one shard's sorted values. */
export function shardHas(sortedValues: readonly string[], value: string): boolean {
  throw new Error("not implemented");
}

/** Bloom filter sizing for `count` values at about 1% false positives. */
export function bloomSize(count: number): { bloomBits: number; bloomHashes: number } {
  throw new Error("not implemented");
}

export function addToBloom(bits: Uint8Array, ref: Pick<WhitelistRef, "seed" | "bloomBits" | "bloomHashes">, value: string): void {
  throw new Error("not implemented");
}

/** Number of shards for `count` values (power of two, ~4096 values per shard). */
export function shardCount(count: number): number {
  throw new Error("not implemented");
}
