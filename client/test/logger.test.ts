/**
 * The reference client's logger (client/src/logger.ts; issue 15) against a real local HTTP server
 * that behaves like the edge's `POST /v1/logs`: it reads gzip bodies, validates them with the
 * edge's own schema (core/contracts/logs.ts LogBatchSchema; an invalid one is a 400, as at the
 * edge), records every request and answers 202 `{accepted, dropped}`, or what a test scripts: 429
 * with Retry-After, 5xx, 400, a cut connection, an answer held back. Time is a manual clock the
 * test moves; the logger's timers run on it, so nothing sleeps and nothing depends on speed.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOG_LEVELS, LOG_LIMITS, type LogBatch, LogBatchSchema } from "../../core/contracts/logs";
import {
  ClientError,
  emptyState,
  GraycastClient,
  LOGGER_EDGE_LIMITS,
  LOGGER_LEVELS,
  Logger,
  type LoggerOptions,
  type LoggerTimers,
  MemoryStore,
} from "../src/index";
import { APP_ID, HOST_APP } from "./support/fixtures";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);

/** What the edge does with the next request. */
type Action =
  | { kind: "accept" }
  | { kind: "status"; status: number; retryAfter?: string }
  /** the connection is destroyed before any answer: a network error for the client */
  | { kind: "cut" }
  /** the answer waits until the test calls `release()` */
  | { kind: "hold" };

interface Received {
  headers: IncomingMessage["headers"];
  /** bytes on the wire */
  wireBytes: number;
  /** bytes after decompression */
  jsonBytes: number;
  batch: LogBatch;
  /** the answer's status */
  status: number | "cut";
}

class FakeLogEdge {
  readonly received: Received[] = [];
  readonly script: Action[] = [];
  /** the most requests in progress at once */
  maxConcurrent = 0;
  #concurrent = 0;
  #held: (() => void)[] = [];
  #server: Server;
  url = "";

  constructor() {
    this.#server = createServer((req, res) => void this.#answer(req, res));
  }

  async start(): Promise<void> {
    this.#server.listen(0, "127.0.0.1");
    await once(this.#server, "listening");
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const release of this.#held) release();
    this.#server.closeAllConnections();
    this.#server.close();
  }

  /** Lets every held answer go. */
  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const release of held) release();
  }

  /** Every entry message the edge took (202), in arrival order. */
  accepted(): string[] {
    return this.received
      .filter((r) => r.status === 202)
      .flatMap((r) => r.batch.entries.map((e) => e.message));
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#concurrent += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.#concurrent);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const wire = Buffer.concat(chunks);
      const action = this.script.shift() ?? { kind: "accept" };
      let json: Buffer;
      try {
        json = req.headers["content-encoding"] === "gzip" ? gunzipSync(wire) : wire;
      } catch {
        // as at the edge: gzip that does not decode is a 400
        this.received.push({
          headers: req.headers,
          wireBytes: wire.byteLength,
          jsonBytes: 0,
          batch: null as never,
          status: 400,
        });
        res
          .writeHead(400, { "content-type": "application/json" })
          .end('{"error":{"code":"bad_request","message":"not gzip"}}');
        return;
      }
      if (action.kind === "cut") {
        this.received.push(this.#record(req, wire, json, "cut"));
        req.socket.destroy();
        return;
      }
      if (action.kind === "hold") await new Promise<void>((resolve) => this.#held.push(resolve));
      let status = action.kind === "status" ? action.status : 202;
      // As at the edge: a body over the limit or not matching the schema is refused.
      const parsed = LogBatchSchema.safeParse(JSON.parse(json.toString("utf8")));
      if (status === 202 && (json.byteLength > LOG_LIMITS.batchBytes || !parsed.success)) status = 400;
      this.received.push(this.#record(req, wire, json, status));
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (action.kind === "status" && action.retryAfter !== undefined)
        headers["retry-after"] = action.retryAfter;
      res.writeHead(status, headers);
      res.end(
        JSON.stringify(
          status === 202
            ? { accepted: parsed.data!.entries.length, dropped: 0 }
            : {
                error: {
                  code: status === 429 ? "rate_limited" : "bad_request",
                  message: `scripted ${status}`,
                },
              },
        ),
      );
    } finally {
      this.#concurrent -= 1;
    }
  }

  #record(req: IncomingMessage, wire: Buffer, json: Buffer, status: number | "cut"): Received {
    return {
      headers: req.headers,
      wireBytes: wire.byteLength,
      jsonBytes: json.byteLength,
      batch: JSON.parse(json.toString("utf8")) as LogBatch,
      status,
    };
  }
}

