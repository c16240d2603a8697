/**
 * The reference client's logger (client/src/logger.ts; issue 15) against the REAL edge route in
 * workerd: the logger's `fetch` is bound to the edge Worker, whose LOGS queue producer is wrapped
 * so the test sees what it enqueued (the queue still receives it), and the admin Worker's real
 * queue handler stores it in LOGS_DB. What the logger builds (gzip bodies, batches split under the
 * limits, cut text) must be what the edge accepts, and the edge's own 429 must hold the logger
 * back for its Retry-After. The logger's timers are held by the test and never fire by themselves.
 */
import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Logger, type LoggerOptions, type LoggerTimers } from "../client/src/index";
import { LOG_LIMITS, type LogQueueMessage } from "../core/contracts/logs";
import edgeApp from "../edge-worker/src/index";
import { testEnv } from "./env";
import { edgeEnv, HOST_APP, newAppId, ORIGIN, online, packageRef, putSnapshot } from "./support/edge";
import { deliverLogs } from "./support/logs";

const LONG = 120_000;

/** The edge Worker as the logger's fetch, its queue sends recorded; every request recorded too. */
function edgeForLogger() {
  const sent: LogQueueMessage[] = [];
  const requests: { encoding: string | null; status: number }[] = [];
  const queue = edgeEnv.LOGS;
  const LOGS = new Proxy(queue, {
    get(target, prop) {
      if (prop === "send")
        return (body: LogQueueMessage, options?: QueueSendOptions) => {
          sent.push(structuredClone(body));
          return target.send(body, options);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const env = { ...edgeEnv, LOGS };
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const res = await edgeApp.fetch(request, env, createExecutionContext());
    requests.push({ encoding: request.headers.get("content-encoding"), status: res.status });
    return res;
  };
  return { sent, requests, fetch };
}

/** Timers that never fire: the test flushes by hand. */
function heldTimers(): LoggerTimers & { pending: number } {
  const timers = new Set<number>();
  let next = 1;
  return {
    get pending() {
      return timers.size;
    },
    set: () => {
      timers.add(next);
      return next++;
    },
    clear: (handle) => {
      timers.delete(handle as number);
    },
  };
}

async function loggerFor(
  appId: string,
  guid: string,
  options: Partial<LoggerOptions> = {},
  now: () => number = Date.now,
) {
  const edge = edgeForLogger();
  const logger = new Logger(
    {
      edge: ORIGIN,
      appId,
      hostAppId: HOST_APP,
      device: {
        hostAppVersion: "8.0.50",
        platform: "android",
        osVersion: "14",
        guid,
        baseLibraryVersion: "3.4.0",
      },
      clientVersion: "1.0.0",
      flushEntries: 10_000,
      flushBytes: 10_000_000,
      maxEntries: 5000,
      maxBytes: 10_000_000,
      ...options,
    },
    { fetch: edge.fetch, timers: heldTimers(), now },
  );
  return { edge, logger };
}

const storedDay = () => `logs_${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`;

describe("the reference client's logger against the real edge", () => {
  it(
    "its batches (gzip, split under the limits, text cut to the per-entry limits) are accepted, queued and stored",
    async () => {
      const appId = newAppId();
      await putSnapshot({ appId, online: online("1.0.0", packageRef("lg")) });
      const guid = `logger-${crypto.randomUUID()}`;
      const { edge, logger } = await loggerFor(appId, guid);
      logger.error("pay failed", {
        page: "pages/order/detail",
        filterMsg: ["order-42", "x".repeat(200), "a", "b", "c", "d"],
        crash: true,
      });
      // ~6 KiB of JSON each: these need more than one batch under the 256 KiB limit
      const wide = "漢".repeat(LOG_LIMITS.messageChars + 500);
      for (let i = 0; i < 120; i++) logger.info(`wide-${i}-${wide}`, { page: "pages/index/index" });

      const result = await logger.flush();
      expect(result.left).toBe(0);
      expect(result.sent).toBe(121);
      expect(edge.requests.length).toBeGreaterThan(2);
      expect(edge.requests.every((r) => r.status === 202 && r.encoding === "gzip")).toBe(true);
      expect(logger.stats()).toMatchObject({
        sent: 121,
        dropped: { overflow: 0, refused: 0, expired: 0 },
        lastError: null,
      });

      const queued = edge.sent.flatMap((m) => m.batch.entries);
      expect(queued).toHaveLength(121);
      expect(edge.sent[0]!.batch).toMatchObject({ appId, guid, platform: "android", clientVersion: "1.0.0" });
      expect(queued[0]).toMatchObject({ level: "error", message: "pay failed", crash: true });
      expect(queued[0]!.filterMsg).toHaveLength(LOG_LIMITS.filterTags);
      expect(queued[1]!.message).toHaveLength(LOG_LIMITS.messageChars);
      expect(queued[1]!.message.endsWith("漢…")).toBe(true);

      const delivery = await deliverLogs(edge.sent);
      expect(delivery.ackAll).toBe(true);
      const { results } = await testEnv.LOGS_DB.prepare(
        `SELECT message FROM ${storedDay()} WHERE guid = ?1 ORDER BY id`,
      )
        .bind(guid)
        .all<{ message: string }>();
      expect(results).toHaveLength(121);
      expect(results[0]!.message).toBe("pay failed");
      expect(results.slice(1).map((r) => r.message.split("-", 2).join("-"))).toEqual(
        Array.from({ length: 120 }, (_, i) => `wide-${i}`),
      );
    },
    LONG,
  );

  it(
    "the edge's per-device 429 holds the logger back for its Retry-After; the batch is kept, not dropped",
    async () => {
      const appId = newAppId();
      await putSnapshot({ appId, online: online("1.0.0", packageRef("lg")) });
      // A clock that stands still (entries a minute old are still fresh for the edge): the wait
      // the 429 starts can be compared exactly.
      const t = Date.now();
      const { edge, logger } = await loggerFor(appId, `limited-${crypto.randomUUID()}`, {}, () => t);
      // The device limit is 30 batches a minute (windows aligned to the clock: up to 60 pass).
      for (let i = 0; i < 62 && !edge.requests.some((r) => r.status === 429); i++) {
        logger.info(`batch ${i}`, { page: "pages/index/index" });
        await logger.flush();
      }
      expect(edge.requests.at(-1)!.status).toBe(429);
      const stats = logger.stats();
      expect(stats.lastError).toContain("HTTP 429 rate_limited");
      expect(stats.buffered).toBe(1);
      expect(stats.dropped).toEqual({ overflow: 0, refused: 0, expired: 0 });
      // Retry-After is 60 s: until then even an explicit flush sends nothing
      expect(stats.waitingUntil).toBe(t + 60_000);
      const requests = edge.requests.length;
      expect(await logger.flush()).toMatchObject({ batches: 0, sent: 0, left: 1 });
      expect(edge.requests).toHaveLength(requests);
    },
    LONG,
  );
});
