/**
 * The copy/insert delta (core/delta.ts) and the increment format that carries it (format 4,
 * core/increment.ts): round trips on random and bundle-like inputs, the builder keeping the
 * smallest coding, and every way a bad delta or container is refused before anything is
 * installed (truncated, oversized lengths, copies out of range, output caps, another base).
 */
import { describe, expect, it } from "vitest";
import { zstdCompress, zstdDecompress } from "../control-plane/src/increments/zstd";
import { sha256Hex } from "../control-plane/src/lib/encoding";
import { ByteWriter, DeltaError, type DeltaSections, diffBytes, patchBytes } from "../core/delta";
import {
  applyIncrement,
  baseDictionary,
  buildDeltaIncrement,
  buildIncrement,
  DELTA_CODINGS,
  DELTA_SOURCE_LIMIT,
  type DeltaPrelude,
  decodeDeltaIncrement,
  encodeDeltaIncrement,
  encodePlanBinary,
  type FileEntry,
  filesDigest,
  IncrementError,
  incrementFormat,
  MAX_DELTA_CONTENT_BYTES,
  planIncrement,
} from "../core/increment";

/** Deterministic pseudo-random bytes (xorshift32), so a failure names its seed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    int: (n: number) => next() % n,
    bytes: (n: number, alphabet = 256) => Uint8Array.from({ length: n }, () => next() % alphabet),
  };
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

/** Random edits of `source`: substitutions, insertions, deletions, moved and repeated blocks. */
function edit(source: Uint8Array, seed: number, edits: number): Uint8Array {
  const r = rng(seed);
  let t = source.slice();
  for (let i = 0; i < edits; i++) {
    const at = r.int(t.byteLength + 1);
    const len = 1 + r.int(40);
    switch (r.int(5)) {
      case 0:
        t = concat(t.subarray(0, at), r.bytes(len), t.subarray(Math.min(t.byteLength, at + len)));
        break;
      case 1:
        t = concat(t.subarray(0, at), r.bytes(len), t.subarray(at));
        break;
      case 2:
        t = concat(t.subarray(0, at), t.subarray(Math.min(t.byteLength, at + len)));
        break;
      case 3: {
        const from = r.int(Math.max(1, source.byteLength - 200));
        t = concat(t.subarray(0, at), source.subarray(from, from + 200), t.subarray(at));
        break;
      }
      default: {
        const run = new Uint8Array(len * 8).fill(r.int(256));
        t = concat(t.subarray(0, at), run, t.subarray(at));
      }
    }
  }
  return t;
}

const enc = new TextEncoder();

/** A minified-bundle-like text: module bodies with ids and a version string. */
function bundle(version: string, modules: number, seed: number): Uint8Array {
  const r = rng(seed);
  const words = ["function", "return", "const", "this", "props", "emit", "value", "null", "=>", "&&"];
  const parts: string[] = [`/*! lib v${version} */`];
  for (let m = 0; m < modules; m++) {
    parts.push(`__d(${m},function(e,t,n){`);
    for (let k = 0; k < 40; k++) parts.push(words[r.int(words.length)]!, String(r.int(1000)), ";");
    parts.push(`},"${version}");`);
  }
  return enc.encode(parts.join(""));
}

