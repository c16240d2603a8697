import { describe, expect, it } from "vitest";
import {
  murmur3AsciiThree,
  murmur3Utf16,
  murmur3Utf16Prefix,
  murmur3Utf16Rest,
  murmur3Utf16Three,
  murmur3Utf16x3,
} from "../core/grayscale/hash";
import { rolloutBucket } from "../core/grayscale/rules";
import type { WhitelistRef } from "../core/grayscale/types";
import {
  addToBloom,
  asciiWhitelistLineError,
  bloomHas,
  bloomHasHashes,
  bloomSize,
  hashValue,
  indexShardBytes,
  MAX_TARGET_LENGTH,
  MAX_WHITELIST_LINES,
  parseWhitelistLine,
  shardBytesCount,
  shardBytesHas,
  shardCount,
  shardHas,
  shardHash,
  shardOf,
  whitelistHashes,
} from "../core/grayscale/whitelist";
import {
  buildWhitelist,
  buildWhitelistV2,
  parseShardText,
  parseWhitelistText,
  shardText,
} from "../core/grayscale/whitelist-build";
import {
  addToFingerprintBloom,
  addToShardTable,
  FINGERPRINT_BLOOM_BITS_PER_VALUE,
  FingerprintList,
  fingerprintBloomBlocks,
  fingerprintBloomHas,
  newShardTable,
  planShards,
  readFingerprintBloom,
  readShardTable,
  SHARD_TABLE_MAGIC,
  shardTableCount,
  shardTableHas,
  shardTableSlots,
  valueFingerprint,
  wordBytes,
} from "../core/grayscale/whitelist-v2";

/** MurmurHash3 x86_32 over bytes, written from the reference algorithm independently of core. */
function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let b = 0; b < blocks; b++) {
    const o = b * 4;
    let k = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
    k = Math.imul(k, 0xcc9e2d51) >>> 0;
    k = ((k << 15) | (k >>> 17)) >>> 0;
    k = Math.imul(k, 0x1b873593) >>> 0;
    h = (h ^ k) >>> 0;
    h = ((h << 13) | (h >>> 19)) >>> 0;
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  const tail = blocks * 4;
  let k = 0;
  const rest = bytes.length & 3;
  if (rest === 3) k ^= bytes[tail + 2]! << 16;
  if (rest >= 2) k ^= bytes[tail + 1]! << 8;
  if (rest >= 1) {
    k ^= bytes[tail]!;
    k = Math.imul(k, 0xcc9e2d51) >>> 0;
    k = ((k << 15) | (k >>> 17)) >>> 0;
    k = Math.imul(k, 0x1b873593) >>> 0;
    h = (h ^ k) >>> 0;
  }
  h = (h ^ bytes.length) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) & 0xff;
    out[2 * i + 1] = text.charCodeAt(i) >>> 8;
  }
  return out;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomId(r: () => number): string {
  const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const len = 8 + Math.floor(r() * 24);
  let s = "";
  for (let i = 0; i < len; i++) s += chars[Math.floor(r() * chars.length)];
  return s;
}

describe("parseWhitelistLine", () => {
  it.each([
    ["GUID-0001", "GUID-0001"],
    ["  GUID-0001\t", "GUID-0001"],
    ["GUID-0001\r", "GUID-0001"], // CRLF files
    ["\uFEFFGUID-0001", "GUID-0001"], // BOM at the start of a txt file
    ["AbC", "AbC"], // kept exactly: values are case-sensitive
    ["user@example.com", "user@example.com"],
    ["张三", "张三"],
    ["id-😀", "id-😀"],
    ["x".repeat(MAX_TARGET_LENGTH), "x".repeat(MAX_TARGET_LENGTH)],
  ])("accepts %j as %j", (line, value) => {
    expect(parseWhitelistLine(line)).toEqual({ ok: true, value });
  });

  it.each([
    ["", "empty"],
    ["   ", "empty"],
    ["x".repeat(MAX_TARGET_LENGTH + 1), "longer"],
    ["a\u0000b", "control"],
    ["a\u0007b", "control"],
    ["a\u007fb", "control"],
    ["a\u0085b", "control"],
    ["a\tb", "control"],
    ["a b", "whitespace"],
    ["a\u00a0b", "whitespace"],
    ["a\u3000b", "whitespace"],
    ["a\u2028b", "whitespace"],
    ["a\ud800b", "invalid"], // lone high surrogate: would not survive UTF-8
    ["a\udc00", "invalid"],
  ])("rejects %j (%s)", (line, error) => {
    const result = parseWhitelistLine(line);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(error);
  });
});

