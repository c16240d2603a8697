/**
 * Reading a large UTF-8 text body line by line as it streams in (txt whitelists), never
 * holding more than one chunk plus one partial line of it.
 */
import { limitRequestBody } from "../../../core/bytes";
import { ApiError } from "../../../core/errors";

export interface LineLimits {
  /** bytes of body at most (Content-Length is not trusted) -> 413 */
  maxBytes: number;
  /** a line longer than this is reported as `null` and its text dropped (bounds the partial line) */
  maxLineChars: number;
}

/**
 * Calls `onLine(text, lineNumber)` for every line ("\n" or "\r\n"; the "\r" stays in `text`
 * for the caller's trim; a BOM is removed; a last line without "\n" counts). `text` is null
 * for a line over `maxLineChars`. Refuses a missing body (400), more than `maxBytes` (413)
 * and invalid UTF-8 (400). The body is read through core/bytes.ts's limited request reader, so
 * a refusal (413, or an error thrown by `onLine`) drains the rest before it propagates: the
 * client gets the answer, not a reset.
 */
export async function forEachLine(
  body: ReadableStream<Uint8Array> | null,
  limits: LineLimits,
  onLine: (text: string | null, lineNumber: number) => void,
): Promise<void> {
  if (!body) throw new ApiError("bad_request", "the request has no body");
  const tooLarge = () => new ApiError("payload_too_large", `the body is limited to ${limits.maxBytes} bytes`);
  const reader = limitRequestBody(body, limits.maxBytes, tooLarge).getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const decode = (bytes?: Uint8Array) => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      throw new ApiError("bad_request", "the body is not valid UTF-8 text");
    }
  };

  let lineNumber = 0;
  let rest = "";
  // The current line is over the limit: drop its text until its newline.
  let overlong = false;
  const feed = (text: string) => {
    let start = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
      onLine(overlong ? null : text.slice(start, nl), ++lineNumber);
      overlong = false;
      start = nl + 1;
    }
    rest = overlong ? "" : text.slice(start);
    if (rest.length > limits.maxLineChars) {
      overlong = true;
      rest = "";
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      feed(rest + decode(value));
    }
    const tail = decode();
    if (tail) feed(rest + tail);
    if (overlong || rest.length > 0) onLine(overlong ? null : rest, ++lineNumber);
  } catch (err) {
    // Drains the rest of the body (a no-op when the stream already failed).
    await reader.cancel().catch(() => {});
    throw err;
  }
}
