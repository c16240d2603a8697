/**
 * Incremental packages (PRODUCT.md D3): the format, how an increment is planned from two file
 * lists, and how a client applies one. Pure: the zstd codec is passed in, so the control plane
 * (WASM build in workerd), the reference client (Node's zlib) and the benchmark share this code.
 * docs/increments.md explains the choice.
 *
 * An increment turns the files of one version (the base) into the files of another. It is one
 * object, content-addressed in R2 (`increments/{sha256}`):
 *
 *   bytes 0..7   magic "GCINC\x00\x00\x02"
 *   bytes 8..39  files digest of the base (SHA-256, raw)
 *   bytes 40..71 files digest of the target
 *   bytes 72..75 decompressed size of the frame, unsigned 32-bit big-endian
 *   byte  76     zstd level (informational)
 *   the rest     one zstd frame, made with the base's files (sorted by path, concatenated) as a
 *                raw-content dictionary (zstd's `--patch-from` model). It decompresses to:
 *                  u32 big-endian plan length L, the plan (UTF-8 JSON, IncrementPlan), then the
 *                  bytes of every file the plan lists as changed, in plan order.
 *
 * The plan names only what differs from the base (removed paths, files copied from another base
 * path, files whose bytes follow), so an increment between two versions that differ in a few
 * files stays small however many files they have. Every file that is not named keeps its bytes.
 *
 * Applying one gives byte-identical files or fails: the base is checked against `from.files`
 * before anything is decoded, and the digest of the result (every path, size and SHA-256)
 * against `to.files`, which the signed manifest names. A client falls back to the full package
 * on any failure.
 */

export const INCREMENT_MAGIC = new Uint8Array([0x47, 0x43, 0x49, 0x4e, 0x43, 0x00, 0x00, 0x02]);
/** Bytes before the frame: magic, two digests, content size, level. */
export const PRELUDE_BYTES = 77;

/** One regular file of a package, as the control plane lists it (sorted by path). */
export interface FileEntry {
  path: string;
  size: number;
  /** lowercase hex SHA-256 of the file's bytes */
  sha256: string;
}

/** What the frame's plan says, relative to the base. */
export interface IncrementPlan {
  /** base paths the target does not have */
  removed: string[];
  /** target files whose bytes are those of another base file: [path, base path] */
  copied: [string, string][];
  /** target files whose bytes follow in the frame, in this order: [path, size] */
  changed: [string, number][];
}

