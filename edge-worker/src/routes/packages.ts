/**
 * `GET|HEAD /v1/packages/{sha256}`: content-addressed package downloads from R2.
 *
 * The key is the sha256 of the bytes, so the ETag is that hash (strong) and the response is
 * immutable. R2's own etag is an MD5-style value unrelated to ours, so `If-None-Match` is
 * answered from the URL plus a metadata-only `head()`, never a body read; ranges go to R2
 * as `range` so only the requested bytes leave storage.
 */
import { ApiError, notFound } from "../../../core/errors";
import { packageKey } from "../../../core/snapshot";
import { etagListMatches, parseRange, resolveRange, type ByteRange } from "../http-range";
import { Sha256Schema } from "../contracts";
import { createRouter } from "../router";
import { parseParam } from "../validate";

/** Headers every package response carries, 304 included (RFC 9110 §15.4.5). */
function packageHeaders(object: R2Object, etag: string): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("etag", etag);
  headers.set("content-type", "application/zip");
  // Content-addressed: these bytes never change under this URL.
  headers.set("cache-control", "public, max-age=31536000, immutable");
  headers.set("accept-ranges", "bytes");
  headers.set("x-content-type-options", "nosniff");
  return headers;
}

function rangeNotSatisfiable(size: number): Response {
  // ErrorCode has no 416 member; the body keeps the one shape, the status says 416.
  const body = new ApiError("bad_request", `range not satisfiable for ${size} bytes`).toBody();
  return Response.json(body, { status: 416, headers: { "content-range": `bytes */${size}` } });
}

export const packageRoutes = createRouter();

// Serve one package by its hash: 200, 206, 304, 416 or 404.
packageRoutes.get("/:sha256", async (c) => {
  const sha256 = parseParam(c.req.param("sha256"), "sha256", Sha256Schema);
  const key = packageKey(sha256);
  const etag = `"${sha256}"`;
  const bucket = c.env.PACKAGES;

  // Metadata-only answers: a conditional hit, or HEAD (Hono runs GET handlers for HEAD and
  // drops the body, so asking R2 for the body would be wasted).
  const notModified = etagListMatches(c.req.header("if-none-match"), etag);
  if (notModified || c.req.method === "HEAD") {
    const head = await bucket.head(key);
    if (!head) throw notFound("package");
    const headers = packageHeaders(head, etag);
    if (notModified) return new Response(null, { status: 304, headers });
    headers.set("content-length", String(head.size));
    return new Response(null, { status: 200, headers });
  }

  // If-Range (strong match only) guards a resumed download against changed bytes.
  const ifRange = c.req.header("if-range");
  const range = ifRange === undefined || ifRange.trim() === etag ? parseRange(c.req.header("range")) : undefined;

  let object: R2ObjectBody | null;
  try {
    object = await bucket.get(key, range ? { range } : {});
  } catch (err) {
    // R2 rejects a range past the end; tell 416 (with the size) from a missing object.
    if (!range) throw err;
    return await answerBadRange(bucket, key, range, err);
  }
  if (!object) throw notFound("package");

  const headers = packageHeaders(object, etag);
  if (!range) {
    headers.set("content-length", String(object.size));
    return new Response(object.body, { status: 200, headers });
  }
  const resolved = resolveRange(range, object.size);
  if (!resolved) {
    await object.body.cancel();
    return rangeNotSatisfiable(object.size);
  }
  headers.set("content-range", `bytes ${resolved.start}-${resolved.end}/${object.size}`);
  headers.set("content-length", String(resolved.end - resolved.start + 1));
  return new Response(object.body, { status: 206, headers });
});

async function answerBadRange(bucket: R2Bucket, key: string, range: ByteRange, err: unknown): Promise<Response> {
  const head = await bucket.head(key);
  if (!head) throw notFound("package");
  if (resolveRange(range, head.size)) throw err;
  return rangeNotSatisfiable(head.size);
}
