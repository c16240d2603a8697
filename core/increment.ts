/**
 * Incremental packages (PRODUCT.md D3): the format, how an increment is planned from two file
 * lists, and how a client applies one. Pure: the zstd codec is passed in, so the control plane
 * (WASM build in workerd), the reference client (Node's zlib) and the benchmark share this code.
 *
 * An increment turns the files of one version (the base) into the files of another. It is one
 * object, content-addressed in R2 (`increments/{sha256}`):
 *
 *   bytes 0..7   magic "GCINC\x00\x00\x01"
 *   bytes 8..11  header length H, unsigned 32-bit big-endian
 *   next H bytes header, UTF-8 JSON (IncrementHeader)
 *   the rest     one zstd frame: the bytes of every file the base lacks, in header order,
 *                compressed with the base's files (sorted by path, concatenated) as a raw
 *                content dictionary; this is zstd's `--patch-from` model. Empty when nothing
 *                new is needed.
 *
 * Applying one gives byte-identical files or fails: the base is checked against `from.files`
 * before anything is decoded, every produced file against its SHA-256, and the whole list
 * against `to.files`, which the signed manifest names. A client falls back to the full package
 * on any failure.
 */

export const INCREMENT_MAGIC = new Uint8Array([0x47, 0x43, 0x49, 0x4e, 0x43, 0x00, 0x00, 0x01]);
export const INCREMENT_FORMAT = "graycast-increment/1";
/** Headers above this are refused before parsing (a 5,000-file list is well under 1 MiB). */
export const MAX_INCREMENT_HEADER_BYTES = 4 * 1024 * 1024;

/** One regular file of a package, as the control plane lists it (sorted by path). */
export interface FileEntry {
  path: string;
  size: number;
  /** lowercase hex SHA-256 of the file's bytes */
  sha256: string;
}

export interface IncrementFile extends FileEntry {
  /** path of a base file with exactly these bytes; absent: the bytes come next from the frame */
  from?: string;
}

export interface IncrementHeader {
  format: typeof INCREMENT_FORMAT;
  appId: string;
  from: { version: string; files: string };
  to: { version: string; files: string };
  /** every file of the target version, sorted by path */
  files: IncrementFile[];
  /** decompressed size of the frame: the sum of the sizes of files without `from` */
  contentSize: number;
  /** zstd level the frame was made with (informational) */
  level: number;
}

export type Compress = (content: Uint8Array, dictionary: Uint8Array, level: number) => Uint8Array | Promise<Uint8Array>;
export type Decompress = (frame: Uint8Array, dictionary: Uint8Array, contentSize: number) => Uint8Array | Promise<Uint8Array>;
export type Sha256Hex = (data: Uint8Array) => Promise<string>;

/** Why applying an increment failed; the client then downloads the full package. */
export type IncrementFailure = "malformed" | "wrong_base" | "corrupt";

export class IncrementError extends Error {
  constructor(
    readonly reason: IncrementFailure,
    message: string,
  ) {
    super(message);
    this.name = "IncrementError";
  }
}

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The digest of a file list that manifests, increments and developer signatures name
 * (`filesSha256`): SHA-256 of the JSON array of `[path, size, sha256]` triples sorted by path.
 * It names what runs, independent of how the zip was encoded.
 */
export async function filesDigest(files: readonly FileEntry[], sha256: Sha256Hex): Promise<string> {
  const canonical = [...files].sort(byPath).map((f) => [f.path, f.size, f.sha256]);
  return sha256(new TextEncoder().encode(JSON.stringify(canonical)));
}