describe("hashing: murmur3 x86_32 over UTF-16LE", () => {
  it("the test's reference implementation matches published murmur3 vectors", () => {
    const ascii = (s: string) => new TextEncoder().encode(s);
    expect(murmur3Bytes(ascii(""), 0)).toBe(0);
    expect(murmur3Bytes(ascii(""), 1)).toBe(0x514e28b7);
    expect(murmur3Bytes(ascii(""), 0xffffffff)).toBe(0x81f16f39);
    expect(murmur3Bytes(new Uint8Array([0, 0, 0, 0]), 0)).toBe(0x2362f9de);
    expect(murmur3Bytes(ascii("aaaa"), 0x9747b28c)).toBe(0x5a97808a);
    expect(murmur3Bytes(ascii("Hello, world!"), 0x9747b28c)).toBe(0x24884cba);
    expect(murmur3Bytes(ascii("The quick brown fox jumps over the lazy dog"), 0x9747b28c)).toBe(0x2fa826cd);
  });

  it.each(["", "a", "ab", "abc", "GUID-0001", "张三", "id-😀", "x".repeat(128)])(
    "hashValue(%j) is murmur3 of its UTF-16LE bytes, seeds s and s ^ 0x9e3779b9",
    (value) => {
      for (const seed of [0, 1, 42, -7, 0x7fffffff]) {
        expect(hashValue(value, seed)).toEqual([
          murmur3Bytes(utf16le(value), seed),
          murmur3Bytes(utf16le(value), (seed ^ 0x9e3779b9) >>> 0),
        ]);
      }
    },
  );

  it("rolloutBucket is murmur3 (seed 0) of `${taskId}\\u0000${userKey}` mod 10000", () => {
    for (const [task, key] of [
      ["t1", "g:abc"],
      ["task-42", "a:alice"],
      ["", ""],
      ["x", "d:😀"],
    ] as const) {
      expect(rolloutBucket(task, key)).toBe(murmur3Bytes(utf16le(`${task}\u0000${key}`), 0) % 10_000);
      expect(murmur3Utf16(task, 0, key)).toBe(murmur3Bytes(utf16le(`${task}\u0000${key}`), 0));
    }
  });

  it("the two hashes differ, and depend on the seed", () => {
    const [a, b] = hashValue("GUID-0001", 5);
    expect(a).not.toBe(b);
    expect(hashValue("GUID-0001", 6)[0]).not.toBe(a);
  });
});

describe("bloomSize and shardCount", () => {
  it.each([
    [0, 64, 16],
    [1, 64, 16],
    [10, 96, 7],
    [1000, 9592, 7],
    [1_000_000, 9_585_064, 7],
  ])("%d values -> %d bits, %d hashes (about 1%% false positives)", (count, bits, hashes) => {
    expect(bloomSize(count)).toEqual({ bloomBits: bits, bloomHashes: hashes });
  });

  it("always gives a whole number of bytes, at least 64 bits, 1..16 hashes", () => {
    for (const n of [0, 1, 2, 3, 7, 99, 12345, 777_777]) {
      const { bloomBits, bloomHashes } = bloomSize(n);
      expect(bloomBits % 8).toBe(0);
      expect(bloomBits).toBeGreaterThanOrEqual(64);
      expect(bloomHashes).toBeGreaterThanOrEqual(1);
      expect(bloomHashes).toBeLessThanOrEqual(16);
    }
  });

  it.each([
    [0, 1],
    [1, 1],
    [4096, 1],
    [4097, 2],
    [8192, 2],
    [8193, 4],
    [100_000, 32],
    [MAX_WHITELIST_LINES, 256],
  ])("%d values -> %d shards (power of two, <= 4096 values each)", (count, shards) => {
    expect(shardCount(count)).toBe(shards);
  });

  it("shardOf is stable, in range and spreads values evenly", () => {
    const ref = { seed: 99, shards: 16 };
    const r = rng(3);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const v = randomId(r);
      const s = shardOf(ref, v);
      expect(shardOf(ref, v)).toBe(s);
      counts[s]! += 1;
    }
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
    expect(shardOf({ seed: 99, shards: 1 }, "anything")).toBe(0);
  });
});

