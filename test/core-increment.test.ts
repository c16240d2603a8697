/**
 * The increment format (core/increment.ts) on its own: planning, round trips, and every way a
 * bad increment is refused before a client would install anything.
 */
import { describe, expect, it } from "vitest";
import { type FileEntry, IncrementError, applyIncrement, buildIncrement, decodeIncrement, encodeIncrement, filesDigest, planIncrement } from "../core/increment";
import { sha256Hex } from "../control-plane/src/lib/encoding";
import { zstdCompress, zstdDecompress } from "../control-plane/src/increments/zstd";

const enc = new TextEncoder();

async function version(files: Record<string, string>) {
  const bytes = new Map(Object.entries(files).map(([p, t]) => [p, enc.encode(t)]));
  const list: FileEntry[] = [];
  for (const [path, data] of bytes) list.push({ path, size: data.byteLength, sha256: await sha256Hex(data) });
  list.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files: list, bytes, bytesOf: (p: string) => bytes.get(p)!, digest: await filesDigest(list, sha256Hex) };
}

const v1Files = { "app.js": "console.log('v1');\n".repeat(50), "lib.js": "export const x = 1;\n".repeat(40), "a.txt": "same" };
const v2Files = { "app.js": "console.log('v2');\n".repeat(50), "lib.js": "export const x = 1;\n".repeat(40), "b.txt": "same", "new.css": ".a{color:red}" };

async function pair() {
  const v1 = await version(v1Files);
  const v2 = await version(v2Files);
  const { bytes, header } = await buildIncrement({ appId: "gcapp", from: { version: "1.0.0", ...v1 }, to: { version: "2.0.0", ...v2 }, level: 19, compress: zstdCompress, sha256: sha256Hex });
  return { v1, v2, bytes, header };
}

const apply = (bytes: Uint8Array, base: Awaited<ReturnType<typeof version>>, expect: { from: string; to: string }) =>
  applyIncrement({ increment: bytes, base: base.files, bytesOf: base.bytesOf, expect, decompress: zstdDecompress, sha256: sha256Hex });

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
  it("plans unchanged and moved files as references and only new bytes into the frame", async () => {
    const v1 = await version(v1Files);
    const v2 = await version(v2Files);
    const plan = planIncrement(v1.files, v2.files);
    expect(plan.files.map((f) => [f.path, f.from])).toEqual([["app.js", undefined], ["b.txt", "a.txt"], ["lib.js", "lib.js"], ["new.css", undefined]]);
    expect(plan.contentSize).toBe(v2.bytes.get("app.js")!.byteLength + v2.bytes.get("new.css")!.byteLength);
  });

  it("round-trips to byte-identical files and names both file lists", async () => {
    const { v1, v2, bytes, header } = await pair();
    expect(header.from.files).toBe(v1.digest);
    expect(header.to.files).toBe(v2.digest);
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
    expect(await refusal(apply(bytes, other, { from: other.digest, to: v2.digest }))).toBe("wrong_base");
  });

  it("refuses when the manifest names another target than the increment produces", async () => {
    const { v1, bytes } = await pair();
    expect(await refusal(apply(bytes, v1, { from: v1.digest, to: "0".repeat(64) }))).toBe("corrupt");
  });

  it("refuses a flipped byte in the frame", async () => {
    const { v1, v2, bytes } = await pair();
    const tampered = bytes.slice();
    tampered[tampered.length - 5]! ^= 0xff;
    expect(await refusal(apply(tampered, v1, { from: v1.digest, to: v2.digest }))).toBe("corrupt");
  });

  it("refuses a header whose file hash was altered, even if the frame decodes", async () => {
    const { v1, v2, bytes } = await pair();
    const { header, frame } = decodeIncrement(bytes);
    const forged = encodeIncrement({ ...header, files: header.files.map((f) => (f.path === "new.css" ? { ...f, sha256: "a".repeat(64) } : f)) }, frame);
    expect(await refusal(apply(forged, v1, { from: v1.digest, to: v2.digest }))).toBe("corrupt");
  });

  it("refuses malformed containers: magic, header length, JSON, order, sizes", async () => {
    const { header, frame } = decodeIncrement((await pair()).bytes);
    const bad = [
      new Uint8Array([1, 2, 3]),
      (() => {
        const b = encodeIncrement(header, frame);
        b[0] = 0;
        return b;
      })(),
      (() => {
        const b = encodeIncrement(header, frame);
        new DataView(b.buffer).setUint32(8, 0xffffffff);
        return b;
      })(),
      encodeIncrement({ ...header, files: [...header.files].reverse() }, frame),
      encodeIncrement({ ...header, contentSize: header.contentSize + 1 }, frame),
      encodeIncrement({ ...header, format: "other" as never }, frame),
    ];
    for (const b of bad) expect(() => decodeIncrement(b)).toThrow(IncrementError);
  });

  it("an increment with nothing new carries an empty frame", async () => {
    const v1 = await version(v1Files);
    const renamed = await version({ "moved/app.js": v1Files["app.js"], "lib.js": v1Files["lib.js"] });
    const { bytes, header } = await buildIncrement({ appId: "gcapp", from: { version: "1.0.0", ...v1 }, to: { version: "1.0.1", ...renamed }, level: 19, compress: zstdCompress, sha256: sha256Hex });
    expect(header.contentSize).toBe(0);
    expect(decodeIncrement(bytes).frame.byteLength).toBe(0);
    const out = await apply(bytes, v1, { from: v1.digest, to: renamed.digest });
    expect(out.bytes.get("moved/app.js")).toEqual(v1.bytes.get("app.js"));
  });
});
