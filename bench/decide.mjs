#!/usr/bin/env node
// Pure `decide` throughput on one core: core `decide` (core/decide.ts, the one decision the edge
// and explain share) with in-memory ports, walking 20 compiled grayscale tasks (highest version
// first, `isTaskEligible`, Bloom filter + shard lookup for a 1,000,000-entry whitelist held in
// memory, in storage format 2 as uploads write it and the edge reads it), for a rotating pool of
// 10,000 clients. The ports answer synchronously, as the edge's do when nothing needs I/O, so
// `decide` returns its Decision with no promise. Also measures the explaining form (`rankTasks`,
// which evaluates and reports every condition of every task, then the same `decide`) for
// comparison.
//
//   node bench/decide.mjs [--json] [--core <bundled core.mjs>] [--seconds N]
//
// Run it pinned to one core (`taskset -c 1 node bench/decide.mjs`); bench/run.mjs does.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleCore } from "./lib/bundle.mjs";
import { guids, HOST_APP } from "./lib/fixtures.mjs";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SECONDS = Number(value("--seconds", 1));
const TRIALS = Number(value("--trials", 5));

function fail(message) {
  if (flag("--json")) process.stdout.write(`${JSON.stringify({ available: false, note: message })}\n`);
  else console.error(message);
  process.exit(flag("--json") ? 0 : 1);
}

let corePath = value("--core");
let ownDir;
if (!corePath) {
  ownDir = mkdtempSync(join(tmpdir(), "graycast-decide-"));
  const built = await bundleCore(join(ownDir, "core.mjs"));
  if (!built.ok) fail(`core does not build: ${built.error}`);
  corePath = built.path;
}
const core = await import(pathToFileURL(corePath).href);
if (ownDir) rmSync(ownDir, { recursive: true, force: true });
/** @type {[string, string][]} */
const need = [
  ["rules", "RuleMemo"],
  ["rules", "evaluateTask"],
  ["select", "rankTasks"],
  ["decide", "decide"],
  ["lifecycle", "compileTask"],
  ["whitelistBuild", "buildWhitelistV2"],
  ["whitelistV2", "valueFingerprint"],
  ["whitelistV2", "readFingerprintBloom"],
  ["whitelistV2", "fingerprintBloomHas"],
  ["whitelistV2", "readShardTable"],
  ["whitelistV2", "shardTableHas"],
  ["match", "targetValue"],
];
for (const [mod, fn] of need) if (typeof core[mod]?.[fn] !== "function") fail(`core has no ${mod}.${fn} yet`);

const { rankTasks } = core.select;
const { decide } = core.decide;
const { valueFingerprint, readFingerprintBloom, fingerprintBloomHas, readShardTable, shardTableHas } =
  core.whitelistV2;
const { targetValue } = core.match;

// ---------------------------------------------------------------- the world
const now = Date.now();
const DAY = 86_400_000;
const GEO = { country: "CN", region: "Guangdong", city: "Shenzhen" };
const WHITELIST_SIZE = 1_000_000;

const t0 = performance.now();
const values = guids(WHITELIST_SIZE, 0x5eed);
let built;
try {
  built = core.whitelistBuild.buildWhitelistV2({ id: "wl_decide_1m", kind: "guid", seed: 42, values });
} catch (err) {
  fail(`buildWhitelistV2 failed: ${err instanceof Error ? err.message : err}`);
}
const buildMs = performance.now() - t0;
const ref = built.ref;
// The objects as the edge holds them after reading R2 (edge-worker/src/whitelist-cache.ts, format
// 2): each object's bytes in an ArrayBuffer of its own, used in place as 32-bit words.
const readBack = (words) => {
  if (typeof words === "string") fail(`the built whitelist does not read back: ${words}`);
  return words;
};
const bloom = readBack(readFingerprintBloom(built.bloom.slice().buffer, ref));
const tables = built.shards.map((bytes) => readBack(readShardTable(bytes.slice().buffer)));
const shardBytesTotal = built.shards.reduce((n, s) => n + s.byteLength, 0);

