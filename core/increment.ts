/**
 * Incremental packages (PRODUCT.md D3): the format, how an increment is planned from two file
 * lists, and how a client applies one. Pure: the zstd codec is passed in, so the control plane
 * (WASM build in workerd), the reference client (Node's zlib) and the benchmark share this code.
 * docs/increments.md explains the choice.
 *
 * An increment turns the files of one version (the base) into the files of another. It is one
 * object, content-addressed in R2 (`increments/{sha256}`):
 *
 *   bytes 0..7   magic "GCINC\x00\x00\x03"
 *   bytes 8..15  the first 8 bytes of the base's files digest (SHA-256)
 *   bytes 16..23 the first 8 bytes of the target's files digest
 *   bytes 24..27 byte length of the plan frame (u32, big-endian)
 *   bytes 28..31 decompressed size of the plan (u32)
 *   bytes 32..35 decompressed size of the content frame (u32)
 *   byte  36     zstd level (informational)
 *   then         the plan frame: zstd of the plan (UTF-8 JSON, IncrementPlan), with the base's
 *                paths (sorted, "\n"-separated) as dictionary: the plan mostly names them
 *   the rest     the content frame (empty when nothing changed): zstd of the bytes of every file
 *                the plan lists as changed, in plan order, with the base's files as a raw-content
 *                dictionary (zstd's `--patch-from` model).
 *
 * The plan names only what differs from the base (removed paths, files copied from another base
 * path, files whose bytes follow), so an increment between two versions that differ in a few
 * files stays small however many files they have. Every file that is not named keeps its bytes.
 *
 * The dictionary is the base's files in path order, except that the base files at the paths the
 * plan changes come last, in plan order; of that, the last DICTIONARY_LIMIT bytes. The old bytes
 * of each changed file then sit right before the new ones, well inside zstd's window at any size
 * (a level's window is 8 MiB or less), and the dictionary a builder and a client hold in memory
 * is bounded whatever the package size. Both sides derive the order from the plan, read first.
 *
 * Format 4 ("GCINC\x00\x00\x04", the delta format) carries the same plan in binary and the
 * changed files' bytes as a copy/insert delta (core/delta.ts) against the same ordered base,
 * without the dictionary's size limit; see `encodeDeltaIncrement`. The builder makes both and
 * offers format 4 only to clients that read it (the manifest's `incrementDelta`).
 *
 * Applying one gives byte-identical files or fails: the digest prefixes tell an increment made
 * for another base or target before anything is decoded; the full digest of the result (every
 * path, size and SHA-256) is then checked against the one the signed manifest names (prefixes
 * only route; the signed digests decide). A client falls back to the full package
 * on any failure.
 */

import { ByteReader, ByteWriter, DeltaError, type DeltaSections, diffBytes, patchBytes } from "./delta";

export const INCREMENT_MAGIC = new Uint8Array([0x47, 0x43, 0x49, 0x4e, 0x43, 0x00, 0x00, 0x03]);
/** Format 4, the delta format: the same magic, version byte 4. */
export const DELTA_INCREMENT_MAGIC = new Uint8Array([0x47, 0x43, 0x49, 0x4e, 0x43, 0x00, 0x00, 0x04]);
/** The formats `applyIncrement` reads, by their version byte. */
export const INCREMENT_FORMATS = [3, 4] as const;
export type IncrementFormat = (typeof INCREMENT_FORMATS)[number];
/** Bytes before the frames: magic, two digests, three sizes, level. */
export const PRELUDE_BYTES = 37;
/** Bytes of each digest the prelude carries. */
const PREFIX_BYTES = 8;
/** The dictionary is at most this many bytes (the end of the ordered base). */
export const DICTIONARY_LIMIT = 8 * 1024 * 1024;
/** A plan above this is refused before it is decoded (5,000 paths of 256 bytes fit). */
export const MAX_PLAN_BYTES = 4 * 1024 * 1024;
/** Format 4's source: the end of the ordered base, at most this much (the builder's pairs are smaller). */
export const DELTA_SOURCE_LIMIT = 64 * 1024 * 1024;
/** Format 4 refuses to produce more than this (before allocating anything). */
export const MAX_DELTA_CONTENT_BYTES = 256 * 1024 * 1024;

