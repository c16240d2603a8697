/**
 * A byte-level copy/insert delta (PRODUCT.md D3; docs/increments.md "The delta format"): the
 * target's bytes as a list of copies from the source (or from the target already produced) and
 * insertions of literal bytes. When a few hundred bytes change across megabytes of bundles, a
 * copy of a megabyte costs a few bytes here, where a zstd frame pays a block header and a
 * sequence per 128 KiB block. Pure and runtime-free: the builder, the reference client and the
 * benchmark share it. The container (magic, version, plan) is core/increment.ts's format 4.
 *
 * Two sections:
 *
 *   ops       varint record count, varint byte lengths of the first two columns, then three
 *             columns of numbers, one entry per record in each: the literal lengths (varints),
 *             the copy lengths (varints), and the copy's drift (zigzag varints, only for records
 *             whose copy length is not 0)
 *   literals  the inserted bytes, consumed in order by the records
 *
 * Addresses are in one space: [source bytes | target bytes produced so far]. A record first
 * appends its literals, then copies `copy length` bytes from an address that must lie before the
 * write position in that space (a copy from the target may overlap what it writes, which repeats
 * a run). The address is `end of the previous copy + literal length + drift`: continuing in the
 * old file after a substitution is a drift of 0, after an insertion of k bytes -k, after a
 * deletion +k. Columns keep like numbers together, which the body's zstd compresses far better
 * than interleaved records.
 *
 * Applying never trusts a length: every record is checked against the output size announced
 * before anything is allocated, the literals left and the addresses available, and the sections
 * must be consumed exactly.
 */

/** Why a delta was refused. */
export class DeltaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeltaError";
  }
}

/** Bytes a varint may take: values up to 2^35 - 1, more than any size the format allows. */
const MAX_VARINT_BYTES = 5;

/** Appends varints and bytes to a growing buffer. */
export class ByteWriter {
  #buf = new Uint8Array(256);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  #room(n: number) {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 35)
      throw new RangeError(`varint out of range: ${value}`);
    this.#room(MAX_VARINT_BYTES);
    let v = value;
    while (v >= 0x80) {
      this.#buf[this.#len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.#buf[this.#len++] = v;
  }

  /** Signed values: 0, -1, 1, -2, ... as 0, 1, 2, 3, ... */
  zigzag(value: number): void {
    this.varint(value < 0 ? -2 * value - 1 : 2 * value);
  }

  bytes(data: Uint8Array): void {
    this.#room(data.byteLength);
    this.#buf.set(data, this.#len);
    this.#len += data.byteLength;
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Reads what ByteWriter wrote; every read is bounds-checked and throws `fail()`'s error. */
export class ByteReader {
  #at = 0;

  constructor(
    readonly data: Uint8Array,
    readonly fail: (why: string) => Error,
  ) {}

  get offset(): number {
    return this.#at;
  }

  get done(): boolean {
    return this.#at >= this.data.byteLength;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.#at >= this.data.byteLength) throw this.fail("truncated number");
      const b = this.data[this.#at++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        // One encoding per value: a trailing zero byte would make two byte strings mean the same.
        if (b === 0 && i > 0) throw this.fail("overlong number");
        return value;
      }
      scale *= 0x80;
    }
    throw this.fail("number too long");
  }

  zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }

  bytes(n: number): Uint8Array {
    if (n > this.data.byteLength - this.#at) throw this.fail("truncated bytes");
    const out = this.data.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
}

export interface DeltaSections {
  ops: Uint8Array;
  literals: Uint8Array;
}

/** Shortest copy found through the hash index (it must pay for its record). */
const MIN_MATCH = 8;
/** Shortest copy at a predicted address (after a substitution or an insertion): cheaper records. */
const MIN_REPEAT_MATCH = 5;
/** Positions ahead the lazy step looks for the old alignment to resume. */
const LAZY_STEPS = 8;

const read32 = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);

function hashAt(b: Uint8Array, i: number, shift: number): number {
  return (Math.imul(read32(b, i), 0x9e3779b1) ^ Math.imul(read32(b, i + 4), 0x85ebca77)) >>> shift;
}

/** Bytes a zigzag varint of `v` takes. */
function addressCost(v: number): number {
  let z = v < 0 ? -2 * v - 1 : 2 * v;
  let n = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 0x80);
    n++;
  }
  return n;
}