const pkg = (v) => ({ sha256: v.replace(/\./g, "").padStart(64, "0"), size: 100_000 });
function task(i, over) {
  const version = `3.0.${20 - i}`;
  const definition = {
    name: `task ${i}`,
    version,
    startAt: now - DAY,
    endAt: now + 30 * DAY,
    userCap: null,
    percentageBp: null,
    hostApps: { [HOST_APP]: {} },
    platforms: { android: {}, ios: {} },
    targets: {},
    ...over,
  };
  const whitelists = over.whitelist ? [ref] : [];
  delete definition.whitelist;
  const compiled = core.lifecycle.compileTask(
    {
      id: `t_decide_${i}`,
      definition,
      status: { state: "delivering", endReason: null },
      package: pkg(version),
      whitelists,
    },
    now,
  );
  if (!compiled) fail(`compileTask gave null for task ${i}`);
  return compiled;
}

// 20 tasks, highest version first, each narrowing on different rules, as a busy mini program
// might run: most clients fail most tasks, so the walk usually visits many of them.
const inlineAccounts = Array.from({ length: 200 }, (_, i) => `acct-${i * 7}`);
const tasks = [
  task(0, { hostApps: { [HOST_APP]: { min: "9.5" } } }),
  task(1, { platforms: { android: { min: "14" } } }),
  task(2, { networks: ["wifi"], brands: { include: ["huawei"] } }),
  task(3, { countries: { include: ["us", "gb"] } }),
  task(4, { targets: { account: inlineAccounts } }),
  task(5, { models: { include: ["mate60", "p60"] } }),
  task(6, { hostApps: { ha_other_app: {} } }),
  task(7, { percentageBp: 500, platforms: { ios: { min: "17.0" } }, networks: ["5g"] }),
  task(8, { whitelist: true, networks: ["wifi", "5g"] }),
  task(9, { brands: { exclude: ["apple", "huawei", "xiaomi", "samsung"] } }),
  task(10, { regions: { include: ["beijing"] } }),
  task(11, { hostApps: { [HOST_APP]: { max: "7.0" } } }),
  task(12, { userCap: 100_000, platforms: { android: { max: "10" } } }),
  task(13, { cities: { include: ["hangzhou"] } }),
  task(14, { percentageBp: 1000, brands: { include: ["xiaomi"] } }),
  task(15, { whitelist: true }),
  task(16, { networks: ["ethernet"] }),
  task(17, { platforms: { ios: { min: "18.0" } }, userCap: 50_000 }),
  task(18, { percentageBp: 2000 }),
  task(19, {}),
];
const online = { version: "2.0.0", package: pkg("2.0.0"), releasedAt: now - DAY, via: "publish" };
const snapshot = core.snapshot.compileSnapshot(
  {
    appId: "gcdecidebenchaaaaaaa",
    revision: 1,
    listed: true,
    hostApps: [HOST_APP, "ha_other_app"],
    online,
    trial: null,
    tasks,
  },
  now,
);
const walk = snapshot.tasks;

// 10,000 clients: half with a whitelisted GUID (spread over all shards), half not.
const CLIENTS = 10_000;
const others = guids(CLIENTS, 0xbadc0de);
const pick = (list, i) => list[i % list.length];
const clients = Array.from({ length: CLIENTS }, (_, i) => ({
  appId: snapshot.appId,
  hostAppId: HOST_APP,
  hostAppVersion: pick(["8.0.50", "8.1.2", "9.0.1", "9.6.0", "7.9.9"], i),
  platform: i % 3 === 0 ? "android" : "ios",
  osVersion:
    i % 3 === 0 ? pick(["10", "12", "13", "14.1"], i >> 1) : pick(["16.7", "17.4", "17.5.1", "18.1"], i >> 1),
  guid: i % 2 === 0 ? values[Math.floor((i / CLIENTS) * WHITELIST_SIZE) + 3] : others[i],
  account: `acct-${i}`,
  // as the edge marks a client whose host-app assertion verified (docs/trust.md): account targets count
  verifiedAccount: true,
  network: pick(["wifi", "4g", "5g", "wifi", "4g"], i >> 2),
  brand: pick(["Apple", "Huawei", "Xiaomi", "Samsung", "Apple"], i >> 3),
  model: pick(["iPhone15,2", "Mate60", "14 Pro", "S24", "iPhone14,5"], i >> 3),
  installedVersion: "1.9.0",
}));

