/**
 * The reference client's logger (PRODUCT.md X4, the seed's "real time log"; issue 15: "the
 * reference client gains a logger that batches, caps its memory, retries with backoff and drops
 * the oldest entries first when offline too long"). A mini program calls `debug/info/warn/error`;
 * the logger stamps each entry with the time and sends entries in batches to the edge
 * (`POST /v1/logs`, core/contracts/logs.ts) with the device facts of the client's config once per
 * batch.
 *
 * - Memory is bounded by entries AND bytes (LOGGER_DEFAULTS); past either cap the OLDEST entries
 *   are dropped and counted (`stats().dropped.overflow`). The batch contract has no field for that
 *   count (it is strict: an extra field would be refused), so it is exposed, not sent.
 * - A flush starts when `flushEntries` / `flushBytes` are buffered, `flushIntervalMs` after the
 *   first unsent entry, or on `flush()`. Flushes never overlap: one pass at a time, in order.
 * - Batches stay within the edge's per-batch limits (entries and JSON bytes; split when needed)
 *   and entries within its per-entry limits (long text is cut, not refused). Bodies of 1 KiB or
 *   more are gzip-compressed when the runtime has CompressionStream.
 * - A network error or 5xx keeps the batch and waits with exponential backoff and jitter; a 429
 *   waits its Retry-After; any other 4xx (a 400 above all) is never retried: that batch is dropped
 *   and counted (`dropped.refused`), since sending it again would be refused again.
 * - The clock, timers and randomness are injected, so tests decide when time passes.
 *
 * Runtime-agnostic (fetch and CompressionStream only, no Node imports) and free of zod: the
 * limits below mirror core/contracts/logs.ts LOG_LIMITS (client/test/logger.test.ts keeps them
 * equal), as client/src/tickets.ts does for tickets.
 */
import { readCapped } from "../../core/bytes";
import type { Fetch } from "./download";
import type { ClientConfig } from "./types";

/** core/contracts/logs.ts LOG_LEVELS */
export const LOGGER_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LoggerLevel = (typeof LOGGER_LEVELS)[number];

/** The edge's limits (core/contracts/logs.ts LOG_LIMITS), as the logger keeps to them. */
export const LOGGER_EDGE_LIMITS = {
  messageChars: 2048,
  pageChars: 256,
  filterTags: 5,
  filterTagChars: 64,
  batchEntries: 100,
  batchBytes: 256 * 1024,
  maxAgeMs: 7 * 24 * 3_600_000,
} as const;

/** Defaults of the tunable options (README "Real-time logs", the reference client's logger). */
export const LOGGER_DEFAULTS = {
  /** entries kept in memory at most (buffered and in flight) */
  maxEntries: 1000,
  /** bytes of entry JSON kept in memory at most */
  maxBytes: 512 * 1024,
  /** a flush starts once this many entries are buffered */
  flushEntries: 50,
  /** ... or this many bytes */
  flushBytes: 64 * 1024,
  /** ... or this long after the first unsent entry (the edge allows 30 batches a minute per device) */
  flushIntervalMs: 10_000,
  /** first retry delay after a network error or 5xx; doubles per failure up to maxBackoffMs */
  baseBackoffMs: 2_000,
  maxBackoffMs: 5 * 60_000,
  /** bodies this large or larger are gzip-compressed (when CompressionStream exists) */
  compressFromBytes: 1024,
  /** a request that takes longer is aborted and counts as a network error */
  timeoutMs: 30_000,
} as const;

/** Room left under the edge's byte limit for what the JSON text of a batch may add. */
const BATCH_BYTES_MARGIN = 1024;
/** A Retry-After is obeyed up to this long (a broken header must not silence the logger forever). */
const MAX_RETRY_AFTER_MS = 60 * 60_000;

export interface LogFields {
  /** the page path, e.g. pages/order/detail ("page link" in the seed) */
  page: string;
  /** tags a query finds entries by ("filterMsg content"); at most 5 of 64 characters are sent */
  filterMsg?: readonly string[];
  /** an uncaught error that ended the session (counted by health guardrails); sent with error only */
  crash?: boolean;
}

export interface LoggerOptions
  extends Pick<ClientConfig, "edge" | "appId" | "hostAppId" | "device">,
    Partial<Record<keyof typeof LOGGER_DEFAULTS, number>> {
  /** the running mini program's version ("client version"); `setClientVersion` after an update */
  clientVersion: string;
  /** gzip large bodies when the runtime can (default true) */
  compress?: boolean;
}

