/**
 * Reading a large text body line by line as it streams in (txt whitelists), as bytes: a line is
 * handed over as a view of the chunk it lies in (or of one reused buffer when it spans chunks),
 * so reading a million lines makes no string per line; the caller decodes only what it needs.
 * Never holds more than one chunk plus one partial line.
 */
import { limitRequestBody } from "../../../core/bytes";
import { ApiError } from "../../../core/errors";

export interface LineLimits {
  /** bytes of body at most (Content-Length is not trusted) -> 413 */
  maxBytes: number;
  /** a line longer than this many bytes is reported as `null` and its bytes dropped (bounds the partial line) */
  maxLineBytes: number;
}

const NEWLINE = 0x0a;

/**
 * Calls `onLine(bytes, from, to, lineNumber)` for every line, its bytes `bytes[from, to)`
 * without the "\n" ("\r" of "\r\n" stays, for the caller's trim; a UTF-8 BOM before the first
 * line is removed; a last line without "\n" counts). `bytes` is only valid during the call. It
 * is null for a line over `maxLineBytes`. Refuses a missing body (400) and more than `maxBytes`
 * (413). UTF-8 is the caller's to check, line by line ("\n" never occurs inside a multi-byte
 * sequence, so a line's bytes decode on their own). The body is read through core/bytes.ts's
 * limited request reader, so a refusal (413, or an error thrown by `onLine`) drains the rest
 * before it propagates: the client gets the answer, not a reset.
 */
export async function forEachLine(
  body: ReadableStream<Uint8Array> | null,
  limits: LineLimits,
  onLine: (bytes: Uint8Array | null, from: number, to: number, lineNumber: number) => void,
): Promise<void> {
  if (!body) throw new ApiError("bad_request", "the request has no body");
  const tooLarge = () => new ApiError("payload_too_large", `the body is limited to ${limits.maxBytes} bytes`);
  const reader = limitRequestBody(body, limits.maxBytes, tooLarge).getReader();
  // The start of a line that continues in the next chunk.
  const partial = new Uint8Array(limits.maxLineBytes);
  let partialLength = 0;
  // The current line is over the limit: its bytes are dropped until its newline.
  let overlong = false;
  let lineNumber = 0;

  const emit = (bytes: Uint8Array, from: number, to: number) => {
    lineNumber++;
    if (overlong) return onLine(null, 0, 0, lineNumber);
    // The BOM, if any: what a UTF-8 decoder that does not ignore it would drop.
    if (
      lineNumber === 1 &&
      to - from >= 3 &&
      bytes[from] === 0xef &&
      bytes[from + 1] === 0xbb &&
      bytes[from + 2] === 0xbf
    )
      from += 3;
    onLine(bytes, from, to, lineNumber);
  };
  /** Appends `bytes[from, to)` to the partial line, or marks the line overlong. */
  const keep = (bytes: Uint8Array, from: number, to: number) => {
    if (overlong) return;
    if (partialLength + (to - from) > limits.maxLineBytes) {
      overlong = true;
      partialLength = 0;
      return;
    }
    partial.set(bytes.subarray(from, to), partialLength);
    partialLength += to - from;
  };

  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let start = 0;
      for (let nl = value.indexOf(NEWLINE); nl >= 0; nl = value.indexOf(NEWLINE, start)) {
        if (partialLength > 0 || overlong) {
          keep(value, start, nl);
          emit(partial, 0, partialLength);
        } else if (nl - start > limits.maxLineBytes) {
          overlong = true;
          emit(value, start, nl);
        } else {
          emit(value, start, nl);
        }
        overlong = false;
        partialLength = 0;
        start = nl + 1;
      }
      keep(value, start, value.length);
    }
    if (overlong || partialLength > 0) emit(partial, 0, partialLength);
  } catch (err) {
    // Drains the rest of the body (a no-op when the stream already failed).
    await reader.cancel().catch(() => {});
    throw err;
  }
}
