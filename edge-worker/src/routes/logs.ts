/**
 * `POST /v1/logs` (PRODUCT.md X4, the seed's "real time log"; issue 15): a client sends a batch of
 * log entries (core/contracts/logs.ts). The edge validates it, rate limits it per device and per
 * mini program, leaves out entries the retention would delete anyway, and puts it on the LOGS
 * queue; the admin Worker's consumer stores it (control-plane/src/services/logs.ts). The edge never
 * writes D1 here; it reads only the mini program's snapshot (cached per isolate, as the check does),
 * so logs for an App ID that does not exist are refused with 404.
 *
 * The body may be gzip-compressed (`Content-Encoding: gzip`). Both the bytes on the wire and the
 * bytes after decompression are capped at LOG_LIMITS.batchBytes while streaming, so neither a
 * large body nor a gzip bomb is ever held in memory: past the cap the stream is cancelled and
 * the answer is 413.
 */
import { limitRequestBody, readCapped } from "../../../core/bytes";
import {
  LOG_LIMITS,
  type LogAccepted,
  type LogBatch,
  LogBatchSchema,
  type LogQueueMessage,
} from "../../../core/contracts/logs";
import { validationError } from "../../../core/contracts/validation";
import { ApiError, notFound } from "../../../core/errors";
import { type EdgeBindings, readNumberVar } from "../env";
import { JSON_NO_STORE_HEADERS } from "../headers";
import { limitBy } from "../rate-limit";
import { snapshotCache } from "../snapshot-cache";

/**
 * A queue message holds at most 128 KB; a batch (up to 256 KiB of JSON) is split into messages of
 * at most this many bytes of JSON entries, each carrying the batch's device facts.
 */
const MESSAGE_ENTRY_BYTES = 96 * 1024;

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;

const tooLarge = () =>
  new ApiError(
    "payload_too_large",
    `a log batch is limited to ${LOG_LIMITS.batchBytes} bytes of JSON (after decompression)`,
  );

function json(body: unknown, status: number, extra: [string, string][] = []): Response {
  return new Response(JSON.stringify(body), { status, headers: [...JSON_NO_STORE_HEADERS, ...extra] });
}

/** Answers `POST /v1/logs`; `now` (ms) is the wall clock but in tests that move time themselves. */
export async function answerLogs(request: Request, env: EdgeBindings, now = Date.now()): Promise<Response> {
  const batch = await readBatch(request);

  // After validation (a malformed batch is 400 without touching a counter), before any work.
  const limited =
    (await limitBy(
      env,
      "LOG_DEVICE_LIMITER",
      `${batch.appId}:${batch.guid}`,
      "too many log batches from this device",
    )) ?? (await limitBy(env, "LOG_APP_LIMITER", batch.appId, "too many log batches for this mini program"));
  if (limited) return limited;

  // Logs only for a mini program that exists: its snapshot, cached per isolate as for the check
  // (one R2 revalidation per TTL), so made-up App IDs cannot fill the log store.
  const snapshot = await snapshotCache.get(
    env.PACKAGES,
    batch.appId,
    readNumberVar(env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS),
    now,
  );
  if (!snapshot) throw notFound("mini program");

  // Entries the 7-day retention would delete at once, or from a clock far ahead, are left out.
  const oldest = now - LOG_LIMITS.maxAgeMs;
  const newest = now + LOG_LIMITS.futureSkewMs;
  const entries = batch.entries.filter((e) => e.time >= oldest && e.time <= newest);
  const dropped = batch.entries.length - entries.length;
  if (entries.length > 0) {
    // One send per piece: sendBatch caps the sum of its messages at 256 KB, which a full batch
    // with its device facts repeated per piece can pass.
    await Promise.all(
      splitBatch({ ...batch, entries }).map((piece) =>
        env.LOGS.send({ batch: piece, receivedAt: now } satisfies LogQueueMessage, { contentType: "json" }),
      ),
    );
  }
  const answer: LogAccepted = { accepted: entries.length, dropped };
  return json(answer, 202);
}

/**
 * Reads and validates the batch. In order: Content-Type JSON (415), Content-Encoding identity or
 * gzip (415), Content-Length over the cap (413 before reading), the body under the cap on the wire
 * and after decompression (413), gzip that does not decode (400), JSON (400), the schema (400).
 */
async function readBatch(request: Request): Promise<LogBatch> {
  if (!isJsonType(request.headers.get("content-type")))
    throw new ApiError("unsupported_media_type", "the body must be application/json");
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "gzip")
    throw new ApiError("unsupported_media_type", "Content-Encoding must be gzip or absent");
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > LOG_LIMITS.batchBytes) throw tooLarge();
  const body = request.body;
  if (body === null) throw new ApiError("bad_request", "a JSON body is required");

  // The wire bytes are capped first (a refused body is drained so the 413 reaches the client),
  // then the decompressed bytes, as they come out of the decompressor: a small gzip body that
  // inflates past the cap is cancelled there, with at most one chunk more in memory.
  const wire = limitRequestBody(body, LOG_LIMITS.batchBytes, tooLarge);
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(
      encoding === "gzip"
        ? wire.pipeThrough(new DecompressionStream("gzip") as ReadableWritablePair<Uint8Array, Uint8Array>)
        : wire,
      LOG_LIMITS.batchBytes,
      () => {
        throw tooLarge();
      },
    );
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError("bad_request", "the body is not valid gzip");
  }
  if (bytes.byteLength === 0) throw new ApiError("bad_request", "a JSON body is required");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ApiError("bad_request", "the body is not valid UTF-8 JSON");
  }
  const result = LogBatchSchema.safeParse(value);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

function isJsonType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/** The batch as queue-sized pieces (MESSAGE_ENTRY_BYTES of entries each), device facts repeated. */
function splitBatch(batch: LogBatch): LogBatch[] {
  const pieces: LogBatch[] = [];
  let entries: LogBatch["entries"] = [];
  let bytes = 0;
  for (const entry of batch.entries) {
    // UTF-16 length x 3 bounds the UTF-8 size of the entry's JSON.
    const size = JSON.stringify(entry).length * 3;
    if (entries.length > 0 && bytes + size > MESSAGE_ENTRY_BYTES) {
      pieces.push({ ...batch, entries });
      entries = [];
      bytes = 0;
    }
    entries.push(entry);
    bytes += size;
  }
  if (entries.length > 0) pieces.push({ ...batch, entries });
  return pieces;
}
