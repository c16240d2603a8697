#!/usr/bin/env node
// Cap shards with the real objects (docs/scale.md 5b, issue 17):
//
//   node bench/shards.mjs [--shards 1,4,16] [--isolates 16,256] [--per-isolate 200] [--cap 0] [--json]
//
// Then four exactness runs (cold objects, 64 isolates x 50 new users): caps of 1,000 at K = 1, 4
// and 16, and 10 at K = 16, each filled exactly with nothing left in the shards.
//
// One workerd under Miniflare runs a bench Worker that exports the real GrayscaleCounter class
// (durable-objects/grayscale-counter.ts, bundled with esbuild, SQLite-backed, bound to itself as
// GRAYSCALE_COUNTER as the edge binds it) and a driver: each POST /isolate is one simulated edge
// isolate that admits `per-isolate` new users one after another, as the edge does without an
// admission lease: the user's shard is core `capShardOf`, the call is the shard's `admit` (the
// task's own counter at K = 1). Node fires `isolates` such requests at once, so that many first
// admissions are in flight together. Each run uses a fresh task id; the cap is large (never
// reached) unless --cap is given, and every run checks exactness from the objects' own progress:
// admitted == users admitted by the answers, never above the cap, and the coordinator's leased
// slots covering what the shards admitted.
//
// Figures per run: admissions/s (admitted / wall time of the whole burst, Node side), object calls
// per admission ((admit calls + coordinator asks) / admitted), the coordinator's asks per second,
// the busiest object's calls per second, and the latency of one admit call (p50 / p99, in the
// driver). All objects run in one local workerd, so K > 1 does not add cores here: the per-object
// rates are what the "on paper" production figure (one object per thread, spread by Cloudflare) is
// computed from.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
const node22 = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
if (major < 22 && existsSync(node22)) {
  const r = spawnSync(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}

const { build } = await import("esbuild");
const { convertV4MiniflareOptions, Log, LogLevel, Miniflare } = await import("miniflare");
const { join } = await import("node:path");
const { shardsSection } = await import("./lib/shards-report.mjs");

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const list = (name, fallback) => String(opt(name, fallback)).split(",").map(Number);
const SHARDS = list("--shards", "1,4,16");
const ISOLATES = list("--isolates", "16,256");
const PER_ISOLATE = Number(opt("--per-isolate", "200"));
/** throughput runs' cap; 0 = ten times the users (never reached) */
const CAP = Number(opt("--cap", "0"));
const JSON_OUT = args.includes("--json");

const DRIVER = `
import { capShardName, capShardOf } from ${JSON.stringify(join(ROOT, "core/grayscale/rules.ts"))};
export { GrayscaleCounter } from ${JSON.stringify(join(ROOT, "durable-objects/grayscale-counter.ts"))};

const META = { hostAppId: "ha_bench", platform: "android" };

export default {
  async fetch(request, env) {
    const o = await request.json();
    const counter = (name) => env.GRAYSCALE_COUNTER.getByName(name);
    if (new URL(request.url).pathname === "/progress") {
      const names = [o.taskId, ...Array.from({ length: o.shards > 1 ? o.shards : 0 }, (_, i) => capShardName(o.taskId, o.shards, i))];
      const all = await Promise.all(names.map((n) => counter(n).progress()));
      return Response.json(all.map((p) => ({ admitted: p.admitted, reserved: p.reserved, leased: p.leased ?? 0, free: p.free ?? 0, asks: p.asks ?? 0 })));
    }
    // One simulated isolate: its users one after another.
    const { taskId, shards, cap, from, count } = o;
    let admitted = 0, refused = 0, failed = 0;
    const latencies = [];
    for (let i = from; i < from + count; i++) {
      const userKey = "g:bench-" + i;
      const shard = capShardOf(taskId, userKey, shards);
      const stub = counter(capShardName(taskId, shards, shard));
      const t = performance.now();
      try {
        const r = shards > 1 ? await stub.admit(userKey, cap, META, { taskId, shard, shards }) : await stub.admit(userKey, cap, META);
        if (r.admitted) admitted++;
        else refused++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - t);
    }
    return Response.json({ admitted, refused, failed, latencies });
  },
};
`;

const bundled = await build({
  stdin: { contents: DRIVER, resolveDir: ROOT, loader: "ts", sourcefile: "bench-shards-driver.ts" },
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["cloudflare:*"],
  write: false,
  logLevel: "error",
});
const script = bundled.outputFiles?.[0]?.text;
if (!script) throw new Error("esbuild wrote no driver bundle");

// Objects in memory (Miniflare's default without persistence): the bench host's tmpfs, without the files.
// This Miniflare takes its options in a newer shape; the bench host writes Miniflare 4's and converts them.
const mf = new Miniflare(
  convertV4MiniflareOptions({
    workers: [
      {
        name: "shards-driver",
        modules: true,
        script,
        compatibilityDate: "2026-10-01",
        compatibilityFlags: ["nodejs_compat"],
        durableObjects: { GRAYSCALE_COUNTER: { className: "GrayscaleCounter", useSQLite: true } },
      },
    ],
    log: new Log(LogLevel.WARN),
    host: "127.0.0.1",
    port: 0,
  }),
);
const base = (await mf.ready).origin;

/** @returns {Promise<any>} the driver's JSON answer */
const post = async (path, body) => {
  const res = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
};
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/**
 * The runs: throughput (a cap never reached, objects warmed first) for each isolate count and K,
 * then exactness (a cap well under the users, cold objects): the cap must fill exactly, with
 * nothing left in the shards.
 */
const RUNS = [
  ...ISOLATES.flatMap((isolates) =>
    SHARDS.map((shards) => ({ kind: "throughput", isolates, perIsolate: PER_ISOLATE, shards, cap: CAP })),
  ),
  ...[
    { cap: 1_000, shards: 1 },
    { cap: 1_000, shards: 4 },
    { cap: 1_000, shards: 16 },
    { cap: 10, shards: 16 },
  ].map(({ cap, shards }) => ({ kind: "exactness", isolates: 64, perIsolate: 50, shards, cap })),
];

const rows = [];
let run = 0;
try {
  for (const spec of RUNS) {
    const { kind, isolates, perIsolate, shards } = spec;
    const taskId = `gt_bench${Date.now().toString(36)}${run++}`;
    const users = isolates * perIsolate;
    const cap = spec.cap > 0 ? spec.cap : users * 10;
    // Warm the objects (first SQLite open, migrations) outside the measured burst.
    if (kind === "throughput")
      await post("/isolate", { taskId, shards, cap, from: -shards * 50, count: shards * 20 });
    const before = await post("/progress", { taskId, shards });
    const t0 = performance.now();
    const parts = await Promise.all(
      Array.from({ length: isolates }, (_, i) =>
        post("/isolate", { taskId, shards, cap, from: i * perIsolate, count: perIsolate }),
      ),
    );
    const wallS = (performance.now() - t0) / 1000;
    const after = await post("/progress", { taskId, shards });
    const admitted = parts.reduce((n, p) => n + p.admitted, 0);
    const refused = parts.reduce((n, p) => n + p.refused, 0);
    const failed = parts.reduce((n, p) => n + p.failed, 0);
    const latencies = parts.flatMap((p) => p.latencies).sort((a, b) => a - b);
    const objects = (list) => (shards > 1 ? list.slice(1) : list);
    const sumAdmitted = (list) => objects(list).reduce((n, p) => n + p.admitted, 0);
    const counted = sumAdmitted(after) - sumAdmitted(before);
    const asks = (after[0]?.asks ?? 0) - (before[0]?.asks ?? 0);
    const totalAdmitted = sumAdmitted(after);
    // Exactness: the answers and the objects agree, and the cap holds (with the coordinator's view).
    if (counted !== admitted)
      throw new Error(`K=${shards}: answers admitted ${admitted}, objects counted ${counted}`);
    if (totalAdmitted > cap) throw new Error(`K=${shards}: ${totalAdmitted} admitted over the cap ${cap}`);
    if (shards > 1 && (after[0]?.leased ?? 0) < totalAdmitted)
      throw new Error(
        `K=${shards}: shards admitted ${totalAdmitted} with only ${after[0]?.leased} slots leased`,
      );
    const perObject = objects(after).map((p, i) => p.admitted - (objects(before)[i]?.admitted ?? 0));
    rows.push({
      kind,
      shards,
      isolates,
      users,
      cap,
      admitted,
      refused,
      failed,
      overCap: Math.max(0, totalAdmitted - cap),
      // slots the coordinator granted that no shard admitted from (free in a shard at the end)
      leftInShards: shards > 1 ? (after[0]?.leased ?? 0) - totalAdmitted : 0,
      wallS,
      admissionsPerS: admitted / wallS,
      callsPerAdmission: (users + asks) / Math.max(1, admitted),
      coordinatorAsks: asks,
      coordinatorAsksPerS: asks / wallS,
      busiestObjectAdmissionsPerS: Math.max(...perObject) / wallS,
      p50Ms: pct(latencies, 50),
      p99Ms: pct(latencies, 99),
    });
  }
} finally {
  await mf.dispose();
}

if (JSON_OUT) console.log(JSON.stringify(rows, null, 2));
else console.log(shardsSection(rows).join("\n"));
