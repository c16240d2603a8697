/**
 * Downloads one signed object (package or increment) into memory, defending against the TUF
 * "endless data" attack and surviving cut connections:
 *
 *  - the signed `size` is the hard cap: a declared Content-Length above it, or the first byte
 *    past it, aborts the request at once (the rest is never read);
 *  - a connection that breaks (or ends early) is resumed with `Range: bytes=<received>-` and
 *    `If-Range: "<sha256>"` (the edge's strong ETag), so only the missing bytes travel; a 200
 *    answer means the server could not continue those bytes and the download starts over;
 *  - a request that brings no byte for `idleTimeoutMs` (a stalled or crawling server, TUF "slow
 *    retrieval") is aborted and resumed like a broken one, so an update never hangs;
 *  - the SHA-256 of the whole is compared with the signed one before anything uses the bytes.
 */
import { sha256Hex } from "./bytes";
import { ClientError } from "./errors";

export type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export interface DownloadTarget {
  url: string;
  size: number;
  sha256: string;
}

export interface DownloadOptions {
  /** requests in all (the first one plus resumptions) */
  attempts: number;
  /** the largest object this client accepts whatever the manifest says */
  maxBytes: number;
  /** abort a request that brings no byte for this long (headers included) */
  idleTimeoutMs: number;
}

export interface Downloaded {
  bytes: Uint8Array;
  /** bytes received over the network, resumptions and restarts included */
  transferred: number;
  /** how many requests continued a broken one with Range */
  resumed: number;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

export async function download(
  fetch: Fetch,
  target: DownloadTarget,
  options: DownloadOptions,
): Promise<Downloaded> {
  if (target.size > options.maxBytes)
    throw new ClientError(
      "too_large",
      `${target.url}: ${target.size} bytes is more than this client accepts (${options.maxBytes})`,
    );
  const buffer = new Uint8Array(target.size);
  let received = 0;
  let transferred = 0;
  let resumed = 0;
  let lastProblem = "no attempt made";

  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const controller = new AbortController();
    const watchdog = idleWatchdog(controller, options.idleTimeoutMs);
    const headers: Record<string, string> = {};
    if (received > 0) {
      headers.range = `bytes=${received}-`;
      headers["if-range"] = `"${target.sha256}"`;
    }
    let res: Response;
    try {
      res = await fetch(target.url, { headers, signal: controller.signal });
    } catch (error) {
      watchdog.stop();
      lastProblem = describe(error);
      continue;
    }
    watchdog.poke();

    if (res.status === 206 && received > 0) {
      const m = CONTENT_RANGE.exec(res.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== received || Number(m[3]) !== target.size) {
        await res.body?.cancel().catch(() => {});
        lastProblem = `a resumed request got ${JSON.stringify(res.headers.get("content-range"))} instead of bytes ${received}-`;
        received = 0;
        continue;
      }
      resumed += 1;
    } else if (res.status === 200) {
      received = 0;
    } else {
      await res.body?.cancel().catch(() => {});
      lastProblem = `HTTP ${res.status}`;
      // A client error will not go away by asking again.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break;
      continue;
    }

    const declared = res.headers.get("content-length");
    if (declared !== null && received + Number(declared) > target.size) {
      controller.abort();
      throw new ClientError(
        "endless_data",
        `${target.url}: the server announces ${received + Number(declared)} bytes, the signed size is ${target.size}`,
      );
    }

    try {
      const before = received;
      received = await pump(res.body, buffer, received, target.url, () => controller.abort(), watchdog.poke);
      transferred += received - before;
    } catch (error) {
      if (error instanceof PartialRead) {
        transferred += error.received - received;
        received = error.received;
        lastProblem = `connection broke after ${received} of ${target.size} bytes (${describe(error.cause)})`;
        continue;
      }
      throw error;
    } finally {
      watchdog.stop();
    }
    if (received === target.size) {
      const actual = await sha256Hex(buffer);
      if (actual !== target.sha256)
        throw new ClientError(
          "hash_mismatch",
          `${target.url}: SHA-256 is ${actual}, the manifest signed ${target.sha256}`,
        );
      return { bytes: buffer, transferred, resumed };
    }
    lastProblem = `the body ended after ${received} of ${target.size} bytes`;
  }
  throw new ClientError("download_failed", `${target.url}: ${lastProblem}`);
}

/** A body that broke off; `received` counts what was kept. */
class PartialRead extends Error {
  constructor(
    readonly received: number,
    cause: unknown,
  ) {
    super("partial read", { cause });
  }
}

/** Aborts `controller` when `poke` was not called for `ms`; started at once. */
function idleWatchdog(controller: AbortController, ms: number): { poke: () => void; stop: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poke = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`no data for ${ms} ms`)), ms);
  };
  poke();
  return { poke, stop: () => timer !== undefined && clearTimeout(timer) };
}

/** Copies a body into `buffer` from `offset`; returns the new fill level. */
async function pump(
  body: ReadableStream<Uint8Array> | null,
  buffer: Uint8Array,
  offset: number,
  url: string,
  abort: () => void,
  progress: () => void,
): Promise<number> {
  if (!body) return offset;
  const reader = body.getReader();
  let at = offset;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw new PartialRead(at, error);
    }
    if (chunk.done) return at;
    progress();
    const value = chunk.value;
    if (at + value.byteLength > buffer.byteLength) {
      abort();
      await reader.cancel().catch(() => {});
      throw new ClientError(
        "endless_data",
        `${url}: more bytes arrived than the signed size of ${buffer.byteLength}; download aborted`,
      );
    }
    buffer.set(value, at);
    at += value.byteLength;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