/** A clock and timers the test moves by hand. */
class ManualTime implements LoggerTimers {
  now = T0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;

  set(callback: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, callback });
    return id;
  }

  clear(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** when the earliest timer is due, or null */
  nextDue(): number | null {
    let due: number | null = null;
    for (const t of this.#timers.values()) if (due === null || t.at < due) due = t.at;
    return due;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting the flushes they start finish. */
  async advance(ms: number, logger: Logger): Promise<void> {
    const target = this.now + ms;
    for (;;) {
      await logger.idle();
      let first: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) if (first === undefined || entry[1].at < first[1].at) first = entry;
      if (first === undefined || first[1].at > target) break;
      this.#timers.delete(first[0]);
      this.now = Math.max(this.now, first[1].at);
      first[1].callback();
    }
    this.now = target;
    await logger.idle();
  }
}

let edge: FakeLogEdge;
let time: ManualTime;

beforeEach(async () => {
  edge = new FakeLogEdge();
  await edge.start();
  time = new ManualTime();
});

afterEach(async () => {
  await edge.stop();
});

const DEVICE = {
  hostAppVersion: "8.0.50",
  platform: "ios",
  osVersion: "17.4.1",
  guid: "guid-device-1",
  baseLibraryVersion: "3.4.0",
} as const;

function makeLogger(options: Partial<LoggerOptions> = {}, random = () => 0.5): Logger {
  return new Logger(
    {
      edge: `${edge.url}/`,
      appId: APP_ID,
      hostAppId: HOST_APP,
      device: { ...DEVICE },
      clientVersion: "1.2.0",
      // large triggers unless a test wants them: flushes happen when the test says
      flushEntries: 10_000,
      flushBytes: 10_000_000,
      flushIntervalMs: 60_000,
      baseBackoffMs: 1000,
      maxBackoffMs: 8000,
      ...options,
    },
    { fetch, now: () => time.now, timers: time, random },
  );
}

const page = "pages/index/index";
const messages = (n: number, prefix = "m") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe("the logger's entries", () => {
  it("keeps the edge's limits and levels (core/contracts/logs.ts) exactly", () => {
    const { futureSkewMs: _skew, ...edgeLimits } = LOG_LIMITS;
    expect(LOGGER_EDGE_LIMITS).toEqual(edgeLimits);
    expect(LOGGER_LEVELS).toEqual(LOG_LEVELS);
  });

  it("sends the device and app facts once per batch and each entry's time, level, page, tags and crash", async () => {
    const logger = makeLogger();
    logger.debug("trace", { page: "pages/a" });
    time.now += 5;
    logger.info("shown", { page: "pages/b", filterMsg: ["order-42"] });
    logger.warn("slow", { page: "pages/c", crash: true });
    logger.error("pay failed", { page: "pages/order/detail", filterMsg: ["order-42", "pay"], crash: true });
    const result = await logger.flush();
    expect(result).toEqual({ batches: 1, sent: 4, left: 0 });
    expect(edge.received).toHaveLength(1);
    const { batch, status } = edge.received[0]!;
    expect(status).toBe(202);
    expect(LogBatchSchema.parse(batch)).toEqual(batch);
    expect(batch).toEqual({
      appId: APP_ID,
      hostAppId: HOST_APP,
      hostAppVersion: "8.0.50",
      platform: "ios",
      osVersion: "17.4.1",
      guid: "guid-device-1",
      clientVersion: "1.2.0",
      baseLibraryVersion: "3.4.0",
      entries: [
        { time: T0, level: "debug", message: "trace", page: "pages/a" },
        { time: T0 + 5, level: "info", message: "shown", page: "pages/b", filterMsg: ["order-42"] },
        // crash is only meaningful (and only sent) with level error
        { time: T0 + 5, level: "warn", message: "slow", page: "pages/c" },
        {
          time: T0 + 5,
          level: "error",
          message: "pay failed",
          page: "pages/order/detail",
          filterMsg: ["order-42", "pay"],
          crash: true,
        },
      ],
    });
    expect(logger.stats()).toMatchObject({ sent: 4, buffered: 0, bufferedBytes: 0 });
  });

  it("cuts text over the per-entry limits instead of being refused, never splitting a character", async () => {
    const logger = makeLogger();
    const long = `${"x".repeat(LOG_LIMITS.messageChars - 2)}😀😀 and more`;
    logger.error(long, {
      page: `pages/${"p".repeat(400)}\n`,
      filterMsg: ["a\tb", "t".repeat(100), "", "c", "d", "e", "f", "g"],
    });
    logger.info("", { page: "" });
    logger.log("fatal" as never, "an unknown level", { page });
    await logger.flush();
    expect(edge.received.map((r) => r.status)).toEqual([202]);
    const [first, second] = edge.received[0]!.batch.entries;
    expect(first!.message).toHaveLength(LOG_LIMITS.messageChars - 1);
    expect(first!.message).toBe(`${"x".repeat(LOG_LIMITS.messageChars - 2)}…`);
    expect(first!.page).toBe(`pages/${"p".repeat(LOG_LIMITS.pageChars - 7)}…`);
    expect(first!.filterMsg).toEqual(["a b", `${"t".repeat(LOG_LIMITS.filterTagChars - 1)}…`, "c", "d", "e"]);
    expect(second).toMatchObject({ message: "(empty message)", page: "(unknown page)" });
    // an untyped caller's unknown level would get the whole batch refused: it is sent as info
    expect(edge.received[0]!.batch.entries[2]).toMatchObject({ level: "info", message: "an unknown level" });
    expect(logger.stats().dropped).toEqual({ overflow: 0, refused: 0, expired: 0 });
  });

  it("gives each batch one client version: entries logged after setClientVersion go in a batch of their own", async () => {
    const logger = makeLogger();
    logger.info("old-1", { page });
    logger.info("old-2", { page });
    logger.setClientVersion("1.3.0");
    logger.info("new-1", { page });
    await logger.flush();
    expect(edge.received.map((r) => [r.batch.clientVersion, r.batch.entries.map((e) => e.message)])).toEqual([
      ["1.2.0", ["old-1", "old-2"]],
      ["1.3.0", ["new-1"]],
    ]);
  });
});

it("refuses a config without a guid or base library version: the edge would refuse every batch", () => {
  const base = { edge: edge.url, appId: APP_ID, hostAppId: HOST_APP, clientVersion: "1.0.0" };
  const { guid: _g, ...noGuid } = DEVICE;
  const { baseLibraryVersion: _b, ...noBase } = DEVICE;
  expect(() => new Logger({ ...base, device: noGuid }, { fetch })).toThrow(/guid/);
  expect(() => new Logger({ ...base, device: noBase }, { fetch })).toThrow(/baseLibraryVersion/);
  // a device id stands in for a missing guid
  expect(() => new Logger({ ...base, device: { ...noGuid, deviceId: "d-1" } }, { fetch })).not.toThrow();
});

describe("when the logger flushes", () => {
  it("flushes once flushEntries are buffered, without waiting for the interval", async () => {
    const logger = makeLogger({ flushEntries: 5 });
    for (const m of messages(4)) logger.info(m, { page });
    await logger.idle();
    expect(edge.received).toHaveLength(0);
    logger.info("m4", { page });
    await logger.idle();
    expect(edge.accepted()).toEqual(messages(5));
  });

  it("flushes once flushBytes are buffered", async () => {
    const logger = makeLogger({ flushBytes: 2000 });
    logger.info("a".repeat(1000), { page });
    await logger.idle();
    expect(edge.received).toHaveLength(0);
    logger.info("b".repeat(1000), { page });
    await logger.idle();
    expect(edge.received).toHaveLength(1);
    expect(edge.received[0]!.batch.entries).toHaveLength(2);
  });

  it("flushes flushIntervalMs after the first unsent entry, and not before", async () => {
    const logger = makeLogger({ flushIntervalMs: 10_000 });
    logger.info("first", { page });
    await time.advance(6_000, logger);
    logger.info("second", { page });
    await time.advance(3_999, logger);
    expect(edge.received).toHaveLength(0);
    await time.advance(1, logger);
    expect(edge.accepted()).toEqual(["first", "second"]);
    // nothing buffered: no timer is left running
    expect(time.nextDue()).toBeNull();
  });

  it("splits a flush into batches within the edge's entry and byte limits, order kept", async () => {
    const logger = makeLogger({ maxEntries: 5000, maxBytes: 10_000_000 });
    for (const m of messages(230)) logger.info(m, { page });
    // 3 UTF-8 bytes a character: ~6 KiB of JSON per entry, so 100 of them would pass 256 KiB
    const wide = "漢".repeat(LOG_LIMITS.messageChars - 10);
    for (const m of messages(90, "w")) logger.warn(`${m}${wide}`, { page });
    const result = await logger.flush();
    expect(result.left).toBe(0);
    expect(edge.received.every((r) => r.status === 202)).toBe(true);
    const sizes = edge.received.map((r) => r.batch.entries.length);
    // the first two batches are full by count, the later ones by bytes (fewer than 100 each)
    expect(sizes.slice(0, 2)).toEqual([100, 100]);
    expect(sizes.slice(2).every((n) => n < LOG_LIMITS.batchEntries)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(320);
    expect(edge.received.length).toBeGreaterThan(4);
    for (const r of edge.received) {
      expect(r.batch.entries.length).toBeLessThanOrEqual(LOG_LIMITS.batchEntries);
      expect(r.jsonBytes).toBeLessThanOrEqual(LOG_LIMITS.batchBytes);
    }
    expect(edge.accepted().map((m) => m.replace(/漢+$/, ""))).toEqual([
      ...messages(230),
      ...messages(90, "w"),
    ]);
  });

  it("gzips bodies of 1 KiB or more (the edge decompresses them), leaves small ones and compress: false alone", async () => {
    const logger = makeLogger();
    logger.info("small", { page });
    await logger.flush();
    for (const m of messages(40)) logger.info(`${m} the same words again and again`, { page });
    await logger.flush();
    expect(edge.received.map((r) => r.headers["content-encoding"])).toEqual([undefined, "gzip"]);
    const zipped = edge.received[1]!;
    expect(zipped.status).toBe(202);
    expect(zipped.wireBytes).toBeLessThan(zipped.jsonBytes);

    const plain = makeLogger({ compress: false });
    for (const m of messages(40)) plain.info(`${m} the same words again and again`, { page });
    await plain.flush();
    expect(edge.received[2]!.headers["content-encoding"]).toBeUndefined();
    expect(edge.received[2]!.wireBytes).toBe(edge.received[2]!.jsonBytes);
  });
});

describe("bounded memory", () => {
  it("caps the entries kept, drops the oldest first and counts them", async () => {
    const logger = makeLogger({ maxEntries: 10 });
    for (const m of messages(25)) logger.info(m, { page });
    expect(logger.stats()).toMatchObject({ buffered: 10, dropped: { overflow: 15, refused: 0, expired: 0 } });
    await logger.flush();
    expect(edge.accepted()).toEqual(messages(25).slice(15));
  });

  it("caps the bytes kept, drops the oldest first and counts them", async () => {
    const logger = makeLogger({ maxBytes: 1000 });
    for (const m of messages(20)) logger.info(`${m}:${"z".repeat(150)}`, { page });
    const stats = logger.stats();
    expect(stats.bufferedBytes).toBeLessThanOrEqual(1000);
    expect(stats.buffered).toBeGreaterThan(0);
    expect(stats.dropped.overflow).toBe(20 - stats.buffered);
    await logger.flush();
    expect(edge.accepted().map((m) => m.split(":")[0])).toEqual(messages(20).slice(20 - stats.buffered));
  });

  it("offline for long: the oldest are dropped to the cap, and entries past the 7-day retention are not sent", async () => {
    const logger = makeLogger({ maxEntries: 6 });
    for (const m of messages(4, "old")) logger.info(m, { page });
    time.now += LOG_LIMITS.maxAgeMs - 1000;
    for (const m of messages(4, "new")) logger.info(m, { page });
    // the cap dropped old0 and old1; two seconds later old2 and old3 are past the retention
    time.now += 2000;
    await logger.flush();
    expect(edge.accepted()).toEqual(messages(4, "new"));
    expect(logger.stats().dropped).toEqual({ overflow: 2, refused: 0, expired: 2 });
  });
});

describe("failures", () => {
  it("retries network errors and 5xx with exponential backoff and jitter, sending each entry once in the end", async () => {
    const logger = makeLogger({ flushEntries: 3 });
    edge.script.push({ kind: "cut" }, { kind: "status", status: 503 }, { kind: "status", status: 500 });
    for (const m of messages(3)) logger.info(m, { page });
    await logger.idle();
    expect(edge.received.map((r) => r.status)).toEqual(["cut"]);
    // random() = 0.5: half the delay fixed plus a quarter: 750 ms, then 1500, 3000
    const waits: number[] = [];
    for (const expected of [750, 1500, 3000]) {
      const stats = logger.stats();
      expect(stats.waitingUntil).not.toBeNull();
      waits.push(stats.waitingUntil! - time.now);
      const before = edge.received.length;
      // automatic flushes wait: more entries past flushEntries send nothing during the backoff
      logger.info(`during-${expected}`, { page });
      await time.advance(expected - 1, logger);
      expect(edge.received).toHaveLength(before);
      await time.advance(1, logger);
      expect(edge.received).toHaveLength(before + 1);
    }
    expect(waits).toEqual([750, 1500, 3000]);
    expect(edge.received.map((r) => r.status)).toEqual(["cut", 503, 500, 202]);
    expect(edge.accepted()).toEqual([...messages(3), "during-750", "during-1500", "during-3000"]);
    expect(logger.stats()).toMatchObject({ failures: 0, retries: 3, waitingUntil: null, buffered: 0 });
  });

  it("draws the jitter from random() and caps the delay at maxBackoffMs", async () => {
    const logger = makeLogger({}, () => 0);
    edge.script.push(...Array.from({ length: 6 }, () => ({ kind: "status", status: 502 }) as const));
    logger.info("x", { page });
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      await logger.flush();
      const until = logger.stats().waitingUntil!;
      waits.push(until - time.now);
      time.now = until;
    }
    // explicit flushes do not wait for the backoff; random() = 0: half of 1, 2, 4, 8, 8, 8 s
    expect(waits).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });

  it("waits out a 429's Retry-After, even for an explicit flush", async () => {
    const logger = makeLogger();
    edge.script.push({ kind: "status", status: 429, retryAfter: "7" });
    logger.info("limited", { page });
    await logger.flush();
    expect(logger.stats().waitingUntil).toBe(T0 + 7000);
    await time.advance(6_999, logger);
    expect(await logger.flush()).toEqual({ batches: 0, sent: 0, left: 1 });
    expect(edge.received).toHaveLength(1);
    await time.advance(1, logger);
    expect(edge.received.map((r) => r.status)).toEqual([429, 202]);
    expect(edge.accepted()).toEqual(["limited"]);
  });

  it("never retries a 400: drops that batch, counts it and goes on with the next", async () => {
    const logger = makeLogger();
    edge.script.push({ kind: "status", status: 400 });
    for (const m of messages(100, "bad")) logger.info(m, { page });
    for (const m of messages(5, "good")) logger.info(m, { page });
    const result = await logger.flush();
    expect(result).toEqual({ batches: 1, sent: 5, left: 0 });
    expect(logger.stats()).toMatchObject({ dropped: { overflow: 0, refused: 100, expired: 0 }, retries: 0 });
    expect(logger.stats().lastError).toContain("HTTP 400");
    await time.advance(3_600_000, logger);
    await logger.flush();
    expect(edge.received.map((r) => r.status)).toEqual([400, 202]);
    expect(edge.accepted()).toEqual(messages(5, "good"));
  });

  it("a batch the real schema refuses (device facts the edge does not accept) is dropped, not retried", async () => {
    const logger = new Logger(
      {
        edge: edge.url,
        appId: APP_ID,
        hostAppId: HOST_APP,
        device: { ...DEVICE, osVersion: "not a version" },
        clientVersion: "1.2.0",
      },
      { fetch, now: () => time.now, timers: time },
    );
    logger.info("x", { page });
    await logger.flush();
    await time.advance(3_600_000, logger);
    expect(edge.received.map((r) => r.status)).toEqual([400]);
    expect(logger.stats().dropped.refused).toBe(1);
  });
});

describe("one flush at a time, and close", () => {
  it("never overlaps flushes: later flushes wait for the running one, and every entry arrives once, in order", async () => {
    const logger = makeLogger({ flushEntries: 2 });
    edge.script.push({ kind: "hold" });
    logger.info("a", { page });
    logger.info("b", { page });
    // the size-triggered flush is now waiting for its answer
    while (edge.received.length === 0 && edge.maxConcurrent === 0) await new Promise((r) => setImmediate(r));
    logger.info("c", { page });
    logger.info("d", { page });
    const explicit = [logger.flush(), logger.flush()];
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(edge.maxConcurrent).toBe(1);
    edge.release();
    await Promise.all(explicit);
    await logger.idle();
    expect(edge.maxConcurrent).toBe(1);
    expect(edge.accepted()).toEqual(["a", "b", "c", "d"]);
  });

  it("close() flushes once, without retrying, and ignores entries after it", async () => {
    const logger = makeLogger();
    edge.script.push({ kind: "status", status: 500 });
    logger.info("last words", { page });
    expect(await logger.close()).toEqual({ batches: 0, sent: 0, left: 1 });
    logger.info("too late", { page });
    await time.advance(3_600_000, logger);
    expect(edge.received.map((r) => r.status)).toEqual([500]);
    expect(time.nextDue()).toBeNull();

    const other = makeLogger();
    other.info("bye", { page });
    expect(await other.close()).toEqual({ batches: 1, sent: 1, left: 0 });
    expect(edge.accepted()).toEqual(["bye"]);
  });

  it("close() sends even during a network backoff (the App is going away)", async () => {
    const logger = makeLogger();
    edge.script.push({ kind: "cut" });
    logger.info("x", { page });
    await logger.flush();
    expect(logger.stats().waitingUntil).not.toBeNull();
    expect(await logger.close()).toEqual({ batches: 1, sent: 1, left: 0 });
    expect(edge.received.map((r) => r.status)).toEqual(["cut", 202]);
  });
});

describe("GraycastClient.logger()", () => {
  const config = (url: string) => ({
    edge: url,
    appId: APP_ID,
    hostAppId: HOST_APP,
    device: { ...DEVICE },
    platformKeys: { keys: [] },
  });
  const decompress = () => {
    throw new Error("unused");
  };

  it("takes the config's facts and the installed version, and refuses when nothing is installed", async () => {
    const store = new MemoryStore();
    const client = new GraycastClient(config(edge.url), { fetch, store, decompress, now: () => time.now });
    await expect(client.logger()).rejects.toSatisfy(
      (e) => e instanceof ClientError && e.code === "not_installed",
    );

    await store.activate(
      {
        ...emptyState(APP_ID),
        installed: { version: "2.0.1", files: "x", list: [], package: "y", source: "check" },
      },
      new Map(),
    );
    const logger = await client.logger({ flushEntries: 1 }, { timers: time });
    logger.warn("from the client", { page });
    await logger.idle();
    expect(edge.received).toHaveLength(1);
    expect(edge.received[0]!.batch).toMatchObject({
      appId: APP_ID,
      guid: "guid-device-1",
      clientVersion: "2.0.1",
      entries: [{ time: T0, level: "warn", message: "from the client" }],
    });
  });
});
