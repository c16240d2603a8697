/**
 * Real-time logs, ingestion (PRODUCT.md X4; issue 15): `POST /v1/logs` on the edge validates a
 * batch under the per-entry and per-batch limits (LOG_LIMITS), accepts gzip bodies with the
 * decompressed size capped while streaming, rate limits per device and per mini program (429 +
 * Retry-After), leaves out entries older than the retention and enqueues the rest on the real
 * LOGS queue; the admin Worker's queue handler stores them. No 5xx on any malformed input.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { consumeLogBatches } from "../control-plane/src/services/logs";
import adminToml from "../control-plane/wrangler.toml?raw";
import { LOG_LIMITS, type LogQueueMessage } from "../core/contracts/logs";
import edgeToml from "../wrangler.toml?raw";
import { testEnv } from "./env";
import { newAppId, online, packageRef, putSnapshot } from "./support/edge";
import { deliverLogs, entry, gzip, logBatch, recordingEdge } from "./support/logs";

const LONG = 120_000;

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: { code: string } };
  expect(body.error.code).toBe(code);
  return body;
}

let appId: string;
beforeAll(async () => {
  appId = newAppId();
  await putSnapshot({ appId, online: online("1.0.0", packageRef("lg")) });
});

describe("POST /v1/logs: accepting a batch", () => {
  it("answers 202 with the count and puts the batch on the queue, device facts and entries intact", async () => {
    const edge = recordingEdge();
    const batch = logBatch(appId, {
      entries: [
        entry({ level: "error", message: "boom", filterMsg: ["order", "pay"], crash: true }),
        entry({ level: "debug", message: "trace" }),
      ],
    });
    const res = await edge.postBatch(batch);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2, dropped: 0 });
    expect(edge.sent).toHaveLength(1);
    expect(edge.sent[0]!.batch).toEqual(batch);
    expect(edge.sent[0]!.receivedAt).toBeGreaterThan(0);
  });

  it("accepts a gzip-compressed body", async () => {
    const edge = recordingEdge();
    const batch = logBatch(appId, { entries: [entry({ message: "zipped" })] });
    const res = await edge.post(await gzip(JSON.stringify(batch)), { "content-encoding": "gzip" });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, dropped: 0 });
    expect(edge.sent[0]!.batch.entries[0]!.message).toBe("zipped");
  });

  it("leaves out entries older than the retention or far in the future, and enqueues nothing when none is left", async () => {
    const edge = recordingEdge();
    const now = Date.now();
    const batch = logBatch(appId, {
      entries: [
        entry({ time: now - LOG_LIMITS.maxAgeMs - 60_000, message: "too old" }),
        entry({ time: now + LOG_LIMITS.futureSkewMs + 60_000, message: "from the future" }),
        entry({ time: now - 1000, message: "fine" }),
      ],
    });
    const res = await edge.postBatch(batch);
    expect(await res.json()).toEqual({ accepted: 1, dropped: 2 });
    expect(edge.sent.flatMap((m) => m.batch.entries.map((e) => e.message))).toEqual(["fine"]);

    const old = await edge.postBatch(
      logBatch(appId, { entries: [entry({ time: now - LOG_LIMITS.maxAgeMs - 1 })] }),
    );
    expect(old.status).toBe(202);
    expect(await old.json()).toEqual({ accepted: 0, dropped: 1 });
    expect(edge.sent).toHaveLength(1);
  });

  it("splits a full batch into queue messages under the 128 KB message limit, losing nothing", async () => {
    const edge = recordingEdge();
    const entries = Array.from({ length: LOG_LIMITS.batchEntries }, (_, i) =>
      entry({ message: `${i}:`.padEnd(LOG_LIMITS.messageChars, "x") }),
    );
    const res = await edge.postBatch(logBatch(appId, { entries }));
    expect(await res.json()).toEqual({ accepted: 100, dropped: 0 });
    expect(edge.sent.length).toBeGreaterThan(1);
    for (const m of edge.sent) expect(JSON.stringify(m).length).toBeLessThan(128_000);
    expect(edge.sent.flatMap((m) => m.batch.entries.map((e) => e.message.split(":")[0]))).toEqual(
      entries.map((_, i) => String(i)),
    );
  });

  it("refuses logs for a mini program that does not exist (404), enqueuing nothing", async () => {
    const edge = recordingEdge();
    await expectError(await edge.postBatch(logBatch(newAppId())), 404, "not_found");
    expect(edge.sent).toEqual([]);
  });
});

describe("POST /v1/logs: limits", () => {
  it("refuses an entry over its limits and a batch over its entry count with 400 naming the field", async () => {
    const edge = recordingEdge();
    const cases: [unknown, string][] = [
      [
        logBatch(appId, { entries: [entry({ message: "m".repeat(LOG_LIMITS.messageChars + 1) })] }),
        "entries",
      ],
      [logBatch(appId, { entries: [entry({ page: "p".repeat(LOG_LIMITS.pageChars + 1) })] }), "entries"],
      [
        logBatch(appId, {
          entries: [entry({ filterMsg: Array.from({ length: LOG_LIMITS.filterTags + 1 }, () => "t") })],
        }),
        "entries",
      ],
      [
        logBatch(appId, { entries: [entry({ filterMsg: ["t".repeat(LOG_LIMITS.filterTagChars + 1)] })] }),
        "entries",
      ],
      [
        logBatch(appId, { entries: Array.from({ length: LOG_LIMITS.batchEntries + 1 }, () => entry()) }),
        "entries",
      ],
      [logBatch(appId, { entries: [] }), "entries"],
      [logBatch(appId, { guid: "g".repeat(129) }), "guid"],
      [{ ...logBatch(appId), extra: 1 }, ""],
    ];
    for (const [body, field] of cases) {
      const res = await edge.postBatch(body);
      const err = (await expectError(res, 400, "bad_request")) as {
        error: { issues?: { path: string }[] };
      };
      if (field) expect(err.error.issues?.some((i) => i.path.split(".")[0] === field)).toBe(true);
    }
    expect(edge.sent).toEqual([]);
  });

  it("refuses a body over the batch size with 413, by Content-Length or while streaming", async () => {
    const edge = recordingEdge();
    const big = JSON.stringify({ ...logBatch(appId), pad: "x".repeat(LOG_LIMITS.batchBytes) });
    await expectError(await edge.post(big), 413, "payload_too_large");
    // No Content-Length: the body is a stream, refused as it passes the cap.
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 16_384) c.enqueue(bytes.slice(i, i + 16_384));
        c.close();
      },
    });
    await expectError(await edge.post(stream), 413, "payload_too_large");
    expect(edge.sent).toEqual([]);
  });

  it("refuses a gzip bomb (small on the wire, past the cap once inflated) with 413", async () => {
    const edge = recordingEdge();
    // 64 MiB of zeros gzip to ~64 KiB: under the wire cap, 256 times over the decompressed one.
    const bomb = await gzip(new Uint8Array(64 * 1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(LOG_LIMITS.batchBytes);
    await expectError(await edge.post(bomb, { "content-encoding": "gzip" }), 413, "payload_too_large");
    // Just over the cap once inflated, valid JSON inside: still refused.
    const over = JSON.stringify({ ...logBatch(appId), pad: "y".repeat(LOG_LIMITS.batchBytes) });
    await expectError(
      await edge.post(await gzip(over), { "content-encoding": "gzip" }),
      413,
      "payload_too_large",
    );
    expect(edge.sent).toEqual([]);
  });

  it("answers malformed input with a 4xx in the one error shape, never a 5xx", async () => {
    const edge = recordingEdge();
    const batch = JSON.stringify(logBatch(appId));
    const cases: [Response, number, string][] = [
      [await edge.post("{not json"), 400, "bad_request"],
      [await edge.post(""), 400, "bad_request"],
      [await edge.post(null), 400, "bad_request"],
      [await edge.post("[]"), 400, "bad_request"],
      [await edge.post("null"), 400, "bad_request"],
      [await edge.post(new Uint8Array([0xff, 0xfe, 0x7b])), 400, "bad_request"],
      [await edge.post(batch, { "content-type": "text/plain" }), 415, "unsupported_media_type"],
      [await edge.post(batch, { "content-encoding": "br" }), 415, "unsupported_media_type"],
      [await edge.post("not gzip at all", { "content-encoding": "gzip" }), 400, "bad_request"],
      [await edge.post((await gzip(batch)).slice(0, 20), { "content-encoding": "gzip" }), 400, "bad_request"],
      [await edge.post(await gzip("{oops"), { "content-encoding": "gzip" }), 400, "bad_request"],
      [await edge.postBatch({ ...logBatch(appId), appId: "nope" }), 400, "bad_request"],
      [
        await edge.postBatch(logBatch(appId, { entries: [entry({ level: "fatal" as "error" })] })),
        400,
        "bad_request",
      ],
      [await edge.postBatch(logBatch(appId, { entries: [entry({ time: -1 })] })), 400, "bad_request"],
      [await edge.postBatch(logBatch(appId, { entries: [entry({ message: "a\u0000b" })] })), 202, ""],
      [await edge.postBatch(logBatch(appId, { entries: [entry({ page: "a\nb" })] })), 400, "bad_request"],
      [await edge.post(batch, {}, "PUT"), 405, "method_not_allowed"],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status, `${status} ${code}`).toBe(status);
      if (code) expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      else await res.body?.cancel();
    }
  });
});

describe("POST /v1/logs: rate limits", () => {
  /** wrangler.toml's LOG_DEVICE_LIMITER and LOG_APP_LIMITER. */
  const DEVICE_LIMIT = 30;
  const APP_LIMIT = 1000;

  /** Sends until refused (windows are aligned to the clock: up to twice the limit plus one). */
  async function exhaust(send: (i: number) => Promise<Response>, limit: number): Promise<Response> {
    for (let i = 0; i <= 2 * limit; i++) {
      const res = await send(i);
      if (res.status === 429) return res;
      expect(res.status).toBe(202);
      await res.body?.cancel();
    }
    throw new Error(`no 429 after ${2 * limit + 1} batches`);
  }

  async function expectLimited(res: Response, retryAfter: string) {
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe(retryAfter);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
  }

  it(
    "refuses a device over its limit with 429 and Retry-After; another device of the same mini program goes on",
    async () => {
      const edge = recordingEdge();
      const guid = `dev-${crypto.randomUUID()}`;
      // Old entries: the limit counts batches, and nothing needs to be queued to count them.
      const old = [entry({ time: 1 })];
      const refused = await exhaust(
        () => edge.postBatch(logBatch(appId, { guid, entries: old })),
        DEVICE_LIMIT,
      );
      await expectLimited(refused, "60");
      const other = await edge.postBatch(logBatch(appId, { entries: old }));
      expect(other.status).toBe(202);
    },
    LONG,
  );

  it(
    "refuses a mini program over its limit with 429 and Retry-After, whichever device sends; other mini programs go on",
    async () => {
      const flooded = newAppId();
      const quiet = newAppId();
      for (const id of [flooded, quiet])
        await putSnapshot({ appId: id, online: online("1.0.0", packageRef("lf")) });
      const edge = recordingEdge();
      const old = [entry({ time: 1 })];
      // Concurrent rounds: one by one, a loaded machine may not reach the limit within a window.
      let refused: Response | undefined;
      for (let round = 0; round * 250 <= 4 * APP_LIMIT && !refused; round++) {
        const answers = await Promise.all(
          Array.from({ length: 250 }, (_, i) =>
            edge.postBatch(logBatch(flooded, { guid: `flood-${round}-${i}`, entries: old })),
          ),
        );
        for (const res of answers) {
          if (res.status === 429 && !refused) refused = res;
          else {
            expect([202, 429]).toContain(res.status);
            await res.body?.cancel();
          }
        }
      }
      if (!refused) throw new Error(`no 429 after ${4 * APP_LIMIT} batches`);
      await expectLimited(refused, "10");
      expect((await edge.postBatch(logBatch(quiet, { entries: old }))).status).toBe(202);
    },
    LONG,
  );

  it("does not count a malformed batch", async () => {
    const edge = recordingEdge();
    const guid = `bad-${crypto.randomUUID()}`;
    for (let i = 0; i < 2 * DEVICE_LIMIT + 1; i++) {
      const res = await edge.postBatch(logBatch(appId, { guid, entries: [] }));
      expect(res.status).toBe(400);
      await res.body?.cancel();
    }
    expect((await edge.postBatch(logBatch(appId, { guid, entries: [entry({ time: 1 })] }))).status).toBe(202);
  });
});