/** The dictionary an increment from `base` is made and applied with: base files by path. */
export function baseDictionary(base: readonly FileEntry[], bytesOf: (path: string) => Uint8Array): Uint8Array {
  const sorted = [...base].sort(byPath);
  let total = 0;
  for (const f of sorted) total += f.size;
  const out = new Uint8Array(total);
  let at = 0;
  for (const f of sorted) {
    const bytes = bytesOf(f.path);
    if (bytes.byteLength !== f.size) throw new IncrementError("wrong_base", `${JSON.stringify(f.path)}: the installed file has the wrong size`);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  return out;
}

/**
 * Which target files the base already holds (same bytes, any path) and which must travel.
 * A file whose bytes exist in the base under its own path keeps that path as `from`.
 */
export function planIncrement(base: readonly FileEntry[], target: readonly FileEntry[]): { files: IncrementFile[]; contentSize: number } {
  const byHash = new Map<string, string>();
  for (const f of [...base].sort(byPath)) if (!byHash.has(`${f.sha256}:${f.size}`)) byHash.set(`${f.sha256}:${f.size}`, f.path);
  const samePath = new Map(base.map((f) => [f.path, f]));
  let contentSize = 0;
  const files = [...target].sort(byPath).map((f): IncrementFile => {
    const own = samePath.get(f.path);
    const from = own && own.sha256 === f.sha256 && own.size === f.size ? own.path : byHash.get(`${f.sha256}:${f.size}`);
    if (from !== undefined) return { path: f.path, size: f.size, sha256: f.sha256, from };
    contentSize += f.size;
    return { path: f.path, size: f.size, sha256: f.sha256 };
  });
  return { files, contentSize };
}

export interface BuildIncrementInput {
  appId: string;
  from: { version: string; files: readonly FileEntry[]; bytesOf: (path: string) => Uint8Array };
  to: { version: string; files: readonly FileEntry[]; bytesOf: (path: string) => Uint8Array };
  level: number;
  compress: Compress;
  sha256: Sha256Hex;
}

/** Builds an increment object (see the file comment for the layout). */
export async function buildIncrement(input: BuildIncrementInput): Promise<{ bytes: Uint8Array; header: IncrementHeader }> {
  const { files, contentSize } = planIncrement(input.from.files, input.to.files);
  const content = new Uint8Array(contentSize);
  let at = 0;
  for (const f of files) {
    if (f.from !== undefined) continue;
    const bytes = input.to.bytesOf(f.path);
    if (bytes.byteLength !== f.size) throw new Error(`${f.path}: size differs from the file list`);
    content.set(bytes, at);
    at += bytes.byteLength;
  }
  const frame = contentSize === 0 ? new Uint8Array(0) : await input.compress(content, baseDictionary(input.from.files, input.from.bytesOf), input.level);
  const header: IncrementHeader = {
    format: INCREMENT_FORMAT,
    appId: input.appId,
    from: { version: input.from.version, files: await filesDigest(input.from.files, input.sha256) },
    to: { version: input.to.version, files: await filesDigest(input.to.files, input.sha256) },
    files,
    contentSize,
    level: input.level,
  };
  return { bytes: encodeIncrement(header, frame), header };
}

export function encodeIncrement(header: IncrementHeader, frame: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(INCREMENT_MAGIC.length + 4 + json.byteLength + frame.byteLength);
  out.set(INCREMENT_MAGIC, 0);
  new DataView(out.buffer).setUint32(INCREMENT_MAGIC.length, json.byteLength);
  out.set(json, INCREMENT_MAGIC.length + 4);
  out.set(frame, INCREMENT_MAGIC.length + 4 + json.byteLength);
  return out;
}

const isHex64 = (s: unknown) => typeof s === "string" && /^[0-9a-f]{64}$/.test(s);

/** Splits an increment into header and frame, checking the header's shape. */
export function decodeIncrement(bytes: Uint8Array): { header: IncrementHeader; frame: Uint8Array } {
  const bad = (why: string) => new IncrementError("malformed", `not a valid increment: ${why}`);
  if (bytes.byteLength < INCREMENT_MAGIC.length + 4) throw bad("too short");
  for (let i = 0; i < INCREMENT_MAGIC.length; i++) if (bytes[i] !== INCREMENT_MAGIC[i]) throw bad("wrong magic");
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(INCREMENT_MAGIC.length);
  const start = INCREMENT_MAGIC.length + 4;
  if (length > MAX_INCREMENT_HEADER_BYTES || start + length > bytes.byteLength) throw bad("header length out of range");
  let header: IncrementHeader;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes.subarray(start, start + length))) as IncrementHeader;
  } catch {
    throw bad("header is not JSON");
  }
  if (header === null || typeof header !== "object" || header.format !== INCREMENT_FORMAT) throw bad("unknown format");
  if (!isHex64(header.from?.files) || !isHex64(header.to?.files) || !Array.isArray(header.files)) throw bad("header fields");
  let contentSize = 0;
  let previous: string | undefined;
  for (const f of header.files) {
    if (typeof f?.path !== "string" || !Number.isSafeInteger(f.size) || f.size < 0 || !isHex64(f.sha256)) throw bad("file entry");
    if (previous !== undefined && !(previous < f.path)) throw bad("files not sorted by path");
    previous = f.path;
    if (f.from === undefined) contentSize += f.size;
    else if (typeof f.from !== "string") throw bad("file entry");
  }
  if (contentSize !== header.contentSize) throw bad("content size does not match the file list");
  return { header, frame: bytes.subarray(start + length) };
}