describe("shardHas", () => {
  const sorted = ["A", "B", "Z", "a", "b", "z", "é", "张", "😀"].sort();

  it("finds every member of values sorted by plain string order", () => {
    for (const v of sorted) expect(shardHas(sorted, v)).toBe(true);
  });

  it.each(["", "c", "AA", "ä", "😁", "a "])("does not find %j", (v) => {
    expect(shardHas(sorted, v)).toBe(false);
  });

  it("is case-sensitive and handles empty and one-element shards", () => {
    expect(shardHas(["abc"], "ABC")).toBe(false);
    expect(shardHas(["abc"], "abc")).toBe(true);
    expect(shardHas([], "abc")).toBe(false);
  });
});

describe("one-pass hashes (hot path)", () => {
  const values = ["", "a", "ab", "abc", "GUID-0001", "张三", "id-😀", "x".repeat(128), "\ue000", "𐀀z"];

  it.each(values)("murmur3Utf16x3(%j) equals three murmur3Utf16 calls", (value) => {
    const out = new Uint32Array(3);
    murmur3Utf16x3(value, 7, 0x9e3779b9 ^ 7, -5, out);
    expect([...out]).toEqual([
      murmur3Utf16(value, 7),
      murmur3Utf16(value, 0x9e3779b9 ^ 7),
      murmur3Utf16(value, -5),
    ]);
  });

  it("a prefix computed once (a task id) finishes to the same hash as hashing the pair, for every length parity", () => {
    for (const a of values) {
      for (const seed of [0, 7, -5]) {
        const prefix = murmur3Utf16Prefix(a, seed);
        for (const b of values) expect(murmur3Utf16Rest(prefix, b)).toBe(murmur3Utf16(a, seed, b));
      }
    }
  });

  it.each(values)(
    "valueFingerprint(%j) gives hashValue and shardOf, and drives the same format-1 Bloom answer",
    (value) => {
      for (const shards of [1, 2, 256]) {
        const ref = { seed: 12345, shards, bloomBits: 960, bloomHashes: 7 };
        const { h0: h1, h1: h2, shard } = valueFingerprint(ref, value);
        expect([h1, h2]).toEqual(hashValue(value, ref.seed));
        expect(shard).toBe(shardOf(ref, value));
        const bits = new Uint8Array(120);
        addToBloom(bits, ref, "member");
        expect(bloomHasHashes(bits, ref, h1, h2)).toBe(bloomHas(bits, ref, value));
      }
    },
  );
});

describe("shardBytesHas (raw shard bytes, offsets and hash table)", () => {
  const encode = (v: string) => new TextEncoder().encode(v);
  // Includes the characters where UTF-8 byte order and UTF-16 order differ (U+E000.. vs astral).
  const sorted = ["A", "B", "Z", "a", "b", "z", "é", "张", "😀", "\ue000", "\uffef", "𐀀", "ab", "abc"].sort();
  const shard = indexShardBytes(encode(shardText(sorted)));

  it("finds every member of a shard file sorted by plain string order, and counts them", () => {
    expect(shardBytesCount(shard)).toBe(sorted.length);
    for (const v of sorted) expect(shardBytesHas(shard, encode(v)), v).toBe(true);
  });

  it.each(["", "c", "AA", "ä", "😁", "a ", "\ue001", "𐀁", "abcd"])("does not find %j", (v) => {
    expect(shardBytesHas(shard, encode(v))).toBe(false);
  });

  it("finds every value of a full 4,096-value shard and none of 4,096 others (hash table probing)", () => {
    const r = rng(91);
    const members = [...new Set(Array.from({ length: 4096 }, () => randomId(r)))].sort();
    const indexed = indexShardBytes(encode(shardText(members)));
    expect(indexed.slots.length).toBeGreaterThanOrEqual(members.length * 2);
    for (const v of members) expect(shardBytesHas(indexed, encode(v))).toBe(true);
    const set = new Set(members);
    for (let i = 0; i < 4096; i++) {
      const v = randomId(r);
      expect(shardBytesHas(indexed, encode(v))).toBe(set.has(v));
    }
    // A prefix of the buffer is the value: the rest of a reused buffer is ignored.
    const buffer = new Uint8Array(256).fill(0x41);
    const { written } = new TextEncoder().encodeInto(members[7]!, buffer);
    expect(shardBytesHas(indexed, buffer, written)).toBe(true);
    expect(shardBytesHas(indexed, buffer, written + 1)).toBe(false);
  });

  it("agrees with shardHas on a built whitelist, and handles empty and one-value shards", () => {
    const r = rng(77);
    const values = Array.from({ length: 3000 }, () => randomId(r));
    const built = buildWhitelist({ id: "wl-bytes", kind: "guid", values, seed: 3 });
    for (const [i, s] of built.shards.entries()) {
      const indexed = indexShardBytes(encode(shardText(s)));
      for (const v of s.slice(0, 50)) expect(shardBytesHas(indexed, encode(v))).toBe(true);
      for (const v of values.slice(0, 50)) expect(shardBytesHas(indexed, encode(v))).toBe(shardHas(s, v));
      expect(shardBytesCount(indexed), `shard ${i}`).toBe(s.length);
    }
    expect(shardBytesHas(indexShardBytes(new Uint8Array(0)), encode("a"))).toBe(false);
    expect(shardBytesHas(indexShardBytes(encode("abc")), encode("abc"))).toBe(true);
    expect(shardBytesHas(indexShardBytes(encode("abc")), encode("ABC"))).toBe(false);
  });
});

