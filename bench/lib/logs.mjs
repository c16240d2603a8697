// Real-time log query speed (issue 15: "results in under a second for a day of logs at the
// benchmark's volume"). One workerd (Miniflare) with a local D1 as LOGS_DB and a small Worker
// around the admin Worker's own storage code (control-plane/src/services/logs.ts, bundled as is):
// it fills one day of one busy mini program's logs through `consumeLogBatches` (the queue
// consumer's writes), then times `queryLogs` (the admin API's query) for the seed's filters,
// measured from Node around each request (HTTP to a local socket included).
//
// Volume (docs/storage.md): the seed's 200 million daily users with 1 log batch of 5 entries per
// 10 launches would be ~5e8 entries a day over 10,000 mini programs; the head mini program
// (Zipf 1.1) takes ~10% of that. The default here, 1,000,000 entries in one day of one mini
// program (plus 100,000 of other mini programs in the same table), is a stated fraction of it.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { median, ROOT } from "./util.mjs";

const DAY = 86_400_000;

/** The bench Worker: fills with generated batches, answers queries; both through the real code. */
const WORKER_SOURCE = `
import { consumeLogBatches, queryLogs } from "./control-plane/src/services/logs.ts";

const LEVELS = ["debug", "info", "warn", "error"];
// Deterministic PRNG (mulberry32), so every run stores the same day.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function level(r) {
  const x = r();
  return x < 0.3 ? "debug" : x < 0.8 ? "info" : x < 0.95 ? "warn" : "error";
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const p = await request.json();
    if (url.pathname === "/fill") {
      const r = rng(p.seed);
      const messages = [];
      for (let b = 0; b < p.batches; b++) {
        const device = Math.floor(r() * p.devices);
        const entries = [];
        for (let i = 0; i < p.perBatch; i++) {
          const tag = r();
          entries.push({
            time: p.dayStart + Math.floor(r() * ${DAY}),
            level: level(r),
            message: "request " + Math.floor(r() * 1e9).toString(36) + " finished with status " + Math.floor(r() * 600) + " after " + Math.floor(r() * 5000) + " ms",
            page: "pages/p" + Math.floor(r() * 30) + "/index",
            ...(tag < 0.5 ? { filterMsg: ["t" + Math.floor(r() * 1000)] } : tag < 0.501 ? { filterMsg: ["needle"] } : {}),
          });
        }
        messages.push({
          batch: {
            appId: p.appIds[Math.floor(r() * p.appIds.length)],
            hostAppId: "ha_bench",
            hostAppVersion: "8.0.50",
            platform: device % 5 < 2 ? "ios" : "android",
            osVersion: "17.4.1",
            guid: "g" + device,
            clientVersion: "1." + (device % 4) + ".0",
            baseLibraryVersion: "3." + (device % 5) + ".0",
            entries,
          },
          receivedAt: p.now,
        });
      }
      const result = await consumeLogBatches(env, messages, p.now);
      return Response.json(result);
    }
    if (url.pathname === "/size") {
      // D1 reports the database's size with every result (meta.size_after).
      const r = await env.LOGS_DB.prepare("SELECT 1").run();
      return Response.json({ bytes: r.meta.size_after });
    }
    if (url.pathname === "/query") {
      const page = await queryLogs(env, p.appId, { level: "all", limit: 50, ...p.query }, p.now);
      return Response.json({ count: page.entries.length, nextCursor: page.nextCursor });
    }
    return new Response("not found", { status: 404 });
  },
};
`;

const APP = "gcbenchheadappaaaaaaaaaa";
const OTHERS = Array.from(
  { length: 100 },
  (_, i) =>
    `gcbenchotherapp${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}aaaaaa`,
);

/** The filtered queries timed, each as the admin API would pass it (LogQuery). */
export const LOG_QUERIES = [
  { label: "newest page, no filter", query: {} },
  { label: "level: error and above (5%)", query: { level: "error" } },
  {
    label: "level warn+, platform ios, client version 1.1.0",
    query: { level: "warn", platform: "ios", clientVersion: "1.1.0" },
  },
  { label: "one guid (~50 entries that day)", query: { guid: "g7" } },
  { label: "page link", query: { page: "pages/p7/index" } },
  { label: "one hour, level error", query: { hour: true, level: "error" } },
  { label: "filterMsg, rare text (0.1% of entries)", query: { filterMsg: "needle" } },
  { label: "filterMsg, text no entry has (reads the whole day)", query: { filterMsg: "absent" } },
  { label: "page 20 (cursor), no filter", query: { pages: 20 } },
];

/**
 * Fills one day and times each query (`rounds` runs after one warm-up; the median). Returns rows
 * for the report. `entries`: the busy mini program's entries in that day.
 */
