/**
 * Single byte ranges (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-`, `bytes=-n`. Parsed here
 * rather than by passing the header to R2, because R2 serves the whole object for an
 * unsatisfiable Range header where HTTP wants 416.
 */

/** Same shapes as R2's `R2Range`, so a parsed range is passed to `bucket.get` as is. */
export type ByteRange = { offset: number; length?: number } | { suffix: number };

export interface ResolvedRange {
  start: number;
  /** inclusive */
  end: number;
}

const SINGLE_RANGE = /^bytes=(\d{0,15})-(\d{0,15})$/i;

/**
 * The range a `Range` header asks for, or undefined when the whole body should be sent:
 * no header, a unit other than bytes, several ranges, or a malformed or inverted range
 * (RFC 9110 §14.2 lets a server ignore such a Range and answer 200).
 */
export function parseRange(header: string | undefined): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = SINGLE_RANGE.exec(header.trim());
  if (!m) return undefined;
  const [, first = "", last = ""] = m;
  if (first === "" && last === "") return undefined;
  if (first === "") return { suffix: Number(last) };
  const offset = Number(first);
  if (last === "") return { offset };
  const end = Number(last);
  return end < offset ? undefined : { offset, length: end - offset + 1 };
}

/**
 * The bytes a range selects in a body of `size` bytes, clamped to the body; undefined when
 * unsatisfiable (starts at or past the end, or a zero-length suffix) -> 416.
 */
export function resolveRange(range: ByteRange, size: number): ResolvedRange | undefined {
  if ("suffix" in range) {
    if (range.suffix === 0 || size === 0) return undefined;
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.offset >= size) return undefined;
  const end = range.length === undefined ? size - 1 : Math.min(range.offset + range.length, size) - 1;
  return { start: range.offset, end };
}

/** Whether an `If-None-Match` / `If-Range` list names this strong ETag (weak comparison). */
export function etagListMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}
