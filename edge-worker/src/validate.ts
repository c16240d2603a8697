/**
 * Request validation of the edge's routes: one helper per input, every failure in the one error
 * shape (core/contracts/validation.ts, core/errors.ts). The body is read once, as text, under
 * the size limit, then `JSON.parse` and the zod schema.
 */
import type { z } from "zod";
import { discardRequestBody, REQUEST_DISCARD_LIMIT, readRequestBody } from "../../core/bytes";
import { validationError } from "../../core/contracts/validation";
import { ApiError } from "../../core/errors";

/** A client context is a few hundred bytes; anything near this is not a real client. */
export const BODY_LIMIT = 16 * 1024;

const tooLarge = () => new ApiError("payload_too_large", `request bodies are limited to ${BODY_LIMIT} bytes`);

/**
 * The JSON body of `request`, validated by `schema`. Checks, in order:
 * 1. Content-Type is application/json (or +json) when there is a body: else 415;
 * 2. at most BODY_LIMIT bytes, by Content-Length or, without one, while streaming: else 413
 *    (the rest of the body is drained, never kept, so the answer reaches the client);
 * 3. non-empty, well-formed JSON: else 400;
 * 4. the schema: else 400 with the issues.
 */
export async function parseJsonRequest<T extends z.ZodType>(
  request: Request,
  schema: T,
): Promise<z.infer<T>> {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > BODY_LIMIT) {
    // Drained, not kept, so the 413 reaches the client (core/bytes.ts REQUEST_DISCARD_LIMIT).
    if (Number(length) <= REQUEST_DISCARD_LIMIT) await discardRequestBody(request);
    throw tooLarge();
  }
  // With a length the body is read at once; only a streamed body needs the stream object, whose
  // creation costs a measurable share of a check (BENCHMARKS.md profile), so it is not touched otherwise.
  let text: string;
  if (length !== null) text = await request.text();
  else {
    const body = request.body;
    text = body === null ? "" : await readLimited(body);
  }
  if (text.length > BODY_LIMIT) throw tooLarge();
  if (text !== "" && !isJsonType(request.headers.get("content-type"))) {
    throw new ApiError("unsupported_media_type", "the body must be application/json");
  }
  if (text === "") throw new ApiError("bad_request", "a JSON body is required");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("bad_request", "the body is not valid JSON");
  }
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data as z.infer<T>;
}

/** A path or query value validated by `schema`, or 400 naming `name`. */
export function parseParam<T extends z.ZodType>(
  value: string | undefined,
  name: string,
  schema: T,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success)
    throw validationError({ issues: result.error.issues.map((i) => ({ ...i, path: [name, ...i.path] })) });
  return result.data as z.infer<T>;
}

function isJsonType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** Reads a body without Content-Length, refusing it as soon as it passes BODY_LIMIT bytes. */
async function readLimited(body: ReadableStream<Uint8Array>): Promise<string> {
  return new TextDecoder().decode(await readRequestBody(body, BODY_LIMIT, tooLarge));
}