async function version(files: Record<string, Uint8Array | string>) {
  const bytes = new Map(
    Object.entries(files).map(([p, t]) => [p, typeof t === "string" ? enc.encode(t) : t]),
  );
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
type Version = Awaited<ReturnType<typeof version>>;

const apply = (bytes: Uint8Array, base: Version, to: Version) =>
  applyIncrement({
    increment: bytes,
    base: base.files,
    bytesOf: base.bytesOf,
    expect: { from: base.digest, to: to.digest },
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

const deltaRefusal = (source: Uint8Array, sections: DeltaSections, size: number) => {
  try {
    patchBytes(source, sections, size);
  } catch (e) {
    if (e instanceof DeltaError) return e.message;
    throw e;
  }
  throw new Error("expected a refusal");
};

/** Hand-made ops: records of [literal length, copy length, drift]. */
function ops(records: [number, number, number?][], tweak?: { count?: number }) {
  const lits = new ByteWriter();
  const lens = new ByteWriter();
  const drifts = new ByteWriter();
  for (const [lit, len, drift] of records) {
    lits.varint(lit);
    lens.varint(len);
    if (len > 0) drifts.zigzag(drift ?? 0);
  }
  const w = new ByteWriter();
  w.varint(tweak?.count ?? records.length);
  w.varint(lits.length);
  w.varint(lens.length);
  w.bytes(lits.finish());
  w.bytes(lens.finish());
  w.bytes(drifts.finish());
  return w.finish();
}

describe("copy/insert delta", () => {
  it("round-trips random edits of random bytes, including empty sides", () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const source = r.bytes(r.int(20_000), seed % 2 === 0 ? 256 : 4);
      const target = edit(source, seed * 7919, r.int(30));
      const sections = diffBytes(source, target);
      expect(patchBytes(source, sections, target.byteLength), `seed ${seed}`).toEqual(target);
    }
    const some = rng(99).bytes(500);
    expect(patchBytes(new Uint8Array(0), diffBytes(new Uint8Array(0), some), 500)).toEqual(some);
    expect(patchBytes(some, diffBytes(some, new Uint8Array(0)), 0)).toEqual(new Uint8Array(0));
  });

  it("a few changed bytes in a large bundle cost a few bytes each, below a zstd frame of it", async () => {
    const old = bundle("1.0.0", 4000, 5);
    const next = old.slice();
    for (const at of [1_000, 400_000, 800_000]) next[at] = 0x21;
    const d = diffBytes(old, next);
    expect(patchBytes(old, d, next.byteLength)).toEqual(next);
    const deltaBytes = d.ops.byteLength + d.literals.byteLength;
    // Four records (three substitutions and the tail): a handful of numbers and three literals.
    expect(deltaBytes).toBeLessThan(30);
    // zstd pays a block header and a sequence per 128 KiB block of the ~1 MB file.
    const frame = await zstdCompress(next, old, 18);
    expect(deltaBytes).toBeLessThan(frame.byteLength);
  });

  it("copies from the output it has written (a run) and across the source's end", () => {
    const source = enc.encode("abcdef");
    // "xy" then 6 copies of it from the output, then "abcdef" + the first 2 output bytes.
    const sections = {
      ops: ops([
        [2, 6, 4],
        [0, 8, -12],
      ]),
      literals: enc.encode("xy"),
    };
    expect(new TextDecoder().decode(patchBytes(source, sections, 16))).toBe("xyxyxyxyabcdefxy");
  });

  it("refuses truncated, oversized, out-of-range and left-over deltas before allocating output", () => {
    const source = enc.encode("0123456789");
    const lit = enc.encode("ab");
    const cases: [string, DeltaSections, number][] = [
      ["truncated", { ops: ops([[2, 4, 0]]).subarray(0, 5), literals: lit }, 6],
      ["truncated", { ops: new Uint8Array(0), literals: lit }, 2],
      ["more literals than the section holds", { ops: ops([[3, 0]]), literals: lit }, 3],
      ["output larger than announced", { ops: ops([[2, 9, -2]]), literals: lit }, 6],
      ["output larger than announced", { ops: ops([[2, 2 ** 34, -2]]), literals: lit }, 6],
      ["copy out of range", { ops: ops([[2, 4, -5]]), literals: lit }, 6],
      ["copy out of range", { ops: ops([[2, 1, 10]]), literals: lit }, 3],
      ["literals left over", { ops: ops([[1, 4, 0]]), literals: lit }, 5],
      ["numbers left over", { ops: concat(ops([[2, 4, 0]]), Uint8Array.of(0)), literals: lit }, 6],
      ["more records than numbers", { ops: ops([[2, 4, 0]], { count: 9 }), literals: lit }, 6],
      ["overlong number", { ops: Uint8Array.of(0x81, 0x00, 1, 1, 0, 0), literals: new Uint8Array(0) }, 0],
      ["output size differs", { ops: ops([[2, 4, 0]]), literals: lit }, 7],
      // A size announced far beyond what the records make: refused by the walk, before the output is allocated.
      ["output size differs", { ops: ops([[2, 4, 0]]), literals: lit }, 200 * 1024 * 1024],
    ];
    for (const [why, sections, size] of cases)
      expect(deltaRefusal(source, sections, size), why).toContain(why);
  });
});

describe("increment format 4 (the delta format)", () => {
  const bigOld = bundle("2.0.0", 3000, 11);
  const bigNew = bigOld.slice();
  bigNew[50_000] = 0x21;
  bigNew[150_000] = 0x22;

  it("round-trips a pair with removed, copied, changed and added files", async () => {
    const v1 = await version({ "app.js": bigOld, "a.txt": "same", "gone.css": ".x{}", "lib.js": "x;" });
    const v2 = await version({ "app.js": bigNew, "b.txt": "same", "lib.js": "y;", "new/added.js": "z;" });
    const { bytes, plan } = await buildDeltaIncrement({
      from: v1,
      to: v2,
      compress: zstdCompress,
      sha256: sha256Hex,
    });
    expect(incrementFormat(bytes)).toBe(4);
    expect(plan).toEqual(planIncrement(v1.files, v2.files));
    const out = await apply(bytes, v1, v2);
    expect(out.files).toEqual(v2.files);
    for (const [path, data] of v2.bytes) expect(out.bytes.get(path)).toEqual(data);
  });

  it("the builder keeps the smallest coding: the delta for a few bytes across a large file, zstd for many small changes", async () => {
    const v1 = await version({ "app.js": bigOld });
    const few = await version({ "app.js": bigNew });
    const d = await buildDeltaIncrement({ from: v1, to: few, compress: zstdCompress, sha256: sha256Hex });
    const z = await buildIncrement({ from: v1, to: few, compress: zstdCompress, sha256: sha256Hex });
    expect(d.prelude.coding === DELTA_CODINGS.delta || d.prelude.coding === DELTA_CODINGS.deltaZstd).toBe(
      true,
    );
    expect(d.bytes.byteLength).toBeLessThan(z.bytes.byteLength);
    expect((await apply(d.bytes, v1, few)).files).toEqual(few.files);

    // Every module's numbers shift: thousands of small edits, which zstd's entropy coding wins.
    const shifted = await version({
      "app.js": enc.encode(new TextDecoder().decode(bigOld).replace(/\d+/g, (n) => String(Number(n) + 1))),
    });
    const m = await buildDeltaIncrement({ from: v1, to: shifted, compress: zstdCompress, sha256: sha256Hex });
    expect(m.prelude.coding).toBe(DELTA_CODINGS.zstd);
    expect((await apply(m.bytes, v1, shifted)).files).toEqual(shifted.files);
  });

  it("refuses another base, another target and a flipped byte in the delta", async () => {
    const v1 = await version({ "app.js": bigOld });
    const v2 = await version({ "app.js": bigNew });
    const { bytes } = await buildDeltaIncrement({
      from: v1,
      to: v2,
      compress: zstdCompress,
      sha256: sha256Hex,
    });
    const other = await version({ "app.js": bigNew });
    expect(await refusal(apply(bytes, other, v2))).toBe("wrong_base");
    expect(await refusal(apply(bytes, v1, v1))).toBe("corrupt");
    const flipped = bytes.slice();
    flipped[flipped.byteLength - 1]! ^= 0x01;
    expect(await refusal(apply(flipped, v1, v2))).toBe("corrupt");
  });

  async function forgeable() {
    const v1 = await version({ "a.js": "alpha();", "b.js": "beta();" });
    const v2 = await version({ "a.js": "alpha(1);", "b.js": "beta();" });
    const built = await buildDeltaIncrement({ from: v1, to: v2, compress: zstdCompress, sha256: sha256Hex });
    const forge = (
      p: Partial<DeltaPrelude>,
      plan: Uint8Array = encodePlanBinary(built.plan, v1.files),
      content?: Uint8Array,
    ) => {
      const prelude = {
        ...built.prelude,
        coding: DELTA_CODINGS.delta,
        planFrameSize: 0,
        ...p,
      } as DeltaPrelude;
      const source = baseDictionary(v1.files, v1.bytesOf, built.plan, DELTA_SOURCE_LIMIT);
      const d = diffBytes(source, v2.bytesOf("a.js"));
      const section = content ?? concat(d.ops, d.literals);
      return encodeDeltaIncrement(
        {
          ...prelude,
          opsSize: p.opsSize ?? d.ops.byteLength,
          literalsSize: p.literalsSize ?? d.literals.byteLength,
        },
        plan,
        section,
      );
    };
    return { v1, v2, built, forge };
  }

  it("refuses malformed containers: short, wrong magic or version, unknown coding, sizes out of range", async () => {
    const { built, forge } = await forgeable();
    const version5 = built.bytes.slice();
    version5[7] = 5;
    const coding9 = built.bytes.slice();
    coding9[24] = 9;
    const bad = [
      new Uint8Array(3),
      built.bytes.subarray(0, 25),
      coding9,
      forge({ planSize: 2 }),
      forge({ planSize: 5 * 1024 * 1024 }),
      forge({ contentSize: MAX_DELTA_CONTENT_BYTES + 1 }),
      forge({ literalsSize: 10_000 }),
      forge({ opsSize: 1 }),
      forge({ opsSize: 10_000_000 }),
      forge({ planFrameSize: 1_000 }),
      forge({ coding: DELTA_CODINGS.zstd }),
      forge({}).subarray(0, forge({}).byteLength - 1),
    ];
    for (const b of bad) expect(() => decodeDeltaIncrement(b)).toThrow(IncrementError);
    expect(incrementFormat(version5)).toBeUndefined();
  });

  it("refuses a binary plan that lies: an index past the base, a base path spelled out, bytes after it", async () => {
    const { v1, v2, forge } = await forgeable();
    const plan = (build: (w: ByteWriter) => void) => {
      const w = new ByteWriter();
      build(w);
      return w.finish();
    };
    const changedA = (w: ByteWriter) => {
      w.varint(1);
      w.zigzag(1);
    };
    const lies = [
      plan((w) => {
        w.varint(1);
        w.varint(7); // removes base index 7 of 2
        w.varint(0);
        w.varint(1);
        changedA(w);
      }),
      plan((w) => {
        w.varint(0);
        w.varint(0);
        w.varint(1);
        w.varint(0); // spells out "a.js", which the base has
        w.varint(4);
        w.bytes(enc.encode("a.js"));
        w.varint(9);
      }),
      plan((w) => {
        w.varint(0);
        w.varint(0);
        w.varint(1);
        changedA(w);
        w.varint(0); // a byte after the plan
      }),
      plan((w) => {
        w.varint(0);
        w.varint(0);
        w.varint(1);
        w.varint(1);
        w.zigzag(50); // a size that does not add up to the content
      }),
    ];
    for (const p of lies) {
      const bytes = forge({ planSize: p.byteLength }, p);
      expect(await refusal(apply(bytes, v1, v2))).toBe("corrupt");
    }
  });

  it("refuses a delta whose copies leave the base or whose output exceeds the announced size", async () => {
    const { v1, v2, forge } = await forgeable();
    const out = await apply(forge({}), v1, v2);
    expect(out.files).toEqual(v2.files);
    const far = ops([[0, 9, 1_000_000]]);
    expect(
      await refusal(apply(forge({ opsSize: far.byteLength, literalsSize: 0 }, undefined, far), v1, v2)),
    ).toBe("corrupt");
    const long = concat(ops([[1, 30, 0]]), enc.encode("x"));
    expect(
      await refusal(apply(forge({ opsSize: long.byteLength - 1, literalsSize: 1 }, undefined, long), v1, v2)),
    ).toBe("corrupt");
  });

  it("a pure rename in format 4: no content, the file travels as a reference", async () => {
    const v1 = await version({ "app.js": bigOld, "a.txt": "same" });
    const v2 = await version({ "moved/app.js": bigOld, "a.txt": "same" });
    const { bytes, prelude } = await buildDeltaIncrement({
      from: v1,
      to: v2,
      compress: zstdCompress,
      sha256: sha256Hex,
    });
    expect(prelude.contentSize).toBe(0);
    expect(bytes.byteLength).toBeLessThan(64);
    expect((await apply(bytes, v1, v2)).bytes.get("moved/app.js")).toEqual(bigOld);
  });

  it("reads format 3 too: the same apply takes both, by the version byte", async () => {
    const v1 = await version({ "app.js": bigOld });
    const v2 = await version({ "app.js": bigNew });
    const z = await buildIncrement({ from: v1, to: v2, compress: zstdCompress, sha256: sha256Hex });
    expect(incrementFormat(z.bytes)).toBe(3);
    expect((await apply(z.bytes, v1, v2)).files).toEqual(v2.files);
  });
});
