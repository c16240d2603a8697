/**
 * Reading and vetting a code package (a zip): the control plane before anything of an upload is
 * stored (control-plane/src/lib/package-archive.ts), the reference client before it installs a
 * downloaded one, the developer's `scripts/sign-package.mjs` before it signs.
 * The zip is parsed from its central directory here (fflate only inflates), so every field an
 * attacker controls is checked before it is used, and limits are enforced on the bytes that
 * actually come out of the inflater, never on the sizes the archive declares.
 */
import { Inflate } from "fflate";
import { crc32Final, crc32Update } from "./bytes";
import { ApiError } from "./errors";

export interface PackageLimits {
  maxFiles: number;
  maxUnpackedBytes: number;
  maxFileBytes: number;
  /** Largest unpacked/packed ratio for one file; only applied to files over 1 MiB unpacked. */
  maxRatio: number;
  /** In UTF-8 bytes. */
  maxPathLength: number;
}

export interface PackageFile {
  path: string;
  size: number;
  sha256: string;
}

export interface PackageInspection {
  /** Hex SHA-256 of the whole zip. */
  sha256: string;
  size: number;
  /** Regular files only, sorted by path (code unit order). */
  files: PackageFile[];
  unpackedSize: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_PACKAGE_LIMITS: Readonly<PackageLimits> = {
  maxFiles: 5000,
  maxUnpackedBytes: 64 * MiB,
  maxFileBytes: 16 * MiB,
  maxRatio: 200,
  maxPathLength: 256,
};

/** Files at most this big are exempt from the ratio check (small text compresses very well). */
const RATIO_EXEMPT_BYTES = MiB;
/** Compressed bytes fed to the inflater per step; deflate expands at most ~1032x, so one step
 * yields at most ~4 MiB before the limits are checked again. */
const INFLATE_STEP = 4 * 1024;

interface Entry {
  path: string;
  shown: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  dataStart: number;
}

/**
 * Lists, unpacks and hashes every file of a zip, refusing anything broken or unsafe with
 * `bad_package` and a message naming the file and the problem. Checks, in order:
 *  1. the archive: an end of central directory record (ZIP64 understood) ending the file, with
 *     no zip record hidden in its comment, one disk only, the central directory right before its
 *     end record (nothing prepended or slipped in between) and every record in it complete;
 *  2. for each central directory entry, in archive order:
 *     a. its path: valid UTF-8, not empty, at most `maxPathLength` bytes, no NUL or control
 *        characters, no bidirectional-control (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
 *        U+061C), zero-width (U+200B–U+200D, U+2060, U+FEFF) or line/paragraph separator
 *        characters, no backslash, not absolute, no drive letter, no empty, "." or ".." segment;
 *     b. no duplicate path, also ignoring case and Unicode normalisation;
 *     c. no symlink or other special file (unix mode in the external attributes);
 *        directory entries are then skipped;
 *     d. not encrypted;
 *     e. compression method stored or deflate;
 *     f. at most `maxFiles` files;
 *     g. declared sizes within `maxFileBytes`, `maxUnpackedBytes` and `maxRatio` (a cheap early
 *        refusal only; 4. enforces the limits on real bytes);
 *     h. a local header that matches it (name, method, encryption) with its data inside the
 *        archive (directories too);
 *  3. at least one file (directories alone are empty); no path both a file and a directory;
 *     no two entries sharing bytes (overlapping entries are a zip bomb trick); the entries,
 *     each with its data descriptor, fill the archive from its first byte to the central
 *     directory with nothing before, between or after them (a second archive or data prepended
 *     or hidden inside: what a reader that scans local headers would unpack differs from what
 *     was inspected);
 *  4. each file inflated one at a time, aborting as soon as it exceeds `maxFileBytes`, the total
 *     exceeds `maxUnpackedBytes` or, once past 1 MiB, `maxRatio`; then corrupt deflate data,
 *     unpacked size and CRC-32 against the central directory.
 */
export function inspectPackage(
  zip: Uint8Array,
  limits: Partial<PackageLimits> = {},
): Promise<PackageInspection> {
  return walkPackage(zip, limits, null);
}

/**
 * `inspectPackage`, keeping every file's bytes in a Map (never a plain object: a file may be
 * named "__proto__" or "constructor"). For the reference client, which installs exactly what
 * it inspected, under the same checks as an upload.
 */
export async function unpackPackageFiles(
  zip: Uint8Array,
  limits: Partial<PackageLimits> = {},
): Promise<PackageInspection & { bytes: Map<string, Uint8Array> }> {
  const bytes = new Map<string, Uint8Array>();
  const inspection = await walkPackage(zip, limits, bytes);
  return { ...inspection, bytes };
}

async function walkPackage(
  zip: Uint8Array,
  limits: Partial<PackageLimits>,
  keep: Map<string, Uint8Array> | null,
): Promise<PackageInspection> {
  const lim = resolveLimits(limits);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let entries: Entry[];
  try {
    entries = readEntries(zip, view, lim);
  } catch (error) {
    // A field pointing outside the buffer surfaces as a RangeError from DataView.
    if (error instanceof RangeError) bad("the archive is corrupt (a record points outside it)");
    throw error;
  }

  const files: PackageFile[] = [];
  let unpackedSize = 0;
  for (const entry of entries) {
    const data = unpack(zip, entry, lim, lim.maxUnpackedBytes - unpackedSize);
    unpackedSize += data.length;
    files.push({ path: entry.path, size: data.length, sha256: await sha256Hex(data) });
    keep?.set(entry.path, data);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { sha256: await sha256Hex(zip), size: zip.length, files, unpackedSize };
}

function readEntries(zip: Uint8Array, view: DataView, lim: PackageLimits): Entry[] {
  const cd = findCentralDirectory(view);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  const seen = new Map<string, string>();
  const fileKeys = new Map<string, string>();
  const dirKeys: string[] = [];
  const entries: Entry[] = [];
  const extents: Extent[] = [];
  let declaredTotal = 0;
  let p = cd.offset;
  const end = cd.offset + cd.size;
  for (let n = 0; n < cd.count; n++) {
    if (p + 46 > end || u32(p) !== 0x02014b50) bad("the central directory is corrupt or truncated");
    const [flags, method, crc, external] = [u16(p + 8), u16(p + 10), u32(p + 16), u32(p + 38)];
    const [nameLength, extraLength] = [u16(p + 28), u16(p + 30)];
    const next = p + 46 + nameLength + extraLength + u16(p + 32);
    if (next > end) bad("the central directory is corrupt or truncated");
    const nameBytes = zip.subarray(p + 46, p + 46 + nameLength);
    const [size, compressedSize, localOffset] = readZip64Extra(view, p + 46 + nameLength, extraLength, [
      u32(p + 24),
      u32(p + 20),
      u32(p + 42),
    ]);
    p = next;

    const { path, isDirectory: slashDir } = checkPath(nameBytes, lim.maxPathLength);
    const shown = JSON.stringify(path);
    const key = path.normalize("NFC").toLowerCase();
    const twin = seen.get(key);
    if (twin !== undefined)
      bad(
        twin === path
          ? `${shown}: duplicate path`
          : `${shown}: duplicate path (same as ${JSON.stringify(twin)} ignoring case)`,
      );
    seen.set(key, path);

    const type = (external >>> 16) & 0o170000;
    if (type === 0o120000) bad(`${shown}: symlinks are not allowed`);
    if (type !== 0 && type !== 0o100000 && type !== 0o040000)
      bad(`${shown}: special files (devices, pipes, sockets) are not allowed`);
    if (slashDir || type === 0o040000) {
      dirKeys.push(key.endsWith("/") ? key : `${key}/`);
      extents.push(
        localExtent(zip, view, cd.offset, { shown, nameBytes, flags, crc, compressedSize, localOffset })
          .extent,
      );
      continue;
    }
    fileKeys.set(key, path);

    if (flags & 0x41 || method === 99) bad(`${shown}: encrypted entries are not supported`);
    if (method !== 0 && method !== 8)
      bad(`${shown}: unsupported compression method ${method} (only stored and deflate)`);
    if (entries.length + 1 > lim.maxFiles) bad(`the package has more than ${lim.maxFiles} files`);

    if (size > lim.maxFileBytes)
      bad(`${shown}: larger than the ${formatBytes(lim.maxFileBytes)} per-file limit`);
    declaredTotal += size;
    if (declaredTotal > lim.maxUnpackedBytes)
      bad(`the package unpacks to more than ${formatBytes(lim.maxUnpackedBytes)} in total (at ${shown})`);
    if (size > RATIO_EXEMPT_BYTES && size > lim.maxRatio * compressedSize)
      bad(`${shown}: compression ratio above ${lim.maxRatio} (zip bomb?)`);
    if ((method === 0 && compressedSize !== size) || (method === 8 && compressedSize === 0))
      bad(`${shown}: sizes in the central directory are inconsistent (corrupt archive)`);

    const { dataStart, extent } = localExtent(zip, view, cd.offset, {
      shown,
      nameBytes,
      flags,
      crc,
      compressedSize,
      localOffset,
    });
    if (u16(localOffset + 8) !== method || ((u16(localOffset + 6) ^ flags) & 0x41) !== 0)
      bad(`${shown}: local header disagrees with the central directory (corrupt or tampered archive)`);
    extents.push(extent);
    entries.push({ path, shown, method, crc, compressedSize, size, localOffset, dataStart });
  }
  if (p !== end) bad("the central directory is corrupt (its size does not match its entries)");

  if (entries.length === 0) bad("the package contains no files");
  // "a" and "a/b" cannot both be extracted: no file may be the parent of another entry.
  for (const key of [...fileKeys.keys(), ...dirKeys]) {
    for (let i = key.indexOf("/"); i !== -1; i = key.indexOf("/", i + 1)) {
      const file = fileKeys.get(key.slice(0, i));
      if (file !== undefined) bad(`${JSON.stringify(file)} is both a file and a directory`);
    }
  }
  checkTiling(view, extents, cd.offset);
  return entries;
}

/** Where one entry's local record lies: from its header to the end of its data. */
interface Extent {
  shown: string;
  start: number;
  dataEnd: number;
  /** flag bit 3: a data descriptor (CRC-32 and sizes) follows the data */
  descriptor: boolean;
  crc: number;
}

/** Checks an entry's local header (present, same name, data inside the archive); returns its extent. */
function localExtent(
  zip: Uint8Array,
  view: DataView,
  cdOffset: number,
  e: {
    shown: string;
    nameBytes: Uint8Array;
    flags: number;
    crc: number;
    compressedSize: number;
    localOffset: number;
  },
): { dataStart: number; extent: Extent } {
  const { shown, localOffset } = e;
  if (localOffset + 30 > cdOffset || view.getUint32(localOffset, true) !== 0x04034b50)
    bad(`${shown}: local file header missing (corrupt archive)`);
  const localNameLength = view.getUint16(localOffset + 26, true);
  const dataStart = localOffset + 30 + localNameLength + view.getUint16(localOffset + 28, true);
  if (!sameBytes(zip.subarray(localOffset + 30, localOffset + 30 + localNameLength), e.nameBytes))
    bad(`${shown}: local header names a different path (corrupt or tampered archive)`);
  const dataEnd = dataStart + e.compressedSize;
  if (dataEnd > cdOffset) bad(`${shown}: data runs past the end of the archive (truncated)`);
  return {
    dataStart,
    extent: { shown, start: localOffset, dataEnd, descriptor: (e.flags & 0x08) !== 0, crc: e.crc },
  };
}

/**
 * The local records must fill [0, cdOffset) exactly, in order: overlapping records share bytes
 * (a zip bomb trick); a gap before the first, between two or after the last is data no entry
 * accounts for: a second archive or a payload prepended or slipped in, which a reader that scans
 * local headers instead of the central directory would unpack and this inspection would not.
 */
function checkTiling(view: DataView, extents: Extent[], cdOffset: number): void {
  const sorted = [...extents].sort((a, b) => a.start - b.start);
  let previous: Extent | undefined;
  for (let i = 0; i <= sorted.length; i++) {
    const extent = sorted[i];
    const next = extent ? extent.start : cdOffset;
    if (previous && extent && previous.dataEnd > next)
      bad(`${extent.shown} overlaps ${previous.shown} (entries sharing data are a zip bomb trick)`);
    const end = !previous ? 0 : hasDescriptor(view, previous, next) ? next : previous.dataEnd;
    const gap = next - end;
    if (gap > 0) {
      bad(
        previous
          ? `${gap} bytes after ${previous.shown} belong to no entry (hidden data or a second archive inside)`
          : `${gap} bytes before the first entry belong to no entry (another archive or data prepended)`,
      );
    }
    previous = extent;
  }
}

/** Whether the bytes from an entry's data to `next` are exactly its data descriptor. */
function hasDescriptor(view: DataView, extent: Extent, next: number): boolean {
  const room = next - extent.dataEnd;
  if (!extent.descriptor || room < 12) return false;
  // An optional signature, the CRC-32, then 32- or 64-bit sizes (APPNOTE 4.3.9).
  const signed = view.getUint32(extent.dataEnd, true) === 0x08074b50;
  const crcAt = extent.dataEnd + (signed ? 4 : 0);
  return (
    (room === (signed ? 16 : 12) || room === (signed ? 24 : 20)) && view.getUint32(crcAt, true) === extent.crc
  );
}

function findCentralDirectory(view: DataView): { offset: number; size: number; count: number } {
  const length = view.byteLength;
  // The end record's comment (at most 65535 bytes) runs to the last byte. Of several records that
  // do, the first is the archive's: the others lie in its comment. Failing that, the last record
  // whose comment fits tells how many bytes were appended.
  let i = -1;
  let appended = -1;
  for (let at = length - 22; at >= Math.max(0, length - 22 - 0xffff); at--) {
    if (view.getUint32(at, true) !== 0x06054b50) continue;
    const end = at + 22 + view.getUint16(at + 20, true);
    if (end === length) i = at;
    else if (end < length && appended < 0) appended = length - end;
  }
  if (i < 0 && appended > 0)
    bad(`${appended} bytes after the end of the archive (data or a second archive appended)`);
  if (i < 0) bad("not a zip archive, or truncated (no end of central directory record)");
  if (hidesRecords(new Uint8Array(view.buffer, view.byteOffset + i + 22, length - i - 22)))
    bad("the archive comment holds zip records (a second archive hidden in it)");
  if (view.getUint16(i + 4, true) !== 0 || view.getUint16(i + 6, true) !== 0)
    bad("multi-disk zip archives are not supported");
  let [count, size, offset] = [
    view.getUint16(i + 10, true),
    view.getUint32(i + 12, true),
    view.getUint32(i + 16, true),
  ];
  let limit = i;
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const at = i >= 20 && view.getUint32(i - 20, true) === 0x07064b50 ? readU64(view, i - 12) : -1;
    if (
      at < 0 ||
      at + 56 > i - 20 ||
      view.getUint32(at, true) !== 0x06064b50 ||
      at + 12 + readU64(view, at + 4) !== i - 20
    )
      bad("the ZIP64 end of central directory record is missing or corrupt");
    [count, size, offset, limit] = [
      readU64(view, at + 32),
      readU64(view, at + 40),
      readU64(view, at + 48),
      at,
    ];
  }
  if (offset + size > limit) bad("the central directory lies outside the archive (truncated or corrupt)");
  // The central directory ends where its end record starts. A gap means bytes were added: before
  // the archive (its offsets then point short of where the directory really is) or in between.
  const gap = limit - (offset + size);
  if (gap > 0) {
    if (size > 0 && view.getUint32(limit - size, true) === 0x02014b50)
      bad(`${gap} bytes before the archive (another archive or data prepended)`);
    bad(`${gap} bytes before the end record belong to no entry (hidden data)`);
  }
  return { offset, size, count };
}

/** Whether `bytes` hold a zip record signature ("PK" 1 2, 3 4, 5 6, 6 6, 6 7). */
function hidesRecords(bytes: Uint8Array): boolean {
  for (let j = 0; j + 3 < bytes.length; j++) {
    if (bytes[j] !== 0x50 || bytes[j + 1] !== 0x4b) continue;
    const [a, b] = [bytes[j + 2], bytes[j + 3]];
    if (
      (a === 1 && b === 2) ||
      (a === 3 && b === 4) ||
      (a === 5 && b === 6) ||
      (a === 6 && (b === 6 || b === 7))
    )
      return true;
  }
  return false;
}

/** Replaces 0xffffffff sizes and offset from the ZIP64 extra field (id 1), in the spec's order. */
function readZip64Extra(
  view: DataView,
  start: number,
  length: number,
  values: [number, number, number],
): [number, number, number] {
  if (!values.includes(0xffffffff)) return values;
  for (let p = start; p + 4 <= start + length; p += 4 + view.getUint16(p + 2, true)) {
    if (view.getUint16(p, true) !== 1) continue;
    const fieldEnd = Math.min(p + 4 + view.getUint16(p + 2, true), start + length);
    let q = p + 4;
    const out = values.map((v) => {
      if (v !== 0xffffffff) return v;
      if (q + 8 > fieldEnd) bad("a ZIP64 extra field is truncated (corrupt archive)");
      q += 8;
      return readU64(view, q - 8);
    });
    return [out[0]!, out[1]!, out[2]!];
  }
  bad("an entry needs a ZIP64 extra field but has none (corrupt archive)");
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Characters that change how a name displays without being seen: the bidirectional controls
 * (embeddings, overrides, isolates and marks: "invoice\u202Efdp.exe" shows as "invoiceexe.pdf",
 * the Trojan Source trick, CVE-2021-42574), every default-ignorable code point (zero-width
 * characters U+200B–U+200D, U+2060, U+FEFF, the soft hyphen, variation selectors, Hangul fillers,
 * tag characters...: two names that look the same) and the line and paragraph separators.
 */
const INVISIBLE_CLASS = String.raw`\p{Bidi_Control}\p{Default_Ignorable_Code_Point}\u2028\u2029`;
const INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, "u");
const SHOWN_ESCAPED = new RegExp(String.raw`[\u007f-\u009f${INVISIBLE_CLASS}]`, "gu");

/** A path as messages show it: JSON-quoted, with invisible and C1 control characters as \uXXXX. */
function showPath(path: string): string {
  return JSON.stringify(path).replace(
    SHOWN_ESCAPED,
    (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`,
  );
}

const codePoint = (c: string) => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

function checkPath(raw: Uint8Array, maxPathLength: number): { path: string; isDirectory: boolean } {
  let path: string;
  try {
    path = UTF8.decode(raw);
  } catch {
    bad(
      `a path is not valid UTF-8 (bytes ${[...raw.subarray(0, 32)].map((b) => b.toString(16).padStart(2, "0")).join(" ")})`,
    );
  }
  const shown = showPath(path);
  if (raw.length === 0) bad("an entry has an empty path");
  if (raw.length > maxPathLength) bad(`${shown}: path is longer than ${maxPathLength} bytes`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(path)) bad(`${shown}: path contains NUL or control characters`);
  const invisible = INVISIBLE.exec(path);
  if (invisible)
    bad(
      `${shown}: path contains an invisible or bidirectional-control character (${codePoint(invisible[0])}) that can make a name look like another`,
    );
  if (path.includes("\\")) bad(`${shown}: path contains a backslash`);
  if (path.startsWith("/")) bad(`${shown}: absolute paths are not allowed`);
  if (/^[A-Za-z]:/.test(path)) bad(`${shown}: path starts with a drive letter`);
  const isDirectory = path.endsWith("/");
  for (const segment of (isDirectory ? path.slice(0, -1) : path).split("/")) {
    if (segment === "") bad(`${shown}: path has an empty segment`);
    if (segment === "..") bad(`${shown}: path has a ".." segment (path traversal)`);
    if (segment === ".") bad(`${shown}: path has a "." segment`);
  }
  return { path, isDirectory };
}

/** Inflates one entry, checking limits after every step so a bomb is stopped early. */
function unpack(zip: Uint8Array, entry: Entry, lim: PackageLimits, budget: number): Uint8Array {
  const { shown } = entry;
  const source = zip.subarray(entry.dataStart, entry.dataStart + entry.compressedSize);
  const chunks: Uint8Array[] = [];
  let produced = 0;
  let crc = 0xffffffff;
  const take = (chunk: Uint8Array) => {
    produced += chunk.length;
    if (produced > lim.maxFileBytes)
      bad(`${shown}: larger than the ${formatBytes(lim.maxFileBytes)} per-file limit`);
    if (produced > budget)
      bad(`the package unpacks to more than ${formatBytes(lim.maxUnpackedBytes)} in total (at ${shown})`);
    if (produced > RATIO_EXEMPT_BYTES && produced > lim.maxRatio * entry.compressedSize)
      bad(`${shown}: compression ratio above ${lim.maxRatio} (zip bomb?)`);
    crc = crc32Update(crc, chunk);
    if (chunk.length) chunks.push(chunk);
  };
  if (entry.method === 0) {
    take(source);
  } else {
    const inflater = new Inflate(take);
    try {
      for (let i = 0; i < source.length; i += INFLATE_STEP)
        inflater.push(source.subarray(i, i + INFLATE_STEP), i + INFLATE_STEP >= source.length);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      bad(`${shown}: compressed data is corrupt (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (produced !== entry.size)
    bad(`${shown}: unpacked to ${produced} bytes but the archive says ${entry.size} (corrupt archive)`);
  if (crc32Final(crc) !== entry.crc) bad(`${shown}: CRC-32 mismatch (corrupt archive)`);
  return concat(chunks, produced);
}

function bad(message: string): never {
  throw new ApiError("bad_package", message);
}

function resolveLimits(limits: Partial<PackageLimits>): PackageLimits {
  const out = { ...DEFAULT_PACKAGE_LIMITS };
  for (const key of Object.keys(out) as (keyof PackageLimits)[]) {
    const value = limits[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function readU64(view: DataView, at: number): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    bad("a ZIP64 size or offset is out of range (corrupt archive)");
  return Number(value);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

export function formatBytes(n: number): string {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