/** One regular file of a package, as the control plane lists it (sorted by path). */
export interface FileEntry {
  path: string;
  size: number;
  /** lowercase hex SHA-256 of the file's bytes */
  sha256: string;
}

/** The plan (the plan frame's content): what differs from the base. */
export interface IncrementPlan {
  /** base paths the target does not have */
  removed: string[];
  /** target files whose bytes are those of another base file: [path, base path] */
  copied: [string, string][];
  /** target files whose bytes are in the content frame, in this order: [path, size] */
  changed: [string, number][];
}

/** The prelude: readable before anything is decoded. */
export interface IncrementPrelude {
  /** lowercase hex of the first 8 bytes of the base's and the target's files digests */
  fromPrefix: string;
  toPrefix: string;
  /** bytes of the plan frame, and the plan's decompressed size */
  planFrameSize: number;
  planSize: number;
  /** decompressed size of the content frame: the sizes of the changed files */
  contentSize: number;
  /** zstd level the frame was made with (informational) */
  level: number;
}

export type Compress = (
  content: Uint8Array,
  dictionary: Uint8Array,
  level: number,
) => Uint8Array | Promise<Uint8Array>;
export type Decompress = (
  frame: Uint8Array,
  dictionary: Uint8Array,
  contentSize: number,
) => Uint8Array | Promise<Uint8Array>;
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

/**
 * The dictionary an increment from `base` is made and applied with: the base files by path, those
 * at paths the plan changes moved to the end in plan order; the last DICTIONARY_LIMIT bytes.
 */
export function baseDictionary(
  base: readonly FileEntry[],
  bytesOf: (path: string) => Uint8Array,
  plan: Pick<IncrementPlan, "changed">,
  limit = DICTIONARY_LIMIT,
): Uint8Array {
  const changedAt = new Map(plan.changed.map(([path], i) => [path, i]));
  const rest = [...base].filter((f) => !changedAt.has(f.path)).sort(byPath);
  const moved = base
    .filter((f) => changedAt.has(f.path))
    .sort((a, b) => changedAt.get(a.path)! - changedAt.get(b.path)!);
  const ordered = [...rest, ...moved];
  let total = 0;
  for (const f of ordered) total += f.size;
  const size = Math.min(total, limit);
  const out = new Uint8Array(size);
  let skip = total - size;
  let at = 0;
  for (const f of ordered) {
    if (skip >= f.size) {
      skip -= f.size;
      continue;
    }
    const bytes = bytesOf(f.path);
    if (bytes.byteLength !== f.size)
      throw new IncrementError(
        "wrong_base",
        `${JSON.stringify(f.path)}: the installed file has the wrong size`,
      );
    out.set(skip > 0 ? bytes.subarray(skip) : bytes, at);
    at += bytes.byteLength - skip;
    skip = 0;
  }
  return out;
}

/** The plan frame's dictionary: the base's paths, sorted, one per line. */
export function planDictionary(base: readonly FileEntry[]): Uint8Array {
  return new TextEncoder().encode(
    [...base]
      .sort(byPath)
      .map((f) => f.path)
      .join("\n"),
  );
}

const identity = (f: FileEntry) => `${f.sha256}:${f.size}`;

/**
 * What differs: base files the target lacks, target files whose bytes some other base file has
 * (copied), and target files whose bytes must travel (changed, in path order). A target file
 * with the same path and bytes as in the base is not named at all.
 */
