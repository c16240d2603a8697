/**
 * The increment format (core/increment.ts) on its own: planning, round trips, and every way a
 * bad increment is refused before a client would install anything.
 */
import { describe, expect, it } from "vitest";
import { zstdCompress, zstdDecompress } from "../control-plane/src/increments/zstd";
import { sha256Hex } from "../control-plane/src/lib/encoding";
import {
  applyIncrement,
  baseDictionary,
  buildIncrement,
  decodeIncrement,
  encodeIncrement,
  type FileEntry,
  filesDigest,
  IncrementError,
  type IncrementPlan,
  planDictionary,
  planIncrement,
} from "../core/increment";

const enc = new TextEncoder();

async function version(files: Record<string, string>) {
  const bytes = new Map(Object.entries(files).map(([p, t]) => [p, enc.encode(t)]));
  const list: FileEntry[] = [];
  for (const [path, data] of bytes) list.push({ path, size: data.byteLength, sha256: await sha256Hex(data) });
  list.sort((a, b) => (a.path < b.path ? -1 : 1));
  return {
    files: list,
    bytes,
    bytesOf: (p: string) => bytes.get(p)!,
    digest: await filesDigest(list, sha256Hex),
  };
}

const v1Files = {
  "app.js": "console.log('v1');\n".repeat(50),
  "lib.js": "export const x = 1;\n".repeat(40),
  "a.txt": "same",
};
const v2Files = {
  "app.js": "console.log('v2');\n".repeat(50),
  "lib.js": "export const x = 1;\n".repeat(40),
  "b.txt": "same",
  "new.css": ".a{color:red}",
};

async function pair() {
  const v1 = await version(v1Files);
  const v2 = await version(v2Files);
  const { bytes, prelude } = await buildIncrement({
    from: v1,
    to: v2,
    compress: zstdCompress,
    sha256: sha256Hex,
  });
  return { v1, v2, bytes, prelude };
}