export interface ApplyIncrementInput {
  increment: Uint8Array;
  /** the installed version's files */
  base: readonly FileEntry[];
  bytesOf: (path: string) => Uint8Array;
  /** `filesSha256` the signed manifest names for the base and for the target */
  expect: { from: string; to: string };
  decompress: Decompress;
  sha256: Sha256Hex;
}

/**
 * Applies an increment to the installed files. Returns the target's files, each verified; throws
 * IncrementError (and changes nothing: the caller's files are only read) when the increment is
 * for another base, malformed, or yields other bytes than the signed file list says.
 */
export async function applyIncrement(input: ApplyIncrementInput): Promise<{ files: FileEntry[]; bytes: Map<string, Uint8Array> }> {
  const { header, frame } = decodeIncrement(input.increment);
  const baseDigest = await filesDigest(input.base, input.sha256);
  if (header.from.files !== input.expect.from || baseDigest !== input.expect.from) {
    throw new IncrementError("wrong_base", "the increment was made for another base than the installed version");
  }
  if (header.to.files !== input.expect.to) throw new IncrementError("corrupt", "the increment does not produce the version the manifest names");
  const installed = new Set(input.base.map((f) => f.path));
  let content: Uint8Array = new Uint8Array(0);
  if (header.contentSize > 0) {
    try {
      content = await input.decompress(frame, baseDictionary(input.base, input.bytesOf), header.contentSize);
    } catch (e) {
      if (e instanceof IncrementError) throw e;
      throw new IncrementError("corrupt", "the increment's frame does not decode");
    }
    if (content.byteLength !== header.contentSize) throw new IncrementError("corrupt", "the increment decodes to the wrong size");
  }
  const bytes = new Map<string, Uint8Array>();
  const files: FileEntry[] = [];
  let at = 0;
  for (const f of header.files) {
    let data: Uint8Array;
    if (f.from !== undefined) {
      if (!installed.has(f.from)) throw new IncrementError("wrong_base", `${JSON.stringify(f.from)} is not an installed file`);
      data = input.bytesOf(f.from);
    } else {
      data = content.subarray(at, at + f.size);
      at += f.size;
    }
    if (data.byteLength !== f.size || (await input.sha256(data)) !== f.sha256) {
      throw new IncrementError("corrupt", `${JSON.stringify(f.path)}: the result differs from the signed file list`);
    }
    bytes.set(f.path, data);
    files.push({ path: f.path, size: f.size, sha256: f.sha256 });
  }
  if ((await filesDigest(files, input.sha256)) !== input.expect.to) throw new IncrementError("corrupt", "the result differs from the signed file list");
  return { files, bytes };
}

/**
 * zstd parameters by how much must be held in memory (dictionary + content): the Worker that
 * builds increments has 128 MB in all, and level 19 needs roughly 10x its window in tables.
 */
export function incrementLevel(dictionaryBytes: number, contentBytes: number): number {
  const total = dictionaryBytes + contentBytes;
  if (total <= 8 * 1024 * 1024) return 19;
  if (total <= 24 * 1024 * 1024) return 12;
  return 6;
}

export const incrementKey = (sha256: string) => `increments/${sha256}`;