export function planIncrement(base: readonly FileEntry[], target: readonly FileEntry[]): IncrementPlan {
  const byIdentity = new Map<string, string>();
  for (const f of [...base].sort(byPath))
    if (!byIdentity.has(identity(f))) byIdentity.set(identity(f), f.path);
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

/** The changed files' bytes, in plan order: what the content frame or the delta produces. */
function contentOf(plan: IncrementPlan, to: BuildIncrementInput["to"]): Uint8Array {
  let contentSize = 0;
  for (const [, size] of plan.changed) contentSize += size;
  const content = new Uint8Array(contentSize);
  let at = 0;
  for (const [path, size] of plan.changed) {
    const bytes = to.bytesOf(path);
    if (bytes.byteLength !== size) throw new Error(`${path}: size differs from the file list`);
    content.set(bytes, at);
    at += size;
  }
  return content;
}

async function prefixes(input: Pick<BuildIncrementInput, "from" | "to" | "sha256">) {
  return {
    fromPrefix: (await filesDigest(input.from.files, input.sha256)).slice(0, PREFIX_BYTES * 2),
    toPrefix: (await filesDigest(input.to.files, input.sha256)).slice(0, PREFIX_BYTES * 2),
  };
}

/** Builds an increment object (see the file comment for the layout). */
export async function buildIncrement(
  input: BuildIncrementInput,
): Promise<{ bytes: Uint8Array; prelude: IncrementPrelude; plan: IncrementPlan }> {
  const plan = planIncrement(input.from.files, input.to.files);
  const planJson = new TextEncoder().encode(JSON.stringify(plan));
  const content = contentOf(plan, input.to);
  const contentSize = content.byteLength;
  const dictionary =
    contentSize > 0 ? baseDictionary(input.from.files, input.from.bytesOf, plan) : new Uint8Array(0);
  const level = input.level ?? incrementLevel(dictionary.byteLength, contentSize);
  const planFrame = await input.compress(planJson, planDictionary(input.from.files), level);
  const contentFrame = contentSize > 0 ? await input.compress(content, dictionary, level) : new Uint8Array(0);
  const prelude: IncrementPrelude = {
    ...(await prefixes(input)),
    planFrameSize: planFrame.byteLength,
    planSize: planJson.byteLength,
    contentSize,
    level,
  };
  return { bytes: encodeIncrement(prelude, planFrame, contentFrame), prelude, plan };
}

// ---------------------------------------------------------------- format 4: the delta format
//
//   bytes 0..7   magic "GCINC\x00\x00\x04"
//   bytes 8..23  the two digest prefixes, as in format 3
//   byte  24     how the content is coded: 0 a copy/insert delta (core/delta.ts), stored;
//                1 the same delta, its ops and literals in one zstd frame (no dictionary);
//                2 one zstd frame against the ordered base (format 3's content frame)
//   then         varints: plan size, plan frame size (0: the plan is stored as is), content
//                size, ops size, literals size (both 0 for coding 2)
//   then         the binary plan: stored, or zstd with the base's paths as dictionary (format 3)
//   the rest     the content section as byte 24 says (empty when there is no content)
//
// The binary plan names base paths by their index in the base's sorted list (a few bits where
// JSON spells the path), and a changed file's size as the difference from its base size:
//
//   varint count of removed, then each: varint gap to the previous removed index (+1)
//   varint count of copied,  then each: path, varint base index of the source
//   varint count of changed, then each: path, size (zigzag difference from the base file at
//                                       that path; a plain varint for a new path)
//   path: varint 0 and then a varint byte length and UTF-8 (a path the base lacks), or
//         varint k > 0: the base path k indexes after the previous base path of the same list
//         (the first: index k - 1); lists are in path order, so gaps are small
//
// The delta's source is the base ordered as for format 3's dictionary (changed files' old bytes
// last), of which the last DELTA_SOURCE_LIMIT bytes. The builder codes the content all three
// ways and keeps the smallest: the delta wins where a few bytes change across large files, zstd
// where changes are many and small (its entropy coding of matches beats plain numbers).

export const DELTA_HEADER_BYTES = 25;
export const DELTA_CODINGS = { delta: 0, deltaZstd: 1, zstd: 2 } as const;
export type DeltaCoding = (typeof DELTA_CODINGS)[keyof typeof DELTA_CODINGS];

export interface DeltaPrelude {
  fromPrefix: string;
  toPrefix: string;
  coding: DeltaCoding;
  planSize: number;
  /** 0 when the plan is stored as is */
  planFrameSize: number;
  contentSize: number;
  opsSize: number;
  literalsSize: number;
}

export function encodePlanBinary(plan: IncrementPlan, base: readonly FileEntry[]): Uint8Array {
  const sorted = [...base].sort(byPath);
  const index = new Map(sorted.map((f, i) => [f.path, i]));
  const w = new ByteWriter();
  const utf8 = new TextEncoder();
  // Base paths in a list are named by the gap from the previous one (plans list them in path order).
  let prevBase = -1;
  const path = (p: string) => {
    const i = index.get(p);
    if (i !== undefined) {
      if (i <= prevBase) throw new Error("the plan's paths are not in path order");
      w.varint(i - prevBase);
      prevBase = i;
      return;
    }
    const bytes = utf8.encode(p);
    w.varint(0);
    w.varint(bytes.byteLength);
    w.bytes(bytes);
  };
  w.varint(plan.removed.length);
  let prev = -1;
  for (const p of [...plan.removed].sort()) {
    const i = index.get(p)!;
    w.varint(i - prev - 1);
    prev = i;
  }
  w.varint(plan.copied.length);
  prevBase = -1;
  for (const [p, from] of plan.copied) {
    path(p);
    w.varint(index.get(from)!);
  }
  w.varint(plan.changed.length);
  prevBase = -1;
  for (const [p, size] of plan.changed) {
    path(p);
    const i = index.get(p);
    if (i === undefined) w.varint(size);
    else w.zigzag(size - sorted[i]!.size);
  }
  return w.finish();
}

export function decodePlanBinary(bytes: Uint8Array, base: readonly FileEntry[]): IncrementPlan {
  const bad = (why: string) => new IncrementError("corrupt", `the increment's plan is invalid: ${why}`);
  const sorted = [...base].sort(byPath);
  const basePaths = new Set(sorted.map((f) => f.path));
  const r = new ByteReader(bytes, bad);
  const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const baseIndex = (i: number) => {
    if (i >= sorted.length) throw bad("names a file the base does not have");
    return sorted[i]!;
  };
  // Counts are bounded by the bytes left (every entry takes at least one byte).
  const count = () => {
    const n = r.varint();
    if (n > bytes.byteLength - r.offset) throw bad("count larger than the plan");
    return n;
  };
  let prevBase = -1;
  const path = (): { path: string; base?: FileEntry } => {
    const k = r.varint();
    if (k > 0) {
      prevBase += k;
      const f = baseIndex(prevBase);
      return { path: f.path, base: f };
    }
    let p: string;
    try {
      p = utf8.decode(r.bytes(r.varint()));
    } catch (e) {
      if (e instanceof IncrementError) throw e;
      throw bad("a path is not UTF-8");
    }
    if (p === "") throw bad("empty path");
    // One spelling per plan: a base path is always named by its index.
    if (basePaths.has(p)) throw bad("spells out a path the base has");
    return { path: p };
  };
  const plan: IncrementPlan = { removed: [], copied: [], changed: [] };
  let prev = -1;
  for (let n = count(); n > 0; n--) {
    prev += r.varint() + 1;
    plan.removed.push(baseIndex(prev).path);
  }
  for (let n = count(); n > 0; n--) plan.copied.push([path().path, baseIndex(r.varint()).path]);
  prevBase = -1;
  for (let n = count(); n > 0; n--) {
    const p = path();
    const size = p.base ? p.base.size + r.zigzag() : r.varint();
    if (!isSize(size)) throw bad("changed entry");
    plan.changed.push([p.path, size]);
  }
  if (!r.done) throw bad("bytes after the plan");
  return plan;
}

export interface BuildDeltaIncrementInput extends BuildIncrementInput {
  /** format 3's content frame for the same pair and level, when already made (saves a compression) */
  contentFrame?: Uint8Array;
}

/** Builds a format 4 increment (the delta format; see above), its content coded the smallest way. */
export async function buildDeltaIncrement(
  input: BuildDeltaIncrementInput,
): Promise<{ bytes: Uint8Array; prelude: DeltaPrelude; plan: IncrementPlan }> {
  const plan = planIncrement(input.from.files, input.to.files);
  const planBytes = encodePlanBinary(plan, input.from.files);
  const planFrame = await input.compress(planBytes, planDictionary(input.from.files), 19);
  const planSection = planFrame.byteLength < planBytes.byteLength ? planFrame : planBytes;
  const content = contentOf(plan, input.to);
  const source =
    content.byteLength > 0
      ? baseDictionary(input.from.files, input.from.bytesOf, plan, DELTA_SOURCE_LIMIT)
      : new Uint8Array(0);
  const delta = diffBytes(source, content);
  const stored = new Uint8Array(delta.ops.byteLength + delta.literals.byteLength);
  stored.set(delta.ops, 0);
  stored.set(delta.literals, delta.ops.byteLength);
  const candidates: { coding: DeltaCoding; section: Uint8Array }[] = [
    { coding: DELTA_CODINGS.delta, section: stored },
  ];
  if (content.byteLength > 0) {
    candidates.push({
      coding: DELTA_CODINGS.deltaZstd,
      section: await input.compress(stored, new Uint8Array(0), 19),
    });
    let frame = input.contentFrame;
    if (frame === undefined) {
      const dictionary = baseDictionary(input.from.files, input.from.bytesOf, plan);
      const level = input.level ?? incrementLevel(dictionary.byteLength, content.byteLength);
      frame = await input.compress(content, dictionary, level);
    }
    candidates.push({ coding: DELTA_CODINGS.zstd, section: frame });
  }
  const best = candidates.reduce((a, b) => (b.section.byteLength < a.section.byteLength ? b : a));
  const isDelta = best.coding !== DELTA_CODINGS.zstd;
  const prelude: DeltaPrelude = {
    ...(await prefixes(input)),
    coding: best.coding,
    planSize: planBytes.byteLength,
    planFrameSize: planSection === planFrame ? planFrame.byteLength : 0,
    contentSize: content.byteLength,
    opsSize: isDelta ? delta.ops.byteLength : 0,
    literalsSize: isDelta ? delta.literals.byteLength : 0,
  };
  return { bytes: encodeDeltaIncrement(prelude, planSection, best.section), prelude, plan };
}

export function encodeDeltaIncrement(
  prelude: DeltaPrelude,
  planSection: Uint8Array,
  contentSection: Uint8Array,
): Uint8Array {
  if (!isPrefix(prelude.fromPrefix) || !isPrefix(prelude.toPrefix))
    throw new Error("increment digest prefixes must be 16 hex digits");
  const w = new ByteWriter();
  w.bytes(DELTA_INCREMENT_MAGIC);
  w.bytes(hexToBytes(prelude.fromPrefix));
  w.bytes(hexToBytes(prelude.toPrefix));
  w.bytes(Uint8Array.of(prelude.coding));
  w.varint(prelude.planSize);
  w.varint(prelude.planFrameSize);
  w.varint(prelude.contentSize);
  w.varint(prelude.opsSize);
  w.varint(prelude.literalsSize);
  w.bytes(planSection);
  w.bytes(contentSection);
  return w.finish();
}

/** Splits a format 4 increment into prelude, plan section and content section, checking every size. */
export function decodeDeltaIncrement(bytes: Uint8Array): {
  prelude: DeltaPrelude;
  planSection: Uint8Array;
  contentSection: Uint8Array;
} {
  const bad = (why: string) => new IncrementError("malformed", `not a valid increment: ${why}`);
  if (bytes.byteLength <= DELTA_HEADER_BYTES) throw bad("too short");
  for (let i = 0; i < DELTA_INCREMENT_MAGIC.length; i++)
    if (bytes[i] !== DELTA_INCREMENT_MAGIC[i]) throw bad("wrong magic");
  const r = new ByteReader(bytes.subarray(DELTA_HEADER_BYTES), bad);
  const coding = bytes[24]!;
  if (coding !== 0 && coding !== 1 && coding !== 2) throw bad("unknown content coding");
  const prelude: DeltaPrelude = {
    fromPrefix: bytesToHex(bytes.subarray(8, 16)),
    toPrefix: bytesToHex(bytes.subarray(16, 24)),
    coding,
    planSize: r.varint(),
    planFrameSize: r.varint(),
    contentSize: r.varint(),
    opsSize: r.varint(),
    literalsSize: r.varint(),
  };
  // A plan has at least its three counts.
  if (prelude.planSize < 3 || prelude.planSize > MAX_PLAN_BYTES) throw bad("plan size out of range");
  if (prelude.contentSize > MAX_DELTA_CONTENT_BYTES) throw bad("content size over the limit");
  if (coding === DELTA_CODINGS.zstd) {
    if (prelude.opsSize !== 0 || prelude.literalsSize !== 0) throw bad("ops in a zstd-coded increment");
  } else {
    if (prelude.literalsSize > prelude.contentSize) throw bad("more literals than content");
    // Each record takes at most 15 bytes of numbers and yields at least one byte; plus the head.
    if (prelude.opsSize < 2 || prelude.opsSize > 15 * prelude.contentSize + 10)
      throw bad("ops size out of range");
  }
  const planStart = DELTA_HEADER_BYTES + r.offset;
  const planBytes = prelude.planFrameSize > 0 ? prelude.planFrameSize : prelude.planSize;
  if (planBytes > bytes.byteLength - planStart) throw bad("plan out of range");
  const planSection = bytes.subarray(planStart, planStart + planBytes);
  const contentSection = bytes.subarray(planStart + planBytes);
  if (coding === DELTA_CODINGS.delta && contentSection.byteLength !== prelude.opsSize + prelude.literalsSize)
    throw bad("content does not match its size");
  if (coding !== DELTA_CODINGS.delta && (prelude.contentSize === 0) !== (contentSection.byteLength === 0))
    throw bad("content does not match its size");
  return { prelude, planSection, contentSection };
}

const hexToBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const bytesToHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const isPrefix = (s: unknown) => typeof s === "string" && /^[0-9a-f]{16}$/.test(s);
const isSize = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

export function encodeIncrement(
  prelude: IncrementPrelude,
  planFrame: Uint8Array,
  contentFrame: Uint8Array,
): Uint8Array {
  if (!isPrefix(prelude.fromPrefix) || !isPrefix(prelude.toPrefix))
    throw new Error("increment digest prefixes must be 16 hex digits");
  if (planFrame.byteLength !== prelude.planFrameSize)
    throw new Error("the plan frame's size differs from the prelude");
  const out = new Uint8Array(PRELUDE_BYTES + planFrame.byteLength + contentFrame.byteLength);
  const view = new DataView(out.buffer);
  out.set(INCREMENT_MAGIC, 0);
  out.set(hexToBytes(prelude.fromPrefix), 8);
  out.set(hexToBytes(prelude.toPrefix), 16);
  view.setUint32(24, prelude.planFrameSize);
  view.setUint32(28, prelude.planSize);
  view.setUint32(32, prelude.contentSize);
  view.setUint8(36, prelude.level);
  out.set(planFrame, PRELUDE_BYTES);
  out.set(contentFrame, PRELUDE_BYTES + planFrame.byteLength);
  return out;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new IncrementError("corrupt", `the increment's ${what} is not JSON`);
  }
}