const apply = (
  bytes: Uint8Array,
  base: Awaited<ReturnType<typeof version>>,
  expect: { from: string; to: string },
) =>
  applyIncrement({
    increment: bytes,
    base: base.files,
    bytesOf: base.bytesOf,
    expect,
    decompress: zstdDecompress,
    sha256: sha256Hex,
  });

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof IncrementError) return e.reason;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("increment format", () => {
  it("plans only what differs: removed, copied from another path, changed", async () => {
    const v1 = await version(v1Files);
    const v2 = await version(v2Files);
    expect(planIncrement(v1.files, v2.files)).toEqual({
      removed: ["a.txt"],
      copied: [["b.txt", "a.txt"]],
      changed: [
        ["app.js", v2.bytes.get("app.js")!.byteLength],
        ["new.css", 13],
      ],
    });
    expect(planIncrement(v1.files, v1.files)).toEqual({ removed: [], copied: [], changed: [] });
  });

  it("round-trips to byte-identical files and names both file lists", async () => {
    const { v1, v2, bytes, prelude } = await pair();
    expect(v1.digest.startsWith(prelude.fromPrefix) && prelude.fromPrefix.length === 16).toBe(true);
    expect(v2.digest.startsWith(prelude.toPrefix) && prelude.toPrefix.length === 16).toBe(true);
    const out = await apply(bytes, v1, { from: v1.digest, to: v2.digest });
    expect(out.files).toEqual(v2.files);
    for (const [path, data] of v2.bytes) expect(out.bytes.get(path)).toEqual(data);
  });

  it("the digest names what runs: order of listing does not matter, any byte does", async () => {
    const v1 = await version(v1Files);
    expect(await filesDigest([...v1.files].reverse(), sha256Hex)).toBe(v1.digest);
    const changed = await version({ ...v1Files, "a.txt": "samE" });
    expect(changed.digest).not.toBe(v1.digest);
  });

  it("refuses an increment for another base before decoding anything", async () => {
    const { v2, bytes } = await pair();
    const other = await version({ ...v1Files, "a.txt": "different base" });
    const neverDecode = () => {
      throw new Error("decoded an increment made for another base");
    };
    const result = applyIncrement({
      increment: bytes,
      base: other.files,
      bytesOf: other.bytesOf,
      expect: { from: other.digest, to: v2.digest },
      decompress: neverDecode,
      sha256: sha256Hex,
    });
    expect(await refusal(result)).toBe("wrong_base");
  });

  it("refuses installed bytes that differ from their verified list (a file altered on disk is never carried over)", async () => {
    const { v1, v2, bytes } = await pair();
    const altered = {
      ...v1,
      bytesOf: (p: string) =>
        p === "lib.js" ? enc.encode("export const x = 2;\n".repeat(40)) : v1.bytesOf(p),
    };
    expect(await refusal(apply(bytes, altered, { from: v1.digest, to: v2.digest }))).toBe("wrong_base");
  });

  it("refuses when the manifest names another target than the increment produces", async () => {
    const { v1, bytes } = await pair();
    expect(await refusal(apply(bytes, v1, { from: v1.digest, to: "0".repeat(64) }))).toBe("corrupt");
  });

  it("refuses a flipped byte in the content frame", async () => {
    const { v1, v2, bytes } = await pair();
    const tampered = bytes.slice();
    tampered[tampered.length - 5]! ^= 0xff;
    expect(await refusal(apply(tampered, v1, { from: v1.digest, to: v2.digest }))).toBe("corrupt");
  });

  it("refuses a plan that lies about the files, even though both frames decode", async () => {
    const { v1, v2, prelude } = await pair();
    const forge = async (plan: IncrementPlan, data: Uint8Array) => {
      const json = enc.encode(JSON.stringify(plan));
      const planFrame = await zstdCompress(json, planDictionary(v1.files), 3);
      const contentFrame =
        data.byteLength > 0
          ? await zstdCompress(data, baseDictionary(v1.files, v1.bytesOf, plan), 3)
          : new Uint8Array(0);
      return encodeIncrement(
        {
          ...prelude,
          planFrameSize: planFrame.byteLength,
          planSize: json.byteLength,
          contentSize: data.byteLength,
        },
        planFrame,
        contentFrame,
      );
    };
    const good = v2.bytes.get("app.js")!;
    const evil = enc.encode("console.log('evil');\n".repeat(50));
    const lies: [IncrementPlan, Uint8Array][] = [
      // keeps a file the target removed
      [
        {
          removed: [],
          copied: [["b.txt", "a.txt"]],
          changed: [
            ["app.js", good.byteLength],
            ["new.css", 13],
          ],
        },
        new Uint8Array([...good, ...enc.encode(".a{color:red}")]),
      ],
      // other bytes for a file
      [
        {
          removed: ["a.txt"],
          copied: [["b.txt", "a.txt"]],
          changed: [
            ["app.js", evil.byteLength],
            ["new.css", 13],
          ],
        },
        new Uint8Array([...evil, ...enc.encode(".a{color:red}")]),
      ],
      // copies from a file the base does not have
      [{ removed: ["a.txt"], copied: [["b.txt", "zzz"]], changed: [] }, new Uint8Array(0)],
      // sizes that do not add up
      [{ removed: [], copied: [], changed: [["app.js", 5]] }, new Uint8Array(9)],
    ];
    for (const [plan, data] of lies)
      expect(await refusal(apply(await forge(plan, data), v1, { from: v1.digest, to: v2.digest }))).toBe(
        "corrupt",
      );
  });

  it("refuses malformed containers: too short, wrong magic, frames out of range, an oversized plan", async () => {
    const { bytes } = await pair();
    const variant = (offset: number, value: number) => {
      const b = bytes.slice();
      if (offset === 0) b[0] = value;
      else new DataView(b.buffer).setUint32(offset, value);
      return b;
    };
    const bad = [
      new Uint8Array([1, 2, 3]),
      bytes.subarray(0, 37),
      variant(0, 0),
      variant(24, 0xffffffff),
      variant(24, 0),
      variant(28, 8 * 1024 * 1024),
      variant(32, 0),
    ];
    for (const b of bad) expect(() => decodeIncrement(b)).toThrow(IncrementError);
  });

  it("refuses a plan frame that decodes to another size than the prelude says", async () => {
    const { v1, v2, bytes } = await pair();
    const lying = bytes.slice();
    const view = new DataView(lying.buffer);
    view.setUint32(28, view.getUint32(28) - 1);
    expect(await refusal(apply(lying, v1, { from: v1.digest, to: v2.digest }))).toBe("corrupt");
  });

  it("a renamed file travels as a reference, not as bytes", async () => {
    const v1 = await version(v1Files);
    const renamed = await version({ "moved/app.js": v1Files["app.js"], "lib.js": v1Files["lib.js"] });
    const { bytes, plan, prelude } = await buildIncrement({
      from: v1,
      to: renamed,
      compress: zstdCompress,
      sha256: sha256Hex,
    });
    expect(plan).toEqual({ removed: ["a.txt", "app.js"], copied: [["moved/app.js", "app.js"]], changed: [] });
    expect(prelude.contentSize).toBe(0);
    const out = await apply(bytes, v1, { from: v1.digest, to: renamed.digest });
    expect(out.bytes.get("moved/app.js")).toEqual(v1.bytes.get("app.js"));
    expect(out.files).toEqual(renamed.files);
  });
});
