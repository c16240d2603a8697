/**
 * Building an uploaded txt whitelist into its stored form (pure: the caller writes the bytes to
 * R2 under `whitelistBloomKey(id)` and `whitelistShardKey(id, i)`). The seed is a parameter so
 * the same upload and seed always give the same bytes. `buildWhitelistV2` builds format 2 (what
 * uploads write); `buildWhitelist` builds format 1, which the edge still reads for lists
 * uploaded before it.
 */
import type { TargetKind, WhitelistRef } from "./types";
import {
  addToBloom,
  bloomSize,
  MAX_WHITELIST_LINES,
  MAX_WHITELIST_SHARDS,
  parseWhitelistLine,
  shardCount,
  shardOf,
} from "./whitelist";
import {
  buildFingerprintBloom,
  buildShardTable,
  FingerprintList,
  fingerprintRef,
  planShards,
  shardTableCount,
  wordBytes,
} from "./whitelist-v2";

export interface WhitelistLineError {
  /** 1-based line number in the uploaded text */
  line: number;
  error: string;
}

export type WhitelistParse =
  | { ok: true; values: string[] }
  | { ok: false; errors: WhitelistLineError[]; tooManyLines: boolean };

/** At most this many line errors are reported (the rest are counted by the caller's re-upload). */
export const MAX_REPORTED_LINE_ERRORS = 20;

/**
 * Parses a whole txt whitelist: one value per line ("\n" or "\r\n"), blank lines skipped, each
 * line checked by `parseWhitelistLine`; at most MAX_WHITELIST_LINES values. The values come back
 * unique and sorted by plain string order.
 */
export function parseWhitelistText(text: string): WhitelistParse {
  const errors: WhitelistLineError[] = [];
  const values = new Set<string>();
  let count = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim().length === 0) continue;
    const parsed = parseWhitelistLine(line);
    if (!parsed.ok) {
      if (errors.length < MAX_REPORTED_LINE_ERRORS) errors.push({ line: lineNo, error: parsed.error });
      continue;
    }
    if (++count > MAX_WHITELIST_LINES) {
      return { ok: false, errors, tooManyLines: true };
    }
    values.add(parsed.value);
  }
  if (errors.length > 0) return { ok: false, errors, tooManyLines: false };
  return { ok: true, values: [...values].sort() };
}

export interface BuiltWhitelist {
  ref: WhitelistRef;
  /** `whitelists/{id}/bloom.bin` */
  bloom: Uint8Array;
  /** shard i -> its sorted unique values (`whitelists/{id}/shard-{i}.txt` is `shardText(shards[i])`) */
  shards: string[][];
}

/** Builds the Bloom filter and the shards of already parsed values (duplicates are dropped). */
export function buildWhitelist(input: {
  id: string;
  kind: TargetKind;
  seed: number;
  values: readonly string[];
}): BuiltWhitelist {
  const unique = [...new Set(input.values)].sort();
  const { bloomBits, bloomHashes } = bloomSize(unique.length);
  const ref: WhitelistRef = {
    id: input.id,
    kind: input.kind,
    count: unique.length,
    seed: input.seed | 0,
    bloomBits,
    bloomHashes,
    shards: shardCount(unique.length),
  };
  const bloom = new Uint8Array(bloomBits / 8);
  const shards: string[][] = Array.from({ length: ref.shards }, () => []);
  // `unique` is sorted, so each shard receives its values in sorted order.
  for (const value of unique) {
    addToBloom(bloom, ref, value);
    (shards[shardOf(ref, value)] as string[]).push(value);
  }
  return { ref, bloom, shards };
}

/** The text of one shard file: values joined by "\n". */
export function shardText(values: readonly string[]): string {
  return values.join("\n");
}

/** Reads one shard file back into its sorted values. */
export function parseShardText(text: string): string[] {
  return text.length === 0 ? [] : text.split("\n");
}

export interface BuiltWhitelistV2 {
  /** `format: 2` */
  ref: WhitelistRef;
  /** `whitelists/{id}/bloom.bin`: the split-block Bloom filter */
  bloom: Uint8Array;
  /** shard i -> the bytes of `whitelists/{id}/shard-{i}.txt` (its fingerprint table) */
  shards: Uint8Array[];
}

/**
 * Builds a format-2 whitelist of already parsed values (any order; equal values are stored
 * once) the way the control plane's upload does (FingerprintList, then per shard its table):
 * the same values and seed give the same bytes as an upload of them.
 */
export function buildWhitelistV2(input: {
  id: string;
  kind: TargetKind;
  seed: number;
  values: readonly string[];
}): BuiltWhitelistV2 {
  const list = new FingerprintList(input.seed | 0, MAX_WHITELIST_SHARDS);
  for (const value of input.values) list.add(value);
  const plan = planShards(list, shardCount(list.count));
  const bloom = buildFingerprintBloom(list);
  const shards: Uint8Array[] = [];
  let count = 0;
  for (let s = 0; s < plan.shards; s++) {
    const table = buildShardTable(list, plan, s);
    count += shardTableCount(table);
    shards.push(wordBytes(table));
  }
  const ref = fingerprintRef({
    id: input.id,
    kind: input.kind,
    seed: input.seed,
    count,
    bloom,
    shards: plan.shards,
  });
  return { ref, bloom: wordBytes(bloom), shards };
}