/** Splits an increment into prelude, plan frame and content frame. */
export function decodeIncrement(bytes: Uint8Array): {
  prelude: IncrementPrelude;
  planFrame: Uint8Array;
  contentFrame: Uint8Array;
} {
  const bad = (why: string) => new IncrementError("malformed", `not a valid increment: ${why}`);
  if (bytes.byteLength <= PRELUDE_BYTES) throw bad("too short");
  for (let i = 0; i < INCREMENT_MAGIC.length; i++)
    if (bytes[i] !== INCREMENT_MAGIC[i]) throw bad("wrong magic");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prelude: IncrementPrelude = {
    fromPrefix: bytesToHex(bytes.subarray(8, 16)),
    toPrefix: bytesToHex(bytes.subarray(16, 24)),
    planFrameSize: view.getUint32(24),
    planSize: view.getUint32(28),
    contentSize: view.getUint32(32),
    level: view.getUint8(36),
  };
  const contentStart = PRELUDE_BYTES + prelude.planFrameSize;
  if (prelude.planFrameSize === 0 || contentStart > bytes.byteLength) throw bad("plan frame out of range");
  if (prelude.planSize < 2 || prelude.planSize > MAX_PLAN_BYTES) throw bad("plan size out of range");
  if ((prelude.contentSize === 0) !== (contentStart === bytes.byteLength))
    throw bad("content frame does not match its size");
  return {
    prelude,
    planFrame: bytes.subarray(PRELUDE_BYTES, contentStart),
    contentFrame: bytes.subarray(contentStart),
  };
}