// Whitelist membership for the client being decided (the edge resolves a format-2 list the same
// way: the fingerprint in the split-block Bloom filter in memory, then in its shard's table).
// Looked up at most once per decision and whitelist, as the edge's walk memoises it.
let current = clients[0];
let memoId = "";
let memo = false;
// lookups made (counted while the forms are checked, below)
let lookups = 0;
const member = (r, v = targetValue(current, r.kind)) => {
  if (memoId === r.id) return memo;
  lookups++;
  if (v === undefined) memo = false;
  else {
    // As the edge: one hashing pass gives the fingerprint and the shard; no encoding of the value.
    const fp = valueFingerprint(r, v);
    memo = fingerprintBloomHas(bloom, fp.h0, fp.h1) && shardTableHas(tables[fp.shard], fp.h0, fp.h1);
  }
  memoId = r.id;
  return memo;
};

// In-memory ports, as the edge's answer when nothing needs I/O: no presented tickets, and the
// capped tasks admit (their counters are far from the cap).
const ports = {
  member,
  tickets: { presented: 0, valid: () => false, issue: () => undefined },
  admission: { admit: () => true, isAdmitted: () => false },
  plans: new WeakMap(),
  // as the edge: one memo of the rule walk per isolate
  memo: new core.rules.RuleMemo(),
};

function decided(client) {
  const d = decide(snapshot, client, now, ports, GEO);
  if (d instanceof Promise) fail("decide returned a promise with synchronous ports");
  return d;
}

function decideHot(client) {
  current = client;
  memoId = "";
  return decided(client);
}

function decideExplained(client) {
  current = client;
  memoId = "";
  // explain: every condition of every task reported, then the same decision
  if (rankTasks(walk, client, GEO, now, member, ports.memo).length !== walk.length)
    fail("rankTasks lost a task");
  memoId = "";
  return decided(client);
}

// Both forms must agree on every client before anything is timed.
const outcomes = {};
let visited = 0;
let hotLookups = 0;
for (const c of clients) {
  lookups = 0;
  const a = decideHot(c);
  hotLookups += lookups;
  const b = decideExplained(c);
  // the hot walk must give what the first eligible task of rankTasks gives
  memoId = "";
  const first = rankTasks(walk, c, GEO, now, member, ports.memo).find((v) => v.eligible);
  if (a.version !== b.version || a.taskId !== b.taskId || a.taskId !== first?.taskId)
    fail(`hot path and rankTasks disagree for ${c.guid}: ${a.taskId} vs ${first?.taskId}`);
  const key = a.taskId ?? a.reason;
  outcomes[key] = (outcomes[key] ?? 0) + 1;
  const idx = a.taskId ? walk.findIndex((t) => t.id === a.taskId) + 1 : walk.length;
  visited += idx;
}

function measure(fn, trials = TRIALS, warmSeconds = 0.5) {
  let sink = 0;
  // Warm-up: let the JIT settle.
  const warmEnd = performance.now() + warmSeconds * 1000;
  let i = 0;
  while (performance.now() < warmEnd)
    for (let k = 0; k < 1000; k++) sink += fn(clients[i++ % CLIENTS]).status.length;
  const rates = [];
  const cpuRates = [];
  for (let trial = 0; trial < trials; trial++) {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + SECONDS * 1000;
    let t = start;
    while (t < end) {
      for (let k = 0; k < 2000; k++) sink += fn(clients[(i + k) % CLIENTS]).status.length;
      i += 2000;
      n += 2000;
      t = performance.now();
    }
    rates.push(n / ((t - start) / 1000));
    // per second of this process's own CPU time: what other work on a shared machine takes
    // from the wall-clock rate does not count here
    const cpu = process.cpuUsage(cpu0);
    cpuRates.push(n / ((cpu.user + cpu.system) / 1e6));
  }
  if (sink === 42) console.log("");
  rates.sort((a, b) => a - b);
  cpuRates.sort((a, b) => a - b);
  return {
    median: rates[rates.length >> 1],
    min: rates[0],
    max: rates[rates.length - 1],
    trials: rates,
    perCpuSecond: cpuRates[cpuRates.length >> 1],
  };
}

const only = value("--only");