describe("Bloom filter + shards: invariants", () => {
  const r = rng(2024);
  const members = new Set<string>();
  while (members.size < 100_000) members.add(randomId(r));
  const values = [...members].sort();
  const seed = 0x1234567;
  const { bloomBits, bloomHashes } = bloomSize(values.length);
  const ref: WhitelistRef = {
    id: "wl",
    kind: "guid",
    count: values.length,
    seed,
    bloomBits,
    bloomHashes,
    shards: shardCount(values.length),
  };
  // built here, from the primitives, not by buildWhitelist
  const bits = new Uint8Array(bloomBits / 8);
  const shards: string[][] = Array.from({ length: ref.shards }, () => []);
  for (const v of values) {
    addToBloom(bits, ref, v);
    shards[shardOf(ref, v)]!.push(v);
  }
  const isMember = (v: string) => bloomHas(bits, ref, v) && shardHas(shards[shardOf(ref, v)]!, v);

  it("never misses a member (no false negatives) over 100,000 values", () => {
    let missed = 0;
    for (const v of values) if (!bloomHas(bits, ref, v) || !shardHas(shards[shardOf(ref, v)]!, v)) missed++;
    expect(missed).toBe(0);
  });

  it("has a measured Bloom false-positive rate near 1%, and shards reject every false positive", () => {
    let positives = 0;
    let confirmed = 0;
    const trials = 100_000;
    for (let i = 0; i < trials; i++) {
      const v = `${randomId(r)}~`; // '~' never occurs in members
      if (bloomHas(bits, ref, v)) positives++;
      if (isMember(v)) confirmed++;
    }
    const rate = positives / trials;
    expect(rate).toBeGreaterThan(0.005);
    expect(rate).toBeLessThan(0.015);
    expect(confirmed).toBe(0);
  });

  it("an empty filter contains nothing", () => {
    expect(bloomHas(new Uint8Array(8), { seed: 1, bloomBits: 64, bloomHashes: 3 }, "x")).toBe(false);
  });

  it("buildWhitelist gives the same filter and shards as the primitives", () => {
    const built = buildWhitelist({
      id: "wl",
      kind: "guid",
      seed,
      values: [...values].reverse().concat(values.slice(0, 10)),
    });
    expect(built.ref).toEqual(ref);
    expect(built.bloom).toEqual(bits);
    expect(built.shards).toEqual(shards);
    for (const s of built.shards) expect(parseShardText(shardText(s))).toEqual(s);
  });
});

describe("parseWhitelistText", () => {
  it("reads one value per line (LF or CRLF), skips blank lines, deduplicates and sorts", () => {
    expect(parseWhitelistText("\uFEFFb-2\r\na-1\r\n\r\n  \nb-2\nC-3\n")).toEqual({
      ok: true,
      values: ["C-3", "a-1", "b-2"],
    });
    expect(parseWhitelistText("")).toEqual({ ok: true, values: [] });
  });

  it("reports bad lines with their 1-based line numbers", () => {
    expect(parseWhitelistText("ok-1\nbad value\n\nok-2\nx\u0001y")).toEqual({
      ok: false,
      tooManyLines: false,
      errors: [
        { line: 2, error: "whitespace inside the value" },
        { line: 5, error: "control character" },
      ],
    });
  });

  it("refuses more than 1,000,000 values but accepts exactly 1,000,000", () => {
    const lines = Array.from({ length: MAX_WHITELIST_LINES }, (_, i) => `u${i}`);
    const full = parseWhitelistText(lines.join("\n"));
    expect(full.ok && full.values.length).toBe(MAX_WHITELIST_LINES);
    const over = parseWhitelistText(`${lines.join("\n")}\nu-extra`);
    expect(over).toMatchObject({ ok: false, tooManyLines: true });
  });

  it("shard files round-trip, including an empty shard", () => {
    expect(parseShardText(shardText([]))).toEqual([]);
    expect(parseShardText(shardText(["a", "b"]))).toEqual(["a", "b"]);
  });
});