/**
 * Finds a delta that turns `source` into `target`: greedy matching over a hash index of every
 * source position (8-byte windows; where two positions share a bucket the later one wins, and
 * core/increment.ts puts the old versions of changed files last), with two predicted addresses
 * tried first at every position: right after the previous copy plus the literals since (a
 * substitution) and right after the previous copy (an insertion). Matches extend both ways.
 * Memory: the index is 4 bytes per bucket, at most 2^20 buckets (4 MiB): the builder Worker holds
 * this next to both versions unpacked and the WASM zstd heap, in 128 MB.
 */
export function diffBytes(source: Uint8Array, target: Uint8Array): DeltaSections {
  const litLengths = new ByteWriter();
  const copyLengths = new ByteWriter();
  const drifts = new ByteWriter();
  let records = 0;
  const literals = new ByteWriter();
  const n = source.byteLength;
  const bits = Math.max(10, Math.min(20, Math.ceil(Math.log2(Math.max(1, n))) + 1));
  const shift = 32 - bits;
  const table = new Int32Array(1 << bits).fill(-1);
  for (let i = 0; i + MIN_MATCH <= n; i++) table[hashAt(source, i, shift)] = i;

  const matchLength = (s: number, t: number) => {
    let len = 0;
    const max = Math.min(n - s, target.byteLength - t);
    while (len < max && source[s + len] === target[t + len]) len++;
    return len;
  };

  let litStart = 0;
  let prevEnd = 0;
  let pos = 0;
  const emit = (copyAt: number, copyLen: number) => {
    records++;
    litLengths.varint(pos - litStart);
    literals.bytes(target.subarray(litStart, pos));
    copyLengths.varint(copyLen);
    drifts.zigzag(copyAt - prevEnd - (pos - litStart));
    prevEnd = copyAt + copyLen;
    pos += copyLen;
    litStart = pos;
  };

  while (pos + MIN_REPEAT_MATCH <= target.byteLength) {
    let bestAt = -1;
    let bestLen = 0;
    let bestScore = 0;
    const consider = (at: number, min: number) => {
      if (at < 0 || at >= n) return;
      const len = matchLength(at, pos);
      if (len < min) return;
      const score = len - addressCost(at - prevEnd - (pos - litStart));
      if (score > bestScore) {
        bestAt = at;
        bestLen = len;
        bestScore = score;
      }
    };
    consider(prevEnd + (pos - litStart), MIN_REPEAT_MATCH);
    if (pos !== litStart) consider(prevEnd, MIN_REPEAT_MATCH);
    if (pos + MIN_MATCH <= target.byteLength) {
      const at = table[hashAt(target, pos, shift)]!;
      if (at >= 0) consider(at, MIN_MATCH);
    }
    // Lazy step: a match found through the index (an unrelated place that happens to share a few
    // bytes) is passed over when the old alignment resumes within a few bytes and reaches as far:
    // a literal or two plus a drift of 0 is cheaper than a jump away and a jump back.
    if (bestAt >= 0 && bestAt !== prevEnd + (pos - litStart) && bestAt !== prevEnd) {
      for (let k = 1; k <= LAZY_STEPS && pos + k < target.byteLength; k++) {
        const at = prevEnd + (pos + k - litStart);
        if (at >= n) break;
        let len = 0;
        const max = Math.min(n - at, target.byteLength - pos - k);
        while (len < max && source[at + len] === target[pos + k + len]) len++;
        if (len >= MIN_REPEAT_MATCH && k + len >= bestLen) {
          bestAt = -1;
          break;
        }
      }
    }
    if (bestAt < 0) {
      pos++;
      continue;
    }
    // Extend backwards into the pending literals: the match may have started earlier.
    let back = 0;
    while (pos - back > litStart && bestAt - back > 0) {
      if (source[bestAt - back - 1] !== target[pos - back - 1]) break;
      back++;
    }
    pos -= back;
    emit(bestAt - back, bestLen + back);
  }
  if (litStart < target.byteLength) {
    records++;
    litLengths.varint(target.byteLength - litStart);
    literals.bytes(target.subarray(litStart));
    copyLengths.varint(0);
  }
  const ops = new ByteWriter();
  ops.varint(records);
  ops.varint(litLengths.length);
  ops.varint(copyLengths.length);
  ops.bytes(litLengths.finish());
  ops.bytes(copyLengths.finish());
  ops.bytes(drifts.finish());
  return { ops: ops.finish(), literals: literals.finish() };
}