// `--compare <bundled core.mjs>`: A/B of two cores' hot `decide` in this one process, over the
// same world, clients and ports, alternating one-second trials (A, B, A, B...), so that other
// work on a shared machine weighs on both alike; reported as each one's median and the median
// of the B/A ratios of adjacent trials. The other core must give the same decision to every
// client first.
const comparePath = value("--compare");
/** @type {{ a: string, aMedian: number, bMedian: number, ratio: number, pairs: { a: number, b: number, ratio: number }[] } | null} */
let compared = null;
if (comparePath) {
  const other = await import(pathToFileURL(comparePath).href);
  if (typeof other.decide?.decide !== "function") fail("the compared core has no decide.decide");
  const otherPorts = { ...ports, plans: new WeakMap(), memo: new other.rules.RuleMemo() };
  const decideOther = (client) => {
    current = client;
    memoId = "";
    const d = other.decide.decide(snapshot, client, now, otherPorts, GEO);
    if (d instanceof Promise) fail("the compared decide returned a promise with synchronous ports");
    return d;
  };
  for (const c of clients) {
    const a = decideHot(c);
    const b = decideOther(c);
    if (JSON.stringify(a) !== JSON.stringify(b))
      fail(`the cores disagree for ${c.guid}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
  const pairs = [];
  const rateOf = (fn) => measure(fn, 1, 0.1).median;
  measure(decideHot, 0, 0.5);
  measure(decideOther, 0, 0.5);
  for (let trial = 0; trial < TRIALS; trial++) {
    const a = rateOf(decideOther);
    const b = rateOf(decideHot);
    pairs.push({ a, b, ratio: b / a });
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  compared = {
    a: comparePath,
    aMedian: med(pairs.map((x) => x.a)),
    bMedian: med(pairs.map((x) => x.b)),
    ratio: med(pairs.map((x) => x.ratio)),
    pairs,
  };
}
// `--only parts`: what two parts of a hot decision cost alone, over the same clients: the
// whitelist membership port (what every decision that reaches a list task asks, once) and the
// plan's rule masks (core `RuleMasks.word`, when the core has them).
const parts = only === "parts";
const hot = only === "explained" || parts || compared ? null : measure(decideHot);
const explained = only === "hot" || parts || compared ? null : measure(decideExplained);
const answer = { status: "ok" };
const membership = parts
  ? measure((c) => {
      current = c;
      memoId = "";
      member(ref);
      return answer;
    })
  : null;
const plan = core.decide.planOf(snapshot, ports.plans);
const masks =
  parts && plan.masks !== undefined
    ? measure((c) => {
        plan.masks.word(c, GEO, now, ports.memo, 0);
        return answer;
      })
    : null;
const result = {
  available: true,
  tasks: walk.length,
  whitelistSize: WHITELIST_SIZE,
  whitelistShards: ref.shards,
  whitelistFormat: ref.format ?? 1,
  bloomBytes: bloom.byteLength,
  shardBytes: shardBytesTotal,
  whitelistBuildMs: buildMs,
  clients: CLIENTS,
  meanTasksVisited: visited / CLIENTS,
  // whitelist lookups per hot decision (the edge asks each list at most once per decision)
  meanWhitelistLookups: hotLookups / CLIENTS,
  outcomes,
  hot,
  explained,
  ...(parts ? { membership, masks } : {}),
  ...(compared ? { compared } : {}),
  node: process.version,
};

if (flag("--json")) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  const rate = (m) =>
    m
      ? `${Math.round(m.median).toLocaleString("en-US")} decisions/s (min ${Math.round(m.min).toLocaleString("en-US")}, max ${Math.round(m.max).toLocaleString("en-US")}; ${Math.round(m.perCpuSecond).toLocaleString("en-US")} per CPU second)`
      : "skipped";
  console.log(`decide, hot path (core decide, synchronous ports): ${rate(hot)}`);
  console.log(`decide, explained (rankTasks + core decide):       ${rate(explained)}`);
  if (compared)
    console.log(
      `A/B in one process, alternating 1 s trials: A (${compared.a}) ${Math.round(compared.aMedian).toLocaleString("en-US")}/s, B (this core) ${Math.round(compared.bMedian).toLocaleString("en-US")}/s, B/A median of pairs ${compared.ratio.toFixed(2)}`,
    );
  if (parts) {
    console.log(`whitelist membership port alone:                   ${rate(membership)}`);
    console.log(`rule masks alone (RuleMasks.word):                 ${rate(masks)}`);
  }
  console.log(
    `${walk.length} tasks, ${WHITELIST_SIZE.toLocaleString("en-US")}-entry whitelist (format ${ref.format ?? 1}, ${ref.shards} shards of ${(shardBytesTotal / 1048576).toFixed(1)} MiB, Bloom ${(bloom.byteLength / 1024).toFixed(0)} KiB), ${CLIENTS} clients; mean tasks visited ${(visited / CLIENTS).toFixed(1)}, whitelist lookups per decision ${(hotLookups / CLIENTS).toFixed(2)}`,
  );
  console.log("outcomes:", outcomes);
}