describe("storage format 2: fingerprint shard tables", () => {
  const words = (bytes: Uint8Array) => readShardTable(bytes.slice().buffer) as Uint32Array;

  it("a table holds at least twice as many slots as values (a power of two, at least 2)", () => {
    expect([0, 1, 2, 3, 4096, 4097].map(shardTableSlots)).toEqual([2, 2, 4, 8, 8192, 16384]);
    const table = newShardTable(3);
    expect(table.length).toBe(3 + 2 * 8);
    expect([table[0], table[1], table[2]]).toEqual([SHARD_TABLE_MAGIC, 0, 8]);
    // the magic is the bytes "GCW2"
    expect(new TextDecoder().decode(wordBytes(table).subarray(0, 4))).toBe("GCW2");
  });

  it("stores equal fingerprints once, finds what it holds and nothing else, and refuses to fill past half", () => {
    const table = newShardTable(4);
    expect(addToShardTable(table, 5, 6)).toBe(true);
    expect(addToShardTable(table, 5, 6)).toBe(false);
    // same home slot (h0 & 7): placed in the next free slot by linear probing
    expect(addToShardTable(table, 13, 6)).toBe(true);
    expect(addToShardTable(table, 0xffffffff, 0xfffffffe)).toBe(true);
    expect(shardTableCount(table)).toBe(3);
    expect([table[3 + 2 * 5], table[4 + 2 * 5], table[3 + 2 * 6], table[4 + 2 * 6]]).toEqual([5, 6, 13, 6]);
    for (const [a, b] of [
      [5, 6],
      [13, 6],
      [0xffffffff, 0xfffffffe],
    ])
      expect(shardTableHas(table, a!, b!)).toBe(true);
    for (const [a, b] of [
      [5, 7],
      [6, 5],
      [13, 5],
      [21, 6],
      [0xffffffff, 0xffffffff],
      [0, 0],
    ])
      expect(shardTableHas(table, a!, b!)).toBe(false);
    expect(addToShardTable(table, 1, 1)).toBe(true);
    expect(() => addToShardTable(table, 2, 2)).toThrow(RangeError);
  });

  it("the fingerprint (0, 0), which would read as an empty slot, is stored and found as (0, 1)", () => {
    const table = newShardTable(2);
    expect(shardTableHas(table, 0, 0)).toBe(false);
    expect(addToShardTable(table, 0, 0)).toBe(true);
    expect([table[3], table[4]]).toEqual([0, 1]);
    expect(shardTableHas(table, 0, 0)).toBe(true);
    // the two share one entry: storing (0, 1) again adds nothing
    expect(addToShardTable(table, 0, 1)).toBe(false);
    expect(shardTableCount(table)).toBe(1);
    expect(shardTableHas(words(wordBytes(table)), 0, 0)).toBe(true);
  });

  it("a lookup in a table with no free slot ends (a corrupt table that slipped through)", () => {
    const table = newShardTable(1);
    table.fill(7, 3);
    expect(shardTableHas(table, 1, 2)).toBe(false);
  });

  it("readShardTable takes the object's bytes in place, and refuses anything that is not a whole, consistent table", () => {
    const table = newShardTable(4);
    addToShardTable(table, 1, 2);
    addToShardTable(table, 3, 4);
    const bytes = wordBytes(table).slice();
    const read = readShardTable(bytes.buffer);
    expect(read).toBeInstanceOf(Uint32Array);
    expect((read as Uint32Array).buffer).toBe(bytes.buffer);
    expect(shardTableHas(read as Uint32Array, 3, 4)).toBe(true);

    // each edit of a copy of the bytes, read from an ArrayBuffer of its own
    const broken = (edit: (b: Uint8Array) => Uint8Array) =>
      readShardTable(edit(bytes.slice()).slice().buffer);
    const setWord = (i: number, v: number) => (b: Uint8Array) => {
      new DataView(b.buffer).setUint32(i * 4, v, true);
      return b;
    };
    expect(broken((b) => b.subarray(0, 0))).toMatch(/not a shard table/);
    expect(broken((b) => b.slice(0, 8))).toMatch(/not a shard table/);
    expect(broken((b) => b.slice(0, b.length - 2))).toMatch(/not a shard table/);
    expect(broken((b) => b.slice(0, b.length - 8))).toMatch(/length/);
    expect(broken((b) => new Uint8Array([...b, 0, 0, 0, 0, 0, 0, 0, 0]))).toMatch(/length/);
    expect(broken(setWord(0, 0x31574347))).toMatch(/magic/); // "GCW1"
    expect(broken(setWord(2, 6))).toMatch(/power of two/);
    expect(broken(setWord(2, 0))).toMatch(/power of two/);
    expect(broken(setWord(2, 16))).toMatch(/length/);
    expect(broken(setWord(1, 5))).toMatch(/half/);
    expect(broken(setWord(1, 1))).toMatch(/entry count/);
    expect(broken(setWord(3 + 2 * 7, 9))).toMatch(/entry count/);
    // a format-1 shard file (UTF-8 text) is not a table
    expect(readShardTable(new TextEncoder().encode("guid-a\nguid-b\nguid-c").slice().buffer)).toMatch(
      /magic|shard table/,
    );
  });
});