/** Checks a decoded plan against the base and the content size (both formats). */
function checkPlan(
  plan: IncrementPlan,
  base: ReadonlyMap<string, FileEntry>,
  contentSize: number,
): IncrementPlan {
  const bad = (why: string) => new IncrementError("corrupt", `the increment's plan is invalid: ${why}`);
  if (
    plan === null ||
    typeof plan !== "object" ||
    !Array.isArray(plan.removed) ||
    !Array.isArray(plan.copied) ||
    !Array.isArray(plan.changed)
  )
    throw bad("shape");
  const named = new Set<string>();
  let data = 0;
  for (const path of plan.removed)
    if (typeof path !== "string" || !base.has(path)) throw bad("removes a file the base does not have");
  for (const entry of plan.copied) {
    if (
      !Array.isArray(entry) ||
      typeof entry[0] !== "string" ||
      typeof entry[1] !== "string" ||
      !base.has(entry[1])
    )
      throw bad("copies from a file the base does not have");
    if (named.has(entry[0])) throw bad("names a path twice");
    named.add(entry[0]);
  }
  for (const entry of plan.changed) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isSize(entry[1]))
      throw bad("changed entry");
    if (named.has(entry[0])) throw bad("names a path twice");
    named.add(entry[0]);
    data += entry[1];
  }
  if (data !== contentSize) throw bad("the changed files' sizes do not add up to the content");
  return plan;
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