export async function measureLogQueries({ entries = 1_000_000, rounds = 5, tmp, log = console.log }) {
  const stateDir = join(tmp, "logs-bench");
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const bundle = await build({
    stdin: { contents: WORKER_SOURCE, resolveDir: ROOT, loader: "js", sourcefile: "logs-bench-worker.js" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    write: false,
    logLevel: "silent",
  });
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers: [
        {
          name: "logs-bench",
          modules: true,
          script: bundle.outputFiles[0]?.text ?? "",
          compatibilityDate: "2026-10-01",
          compatibilityFlags: ["nodejs_compat"],
          d1Databases: { LOGS_DB: "logs-bench" },
        },
      ],
      resourcePersistencePath: join(stateDir, "persist"),
      resourceTmpPath: join(stateDir, "tmp"),
      enableDevRegistry: false,
      telemetry: { enabled: false },
      // A fixed cf object: no fetch of the real one (no internet here).
      cf: { country: "CN", colo: "SZX" },
      log: new Log(LogLevel.WARN),
    }),
  );
  try {
    await mf.ready;
    /** @returns {Promise<any>} */
    const call = async (path, body) => {
      const res = await mf.dispatchFetch(`http://bench${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
      return res.json();
    };
    const dayStart = Math.floor(Date.now() / DAY) * DAY - DAY;
    const now = dayStart + DAY + 3_600_000;
    const perBatch = 20;
    const perCall = 250; // batches per consumer delivery: 5,000 entries
    const fillStarted = Date.now();
    let stored = 0;
    // The busy mini program, then a tenth as much spread over 100 others, in the same day table.
    /** @type {{ appIds: string[]; total: number; devices: number }[]} */
    const parts = [
      { appIds: [APP], total: entries, devices: Math.max(1, Math.round(entries / 50)) },
      { appIds: OTHERS, total: Math.round(entries / 10), devices: 20_000 },
    ];
    for (const { appIds, total, devices } of parts) {
      for (let done = 0, seed = 1; done < total; seed++) {
        const batches = Math.min(perCall, Math.ceil((total - done) / perBatch));
        const r = await call("/fill", {
          seed: seed + (appIds.length > 1 ? 1e6 : 0),
          batches,
          perBatch,
          devices,
          appIds,
          dayStart,
          now,
        });
        done += batches * perBatch;
        stored += r.stored;
      }
    }
    const fillMs = Date.now() - fillStarted;
    const { bytes } = await call("/size", {});
    log(
      `logs: stored ${stored.toLocaleString("en-US")} entries in ${(fillMs / 1000).toFixed(1)} s (${Math.round(stored / (fillMs / 1000)).toLocaleString("en-US")}/s through consumeLogBatches)`,
    );

    const rows = [];
    for (const { label, query } of LOG_QUERIES) {
      const { hour, pages, ...filters } = query;
      const q = hour
        ? { ...filters, from: dayStart + 12 * 3_600_000, to: dayStart + 13 * 3_600_000 - 1 }
        : filters;
      const once = async () => {
        const started = performance.now();
        let result = await call("/query", { appId: APP, query: q, now });
        for (let i = 1; i < (pages ?? 1) && result.nextCursor; i++)
          result = await call("/query", { appId: APP, query: { ...q, cursor: result.nextCursor }, now });
        return { ms: performance.now() - started, count: result.count };
      };
      await once();
      const runs = [];
      for (let i = 0; i < rounds; i++) runs.push(await once());
      const ms = median(runs.map((r) => r.ms));
      rows.push({ label, ms, count: runs[0].count, pages: pages ?? 1 });
      log(
        `logs: ${label}: ${ms.toFixed(1)} ms (${runs[0].count} entries${pages ? `, ${pages} requests` : ""})`,
      );
    }
    return { entries, stored, fillMs, bytes, rows };
  } finally {
    await mf.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export const LOGS_START = "<!-- logs:start -->";
export const LOGS_END = "<!-- logs:end -->";

/** The BENCHMARKS.md section of a measurement. */
export function logsSection(result, when = new Date().toISOString().slice(0, 10)) {
  return [
    LOGS_START,
    "## Real-time log queries (`node bench/logs.mjs`)",
    "",
    `Run of ${when}: one UTC day of ${result.entries.toLocaleString("en-US")} entries of one mini program (plus ${Math.round(result.entries / 10).toLocaleString("en-US")} of 100 others in the same day table), written through the queue consumer's \`consumeLogBatches\` (${Math.round(result.stored / (result.fillMs / 1000)).toLocaleString("en-US")} entries/s locally; the database then holds ${(result.bytes / 1024 / 1024).toFixed(0)} MiB, ${Math.round(result.bytes / result.stored)} bytes an entry with its indexes), then \`queryLogs\` as \`GET /v1/mini-programs/{appId}/logs\` runs it, 50 entries a page, median of 5 after a warm-up, local D1 (workerd's SQLite) on this machine. Volume and storage choice: docs/storage.md.`,
    "",
    "| query | ms | entries answered |",
    "| --- | ---: | ---: |",
    ...result.rows.map((r) => `| ${r.label} | ${r.ms.toFixed(1)} | ${r.count} |`),
    "",
    LOGS_END,
  ].join("\n");
}