describe("the queue consumer (admin Worker)", () => {
  it("stores what the edge enqueued, acks the delivery and drops malformed messages", async () => {
    const edge = recordingEdge();
    const guid = `consumer-${crypto.randomUUID()}`;
    await edge.postBatch(
      logBatch(appId, { guid, entries: [entry({ message: "stored 1" }), entry({ message: "stored 2" })] }),
    );
    const result = await deliverLogs([...edge.sent, { nonsense: true }, "text"]);
    expect(result.retryBatch.retry).toBe(false);
    expect(result.ackAll).toBe(true);
    const { results } = await testEnv.LOGS_DB.prepare(
      `SELECT message FROM logs_${new Date().toISOString().slice(0, 10).replaceAll("-", "")} WHERE guid = ?1 ORDER BY id`,
    )
      .bind(guid)
      .all<{ message: string }>();
    expect(results.map((r) => r.message)).toEqual(["stored 1", "stored 2"]);
  });

  it("a delivery whose write fails throws (the queue redelivers it) and stores nothing of it", async () => {
    // Days of 2000, never a real day of this run: day 1's table is made with the wrong shape
    // (missing columns), so its insert fails; day 0's rows come first in the same delivery.
    const day1 = Date.UTC(2000, 0, 8);
    const now = day1 + 60_000;
    const [table0, table1] = ["20000107", "20000108"].map((d) => `logs_${d}`);
    await testEnv.LOGS_DB.prepare(`CREATE TABLE IF NOT EXISTS ${table1} (id INTEGER PRIMARY KEY)`).run();
    const messages: LogQueueMessage[] = [
      { batch: logBatch(appId, { entries: [entry({ time: day1 - 3_600_000 })] }), receivedAt: now },
      { batch: logBatch(appId, { entries: [entry({ time: day1 + 1000 })] }), receivedAt: now },
    ];
    await expect(consumeLogBatches(testEnv, messages, now)).rejects.toThrow();
    // One transaction: day 0's table and rows were not written either.
    const exists = await testEnv.LOGS_DB.prepare("SELECT name FROM sqlite_master WHERE name = ?1")
      .bind(table0)
      .first();
    expect(exists).toBeNull();
    await testEnv.LOGS_DB.prepare(`DROP TABLE ${table1}`).run();
  });

  it("every environment: the edge produces to the log queue, the admin Worker consumes it with a dead-letter queue", () => {
    for (const [env, suffix] of [
      ["", "-dev"],
      ["env.staging.", "-staging"],
      ["env.production.", ""],
    ] as const) {
      const prefix = env.replaceAll(".", "\\.");
      expect(edgeToml).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.producers\\]\\]\\s+binding = "LOGS"\\s+queue = "graycast-logs${suffix}"`,
        ),
      );
      expect(adminToml).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.consumers\\]\\]\\s+queue = "graycast-logs${suffix}"\\s+max_batch_size = 100\\s+max_batch_timeout = 5\\s+max_retries = 3\\s+dead_letter_queue = "graycast-logs${suffix}-dlq"`,
        ),
      );
      expect(adminToml).toMatch(new RegExp(`\\[\\[${prefix}d1_databases\\]\\]\\s+binding = "LOGS_DB"`));
      for (const limiter of ["LOG_DEVICE_LIMITER", "LOG_APP_LIMITER"])
        expect(edgeToml).toMatch(new RegExp(`\\[\\[${prefix}ratelimits\\]\\]\\s+name = "${limiter}"`));
      // The edge never binds D1.
      expect(edgeToml).not.toMatch(/d1_databases/);
    }
  });
});