/** The format of an increment by its magic, or undefined when it is none this code reads. */
export function incrementFormat(bytes: Uint8Array): IncrementFormat | undefined {
  if (bytes.byteLength < INCREMENT_MAGIC.length) return undefined;
  for (let i = 0; i < INCREMENT_MAGIC.length - 1; i++) if (bytes[i] !== INCREMENT_MAGIC[i]) return undefined;
  const version = bytes[INCREMENT_MAGIC.length - 1];
  return version === 3 || version === 4 ? version : undefined;
}

/**
 * Applies an increment (format 3 or 4) to the installed files. Returns the target's files,
 * verified against the signed digest; throws IncrementError (and changes nothing: the caller's
 * files are only read) when the increment is for another base, malformed, or yields other files
 * than the manifest names.
 */
export async function applyIncrement(
  input: ApplyIncrementInput,
): Promise<{ files: FileEntry[]; bytes: Map<string, Uint8Array> }> {
  const format = incrementFormat(input.increment);
  if (format === undefined)
    throw new IncrementError("malformed", "not a valid increment: wrong magic or unknown version");
  const split = format === 3 ? decodeIncrement(input.increment) : decodeDeltaIncrement(input.increment);
  const { fromPrefix, toPrefix } = split.prelude;
  const baseDigest = await filesDigest(input.base, input.sha256);
  if (!input.expect.from.startsWith(fromPrefix) || baseDigest !== input.expect.from) {
    throw new IncrementError(
      "wrong_base",
      "the increment was made for another base than the installed version",
    );
  }
  if (!input.expect.to.startsWith(toPrefix))
    throw new IncrementError("corrupt", "the increment does not produce the version the manifest names");
  // The installed bytes must be what the list says: unchanged and copied files are carried over
  // from them, so a file altered on disk must not slip into the new version as verified.
  for (const f of input.base) {
    const data = input.bytesOf(f.path);
    if (data.byteLength !== f.size || (await input.sha256(data)) !== f.sha256) {
      throw new IncrementError(
        "wrong_base",
        `${JSON.stringify(f.path)}: the installed file differs from its verified list`,
      );
    }
  }
  const base = new Map(input.base.map((f) => [f.path, f]));
  const decode = async (frame: Uint8Array, dictionary: Uint8Array, size: number, what: string) => {
    let out: Uint8Array;
    try {
      out = await input.decompress(frame, dictionary, size);
    } catch (e) {
      if (e instanceof IncrementError) throw e;
      throw new IncrementError("corrupt", `the increment's ${what} does not decode`);
    }
    if (out.byteLength !== size)
      throw new IncrementError("corrupt", `the increment's ${what} decodes to the wrong size`);
    return out;
  };
  let plan: IncrementPlan;
  let content: Uint8Array;
  if ("planFrame" in split) {
    const { prelude, planFrame, contentFrame } = split;
    plan = checkPlan(
      parseJson(
        await decode(planFrame, planDictionary(input.base), prelude.planSize, "plan"),
        "plan",
      ) as IncrementPlan,
      base,
      prelude.contentSize,
    );
    content =
      prelude.contentSize > 0
        ? await decode(
            contentFrame,
            baseDictionary(input.base, input.bytesOf, plan),
            prelude.contentSize,
            "content",
          )
        : new Uint8Array(0);
  } else {
    const { prelude, planSection, contentSection } = split;
    const planBytes =
      prelude.planFrameSize > 0
        ? await decode(planSection, planDictionary(input.base), prelude.planSize, "plan")
        : planSection;
    plan = checkPlan(decodePlanBinary(planBytes, input.base), base, prelude.contentSize);
    if (prelude.contentSize === 0) content = new Uint8Array(0);
    else if (prelude.coding === DELTA_CODINGS.zstd)
      content = await decode(
        contentSection,
        baseDictionary(input.base, input.bytesOf, plan),
        prelude.contentSize,
        "content",
      );
    else {
      const packed =
        prelude.coding === DELTA_CODINGS.delta
          ? contentSection
          : await decode(contentSection, new Uint8Array(0), prelude.opsSize + prelude.literalsSize, "delta");
      const sections: DeltaSections = {
        ops: packed.subarray(0, prelude.opsSize),
        literals: packed.subarray(prelude.opsSize),
      };
      const source = baseDictionary(input.base, input.bytesOf, plan, DELTA_SOURCE_LIMIT);
      try {
        content = patchBytes(source, sections, prelude.contentSize);
      } catch (e) {
        if (e instanceof DeltaError) throw new IncrementError("corrupt", `the increment's ${e.message}`);
        throw e;
      }
    }
  }
  const result = new Map<string, { entry: FileEntry; data: Uint8Array }>();
  const removed = new Set(plan.removed);
  for (const f of input.base)
    if (!removed.has(f.path)) result.set(f.path, { entry: f, data: input.bytesOf(f.path) });
  for (const [path, from] of plan.copied) {
    const source = base.get(from)!;
    result.set(path, {
      entry: { path, size: source.size, sha256: source.sha256 },
      data: input.bytesOf(from),
    });
  }
  let at = 0;
  for (const [path, size] of plan.changed) {
    const data = content.subarray(at, at + size);
    at += size;
    result.set(path, { entry: { path, size, sha256: await input.sha256(data) }, data });
  }
  const files = [...result.values()].map((r) => r.entry).sort(byPath);
  // The signed digest covers every path, size and hash: one comparison proves every byte.
  if ((await filesDigest(files, input.sha256)) !== input.expect.to)
    throw new IncrementError("corrupt", "the result differs from the signed file list");
  return { files, bytes: new Map([...result].map(([path, r]) => [path, r.data])) };
}

/**
 * zstd level by how much must be held in memory (dictionary + content): the Worker that builds
 * increments has 128 MB in all, and zstd's tables grow with the level and the window. zstd sizes
 * its window to the dictionary plus the content, so the tables of a level shrink when that total
 * does. Measured with the WASM build (the module's memory after one compression, 2026-12-06):
 * level 18 at 8-12 MiB in all, 60-63 MiB; level 19 at 8.3 MiB, 92 MiB (too much next to both
 * versions unpacked), but at 4 MiB, 54 MiB, the same as level 18 there. Level 19 is 1-2%
 * smaller than 18 on the bench's corpus, so it is used where it costs no memory.
 */
export function incrementLevel(dictionaryBytes: number, contentBytes: number): number {
  const total = dictionaryBytes + contentBytes;
  if (total <= 4 * 1024 * 1024) return 19;
  if (total <= 12 * 1024 * 1024) return 18;
  return 9;
}

export const incrementKey = (sha256: string) => `increments/${sha256}`;