describe("storage format 2: split-block Bloom filter", () => {
  it("sizes the filter in whole 256-bit blocks, about FINGERPRINT_BLOOM_BITS_PER_VALUE bits a value", () => {
    expect(fingerprintBloomBlocks(0)).toBe(1);
    expect(fingerprintBloomBlocks(1)).toBe(1);
    expect(fingerprintBloomBlocks(1_000_000)).toBe(
      Math.ceil((1_000_000 * FINGERPRINT_BLOOM_BITS_PER_VALUE) / 256),
    );
  });

  it("sets one bit in each of the 8 words of one block, the block from h1 and the bits from h0", () => {
    const words = new Uint32Array(8 * 4);
    addToFingerprintBloom(words, 0x12345678, 0xc0000000); // floor(0.75 * 4) = block 3
    expect(words.subarray(0, 24).every((w) => w === 0)).toBe(true);
    const block = [...words.subarray(24)];
    // each word holds exactly one bit: Math.imul(h0, salt) >>> 27, the salts of the Parquet spec
    const salts = [
      0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
    ];
    expect(block).toEqual(salts.map((s) => (1 << (Math.imul(0x12345678, s) >>> 27)) >>> 0));
    expect(fingerprintBloomHas(words, 0x12345678, 0xc0000000)).toBe(true);
    expect(fingerprintBloomHas(words, 0x12345678, 0x00000000)).toBe(false);
    expect(fingerprintBloomHas(words, 0x12345679, 0xc0000000)).toBe(false);
    expect(fingerprintBloomHas(new Uint32Array(8), 1, 2)).toBe(false);
    expect(fingerprintBloomHas(new Uint32Array(0), 1, 2)).toBe(false);
    expect(() => addToFingerprintBloom(new Uint32Array(12), 1, 2)).toThrow(RangeError);
  });

  it("readFingerprintBloom checks the object against the ref: whole blocks, 8 hashes, exactly bloomBits / 8 bytes", () => {
    const bytes = new Uint8Array(64);
    const ref = { bloomBits: 512, bloomHashes: 8 };
    expect(readFingerprintBloom(bytes.buffer, ref)).toBeInstanceOf(Uint32Array);
    expect(readFingerprintBloom(bytes.slice(0, 32).buffer, ref)).toMatch(/length/);
    expect(readFingerprintBloom(new Uint8Array(96).buffer, ref)).toMatch(/length/);
    expect(readFingerprintBloom(bytes.buffer, { bloomBits: 500, bloomHashes: 8 })).toMatch(/blocks/);
    expect(readFingerprintBloom(bytes.buffer, { bloomBits: 0, bloomHashes: 8 })).toMatch(/blocks/);
    expect(readFingerprintBloom(bytes.buffer, { bloomBits: 512, bloomHashes: 7 })).toMatch(/8/);
  });
});

