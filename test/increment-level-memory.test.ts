/**
 * The zstd level `incrementLevel` picks must fit the builder Worker's 128 MB next to both
 * versions unpacked: measured on the builder's own WASM zstd, in this file's own isolate (the
 * module's memory only grows, so each case runs after smaller ones).
 */
import { describe, expect, it } from "vitest";
import { zstdCompress, zstdMemoryBytes } from "../control-plane/src/increments/zstd";
import { incrementLevel } from "../core/increment";

const MiB = 1024 * 1024;
/** What the builder leaves zstd: the isolate's 128 MB minus two unpacked versions, copies and the heap. */
const ZSTD_BUDGET = 72 * MiB;

/** Text-like bytes (xorshift over a small alphabet): compressible, but with no long repeats. */
function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed | 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = 0x61 + ((x >>> 0) % 26);
  }
  return out;
}

async function memoryAfter(dictionaryBytes: number, contentBytes: number, level: number): Promise<number> {
  await zstdCompress(bytes(contentBytes, 7), bytes(dictionaryBytes, 3), level);
  return zstdMemoryBytes();
}

describe("incrementLevel and zstd's memory", () => {
  it("uses level 19 up to 4 MiB in all and 18 up to 12 MiB, each within the budget", async () => {
    expect(incrementLevel(3 * MiB, 1 * MiB)).toBe(19);
    expect(await memoryAfter(3 * MiB, 1 * MiB, 19)).toBeLessThanOrEqual(ZSTD_BUDGET);
    expect(incrementLevel(10 * MiB, 2 * MiB)).toBe(18);
    expect(await memoryAfter(10 * MiB, 2 * MiB, 18)).toBeLessThanOrEqual(ZSTD_BUDGET);
    expect(incrementLevel(10 * MiB, 2 * MiB + 1)).toBe(9);
  });

  it("level 19 over 4 MiB would not fit: why the bands are where they are", async () => {
    expect(incrementLevel(6 * MiB, 2 * MiB)).toBe(18);
    expect(await memoryAfter(6 * MiB, 2 * MiB, 19)).toBeGreaterThan(ZSTD_BUDGET);
  });
});
