/**
 * `GET|HEAD /v1/packages/{sha256}` and `/v1/increments/{sha256}`: content-addressed downloads
 * of full packages and incremental packages from R2.
 *
 * The key is the sha256 of the bytes, so the ETag is that hash (strong) and the response is
 * immutable. R2's own etag is an MD5-style value unrelated to ours, so `If-None-Match` is
 * answered from the URL plus a metadata-only `head()`, never a body read; ranges go to R2
 * as `range` so only the requested bytes leave storage.
 */
import { ApiError, ErrorCode, notFound } from "../../../core/errors";
import { incrementKey } from "../../../core/increment";
import { packageKey } from "../../../core/snapshot";
import { Sha256Schema } from "../contracts";
import { type ByteRange, etagListMatches, parseRange, resolveRange } from "../http-range";
import { createRouter } from "../router";
import { parseParam } from "../validate";

/** Headers every package response carries, 304 included (RFC 9110 §15.4.5). */
function packageHeaders(object: R2Object, etag: string, contentType: string): Headers {
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("etag", etag);
  headers.set("content-type", contentType);
  // Content-addressed: these bytes never change under this URL.
  headers.set("cache-control", "public, max-age=31536000, immutable");
  headers.set("accept-ranges", "bytes");
  headers.set("x-content-type-options", "nosniff");
  return headers;
}

function rangeNotSatisfiable(size: number): Response {
  const error = new ApiError(ErrorCode.RangeNotSatisfiable, `range not satisfiable for ${size} bytes`);
  return Response.json(error.toBody(), {
    status: error.status,
    headers: { "content-range": `bytes */${size}` },
  });
}

interface ObjectKind {
  what: string;
  keyOf: (sha256: string) => string;
  contentType: string;
}

/** Routes serving one kind of content-addressed object by its hash: 200, 206, 304, 416 or 404. */
function contentAddressedRoutes(kind: ObjectKind) {
  const routes = createRouter();
  routes.get("/:sha256", (c) =>
    serveObject(c.env.PACKAGES, kind, c.req.param("sha256"), c.req.method, (name) => c.req.header(name)),
  );
  return routes;
}

export const packageRoutes = contentAddressedRoutes({
  what: "package",
  keyOf: packageKey,
  contentType: "application/zip",
});
export const incrementRoutes = contentAddressedRoutes({
  what: "increment",
  keyOf: incrementKey,
  contentType: "application/octet-stream",
});

async function serveObject(
  bucket: R2Bucket,
  kind: ObjectKind,
  param: string,
  method: string,
  header: (name: string) => string | undefined,
): Promise<Response> {
  const sha256 = parseParam(param, "sha256", Sha256Schema);
  const key = kind.keyOf(sha256);
  const etag = `"${sha256}"`;

  // Metadata-only answers: a conditional hit, or HEAD (Hono runs GET handlers for HEAD and
  // drops the body, so asking R2 for the body would be wasted).
  const notModified = etagListMatches(header("if-none-match"), etag);
  if (notModified || method === "HEAD") {
    const head = await bucket.head(key);
    if (!head) throw notFound(kind.what);
    const headers = packageHeaders(head, etag, kind.contentType);
    if (notModified) return new Response(null, { status: 304, headers });
    headers.set("content-length", String(head.size));
    return new Response(null, { status: 200, headers });
  }

  // If-Range (strong match only) guards a resumed download against changed bytes.
  const ifRange = header("if-range");
  const range = ifRange === undefined || ifRange.trim() === etag ? parseRange(header("range")) : undefined;

  let object: R2ObjectBody | null;
  try {
    object = await bucket.get(key, range ? { range } : {});
  } catch (err) {
    // R2 rejects a range past the end; tell 416 (with the size) from a missing object.
    if (!range) throw err;
    return await answerBadRange(bucket, kind, key, range, err);
  }
  if (!object) throw notFound(kind.what);

  const headers = packageHeaders(object, etag, kind.contentType);
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
}

async function answerBadRange(
  bucket: R2Bucket,
  kind: ObjectKind,
  key: string,
  range: ByteRange,
  err: unknown,
): Promise<Response> {
  const head = await bucket.head(key);
  if (!head) throw notFound(kind.what);
  if (resolveRange(range, head.size)) throw err;
  return rangeNotSatisfiable(head.size);
}
