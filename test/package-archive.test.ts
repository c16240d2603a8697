import { Deflate, deflateSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import {
  inspectPackage,
  type PackageLimits,
  readLimitedBody,
} from "../control-plane/src/lib/package-archive";
import { ApiError } from "../core/errors";

const MiB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------------
// A hand-rolled zip writer, so tests can put anything in any field (names, modes, flags, CRCs,
// offsets) that real zip tools would refuse to write. Its CRC-32 is independent of the module's.

interface RawEntry {
  name: string | Uint8Array;
  /** Unpacked content (default empty). */
  data?: Uint8Array;
  /** 0 stored, 8 deflate (default); other values are written as they are. */
  method?: number;
  /** Bytes stored as the entry's data (default: `data`, deflated when method is 8). */
  packed?: Uint8Array;
  /** Declared CRC-32 and unpacked size (default: the true ones). */
  crc?: number;
  size?: number;
  flags?: number;
  /** Version made by: high byte is the host system (3 = unix). */
  madeBy?: number;
  external?: number;
  /** Name written in the local header (default: `name`). */
  localName?: string;
  /** Local header offset written in the central directory (default: where it was written). */
  offset?: number;
  /** Write no local record (for entries pointing into another entry's data). */
  centralOnly?: boolean;
  /** Bytes written right after the local record (a data descriptor, hidden data); offsets count them. */
  after?: Uint8Array;
}

function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function le(value: number, width: 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(width);
  const view = new DataView(out.buffer);
  if (width === 2) view.setUint16(0, value, true);
  else if (width === 4) view.setUint32(0, value, true);
  else view.setBigUint64(0, BigInt(value), true);
  return out;
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function resolve(entry: RawEntry) {
  const name = typeof entry.name === "string" ? text(entry.name) : entry.name;
  const data = entry.data ?? new Uint8Array(0);
  const method = entry.method ?? 8;
  const packed = entry.packed ?? (method === 8 ? deflateSync(data) : data);
  return {
    ...entry,
    name,
    data,
    method,
    packed,
    crc: entry.crc ?? crc32(data),
    size: entry.size ?? data.length,
  };
}

function localRecord(entry: RawEntry): Uint8Array {
  const e = resolve(entry);
  const name = e.localName === undefined ? e.name : text(e.localName);
  return join([
    le(0x04034b50, 4),
    le(20, 2),
    le(e.flags ?? 0x800, 2),
    le(e.method, 2),
    le(0, 2),
    le(0x21, 2),
    le(e.crc, 4),
    le(e.packed.length, 4),
    le(e.size, 4),
    le(name.length, 2),
    le(0, 2),
    name,
    e.packed,
  ]);
}

/** `prefix` is written first and counted in every offset (as `zip -A` does for a self-extractor). */
function rawZip(
  entries: RawEntry[],
  options: { zip64?: boolean; prefix?: Uint8Array; comment?: Uint8Array } = {},
): Uint8Array {
  const locals: Uint8Array[] = options.prefix ? [options.prefix] : [];
  const centrals: Uint8Array[] = [];
  let offset = options.prefix?.length ?? 0;
  for (const entry of entries) {
    const e = resolve(entry);
    const at = e.offset ?? offset;
    if (!e.centralOnly) {
      const record = join([localRecord(entry), e.after ?? new Uint8Array(0)]);
      locals.push(record);
      offset += record.length;
    }
    const big = options.zip64 === true;
    const extra = big
      ? join([le(1, 2), le(24, 2), le(e.size, 8), le(e.packed.length, 8), le(at, 8)])
      : new Uint8Array(0);
    centrals.push(
      join([
        le(0x02014b50, 4),
        le(e.madeBy ?? 20, 2),
        le(big ? 45 : 20, 2),
        le(e.flags ?? 0x800, 2),
        le(e.method, 2),
        le(0, 2),
        le(0x21, 2),
        le(e.crc, 4),
        le(big ? 0xffffffff : e.packed.length, 4),
        le(big ? 0xffffffff : e.size, 4),
        le(e.name.length, 2),
        le(extra.length, 2),
        le(0, 2),
        le(0, 2),
        le(0, 2),
        le(e.external ?? 0, 4),
        le(big ? 0xffffffff : at, 4),
        e.name,
        extra,
      ]),
    );
  }
  const central = join(centrals);
  const tail: Uint8Array[] = [];
  if (options.zip64) {
    const eocd64At = offset + central.length;
    tail.push(
      join([
        le(0x06064b50, 4),
        le(44, 8),
        le(45, 2),
        le(45, 2),
        le(0, 4),
        le(0, 4),
        le(entries.length, 8),
        le(entries.length, 8),
        le(central.length, 8),
        le(offset, 8),
      ]),
      join([le(0x07064b50, 4), le(0, 4), le(eocd64At, 8), le(1, 4)]),
      join([
        le(0x06054b50, 4),
        le(0, 2),
        le(0, 2),
        le(0xffff, 2),
        le(0xffff, 2),
        le(0xffffffff, 4),
        le(0xffffffff, 4),
        le(0, 2),
      ]),
    );
  } else {
    const comment = options.comment ?? new Uint8Array(0);
    tail.push(
      join([
        le(0x06054b50, 4),
        le(0, 2),
        le(0, 2),
        le(entries.length, 2),
        le(entries.length, 2),
        le(central.length, 4),
        le(offset, 4),
        le(comment.length, 2),
        comment,
      ]),
    );
  }
  return join([...locals, central, ...tail]);
}

/** Incompressible bytes, deterministic. */
function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Deflates `total` zero bytes without holding them all (a bomb's payload). */
function deflatedZeros(total: number): Uint8Array {
  const parts: Uint8Array[] = [];
  const deflate = new Deflate({ level: 9 }, (chunk) => parts.push(chunk));
  const block = new Uint8Array(MiB);
  for (let done = 0; done < total; done += MiB) deflate.push(block, done + MiB >= total);
  return join(parts);
}

async function sha256(data: Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const outcome = await promise.then(
    () => "resolved",
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(ApiError);
  return outcome as ApiError;
}

async function expectBadPackage(
  zip: Uint8Array,
  message: RegExp,
  limits?: Partial<PackageLimits>,
): Promise<void> {
  const error = await refusal(inspectPackage(zip, limits));
  expect(error.code).toBe("bad_package");
  expect(error.status).toBe(422);
  expect(error.message).toMatch(message);
}

const ok: RawEntry = { name: "ok.js", data: text("console.log('ok')") };

// ---------------------------------------------------------------------------------------------

describe("inspectPackage: a good package", () => {
  it("lists every file sorted by path, with true sizes and SHA-256s, and hashes the whole zip", async () => {
    const content: Record<string, Uint8Array> = {
      "js/app.js": text("export const answer = 42;\n".repeat(100)),
      "index.html": text("<!doctype html><script src=js/app.js></script>"),
      "日本/ü.txt": text("unicode names are fine"),
      "B.txt": noise(70_000),
      "empty.txt": new Uint8Array(0),
    };
    const zip = zipSync({
      "js/app.js": content["js/app.js"]!,
      "index.html": [content["index.html"]!, { level: 0 }],
      "日本/ü.txt": content["日本/ü.txt"]!,
      "B.txt": content["B.txt"]!,
      "empty.txt": content["empty.txt"]!,
    });

    const inspection = await inspectPackage(zip);

    expect(inspection.files.map((f) => f.path)).toEqual([
      "B.txt",
      "empty.txt",
      "index.html",
      "js/app.js",
      "日本/ü.txt",
    ]);
    for (const file of inspection.files) {
      const expected = content[file.path]!;
      expect(file.size).toBe(expected.length);
      expect(file.sha256).toBe(await sha256(expected));
    }
    expect(inspection.unpackedSize).toBe(Object.values(content).reduce((n, c) => n + c.length, 0));
    expect(inspection.size).toBe(zip.length);
    expect(inspection.sha256).toBe(await sha256(zip));
    expect(inspection.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("skips directory entries, does not count them as files, and reads ZIP64 records", async () => {
    const entries: RawEntry[] = [
      { name: "assets/", method: 0 },
      { name: "assets/img/", method: 0, madeBy: 0x0314, external: (0o040755 << 16) >>> 0 },
      { name: "assets/img/logo.svg", data: text("<svg/>") },
      { name: "main.js", data: text("main()"), madeBy: 0x0314, external: (0o100644 << 16) >>> 0 },
    ];
    for (const zip64 of [false, true]) {
      const inspection = await inspectPackage(rawZip(entries, { zip64 }), { maxFiles: 2 });
      expect(inspection.files).toEqual([
        { path: "assets/img/logo.svg", size: 6, sha256: await sha256(text("<svg/>")) },
        { path: "main.js", size: 6, sha256: await sha256(text("main()")) },
      ]);
      expect(inspection.unpackedSize).toBe(12);
    }
  });
});

describe("inspectPackage: broken archives", () => {
  it.each([
    ["no bytes", new Uint8Array(0)],
    ["text", text("this is not a zip at all, just some text that is long enough")],
    ["a zip cut short", zipSync({ "a.js": noise(2000) }).slice(0, -10)],
  ])("refuses %s as not a zip", async (_, bytes) => {
    await expectBadPackage(bytes, /not a zip archive, or truncated/);
  });

  it("refuses a zip with bytes missing from the middle", async () => {
    const zip = zipSync({ "a.js": [noise(2000), { level: 0 }] });
    await expectBadPackage(join([zip.slice(0, 500), zip.slice(600)]), /central directory/);
  });

  it("refuses an archive with no files, or only directories", async () => {
    await expectBadPackage(zipSync({}), /^the package contains no files$/);
    await expectBadPackage(
      rawZip([
        { name: "a/", method: 0 },
        { name: "a/b/", method: 0 },
      ]),
      /^the package contains no files$/,
    );
  });

  it("refuses corrupt deflate data, naming the file", async () => {
    await expectBadPackage(
      rawZip([ok, { name: "bad.js", data: text("x"), packed: new Uint8Array([0xff, 0xff, 0xff, 0xff]) }]),
      /^"bad\.js": compressed data is corrupt/,
    );
  });

  it("refuses a deflate stream that stops early", async () => {
    const data = noise(50_000);
    const packed = deflateSync(data).slice(0, 20_000);
    await expectBadPackage(
      rawZip([{ name: "cut.bin", data, packed }]),
      /^"cut\.bin": compressed data is corrupt \(unexpected EOF\)/,
    );
  });

  it("refuses a CRC mismatch", async () => {
    const data = text("hello world");
    await expectBadPackage(
      rawZip([ok, { name: "a.txt", data, crc: crc32(data) ^ 1 }]),
      /^"a\.txt": CRC-32 mismatch/,
    );
    await expectBadPackage(
      rawZip([{ name: "s.txt", data, method: 0, crc: crc32(data) ^ 0x100 }]),
      /^"s\.txt": CRC-32 mismatch/,
    );
  });

  it("refuses an unpacked size that differs from the declared one", async () => {
    const data = text("hello world");
    await expectBadPackage(
      rawZip([{ name: "a.txt", data, size: data.length + 1 }]),
      /^"a\.txt": unpacked to 11 bytes but the archive says 12/,
    );
  });

  it("refuses a local header that names a different path than the central directory", async () => {
    await expectBadPackage(
      rawZip([ok, { name: "safe.js", localName: "../evil", data: text("x") }]),
      /^"safe\.js": local header names a different path/,
    );
  });

  it("refuses entries whose data overlaps (the overlapping-file zip bomb)", async () => {
    const inner: RawEntry = { name: "b.js", data: text("inner"), method: 0 };
    const innerRecord = localRecord(inner);
    const outer: RawEntry = { name: "a.js", data: innerRecord, method: 0 };
    const innerOffset = 30 + "a.js".length;
    await expectBadPackage(
      rawZip([outer, { ...inner, centralOnly: true, offset: innerOffset }]),
      /^"b\.js" overlaps "a\.js"/,
    );
  });
});

describe("inspectPackage: unsafe paths", () => {
  it.each([
    ["../evil.js", /path has a "\.\." segment \(path traversal\)/],
    ["a/../../evil.js", /path has a "\.\." segment \(path traversal\)/],
    ["../up/", /path has a "\.\." segment/],
    ["./a.js", /path has a "\." segment/],
    ["/etc/passwd", /absolute paths are not allowed/],
    ["a\\..\\b.js", /path contains a backslash/],
    ["C:/windows/x.js", /path starts with a drive letter/],
    ["c:x.js", /path starts with a drive letter/],
    ["a\u0000.js", /path contains NUL or control characters/],
    ["a\nb.js", /path contains NUL or control characters/],
    ["a//b.js", /path has an empty segment/],
    ["x".repeat(257), /path is longer than 256 bytes/],
  ])("refuses %j", async (name, problem) => {
    const error = await refusal(inspectPackage(rawZip([ok, { name, data: text("x") }])));
    expect(error.code).toBe("bad_package");
    expect(error.message.startsWith(`${JSON.stringify(name)}: `)).toBe(true);
    expect(error.message).toMatch(problem);
  });

  it("accepts a path of exactly the limit and honours a custom limit", async () => {
    const name = "x".repeat(256);
    expect((await inspectPackage(rawZip([{ name, data: text("x") }]))).files[0]?.path).toBe(name);
    await expectBadPackage(rawZip([{ name: "abcdefghijk.js", data: text("x") }]), /longer than 10 bytes/, {
      maxPathLength: 10,
    });
  });

  it("refuses an empty path and a path that is not UTF-8", async () => {
    await expectBadPackage(rawZip([ok, { name: "", data: text("x") }]), /^an entry has an empty path$/);
    await expectBadPackage(
      rawZip([ok, { name: new Uint8Array([0x61, 0xff, 0x62]), data: text("x") }]),
      /not valid UTF-8 \(bytes 61 ff 62\)/,
    );
  });

  it("refuses duplicate paths, also when they differ only by case", async () => {
    await expectBadPackage(
      rawZip([
        { name: "a.js", data: text("1") },
        { name: "a.js", data: text("2") },
      ]),
      /^"a\.js": duplicate path$/,
    );
    await expectBadPackage(
      zipSync({ "README.md": text("1"), "readme.md": text("2") }),
      /^"readme\.md": duplicate path \(same as "README\.md" ignoring case\)/,
    );
  });

  it("refuses a path that is both a file and a directory", async () => {
    await expectBadPackage(
      rawZip([
        { name: "lib", data: text("1") },
        { name: "lib/x.js", data: text("2") },
      ]),
      /^"lib" is both a file and a directory$/,
    );
    await expectBadPackage(
      rawZip([
        { name: "Lib/", method: 0 },
        { name: "lib", data: text("1") },
      ]),
      /^"lib" is both a file and a directory$/,
    );
  });
});

describe("inspectPackage: names that display as something else", () => {
  it.each([
    ["\u202A", "LEFT-TO-RIGHT EMBEDDING"],
    ["\u202B", "RIGHT-TO-LEFT EMBEDDING"],
    ["\u202C", "POP DIRECTIONAL FORMATTING"],
    ["\u202D", "LEFT-TO-RIGHT OVERRIDE"],
    ["\u202E", "RIGHT-TO-LEFT OVERRIDE"],
    ["\u2066", "LEFT-TO-RIGHT ISOLATE"],
    ["\u2067", "RIGHT-TO-LEFT ISOLATE"],
    ["\u2068", "FIRST STRONG ISOLATE"],
    ["\u2069", "POP DIRECTIONAL ISOLATE"],
    ["\u200E", "LEFT-TO-RIGHT MARK"],
    ["\u200F", "RIGHT-TO-LEFT MARK"],
    ["\u061C", "ARABIC LETTER MARK"],
    ["\u200B", "ZERO WIDTH SPACE"],
    ["\u200C", "ZERO WIDTH NON-JOINER"],
    ["\u200D", "ZERO WIDTH JOINER"],
    ["\u2060", "WORD JOINER"],
    ["\uFEFF", "ZERO WIDTH NO-BREAK SPACE (BOM)"],
    ["\u2028", "LINE SEPARATOR"],
    ["\u00AD", "SOFT HYPHEN"],
    ["\u034F", "COMBINING GRAPHEME JOINER"],
    ["\u3164", "HANGUL FILLER"],
    ["\uFE0F", "VARIATION SELECTOR-16"],
  ])("refuses a file name with %j (%s), naming the entry with the character escaped", async (char) => {
    const name = `pages/invoice${char}sj.js`;
    const hex = char.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    const error = await refusal(inspectPackage(rawZip([ok, { name, data: text("x") }])));
    expect(error.code).toBe("bad_package");
    expect(error.status).toBe(422);
    expect(error.message).toBe(
      `"pages/invoice\\u${hex}sj.js": path contains an invisible or bidirectional-control character (U+${hex}) that can make a name look like another`,
    );
  });

  it("refuses them in directory names and in archives real zip tools write", async () => {
    await expectBadPackage(
      rawZip([ok, { name: "lib\u200B/", method: 0 }]),
      /^"lib\\u200B\/": path contains an invisible/,
    );
    await expectBadPackage(
      zipSync({ "index.js": text("1"), "readme\u202Etxt.js": text("2") }),
      /^"readme\\u202Etxt\.js": path contains an invisible or bidirectional-control character \(U\+202E\)/,
    );
  });

  it("still accepts other non-ASCII names", async () => {
    const names = ["日本/ü.txt", "emoji-😀.png", "עברית.js", "العربية.js", "ß.css"];
    const inspection = await inspectPackage(rawZip(names.map((name) => ({ name, data: text(name) }))));
    expect(inspection.files.map((f) => f.path).sort()).toEqual([...names].sort());
  });
});

describe("inspectPackage: concatenated archives and bytes no entry accounts for", () => {
  const other = () => zipSync({ "payload.js": text("evil()") });

  it("refuses bytes or a second archive appended after the end record", async () => {
    const zip = zipSync({ "a.js": text("a") });
    await expectBadPackage(
      join([zip, text("junk")]),
      /^4 bytes after the end of the archive \(data or a second archive appended\)$/,
    );
    await expectBadPackage(join([zip, new Uint8Array(30_000)]), /^30000 bytes after the end of the archive/);
  });

  it("refuses a second archive (or any bytes) prepended, whether or not the offsets were adjusted", async () => {
    const prefix = other();
    // Offsets as written: the central directory is not where the end record says.
    await expectBadPackage(
      join([prefix, zipSync({ "a.js": text("a") })]),
      new RegExp(`^${prefix.length} bytes before the archive \\(another archive or data prepended\\)$`),
    );
    await expectBadPackage(
      join([text("#!/bin/sh\n"), zipSync({ "a.js": text("a") })]),
      /^10 bytes before the archive/,
    );
    // Offsets adjusted (zip -A, self-extractors): every record is consistent, the prefix is not.
    await expectBadPackage(
      rawZip([ok], { prefix }),
      new RegExp(
        `^${prefix.length} bytes before the first entry belong to no entry \\(another archive or data prepended\\)$`,
      ),
    );
  });

  it("refuses data hidden between entries, or between the central directory and its end record", async () => {
    await expectBadPackage(
      rawZip([
        { ...ok, after: other() },
        { name: "b.js", data: text("b") },
      ]),
      /^\d+ bytes after "ok\.js" belong to no entry \(hidden data or a second archive inside\)$/,
    );
    await expectBadPackage(
      rawZip([{ name: "a/", method: 0, after: text("xx") }, ok]),
      /^2 bytes after "a\/" belong to no entry/,
    );
    await expectBadPackage(
      rawZip([ok, { name: "last.js", data: text("z"), after: text("tail") }]),
      /^4 bytes after "last\.js" belong to no entry/,
    );
    const zip = zipSync({ "a.js": text("a") });
    await expectBadPackage(
      join([zip.slice(0, -22), text("hidden"), zip.slice(-22)]),
      /^6 bytes before the end record belong to no entry \(hidden data\)$/,
    );
  });

  it("refuses an archive comment that holds zip records, and accepts a plain one", async () => {
    await expectBadPackage(rawZip([ok], { comment: other() }), /^the archive comment holds zip records/);
    expect((await inspectPackage(rawZip([ok], { comment: text("built by ci #42") }))).files).toHaveLength(1);
  });

  it("accepts data descriptors (flag bit 3), with or without their signature, and only when they match", async () => {
    const data = text("described");
    const crc = crc32(data);
    const packedSize = deflateSync(data).length;
    const signed = join([le(0x08074b50, 4), le(crc, 4), le(packedSize, 4), le(data.length, 4)]);
    const bare = join([le(crc, 4), le(packedSize, 4), le(data.length, 4)]);
    for (const after of [signed, bare]) {
      const inspection = await inspectPackage(rawZip([{ name: "d.js", data, flags: 0x808, after }, ok]));
      expect(inspection.files.map((f) => f.path)).toEqual(["d.js", "ok.js"]);
    }
    const wrong = join([le(0x08074b50, 4), le(crc ^ 1, 4), le(packedSize, 4), le(data.length, 4)]);
    await expectBadPackage(
      rawZip([{ name: "d.js", data, flags: 0x808, after: wrong }, ok]),
      /^16 bytes after "d\.js" belong to no entry/,
    );
    // Without flag bit 3 the same bytes are not a descriptor.
    await expectBadPackage(
      rawZip([{ name: "d.js", data, after: signed }, ok]),
      /^16 bytes after "d\.js" belong to no entry/,
    );
  });

  it("still accepts the archives zip tools write (fflate, stored and deflated, ZIP64)", async () => {
    expect(
      (
        await inspectPackage(
          zipSync({ "a.js": text("a"), "b/c.txt": [noise(5000), { level: 0 }], "d/": new Uint8Array(0) }),
        )
      ).files,
    ).toHaveLength(2);
    expect(
      (
        await inspectPackage(
          rawZip([{ name: "dir/", method: 0 }, ok, { name: "dir/x.js", data: text("x") }], { zip64: true }),
        )
      ).files,
    ).toHaveLength(2);
  });
});

describe("inspectPackage: unsafe entries", () => {
  const unix = (mode: number) => ({ madeBy: 0x0314, external: (mode << 16) >>> 0 });

  it("refuses symlinks but accepts the same entry as a regular file", async () => {
    const link: RawEntry = { name: "link", data: text("../../etc/passwd"), method: 0 };
    await expectBadPackage(
      rawZip([ok, { ...link, ...unix(0o120777) }]),
      /^"link": symlinks are not allowed$/,
    );
    expect((await inspectPackage(rawZip([ok, { ...link, ...unix(0o100644) }]))).files).toHaveLength(2);
  });

  it("refuses other special files", async () => {
    await expectBadPackage(rawZip([ok, { name: "pipe", ...unix(0o010644) }]), /^"pipe": special files/);
  });

  it("refuses encrypted entries", async () => {
    await expectBadPackage(
      rawZip([ok, { name: "secret.js", data: text("x"), flags: 0x801 }]),
      /^"secret\.js": encrypted entries are not supported$/,
    );
    await expectBadPackage(
      rawZip([ok, { name: "aes.js", data: text("x"), method: 99, packed: noise(40) }]),
      /^"aes\.js": encrypted/,
    );
  });

  it("refuses compression methods other than stored and deflate", async () => {
    await expectBadPackage(
      rawZip([ok, { name: "a.js", data: text("x"), method: 12, packed: noise(40) }]),
      /^"a\.js": unsupported compression method 12/,
    );
  });

  it("refuses more files than allowed, directories not counted", async () => {
    const files = ["a", "b", "c", "d"].map((n): RawEntry => ({ name: `dir/${n}.js`, data: text(n) }));
    const dir: RawEntry = { name: "dir/", method: 0 };
    expect((await inspectPackage(rawZip([dir, ...files.slice(0, 3)]), { maxFiles: 3 })).files).toHaveLength(
      3,
    );
    await expectBadPackage(rawZip([dir, ...files]), /^the package has more than 3 files$/, { maxFiles: 3 });
  });
});

describe("inspectPackage: size limits and zip bombs", () => {
  it("refuses a file over the per-file limit, counting real bytes rather than the declared size", async () => {
    const data = noise(MiB + 1);
    await expectBadPackage(
      rawZip([{ name: "big.bin", data }]),
      /^"big\.bin": larger than the 1 MiB per-file limit$/,
      { maxFileBytes: MiB },
    );
    await expectBadPackage(
      rawZip([{ name: "big.bin", data, size: 100 }]),
      /^"big\.bin": larger than the 1 MiB per-file limit$/,
      { maxFileBytes: MiB },
    );
    expect(
      (await inspectPackage(rawZip([{ name: "big.bin", data }]), { maxFileBytes: MiB + 1 })).unpackedSize,
    ).toBe(MiB + 1);
  });

  it("refuses a package over the total limit, counting real bytes rather than declared sizes", async () => {
    const limits = { maxUnpackedBytes: MiB };
    const a: RawEntry = { name: "a.bin", data: noise(600 * 1024, 1) };
    const b: RawEntry = { name: "b.bin", data: noise(600 * 1024, 2) };
    await expectBadPackage(
      rawZip([a, b]),
      /^the package unpacks to more than 1 MiB in total \(at "b\.bin"\)$/,
      limits,
    );
    await expectBadPackage(
      rawZip([a, { ...b, size: 10 }]),
      /^the package unpacks to more than 1 MiB in total \(at "b\.bin"\)$/,
      limits,
    );
    expect((await inspectPackage(rawZip([a, b]), { maxUnpackedBytes: 1200 * 1024 })).unpackedSize).toBe(
      1200 * 1024,
    );
  });

  it("refuses a compression ratio above the limit for files over 1 MiB, but not for smaller ones", async () => {
    const zeros = new Uint8Array(4 * MiB);
    await expectBadPackage(zipSync({ "zeros.bin": zeros }), /^"zeros\.bin": compression ratio above 200/);
    await expectBadPackage(
      rawZip([{ name: "zeros.bin", data: zeros, size: 100 }]),
      /^"zeros\.bin": compression ratio above 200/,
    );
    expect((await inspectPackage(zipSync({ "zeros.bin": zeros }), { maxRatio: 5000 })).unpackedSize).toBe(
      4 * MiB,
    );
    expect((await inspectPackage(zipSync({ "small.bin": new Uint8Array(MiB) }))).unpackedSize).toBe(MiB);
  });

  it("stops a bomb that lies about its size", async () => {
    // 64 MiB of zeros in ~64 KiB, declared as 1000 bytes.
    const packed = deflatedZeros(64 * MiB);
    expect(packed.length).toBeLessThan(100 * 1024);
    const bomb = rawZip([ok, { name: "bomb.bin", data: new Uint8Array(1000), packed }]);
    await expectBadPackage(bomb, /^"bomb\.bin": compression ratio above 200/);
    await expectBadPackage(bomb, /^"bomb\.bin": larger than the 16 MiB per-file limit$/, {
      maxRatio: Number.POSITIVE_INFINITY,
    });
    await expectBadPackage(bomb, /^the package unpacks to more than 8 MiB in total/, {
      maxRatio: Number.POSITIVE_INFINITY,
      maxUnpackedBytes: 8 * MiB,
    });
  });
});

describe("readLimitedBody", () => {
  function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
  }

  it("returns every byte in order, up to exactly the limit", async () => {
    const chunks = [noise(1000, 1), noise(1000, 2), noise(1000, 3)];
    expect(await readLimitedBody(streamOf(chunks), 3000)).toEqual(join(chunks));
  });

  it("keeps nothing past the limit and drains the rest, so the 413 reaches the client", async () => {
    let pulls = 0;
    let cancelled = false;
    // 64 KiB in 1 KiB chunks: the refusal comes after the whole body was read and dropped.
    const long = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(1024));
          if (pulls === 64) controller.close();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const error = await refusal(readLimitedBody(long, 3000));
    expect(error.code).toBe("payload_too_large");
    expect(error.status).toBe(413);
    expect(error.message).toBe("the package is larger than 3000 bytes");
    expect(pulls).toBe(64);
    expect(cancelled).toBe(false);
  });

  it("stops draining an endless body at the discard limit and cancels it", async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(1024));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const error = await refusal(readLimitedBody(endless, 3000, 16 * 1024));
    expect(error.code).toBe("payload_too_large");
    expect(cancelled).toBe(true);
    // 16 KiB drained in all, give or take the chunk that crossed the line.
    expect(pulls).toBeGreaterThanOrEqual(16);
    expect(pulls).toBeLessThanOrEqual(18);
  });

  it("refuses a missing or empty body", async () => {
    for (const body of [null, streamOf([]), streamOf([new Uint8Array(0)])]) {
      const error = await refusal(readLimitedBody(body, 100));
      expect(error.code).toBe("bad_package");
      expect(error.message).toBe("the package is empty");
    }
  });
});
