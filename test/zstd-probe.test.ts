import { describe, expect, it } from "vitest";
import { zstdCompress, zstdDecompress } from "../control-plane/src/increments/zstd";

describe("zstd in workerd", () => {
  it("round-trips with a dictionary", async () => {
    const dict = new TextEncoder().encode("the quick brown fox jumps over the lazy dog ".repeat(200));
    const content = new TextEncoder().encode("the quick brown fox jumps over the lazy cat ".repeat(150));
    const frame = await zstdCompress(content, dict, 19);
    expect(frame.byteLength).toBeLessThan(100);
    const back = await zstdDecompress(frame, dict, content.byteLength);
    expect(back).toEqual(content);
  });
});
