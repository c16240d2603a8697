/**
 * Request bodies in the admin Worker: every body is read through core/bytes.ts's one limited
 * reader (`readRequestBody`, `limitRequestBody`), each with its limit: JSON bodies here
 * (JSON_BODY_LIMIT, `limitJsonBodies`), packages in services/versions.ts, txt whitelists in
 * lib/text-lines.ts. A body over its limit gets 413 `payload_too_large` in the one error shape,
 * and is drained, never kept, so that the answer reaches the client (REQUEST_DISCARD_LIMIT);
 * a body nobody read is drained after the answer by the app's outermost middleware.
 */
import type { MiddlewareHandler } from "hono";
import { discardRequestBody, REQUEST_DISCARD_LIMIT, readRequestBody } from "../../../core/bytes";
import { ApiError } from "../../../core/errors";

/** JSON bodies above this are refused with 413 (uploads have their own, larger limits). */
export const JSON_BODY_LIMIT = 256 * 1024;

/**
 * Refuses a declared Content-Length over `max` with 413 before anything is kept: the body is
 * drained first (up to REQUEST_DISCARD_LIMIT; a longer one is refused at once, draining it would
 * take too long). A body without Content-Length is limited while it is read.
 */
export async function refuseDeclaredLength(request: Request, max: number, message: string): Promise<void> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (!(declared > max)) return;
  if (declared <= REQUEST_DISCARD_LIMIT) await discardRequestBody(request);
  throw new ApiError("payload_too_large", message);
}

/**
 * Reads a JSON route's body under JSON_BODY_LIMIT before its validator parses it (uploads, which
 * read their own bodies, are skipped by `isUpload`).
 */
export function limitJsonBodies(isUpload: (method: string, path: string) => boolean): MiddlewareHandler {
  const message = `request bodies are limited to ${JSON_BODY_LIMIT} bytes`;
  return async (c, next) => {
    const request = c.req.raw;
    // No route reads the body of a GET or HEAD (a Request cannot even be rebuilt with one); the
    // app's outermost middleware drains it.
    if (
      request.method === "GET" ||
      request.method === "HEAD" ||
      request.body === null ||
      isUpload(request.method, c.req.path)
    )
      return next();
    await refuseDeclaredLength(request, JSON_BODY_LIMIT, message);
    const bytes = await readRequestBody(
      request.body,
      JSON_BODY_LIMIT,
      () => new ApiError("payload_too_large", message),
    );
    c.req.raw = new Request(request, { body: bytes });
    return next();
  };
}