/** The prelude: readable before anything is decoded. Digests are lowercase hex here. */
export interface IncrementHeader {
  from: { files: string };
  to: { files: string };
  /** decompressed size of the frame: 4 + plan length + the sizes of the changed files */
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

const identity = (f: FileEntry) => `${f.sha256}:${f.size}`;

/**
 * What differs: base files the target lacks, target files whose bytes some other base file has
 * (copied), and target files whose bytes must travel (changed, in path order). A target file
 * with the same path and bytes as in the base is not named at all.
 */
export function planIncrement(base: readonly FileEntry[], target: readonly FileEntry[]): IncrementPlan {
  const byIdentity = new Map<string, string>();
  for (const f of [...base].sort(byPath)) if (!byIdentity.has(identity(f))) byIdentity.set(identity(f), f.path);
  const basePaths = new Map(base.map((f) => [f.path, f]));
  const targetPaths = new Set(target.map((f) => f.path));
  const plan: IncrementPlan = { removed: [], copied: [], changed: [] };
  for (const f of [...base].sort(byPath)) if (!targetPaths.has(f.path)) plan.removed.push(f.path);
  for (const f of [...target].sort(byPath)) {
    const own = basePaths.get(f.path);
    if (own && identity(own) === identity(f)) continue;
    const from = byIdentity.get(identity(f));
    if (from !== undefined) plan.copied.push([f.path, from]);
    else plan.changed.push([f.path, f.size]);
  }
  return plan;
}

export interface BuildIncrementInput {
  from: { files: readonly FileEntry[]; bytesOf: (path: string) => Uint8Array };
  to: { files: readonly FileEntry[]; bytesOf: (path: string) => Uint8Array };
  /** zstd level; by default `incrementLevel` of the dictionary and content sizes */
  level?: number;
  compress: Compress;
  sha256: Sha256Hex;
}

/** Builds an increment object (see the file comment for the layout). */
export async function buildIncrement(input: BuildIncrementInput): Promise<{ bytes: Uint8Array; header: IncrementHeader; plan: IncrementPlan }> {
  const plan = planIncrement(input.from.files, input.to.files);
  const planJson = new TextEncoder().encode(JSON.stringify(plan));
  let contentSize = 4 + planJson.byteLength;
  for (const [, size] of plan.changed) contentSize += size;
  const content = new Uint8Array(contentSize);
  new DataView(content.buffer).setUint32(0, planJson.byteLength);
  content.set(planJson, 4);
  let at = 4 + planJson.byteLength;
  for (const [path, size] of plan.changed) {
    const bytes = input.to.bytesOf(path);
    if (bytes.byteLength !== size) throw new Error(`${path}: size differs from the file list`);
    content.set(bytes, at);
    at += size;
  }
  const dictionary = baseDictionary(input.from.files, input.from.bytesOf);
  const level = input.level ?? incrementLevel(dictionary.byteLength, contentSize);
  const frame = await input.compress(content, dictionary, level);
  const header: IncrementHeader = {
    from: { files: await filesDigest(input.from.files, input.sha256) },
    to: { files: await filesDigest(input.to.files, input.sha256) },
    contentSize,
    level,
  };
  return { bytes: encodeIncrement(header, frame), header, plan };
}

const hexToBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const bytesToHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const isHex64 = (s: unknown) => typeof s === "string" && /^[0-9a-f]{64}$/.test(s);
const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export function encodeIncrement(header: IncrementHeader, frame: Uint8Array): Uint8Array {
  if (!isHex64(header.from.files) || !isHex64(header.to.files)) throw new Error("increment digests must be hex SHA-256");
  const out = new Uint8Array(PRELUDE_BYTES + frame.byteLength);
  const view = new DataView(out.buffer);
  out.set(INCREMENT_MAGIC, 0);
  out.set(hexToBytes(header.from.files), 8);
  out.set(hexToBytes(header.to.files), 40);
  view.setUint32(72, header.contentSize);
  view.setUint8(76, header.level);
  out.set(frame, PRELUDE_BYTES);
  return out;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new IncrementError("corrupt", `the increment's ${what} is not JSON`);
  }
}

/** Splits an increment into prelude and frame. */
export function decodeIncrement(bytes: Uint8Array): { header: IncrementHeader; frame: Uint8Array } {
  const bad = (why: string) => new IncrementError("malformed", `not a valid increment: ${why}`);
  if (bytes.byteLength <= PRELUDE_BYTES) throw bad("too short");
  for (let i = 0; i < INCREMENT_MAGIC.length; i++) if (bytes[i] !== INCREMENT_MAGIC[i]) throw bad("wrong magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header: IncrementHeader = {
    from: { files: bytesToHex(bytes.subarray(8, 40)) },
    to: { files: bytesToHex(bytes.subarray(40, 72)) },
    contentSize: view.getUint32(72),
    level: view.getUint8(76),
  };
  if (header.contentSize < 4) throw bad("content size out of range");
  return { header, frame: bytes.subarray(PRELUDE_BYTES) };
}