describe("storage format 2: a whole list", () => {
  const r = rng(4242);
  const members = new Set<string>();
  while (members.size < 120_000) members.add(randomId(r));
  const values = [...members];
  const seed = 0x2468ace;
  // with 1,000 lines repeated, in another order
  const built = buildWhitelistV2({
    id: "wl2",
    kind: "deviceId",
    seed,
    values: values.concat(values.slice(0, 1000)),
  });
  const ref = built.ref;
  const bloom = readFingerprintBloom(built.bloom.slice().buffer, ref) as Uint32Array;
  const tables = built.shards.map((s) => readShardTable(s.slice().buffer) as Uint32Array);
  const isMember = (v: string) => {
    const fp = valueFingerprint(ref, v);
    return fingerprintBloomHas(bloom, fp.h0, fp.h1) && shardTableHas(tables[fp.shard]!, fp.h0, fp.h1);
  };

  it("has the ref of format 2: distinct values counted, the shard count of format 1, 8 hashes, whole blocks", () => {
    expect(ref).toEqual({
      id: "wl2",
      kind: "deviceId",
      count: 120_000,
      seed,
      bloomBits: fingerprintBloomBlocks(121_000) * 256,
      bloomHashes: 8,
      shards: shardCount(121_000),
      format: 2,
    });
    expect(built.bloom.byteLength).toBe(ref.bloomBits / 8);
    expect(built.shards).toHaveLength(ref.shards);
    expect(tables.reduce((n, t) => n + shardTableCount(t), 0)).toBe(120_000);
    for (const t of tables) expect(t.length).toBe(3 + 2 * t[2]!);
  });

  it("never misses a member (no false negatives) over 120,000 values, each in the shard shardOf names", () => {
    let missed = 0;
    for (const v of values) {
      const fp = valueFingerprint(ref, v);
      if (fp.shard !== shardOf(ref, v)) missed++;
      else if (!isMember(v)) missed++;
    }
    expect(missed).toBe(0);
  });

  it("has a measured Bloom false-positive rate of 1-2%, and the shard tables reject every false positive", () => {
    let positives = 0;
    let confirmed = 0;
    const trials = 100_000;
    for (let i = 0; i < trials; i++) {
      const v = `${randomId(r)}~`; // '~' never occurs in members
      const fp = valueFingerprint(ref, v);
      if (fingerprintBloomHas(bloom, fp.h0, fp.h1)) {
        positives++;
        if (shardTableHas(tables[fp.shard]!, fp.h0, fp.h1)) confirmed++;
      }
    }
    const rate = positives / trials;
    expect(rate).toBeGreaterThan(0.008);
    expect(rate).toBeLessThan(0.02);
    expect(confirmed).toBe(0);
  });

  it("the tables alone answer absent values false (every shard probed, no Bloom filter in front)", () => {
    let found = 0;
    for (let i = 0; i < 50_000; i++) {
      const fp = valueFingerprint(ref, `absent-${i}`);
      for (const t of tables) if (shardTableHas(t, fp.h0, fp.h1)) found++;
    }
    expect(found).toBe(0);
  });

  it("is deterministic for a seed and changes with it", () => {
    const small = values.slice(0, 5000);
    const a = buildWhitelistV2({ id: "a", kind: "guid", seed: 7, values: small });
    const b = buildWhitelistV2({ id: "a", kind: "guid", seed: 7, values: [...small].reverse() });
    expect(b.ref).toEqual(a.ref);
    expect(b.bloom).toEqual(a.bloom);
    // upload order changes where colliding fingerprints sit in a table, not what it holds
    for (const [i, s] of a.shards.entries()) {
      const [ta, tb] = [readShardTable(s.slice().buffer), readShardTable(b.shards[i]!.slice().buffer)];
      const entries = (t: unknown) => {
        const w = t as Uint32Array;
        const out: string[] = [];
        for (let at = 3; at < w.length; at += 2) if (w[at]! | w[at + 1]!) out.push(`${w[at]}:${w[at + 1]}`);
        return out.sort();
      };
      expect(entries(tb)).toEqual(entries(ta));
    }
    expect(buildWhitelistV2({ id: "a", kind: "guid", seed: 7, values: small })).toEqual(a);
    const other = buildWhitelistV2({ id: "a", kind: "guid", seed: 8, values: small });
    expect(other.bloom).not.toEqual(a.bloom);
  });

  it("a list of one value, and values of every shape (CJK, surrogate pairs, 128 characters)", () => {
    const odd = ["张三", "id-😀", "x".repeat(128), "a", "AbC", "abc"];
    const one = buildWhitelistV2({ id: "one", kind: "account", seed: -5, values: ["only"] });
    expect(one.ref).toMatchObject({ count: 1, shards: 1, bloomBits: 256, seed: -5 });
    const list = buildWhitelistV2({ id: "odd", kind: "account", seed: -5, values: odd });
    const b = readFingerprintBloom(list.bloom.slice().buffer, list.ref) as Uint32Array;
    const t = readShardTable(list.shards[0]!.slice().buffer) as Uint32Array;
    for (const v of odd) {
      const fp = valueFingerprint(list.ref, v);
      expect(fingerprintBloomHas(b, fp.h0, fp.h1) && shardTableHas(t, fp.h0, fp.h1), v).toBe(true);
    }
    for (const v of ["ABC", "张", "id-😁", "x".repeat(127)]) {
      const fp = valueFingerprint(list.ref, v);
      expect(shardTableHas(t, fp.h0, fp.h1), v).toBe(false);
    }
  });

  it("the fingerprint is the first two of the three hashes of format 1, so both formats shard a value alike", () => {
    for (const v of values.slice(0, 200)) {
      const fp = valueFingerprint(ref, v);
      expect([fp.h0, fp.h1]).toEqual(hashValue(v, seed));
      const h = whitelistHashes(seed, v);
      expect([h.h0, h.h1, h.h2]).toEqual([...hashValue(v, seed), shardHash(seed, v)]);
    }
  });

  it("FingerprintList keeps 3 hashes per value in typed arrays that grow, the shard hash reduced to maxShards", () => {
    const list = new FingerprintList(seed, 256);
    for (let i = 0; i < 10_000; i++) list.add(values[i]!);
    expect(list.count).toBe(10_000);
    expect(list.h0.length).toBeGreaterThanOrEqual(10_000);
    expect(list.shardHash).toBeInstanceOf(Uint8Array);
    for (const i of [0, 4095, 4096, 9999]) {
      const h = whitelistHashes(seed, values[i]!);
      expect([list.h0[i], list.h1[i], list.shardHash[i]]).toEqual([h.h0, h.h1, h.h2 % 256]);
    }
    expect(new FingerprintList(1, 65536).shardHash).toBeInstanceOf(Uint16Array);
    expect(() => new FingerprintList(1, 100)).toThrow(RangeError);
    // grouping by shard: every value once, each in its shard
    const plan = planShards(list, 4);
    expect([...plan.order].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    for (let s = 0; s < 4; s++)
      for (let j = plan.starts[s]!; j < plan.starts[s + 1]!; j++)
        expect(shardOf({ seed, shards: 4 }, values[plan.order[j]!]!)).toBe(s);
    expect(() => planShards(list, 512)).toThrow(RangeError);
    expect(() => planShards(list, 3)).toThrow(RangeError);
  });
});

describe("ASCII lines from bytes (the upload's fast path)", () => {
  /** Random ASCII text over all 128 code points, with a bias to printable ones. */
  function randomAscii(n: number, rand: () => number): string {
    let out = "";
    for (let i = 0; i < n; i++) {
      const r = rand();
      out += String.fromCharCode(r < 0.8 ? 0x21 + Math.floor(rand() * 94) : Math.floor(rand() * 128));
    }
    return out;
  }
  let state = 12345;
  const rand = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32;
  };

  it("murmur3AsciiThree equals murmur3Utf16Three of the same text, at any offset and length", () => {
    for (let n = 0; n < 300; n++) {
      const text = randomAscii(n % 70, rand);
      const pad = n % 5;
      const bytes = new Uint8Array(pad + text.length + 3);
      for (let i = 0; i < text.length; i++) bytes[pad + i] = text.charCodeAt(i);
      const seeds = [n * 7919, n ^ 0x9e3779b9, ~n] as const;
      expect(murmur3AsciiThree(bytes, pad, pad + text.length, ...seeds), JSON.stringify(text)).toEqual(
        murmur3Utf16Three(text, ...seeds),
      );
    }
  });

  it("asciiWhitelistLineError says what parseWhitelistLine says of the same trimmed ASCII value", () => {
    const samples = ["a", "a b", "a\tb", "a\u007fb", "\u0001", "x".repeat(128), "x".repeat(129), "é"];
    for (let n = 0; n < 2000; n++) samples.push(randomAscii(1 + (n % 140), rand).trim() || "z");
    for (const value of samples) {
      if (value.trim() !== value || value.length === 0 || /[^\x00-\x7f]/.test(value)) continue;
      const bytes = new TextEncoder().encode(value);
      const parsed = parseWhitelistLine(value);
      expect(asciiWhitelistLineError(bytes, 0, bytes.length), JSON.stringify(value)).toBe(
        parsed.ok ? undefined : parsed.error,
      );
    }
  });
});
