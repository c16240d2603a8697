/**
 * Byte helpers every runtime here shares (both Workers, the reference client): reading a stream
 * under a hard cap, refusing a request body over its limit so that the refusal reaches the
 * client, and CRC-32 as zip stores it. Web APIs only.
 */

/**
 * Reads `body` to the end, or calls `tooLarge` (which throws) as soon as more than `max` bytes
 * arrived, after cancelling the stream: the rest is never read, whatever a Content-Length said.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => never,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel("too large").catch(() => {});
      tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * How much of a refused request body a Worker still reads, and throws away, in all. An HTTP/1.1
 * server that answers before the client has finished sending closes the connection with unread
 * bytes in it, and the client (or a proxy in between: wrangler's dev proxy, a load balancer)
 * then sees a reset instead of the answer: under `npm start` a 40 MiB chunked upload got the
 * 413 only sometimes, otherwise a reset or wrangler's plain-text 500 "Network connection lost".
 * So a body over its limit is drained, never kept, up to this many bytes; past that the stream
 * is cancelled (Cloudflare itself refuses bodies over 100 MB on most plans before a Worker runs).
 */
export const REQUEST_DISCARD_LIMIT = 128 * 1024 * 1024;

/**
 * A request body that errors with `tooLarge()` once more than `max` bytes arrived, after
 * draining the rest of the source (see REQUEST_DISCARD_LIMIT); nothing past `max` is kept.
 * Cancelling it (a reader gave up early, e.g. on a bad line) drains the source the same way.
 * Pull-based, so at most one chunk is held at a time whatever the reader does.
 */
export function limitRequestBody(
  body: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
  discardLimit = REQUEST_DISCARD_LIMIT,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        total += value.byteLength;
        if (total <= max) return controller.enqueue(value);
        await discardRest(reader, total, discardLimit);
        controller.error(tooLarge());
      },
      cancel: () => discardRest(reader, total, discardLimit),
    },
    { highWaterMark: 0 },
  );
}

/** Reads a whole request body under `max` bytes (limitRequestBody), or throws `tooLarge()`. */
export function readRequestBody(
  body: ReadableStream<Uint8Array>,
  max: number,
  tooLarge: () => Error,
  discardLimit = REQUEST_DISCARD_LIMIT,
): Promise<Uint8Array> {
  return readCapped(limitRequestBody(body, max, tooLarge, discardLimit), max, () => {
    throw tooLarge();
  });
}

/**
 * Drains a request body nobody read (a Worker answered before looking at it: 401, 404, 405,
 * a Content-Length over the limit), so the answer reaches the client; see REQUEST_DISCARD_LIMIT.
 */
export async function discardRequestBody(
  request: Request,
  discardLimit = REQUEST_DISCARD_LIMIT,
): Promise<void> {
  if (request.bodyUsed) return;
  const body = request.body;
  if (body === null || body.locked) return;
  await discardRest(body.getReader(), 0, discardLimit);
}

/** Reads and drops what is left of a stream, up to `limit` bytes in all, then cancels it. */
async function discardRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  readSoFar: number,
  limit: number,
): Promise<void> {
  let total = readSoFar;
  try {
    while (total <= limit) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
    }
  } catch {
    return; // the client went away: nothing left to drain
  }
  await reader.cancel("request body too large").catch(() => {});
}

/** The CRC-32 byte table, built once when the module loads (256 entries; a constant, never written after). */
const CRC_TABLE: Readonly<Uint32Array> = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continues a CRC-32 (IEEE 802.3) over `data`; start with 0xffffffff, finish with `crc32Final`. */
export function crc32Update(crc: number, data: Uint8Array): number {
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

export const crc32Final = (crc: number) => (crc ^ 0xffffffff) >>> 0;

/** CRC-32 of `bytes`, as zip stores it. */
export const crc32 = (bytes: Uint8Array) => crc32Final(crc32Update(0xffffffff, bytes));