/** Reads and checks the plan at the start of the decompressed frame. */
function readPlan(content: Uint8Array, base: ReadonlyMap<string, FileEntry>): { plan: IncrementPlan; dataStart: number } {
  const bad = (why: string) => new IncrementError("corrupt", `the increment's plan is invalid: ${why}`);
  const length = new DataView(content.buffer, content.byteOffset, content.byteLength).getUint32(0);
  if (4 + length > content.byteLength) throw bad("length out of range");
  const plan = parseJson(content.subarray(4, 4 + length), "plan") as IncrementPlan;
  if (plan === null || typeof plan !== "object" || !Array.isArray(plan.removed) || !Array.isArray(plan.copied) || !Array.isArray(plan.changed)) throw bad("shape");
  const named = new Set<string>();
  let data = 0;
  for (const path of plan.removed) if (typeof path !== "string" || !base.has(path)) throw bad("removes a file the base does not have");
  for (const entry of plan.copied) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "string" || !base.has(entry[1])) throw bad("copies from a file the base does not have");
    if (named.has(entry[0])) throw bad("names a path twice");
    named.add(entry[0]);
  }
  for (const entry of plan.changed) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isSize(entry[1])) throw bad("changed entry");
    if (named.has(entry[0])) throw bad("names a path twice");
    named.add(entry[0]);
    data += entry[1];
  }
  if (4 + length + data !== content.byteLength) throw bad("sizes do not add up to the frame");
  return { plan, dataStart: 4 + length };
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
 * Applies an increment to the installed files. Returns the target's files, verified against the
 * signed digest; throws IncrementError (and changes nothing: the caller's files are only read)
 * when the increment is for another base, malformed, or yields other files than the manifest
 * names.
 */
export async function applyIncrement(input: ApplyIncrementInput): Promise<{ files: FileEntry[]; bytes: Map<string, Uint8Array> }> {
  const { header, frame } = decodeIncrement(input.increment);
  const baseDigest = await filesDigest(input.base, input.sha256);
  if (header.from.files !== input.expect.from || baseDigest !== input.expect.from) {
    throw new IncrementError("wrong_base", "the increment was made for another base than the installed version");
  }
  if (header.to.files !== input.expect.to) throw new IncrementError("corrupt", "the increment does not produce the version the manifest names");
  // The installed bytes must be what the list says: unchanged and copied files are carried over
  // from them, so a file altered on disk must not slip into the new version as verified.
  for (const f of input.base) {
    const data = input.bytesOf(f.path);
    if (data.byteLength !== f.size || (await input.sha256(data)) !== f.sha256) {
      throw new IncrementError("wrong_base", `${JSON.stringify(f.path)}: the installed file differs from its verified list`);
    }
  }
  let content: Uint8Array;
  try {
    content = await input.decompress(frame, baseDictionary(input.base, input.bytesOf), header.contentSize);
  } catch (e) {
    if (e instanceof IncrementError) throw e;
    throw new IncrementError("corrupt", "the increment's frame does not decode");
  }
  if (content.byteLength !== header.contentSize) throw new IncrementError("corrupt", "the increment decodes to the wrong size");

  const base = new Map(input.base.map((f) => [f.path, f]));
  const { plan, dataStart } = readPlan(content, base);
  const result = new Map<string, { entry: FileEntry; data: Uint8Array }>();
  const removed = new Set(plan.removed);
  for (const f of input.base) if (!removed.has(f.path)) result.set(f.path, { entry: f, data: input.bytesOf(f.path) });
  for (const [path, from] of plan.copied) {
    const source = base.get(from)!;
    result.set(path, { entry: { path, size: source.size, sha256: source.sha256 }, data: input.bytesOf(from) });
  }
  let at = dataStart;
  for (const [path, size] of plan.changed) {
    const data = content.subarray(at, at + size);
    at += size;
    result.set(path, { entry: { path, size, sha256: await input.sha256(data) }, data });
  }
  const files = [...result.values()].map((r) => r.entry).sort(byPath);
  // The signed digest covers every path, size and hash: one comparison proves every byte.
  if ((await filesDigest(files, input.sha256)) !== input.expect.to) throw new IncrementError("corrupt", "the result differs from the signed file list");
  return { files, bytes: new Map([...result].map(([path, r]) => [path, r.data])) };
}

/**
 * zstd level by how much must be held in memory (dictionary + content): the Worker that builds
 * increments has 128 MB in all, and zstd's tables grow with the level and the window. Measured
 * with the WASM build (BENCHMARKS.md): level 18 is within 1-3% of 19 in size at about two
 * thirds of its memory.
 */
export function incrementLevel(dictionaryBytes: number, contentBytes: number): number {
  const total = dictionaryBytes + contentBytes;
  if (total <= 12 * 1024 * 1024) return 18;
  return 9;
}

export const incrementKey = (sha256: string) => `increments/${sha256}`;