interface Record {
  lit: number;
  len: number;
  /** address of the copy in the [source | output] space (when len > 0) */
  at: number;
}

/**
 * Walks the records of `sections`, checking each against `maxSize`, the literals and the
 * addresses available, and calls `visit` for each. Returns the output size.
 */
function walk(
  sourceSize: number,
  sections: DeltaSections,
  maxSize: number,
  visit?: (r: Record) => void,
): number {
  const fail = (why: string) => new DeltaError(`the delta is invalid: ${why}`);
  const head = new ByteReader(sections.ops, fail);
  const records = head.varint();
  const litColumn = head.varint();
  const lenColumn = head.varint();
  // Every record has at least one byte in each of the first two columns.
  if (records > litColumn || records > lenColumn) throw fail("more records than numbers");
  // Three readers, one per column: nothing is allocated per record.
  const litLengths = new ByteReader(head.bytes(litColumn), fail);
  const lengths = new ByteReader(head.bytes(lenColumn), fail);
  const drifts = new ByteReader(sections.ops.subarray(head.offset), fail);
  let out = 0;
  let lits = 0;
  let prevEnd = 0;
  const record: Record = { lit: 0, len: 0, at: 0 };
  for (let i = 0; i < records; i++) {
    const lit = litLengths.varint();
    if (lit > sections.literals.byteLength - lits) throw fail("more literals than the section holds");
    if (lit > maxSize - out) throw fail("output larger than announced");
    const len = lengths.varint();
    if (len > maxSize - out - lit) throw fail("output larger than announced");
    record.lit = lit;
    record.len = len;
    record.at = 0;
    if (len > 0) {
      const at = prevEnd + lit + drifts.zigzag();
      if (at < 0 || at >= sourceSize + out + lit) throw fail("copy out of range");
      record.at = at;
      prevEnd = at + len;
    }
    visit?.(record);
    lits += lit;
    out += lit + len;
  }
  if (!litLengths.done || !lengths.done || !drifts.done) throw fail("numbers left over");
  if (lits !== sections.literals.byteLength) throw fail("literals left over");
  return out;
}

/**
 * The size of the output `ops` describe, checked without allocating it (see `walk`). Throws
 * DeltaError; returns the output size otherwise.
 */
export function deltaOutputSize(sourceSize: number, sections: DeltaSections, maxSize: number): number {
  return walk(sourceSize, sections, maxSize);
}

/**
 * Applies a delta: the target's bytes, exactly `size` of them, or DeltaError. `size` is the size
 * the container announces (and a caller caps it before calling); nothing larger is allocated,
 * and nothing at all before every record has been checked.
 */
export function patchBytes(source: Uint8Array, sections: DeltaSections, size: number): Uint8Array {
  if (walk(source.byteLength, sections, size) !== size)
    throw new DeltaError("the delta is invalid: output size differs from the announced size");
  const out = new Uint8Array(size);
  const n = source.byteLength;
  let at = 0;
  let lits = 0;
  walk(n, sections, size, ({ lit, len, at: address }) => {
    out.set(sections.literals.subarray(lits, lits + lit), at);
    lits += lit;
    at += lit;
    if (len === 0) return;
    let from = address;
    let left = len;
    // The part in the source first, then the part in the output (which may overlap the write).
    if (from < n) {
      const k = Math.min(left, n - from);
      out.set(source.subarray(from, from + k), at);
      at += k;
      from += k;
      left -= k;
    }
    for (; left > 0; left--) out[at++] = out[from++ - n]!;
  });
  return out;
}