/** setTimeout / clearTimeout, injectable so tests move time themselves. */
export interface LoggerTimers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export interface LoggerDeps {
  fetch: Fetch;
  /** ms since the epoch (default Date.now) */
  now?: () => number;
  timers?: LoggerTimers;
  /** in [0, 1): the backoff's jitter (default Math.random) */
  random?: () => number;
}

export interface LoggerStats {
  /** entries waiting in memory (in flight included) and their JSON bytes */
  buffered: number;
  bufferedBytes: number;
  /** entries the edge accepted (its 202 `accepted`) */
  sent: number;
  dropped: {
    /** oldest entries dropped to stay under maxEntries / maxBytes */
    overflow: number;
    /** entries of batches the edge refused with a 4xx other than 429 (never retried) */
    refused: number;
    /**
     * entries older than the retention, dropped here before sending, and those the edge's 202
     * counted as `dropped` (older than the retention, or from a clock more than 5 min ahead)
     */
    expired: number;
  };
  /** requests that failed and will be retried (network error, 5xx, 429) */
  retries: number;
  /** consecutive failures now (0 after a success) */
  failures: number;
  /** ms since the epoch before which nothing is sent (backoff or Retry-After), or null */
  waitingUntil: number | null;
  /** the last failure or refusal, e.g. "HTTP 400 bad_request: ...", "network: fetch failed" */
  lastError: string | null;
}

/** What one flush did. */
export interface FlushResult {
  /** batches the edge took (202) */
  batches: number;
  /** entries the edge took */
  sent: number;
  /** entries still buffered after it (a retry is scheduled when the edge could not be reached) */
  left: number;
}

interface Pending {
  /** the entry as sent */
  json: string;
  /** UTF-8 bytes of `json` */
  bytes: number;
  time: number;
  /** the mini program version that wrote it: a batch carries one */
  version: string;
}

type Facts = {
  appId: string;
  hostAppId: string;
  hostAppVersion: string;
  platform: "android" | "ios";
  osVersion: string;
  guid: string;
  baseLibraryVersion: string;
};

type Tuning = Record<keyof typeof LOGGER_DEFAULTS, number> & { compress: boolean };

const encoder = new TextEncoder();
/** At most this much of an answer is read (a 202 body is ~30 bytes, an error ~300). */
const MAX_ANSWER_BYTES = 16 * 1024;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** `text` cut to `max` UTF-16 units without splitting a surrogate pair, "…" marking the cut. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** Free client text as the edge accepts it (ClientTextSchema): no control characters, 1..max. */
function clientText(value: unknown, max: number): string {
  return cut(String(value ?? "").replace(CONTROL, " "), max).trim();
}

export class Logger {
  readonly #facts: Facts;
  readonly #url: string;
  readonly #o: Tuning;
  readonly #fetch: Fetch;
  readonly #now: () => number;
  readonly #timers: LoggerTimers;
  readonly #random: () => number;
  #version: string;

  /** oldest first; does not hold the batch in flight */
  #buffer: Pending[] = [];
  #bufferBytes = 0;
  /** the batch being sent: still in memory, still counted against the caps */
  #inflight: Pending[] = [];
  #inflightBytes = 0;

  #timer: unknown = null;
  #timerDue = 0;
  /** when the interval flush of the oldest unsent entry is due */
  #intervalDue: number | null = null;
  /** backoff after network errors / 5xx */
  #backoffUntil = 0;
  /** the edge's Retry-After */
  #retryAfterUntil = 0;
  /** the pass running now and the one queued behind it: flushes never overlap */
  #chain: Promise<unknown> = Promise.resolve();
  #passes = 0;
  #closed = false;
  #stats = { sent: 0, overflow: 0, refused: 0, expired: 0, retries: 0, failures: 0 };
  #lastError: string | null = null;

  constructor(options: LoggerOptions, deps: LoggerDeps) {
    const { device } = options;
    const guid = device.guid ?? device.deviceId;
    if (guid === undefined) throw new TypeError("the logger needs device.guid (or device.deviceId)");
    if (device.baseLibraryVersion === undefined)
      throw new TypeError("the logger needs device.baseLibraryVersion");
    this.#facts = {
      appId: options.appId,
      hostAppId: options.hostAppId,
      hostAppVersion: device.hostAppVersion,
      platform: device.platform,
      osVersion: device.osVersion,
      guid,
      baseLibraryVersion: device.baseLibraryVersion,
    };
    this.#version = options.clientVersion;
    this.#url = `${options.edge.replace(/\/+$/, "")}/v1/logs`;
    const o: Tuning = { ...LOGGER_DEFAULTS, compress: true };
    for (const key of Object.keys(LOGGER_DEFAULTS) as (keyof typeof LOGGER_DEFAULTS)[]) {
      const value = options[key];
      if (value !== undefined) {
        if (!Number.isFinite(value) || value < 0) throw new TypeError(`logger option ${key} must be >= 0`);
        o[key] = value;
      }
    }
    if (options.compress === false) o.compress = false;
    if (o.maxEntries < 1 || o.maxBytes < 1) throw new TypeError("maxEntries and maxBytes must be >= 1");
    this.#o = o;
    this.#fetch = deps.fetch;
    this.#now = deps.now ?? Date.now;
    this.#timers = deps.timers ?? {
      set: (callback, ms) => setTimeout(callback, ms),
      clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    this.#random = deps.random ?? Math.random;
  }

  debug(message: string, fields: LogFields): void {
    this.log("debug", message, fields);
  }
  info(message: string, fields: LogFields): void {
    this.log("info", message, fields);
  }
  warn(message: string, fields: LogFields): void {
    this.log("warn", message, fields);
  }
  error(message: string, fields: LogFields): void {
    this.log("error", message, fields);
  }

  /** Buffers one entry; never throws and never waits (a logger must not break its caller). */
  log(level: LoggerLevel, message: string, fields: LogFields): void {
    if (this.#closed) return;
    try {
      this.#add(level, message, fields);
    } catch {
      // a message whose String() throws, say: that entry is lost, the caller goes on
    }
  }

  #add(level: LoggerLevel, message: string, fields: LogFields): void {
    // an unknown level from untyped callers would make the edge refuse the whole batch
    if (!LOGGER_LEVELS.includes(level)) level = "info";
    const time = Math.max(0, Math.floor(this.#now()));
    // Per-entry limits: cut rather than be refused (a 400 would lose the whole batch).
    let text = cut(String(message ?? ""), LOGGER_EDGE_LIMITS.messageChars);
    if (text.length === 0) text = "(empty message)";
    let page = clientText(fields?.page, LOGGER_EDGE_LIMITS.pageChars);
    if (page.length === 0) page = "(unknown page)";
    const tags = (Array.isArray(fields?.filterMsg) ? fields.filterMsg : [])
      .map((t) => clientText(t, LOGGER_EDGE_LIMITS.filterTagChars))
      .filter((t) => t.length > 0)
      .slice(0, LOGGER_EDGE_LIMITS.filterTags);
    const entry: Record<string, unknown> = { time, level, message: text, page };
    if (tags.length > 0) entry.filterMsg = tags;
    if (fields?.crash === true && level === "error") entry.crash = true;
    const json = JSON.stringify(entry);
    const bytes = encoder.encode(json).byteLength;
    this.#buffer.push({ json, bytes, time, version: this.#version });
    this.#bufferBytes += bytes;
    this.#intervalDue ??= time + this.#o.flushIntervalMs;
    this.#trim();
    if (this.#buffer.length >= this.#o.flushEntries || this.#bufferBytes >= this.#o.flushBytes)
      this.#autoFlush();
    else this.#schedule();
  }

  /** The version later entries carry (after an update activated a new one). */
  setClientVersion(version: string): void {
    this.#version = version;
  }

  /**
   * Sends everything buffered now, in batches, after any flush already running (never beside
   * it). It does not wait out the backoff of earlier network errors (call it when the network is
   * back), but it does wait out the edge's Retry-After: before then it sends nothing. Never throws.
   */
  flush(): Promise<FlushResult> {
    return this.#enqueue(true);
  }

  /** Stops the timers and sends what is buffered once, without retries; later entries are ignored. */
  async close(): Promise<FlushResult> {
    if (this.#closed) return { batches: 0, sent: 0, left: this.#buffer.length };
    this.#closed = true;
    this.#clearTimer();
    return this.#enqueue(true);
  }

  /** Resolves when no flush is running or queued (tests and shutdown hooks). */
  async idle(): Promise<void> {
    while (this.#passes > 0) await this.#chain;
  }

  stats(): LoggerStats {
    const s = this.#stats;
    const waiting = Math.max(this.#backoffUntil, this.#retryAfterUntil);
    return {
      buffered: this.#buffer.length + this.#inflight.length,
      bufferedBytes: this.#bufferBytes + this.#inflightBytes,
      sent: s.sent,
      dropped: { overflow: s.overflow, refused: s.refused, expired: s.expired },
      retries: s.retries,
      failures: s.failures,
      waitingUntil: waiting > this.#now() ? waiting : null,
      lastError: this.#lastError,
    };
  }

  /** Drops the oldest buffered entries until memory is under both caps. */
  #trim(): void {
    while (
      this.#buffer.length > 0 &&
      (this.#buffer.length + this.#inflight.length > this.#o.maxEntries ||
        this.#bufferBytes + this.#inflightBytes > this.#o.maxBytes)
    ) {
      const dropped = this.#buffer.shift()!;
      this.#bufferBytes -= dropped.bytes;
      this.#stats.overflow += 1;
    }
  }

  /** A size-triggered flush: not while another is running or queued, nor while waiting. */
  #autoFlush(): void {
    if (this.#passes > 0) return;
    if (this.#now() < Math.max(this.#backoffUntil, this.#retryAfterUntil)) {
      this.#schedule();
      return;
    }
    this.#enqueue(false).catch(() => undefined);
  }

  #enqueue(explicit: boolean): Promise<FlushResult> {
    this.#passes += 1;
    const run = this.#chain.then(() => this.#pass(explicit));
    const done = run.finally(() => {
      this.#passes -= 1;
      this.#schedule();
    });
    this.#chain = done.catch(() => undefined);
    return done;
  }

  /** Arms the one timer for the next due flush: the interval, or the end of the wait. */
  #schedule(): void {
    if (this.#closed || this.#buffer.length === 0 || this.#passes > 0) {
      if (this.#buffer.length === 0) this.#intervalDue = null;
      this.#clearTimer();
      return;
    }
    const waitUntil = Math.max(this.#backoffUntil, this.#retryAfterUntil);
    const sizeDue = this.#buffer.length >= this.#o.flushEntries || this.#bufferBytes >= this.#o.flushBytes;
    const now = this.#now();
    // Waiting (backoff or Retry-After): try again as soon as allowed; else by size or interval.
    const due = waitUntil > now ? waitUntil : sizeDue ? now : (this.#intervalDue ?? now);
    if (this.#timer !== null && this.#timerDue === due) return;
    this.#clearTimer();
    this.#timerDue = due;
    this.#timer = this.#timers.set(
      () => {
        this.#timer = null;
        if (this.#passes === 0 && !this.#closed) this.#enqueue(false).catch(() => undefined);
      },
      Math.max(0, due - now),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#timers.clear(this.#timer);
    this.#timer = null;
  }

  /** One flush: batches from the oldest entry on, until the buffer is empty or a send fails. */
  async #pass(explicit: boolean): Promise<FlushResult> {
    const result: FlushResult = { batches: 0, sent: 0, left: 0 };
    const final = this.#closed;
    this.#intervalDue = null;
    for (;;) {
      const now = this.#now();
      if (now < this.#retryAfterUntil) break;
      if (!explicit && now < this.#backoffUntil) break;
      this.#dropExpired(now);
      if (!this.#take()) break;
      const outcome = await this.#send();
      const batch = this.#inflight;
      this.#inflight = [];
      this.#inflightBytes = 0;
      if (outcome.kind === "accepted") {
        this.#stats.sent += outcome.accepted;
        this.#stats.expired += outcome.dropped;
        this.#stats.failures = 0;
        this.#backoffUntil = 0;
        result.batches += 1;
        result.sent += outcome.accepted;
        continue;
      }
      if (outcome.kind === "refused") {
        // Sending it again would be refused again: drop it, count it, go on with the next batch.
        this.#stats.refused += batch.length;
        continue;
      }
      // Retryable: the batch goes back to the head (still the oldest), the wait starts.
      this.#buffer.unshift(...batch);
      this.#bufferBytes += batch.reduce((n, e) => n + e.bytes, 0);
      this.#trim();
      this.#stats.retries += 1;
      this.#stats.failures += 1;
      const after = this.#now();
      if (outcome.retryAfterMs !== undefined) this.#retryAfterUntil = after + outcome.retryAfterMs;
      else this.#backoffUntil = after + this.#backoff(this.#stats.failures);
      break;
    }
    if (this.#buffer.length > 0 && !final) this.#intervalDue = this.#now() + this.#o.flushIntervalMs;
    result.left = this.#buffer.length;
    return result;
  }

  /** Exponential backoff with equal jitter: half the delay fixed, half random. */
  #backoff(failures: number): number {
    const delay = Math.min(this.#o.maxBackoffMs, this.#o.baseBackoffMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(delay / 2 + this.#random() * (delay / 2));
  }

  /** Entries older than the edge's retention would only be dropped there: drop them here. */
  #dropExpired(now: number): void {
    const oldest = now - LOGGER_EDGE_LIMITS.maxAgeMs;
    while (this.#buffer.length > 0 && this.#buffer[0]!.time < oldest) {
      this.#bufferBytes -= this.#buffer.shift()!.bytes;
      this.#stats.expired += 1;
    }
  }

  /** Moves the next batch (one client version, within the edge's limits) into flight. */
  #take(): boolean {
    if (this.#buffer.length === 0) return false;
    const version = this.#buffer[0]!.version;
    const room = LOGGER_EDGE_LIMITS.batchBytes - BATCH_BYTES_MARGIN - this.#head(version).length;
    let count = 0;
    let bytes = 0;
    while (count < this.#buffer.length && count < LOGGER_EDGE_LIMITS.batchEntries) {
      const next = this.#buffer[count]!;
      if (next.version !== version) break;
      // +1: the comma between entries (every entry fits alone: at most ~8 KiB of JSON)
      if (count > 0 && bytes + next.bytes + 1 > room) break;
      bytes += next.bytes + 1;
      count += 1;
    }
    this.#inflight = this.#buffer.splice(0, count);
    this.#inflightBytes = this.#inflight.reduce((n, e) => n + e.bytes, 0);
    this.#bufferBytes -= this.#inflightBytes;
    return true;
  }

  /** The batch's JSON up to its entries array: the device facts once. */
  #head(version: string): string {
    const facts = JSON.stringify({ ...this.#facts, clientVersion: version });
    return `${facts.slice(0, -1)},"entries":[`;
  }

  async #send(): Promise<
    | { kind: "accepted"; accepted: number; dropped: number }
    | { kind: "refused" }
    | { kind: "retry"; retryAfterMs?: number }
  > {
    const batch = this.#inflight;
    const text = `${this.#head(batch[0]!.version)}${batch.map((e) => e.json).join(",")}]}`;
    let body: Uint8Array = encoder.encode(text);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (
      this.#o.compress &&
      body.byteLength >= this.#o.compressFromBytes &&
      typeof CompressionStream === "function"
    ) {
      try {
        body = await gzip(body);
        headers["content-encoding"] = "gzip";
      } catch {
        // a runtime whose CompressionStream fails: the edge takes the plain JSON as well
      }
    }
    let res: Response;
    let answer: string;
    try {
      res = await this.#fetch(this.#url, {
        method: "POST",
        headers,
        body,
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      answer = res.body
        ? new TextDecoder().decode(
            await readCapped(res.body, MAX_ANSWER_BYTES, () => {
              throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
            }),
          )
        : "";
    } catch (error) {
      this.#lastError = `network: ${error instanceof Error ? error.message : String(error)}`;
      return { kind: "retry" };
    }
    if (res.status >= 200 && res.status < 300) {
      let accepted = batch.length;
      let dropped = 0;
      try {
        const parsed = JSON.parse(answer) as { accepted?: unknown; dropped?: unknown };
        if (typeof parsed.accepted === "number") accepted = parsed.accepted;
        if (typeof parsed.dropped === "number") dropped = parsed.dropped;
      } catch {
        // a 2xx without the usual body still took the batch
      }
      return { kind: "accepted", accepted, dropped };
    }
    this.#lastError = `HTTP ${res.status} ${describeError(answer)}`;
    if (res.status === 429) return { kind: "retry", retryAfterMs: retryAfterMs(res, this.#now()) };
    if (res.status >= 500 || res.status === 408) return { kind: "retry" };
    return { kind: "refused" };
  }
}

function describeError(answer: string): string {
  try {
    const body = JSON.parse(answer) as { error?: { code?: unknown; message?: unknown } };
    return `${String(body.error?.code ?? "")}: ${String(body.error?.message ?? "")}`;
  } catch {
    return answer.slice(0, 200);
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable (backoff then). */
function retryAfterMs(res: Response, now: number): number | undefined {
  const value = res.headers.get("retry-after")?.trim();
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Response(bytes).body!.pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
