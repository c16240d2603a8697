#!/usr/bin/env node
// The control plane under load (issue 17, "Control plane speed"): admin routes' req/s and p99 on
// the same host as the edge benchmark, each run right after a run of the admin Worker's floor
// (its cheapest authenticated route), plus the publish call one at a time and a 1,000,000-line
// whitelist upload end to end (wall time and workerd's extra memory). Runnable alone:
//
//   node bench/admin.mjs [--rounds 2] [--duration 5] [--connections 10] [--no-write]
//                        [--only floor,explain,progress,task,publish,serial,whitelist]
//                        [--whitelist-lines 1000000] [--whitelist-trials 2]
//
// Writes its own section of BENCHMARKS.md (between the admin markers; `npm run bench` carries it
// over unchanged), unless --no-write or --only.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { bundleWorker } from "./bundle.mjs";
import { benchSecrets, cpuMsOf, startHost, WORKER_NAMES, workerFromWrangler } from "./host.mjs";
import { removeSpecs, runLoad } from "./loadgen.mjs";
import { applyMigrations, loadDemo } from "./publish.mjs";
import { fmt, fmtInt, hasTaskset, log, median, NODE, percentile, pinPid, ROOT, run, sleep } from "./util.mjs";

const argv = process.argv.slice(2);
const has = (f) => argv.includes(f);
const arg = (f, fallback) => (has(f) ? argv[argv.indexOf(f) + 1] : fallback);
const options = {
  rounds: Number(arg("--rounds", 2)),
  duration: Number(arg("--duration", 5)),
  connections: Number(arg("--connections", 10)),
  only: arg("--only")?.split(","),
  whitelistLines: Number(arg("--whitelist-lines", 1_000_000)),
  whitelistTrials: Number(arg("--whitelist-trials", 2)),
  serialPublishes: Number(arg("--serial", 30)),
  apps: Number(arg("--apps", 60)),
};
const write = !has("--no-write") && (!has("--only") || has("--report"));
const wants = (name) => !options.only || options.only.includes(name);

const multiCore = cpus().length >= 2 && hasTaskset();
const SERVER_CPU = multiCore ? 0 : undefined;
const CLIENT_CPU = multiCore ? 1 : undefined;

/**
 * The admin Worker's per-credential write limit (600 a minute, control-plane/wrangler.toml) would
 * answer most of a load run 429; the bench host raises it, in the open, as it turns the edge's
 * check limit off (bench/lib/host.mjs BENCH_EDGE_VARS). The limiter is still called per write.
 */
const BENCH_WRITE_LIMIT = 1_000_000_000;

const started = new Date();
const loadBefore = loadavg();
const tmp = mkdtempSync(join("/dev/shm", "graycast-bench-admin-"));
let host;
async function cleanup() {
  await host?.dispose().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
  removeSpecs();
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

/**
 * JSON API client on the admin Worker's direct URL.
 * @param {string} base
 */
function api(base) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ token?: string, json?: unknown, body?: any, contentType?: string, expect?: number }} [options]
   * @returns {Promise<any>}
   */
  return async (method, path, { token, json, body, contentType, expect } = {}) => {
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers["content-type"] = "application/json";
    else if (contentType) headers["content-type"] = contentType;
    const res = await fetch(base + path, {
      method,
      headers,
      body: json !== undefined ? JSON.stringify(json) : body,
      ...(body && typeof body.getReader === "function" ? { duplex: "half" } : {}),
      signal: AbortSignal.timeout(120_000),
    });
    const text = await res.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
    if (expect ? res.status !== expect : res.status >= 300)
      throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 200)}`);
    return data;
  };
}

/** Runs `work(i)` for i in [0, count) with `parallel` in flight. */
async function pool(count, parallel, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/** Resident set size (bytes) of a process, from /proc. */
function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

const DAY = 86_400_000;
/** Publishes of each app in one publish run. */
const PUBLISHES_PER_ROUND = 12;

async function main() {
  // The admin Worker's configuration serves the console's build as assets: wrangler wants it to exist.
  if (!existsSync(join(ROOT, "console", "dist"))) {
    log("building the console (console/dist), which the admin Worker's configuration names as its assets");
    const r = await run(NODE, [join(ROOT, "scripts", "build-console.mjs")], { timeoutMs: 180_000 });
    if (r.code !== 0) throw new Error(`console build failed: ${(r.stderr || r.stdout).slice(-500)}`);
  }
  log("bundling the edge and the admin Worker (wrangler deploy --dry-run)");
  const [edgeBundle, adminBundle] = await Promise.all([
    bundleWorker("edge", join(tmp, "edge")),
    bundleWorker("admin", join(tmp, "admin")),
  ]);
  if (!edgeBundle.ok || !adminBundle.ok)
    throw new Error(`bundle failed: ${edgeBundle.error ?? adminBundle.error}`);
  const secrets = benchSecrets();
  const edge = workerFromWrangler("edge", edgeBundle.script, { secrets });
  /** @type {any} the admin Worker's options (wrangler's translation carries its ratelimits) */
  const admin = workerFromWrangler("admin", adminBundle.script, { secrets });
  admin.ratelimits = {
    ...admin.ratelimits,
    ADMIN_WRITE_LIMITER: {
      ...admin.ratelimits.ADMIN_WRITE_LIMITER,
      simple: { limit: BENCH_WRITE_LIMIT, period: 60 },
    },
  };
  const demo = await loadDemo();
  host = await startHost({ workers: [edge, admin], stateDir: join(tmp, "state") });
  if (multiCore) for (const pid of host.workerdPids) pinPid(pid, SERVER_CPU);
  await applyMigrations(await host.mf.getD1Database("DB", WORKER_NAMES.admin));
  const base = host.urls[WORKER_NAMES.admin];
  const call = api(base);
  const login = async (u) =>
    (await call("POST", "/v1/auth/login", { json: { email: u.email, password: u.password } })).token;
  const { DEMO_HOST_APP, DEMO_TEAM, DEMO_USERS, demoPackage } = demo;
  const dev = await login(DEMO_USERS.find((u) => u.team === "developer"));
  const manager = await login(DEMO_USERS.find((u) => u.hostApp === "manager"));
  const auditor = await login(DEMO_USERS.find((u) => u.hostApp === "auditor"));

  // ---------------------------------------------------------------- world
  const publishRounds = wants("publish") ? options.rounds : 0;
  // Versions each app needs: its first release, one a publish run may use per round, one for tasks.
  const perApp = 2 + publishRounds * PUBLISHES_PER_ROUND;
  const appCount = options.apps;
  log(`preparing ${appCount} mini programs with ${perApp} approved versions each (through the admin API)`);
  const t0 = performance.now();
  const apps = [];
  await pool(appCount, 6, async (i) => {
    const { appId } = await call("POST", "/v1/mini-programs", {
      token: dev,
      json: { teamId: DEMO_TEAM.id, name: `Bench Admin ${i}` },
    });
    await call("POST", `/v1/mini-programs/${appId}/bindings`, {
      token: dev,
      json: { hostAppId: DEMO_HOST_APP.id },
    });
    await call("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: manager });
    apps[i] = { appId, versions: [] };
  });
  // Versions are approved one at a time per app (one development version and one audit at once).
  await pool(appCount, 6, async (i) => {
    const app = apps[i];
    for (let v = 0; v < perApp; v++) {
      const version = `1.${Math.floor(v / 100)}.${v % 100}`;
      await call("POST", `/v1/mini-programs/${app.appId}/versions?version=${version}`, {
        token: dev,
        body: demoPackage(`${app.appId}-${version}`),
        contentType: "application/zip",
      });
      const audit = await call("POST", `/v1/mini-programs/${app.appId}/versions/${version}/submit`, {
        token: dev,
        json: {},
      });
      await call("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: auditor,
        json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
      });
      app.versions.push(version);
    }
    await call("POST", `/v1/mini-programs/${app.appId}/versions/${app.versions[0]}/publish`, { token: dev });
    app.next = 1;
  });
  log(`prepared in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const auth = { authorization: `Bearer ${dev}` };

  /** @type {{ runs: any[], serial: any, whitelist: any }} */
  const results = { runs: [], serial: null, whitelist: null };
  const runOne = async (id, spec) => {
    const r = await runLoad(
      { url: base, connections: options.connections, duration: options.duration, headers: auth, ...spec },
      { serverPids: host.workerdPids, cpu: CLIENT_CPU },
    );
    if (r.error) throw new Error(`${id}: ${r.error}`);
    return r;
  };
  const floorSpec = { method: "GET", path: "/v1/auth/me" };
  /** One round of a scenario: the floor, then the scenario, as the edge bench alternates with hello-world. */
  const measure = async (id, label, makeSpec) => {
    for (let round = 1; round <= options.rounds; round++) {
      const floor = await runOne("floor", floorSpec);
      const spec = await makeSpec(round);
      const r = await runOne(id, spec);
      results.runs.push({ id, label, round, floor, r, note: spec.note });
      log(
        `${id} round ${round}: ${fmtInt(r.rps)} req/s (2xx ${r.ok}, non-2xx ${r.non2xx}), p99 ${fmt(r.p99)} ms; floor ${fmtInt(floor.rps)} req/s, p99 ${fmt(floor.p99)} ms`,
      );
    }
  };

  // ---------------------------------------------------------------- explain (reads only)
  const clientOf = (appId) => ({
    client: {
      appId,
      hostAppId: DEMO_HOST_APP.id,
      hostAppVersion: "8.0.0",
      platform: "ios",
      osVersion: "17.4",
      guid: "bench-guid-1",
    },
  });
  if (wants("explain"))
    await measure("explain", "explain (POST .../explain)", () => ({
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      requests: apps.map((a) => ({
        path: `/v1/mini-programs/${a.appId}/explain`,
        body: JSON.stringify(clientOf(a.appId)),
      })),
      note: `${apps.length} apps in rotation, each with its online version and no task`,
    }));

  // ---------------------------------------------------------------- task create (writes + publish)
  const taskBody = (version) => {
    const now = Date.now();
    return {
      version,
      name: "Bench",
      startAt: now - 1000,
      endAt: now + DAY,
      hostApps: [{ hostAppId: DEMO_HOST_APP.id }],
      platforms: [{ platform: "android" }, { platform: "ios" }],
      userCap: 1000,
    };
  };
  const taskRun = async () => {
    if (wants("task"))
      await measure("task", "task create (POST .../grayscale-tasks)", () => ({
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        // each app's highest approved version (never published by this bench), apps in rotation
        requests: apps.map((a) => ({
          path: `/v1/mini-programs/${a.appId}/grayscale-tasks`,
          body: JSON.stringify(taskBody(a.versions[a.versions.length - 1])),
        })),
        note: "capped at 1,000 users, delivering at once; each creates a task and publishes the app's snapshot, which grows by a task with every request",
      }));
  };

  // ---------------------------------------------------------------- progress (reads: D1 + the counter)
  const progressRun = async () => {
    if (!wants("progress")) return;
    const tasks = [];
    for (const a of apps.slice(0, 20)) {
      const t = await call("POST", `/v1/mini-programs/${a.appId}/grayscale-tasks`, {
        token: dev,
        json: taskBody(a.versions[a.versions.length - 1]),
      });
      tasks.push(`/v1/mini-programs/${a.appId}/grayscale-tasks/${t.id}/progress`);
    }
    await measure("progress", "task progress (GET .../progress)", () => ({
      method: "GET",
      paths: tasks,
      note: `${tasks.length} capped tasks in rotation (D1 and one GrayscaleCounter call each)`,
    }));
  };

  // ---------------------------------------------------------------- publish under load
  const publishRun = async () => {
    if (!wants("publish")) return;
    await measure("publish", "publish (POST .../versions/{v}/publish)", () => {
      // Each request publishes the next approved version of one app; apps rotate, so two publishes
      // of one app are never in flight together (many more apps than connections). The run ends
      // when every prepared version is published (autocannon's amount), so none is published twice.
      const paths = [];
      for (let step = 0; step < PUBLISHES_PER_ROUND; step++)
        for (const a of apps)
          paths.push(`/v1/mini-programs/${a.appId}/versions/${a.versions[a.next + step]}/publish`);
      for (const a of apps) a.next += PUBLISHES_PER_ROUND;
      return {
        method: "POST",
        requests: paths.map((path) => ({ path })),
        amount: paths.length,
        note: `${paths.length} publishes a run (${apps.length} apps in rotation), each replacing the online version and planning increments`,
      };
    });
  };
  await publishRun();
  await progressRun();
  await taskRun();

  // ---------------------------------------------------------------- publish, one at a time
  if (wants("serial")) {
    const app = apps[apps.length - 1];
    // A fresh app: approved versions only for this.
    const { appId } = await call("POST", "/v1/mini-programs", {
      token: dev,
      json: { teamId: DEMO_TEAM.id, name: "Bench Serial" },
    });
    await call("POST", `/v1/mini-programs/${appId}/bindings`, {
      token: dev,
      json: { hostAppId: DEMO_HOST_APP.id },
    });
    await call("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: manager });
    const samples = [];
    for (let i = 0; i < options.serialPublishes; i++) {
      const version = `2.0.${i}`;
      await call("POST", `/v1/mini-programs/${appId}/versions?version=${version}`, {
        token: dev,
        body: demoPackage(`serial-${version}`),
        contentType: "application/zip",
      });
      const audit = await call("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
        token: dev,
        json: {},
      });
      await call("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: auditor,
        json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
      });
      await sleep(20);
      const s = performance.now();
      await call("POST", `/v1/mini-programs/${appId}/versions/${version}/publish`, { token: dev });
      samples.push(performance.now() - s);
    }
    void app;
    const sorted = [...samples].sort((a, b) => a - b);
    results.serial = {
      n: samples.length,
      median: median(samples),
      p90: percentile(sorted, 90),
      max: sorted.at(-1),
    };
    log(
      `publish one at a time: median ${fmt(results.serial.median)} ms, p90 ${fmt(results.serial.p90)} ms over ${samples.length}`,
    );
  }

  // ---------------------------------------------------------------- whitelist upload
  if (wants("whitelist")) results.whitelist = await whitelistUpload({ edge, admin, demo });

  return results;
}

/**
 * Uploads an N-line whitelist (random GUIDs, 37 bytes a line) to a pending task, end to end: the
 * client sends the body, the call returns when the admin Worker has stored the list in R2,
 * switched the D1 row and published the snapshot. Each trial runs in a fresh host (the main one
 * is stopped first) holding only what the upload needs, so workerd's memory before the upload is
 * its memory at rest. Memory: workerd's RSS (/proc/<pid>/status VmRSS) sampled every 20 ms from
 * just before the upload to its answer; "extra" is the peak minus the RSS just before.
 */
async function whitelistUpload({ edge, admin, demo }) {
  const lines = options.whitelistLines;
  const body = Buffer.alloc(lines * 37);
  const hex = "0123456789abcdef";
  for (let i = 0, o = 0; i < lines; i++) {
    for (let j = 0; j < 36; j++) {
      body[o++] = j === 8 || j === 13 || j === 18 || j === 23 ? 45 : hex.charCodeAt((Math.random() * 16) | 0);
    }
    body[o++] = 10;
  }
  const { DEMO_HOST_APP, DEMO_TEAM, DEMO_USERS, demoPackage } = demo;
  const trials = [];
  for (let t = 0; t < options.whitelistTrials; t++) {
    await host?.dispose().catch(() => {});
    host = await startHost({ workers: [edge, admin], stateDir: join(tmp, `whitelist-${t}`) });
    if (multiCore) for (const pid of host.workerdPids) pinPid(pid, SERVER_CPU);
    const workerd = host.workerdPids[0];
    await applyMigrations(await host.mf.getD1Database("DB", WORKER_NAMES.admin));
    const call = api(host.urls[WORKER_NAMES.admin]);
    const login = async (u) =>
      (await call("POST", "/v1/auth/login", { json: { email: u.email, password: u.password } })).token;
    const dev = await login(DEMO_USERS.find((u) => u.team === "developer"));
    const manager = await login(DEMO_USERS.find((u) => u.hostApp === "manager"));
    const auditor = await login(DEMO_USERS.find((u) => u.hostApp === "auditor"));
    const { appId } = await call("POST", "/v1/mini-programs", {
      token: dev,
      json: { teamId: DEMO_TEAM.id, name: "Bench Whitelist" },
    });
    await call("POST", `/v1/mini-programs/${appId}/bindings`, {
      token: dev,
      json: { hostAppId: DEMO_HOST_APP.id },
    });
    await call("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: manager });
    await call("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
      token: dev,
      body: demoPackage("whitelist-1.0.0"),
      contentType: "application/zip",
    });
    const audit = await call("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
      token: dev,
      json: {},
    });
    await call("POST", `/v1/audits/${audit.auditId}/decision`, {
      token: auditor,
      json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
    });
    const task = await call("POST", `/v1/mini-programs/${appId}/grayscale-tasks`, {
      token: dev,
      json: {
        version: "1.0.0",
        name: "Whitelist",
        startAt: Date.now() + DAY,
        endAt: Date.now() + 2 * DAY,
        hostApps: [{ hostAppId: DEMO_HOST_APP.id }],
        platforms: [{ platform: "android" }, { platform: "ios" }],
      },
    });
    await sleep(2000);
    const rssBefore = rssOf(workerd);
    let peak = rssBefore;
    const timer = setInterval(() => {
      const r = rssOf(workerd);
      if (r > peak) peak = r;
    }, 20);
    const cpuBefore = host.workerdPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
    const s = performance.now();
    let answer;
    let error;
    try {
      answer = await call("PUT", `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/whitelists/guid`, {
        token: dev,
        body,
        contentType: "text/plain",
      });
    } catch (err) {
      error = String(err instanceof Error ? err.message : err);
    }
    const ms = performance.now() - s;
    clearInterval(timer);
    const serverCpuMs = host.workerdPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0) - cpuBefore;
    trials.push({
      ms,
      rssBefore,
      peak,
      extra: peak - rssBefore,
      serverCpuMs,
      count: answer?.count,
      shards: answer?.shards,
      error,
    });
    log(
      `whitelist upload ${t + 1}: ${error ? `failed: ${error}` : `${fmtInt(answer.count)} values, ${answer.shards} shards`} in ${(ms / 1000).toFixed(2)} s (workerd CPU ${(serverCpuMs / 1000).toFixed(2)} s); workerd RSS ${mb(rssBefore)} -> peak ${mb(peak)} MB (+${mb(peak - rssBefore)})`,
    );
  }
  return { lines, bytes: body.length, trials };
}

/**
 * What this run alone cannot show, measured on 2026-12-05 while building issue 17 (kept here so
 * every run of this script writes it again): the figures before the change, from the same script
 * run on the commit before it, and what limits the goals this section misses.
 */
const RECORDED = [
  "### Before and after issue 17 (recorded 2026-12-05)",
  "",
  "- **D1 round trips per publish** (counted by test/admin-publish-round-trips.test.ts on the real D1 binding wrapped in a counting proxy; each `run`/`all`/`first`/`raw`/`batch` is one): before, **28** after the session lookup every route pays (7 sequential reads, the write batch, the snapshot's ~17 reads in 3-4 sequential waves, the published-revision update, 4 for increment planning); now **3**: one read batch (the mini program, the caller's role, the live versions, the last release number, the tasks, the signing key's status), one write batch that, after its writes and in the same transaction, reads back the 17 queries the snapshot compiles from, the answer's version and the increment bases (so the snapshot is exactly the committed state at its revision), and one batch recording the published revision with the queued increments. Every other change that publishes a snapshot (task create, explain, the sweep...) now reads the snapshot's source in one batch instead of ~17 queries; the release history and the increments of older releases are read only when a bound host app has not approved the online version.",
  "- **The same script on the commit before the change** (f3f2882, one full run, 11:44-11:48 UTC, load average 2.1-4.6): floor 290 req/s (3,230 µs CPU per request); explain 60 req/s (0.29 of the floor, 15,496 µs); publish 36 req/s (0.15, 24,278 µs); progress 275 req/s (0.78); task create 40 req/s (0.13, 22,364 µs); publish one at a time median 41.03 ms.",
  "- **Interleaved before/after** (30 apps, one 5 s round each, 10 connections, runs in the order before, after, before, after from 12:02 to 12:10 UTC, load average 3.9-5.6; req/s with the ratio to the floor run just before): explain before 36 (0.25), 44 (0.27), after 123 (0.48), 113 (0.54); publish before 17 (0.11), 21 (0.09), after 40 (0.17), 36 (0.18); progress (no snapshot involved) before 74 (0.55), 126 (1.10), after 120 (0.80), 135 (0.77); task create before 44 (0.28), 22 (0.16), after 37 (0.28), 57 (0.28); publish one at a time, median: before 33.5 and 71.4 ms, after 38.8 and 30.7 ms.",
  "- **1,000,000-line whitelist upload, before** (f3f2882, this script, a fresh host per trial, 11:49 UTC, load average 4.6): 8.31, 11.79 and 9.26 s, workerd CPU 4.21, 4.73 and 4.25 s, **+257 MB** each time (one JS string per value). After, at a quieter moment (11:55 UTC): 3.19 and 3.21 s, workerd CPU 2.93 and 2.99 s, +174 and +175 MB. Whitelist format 2 (2026-12-06: 9 bytes a value while the list streams in, no value text kept, shards of 64-bit fingerprints, 16 MiB instead of 35 MiB written to R2), this script at 06:05 UTC with 2-5% other work on the machine: **1.66 and 1.66 s**, workerd CPU 1.59 and 1.60 s, **+135 and +144 MB**. Then with ASCII lines checked and hashed straight from the body's bytes (no string per line; 06:40 UTC, `--only whitelist`, 3 trials): 1.44, 1.48 and 1.51 s, workerd CPU 1.37-1.45 s, +141 to +143 MB.",
  "",
  "### What limits the goals missed here",
  "",
  "- **Publish one at a time, median < 15 ms.** Missed on 2026-12-06 with the machine otherwise idle (19.38 and 20.84 ms medians in two runs of 30 publishes; the edge benchmark run just before it measured hello-world at 80 µs of CPU a request, against 59 µs at 02:15 UTC the same day, so the host itself was slower). Met once, when the machine was quieter (13.69 ms median, p90 15.5 ms, 5 publishes at 11:43 UTC); missed whenever other engineers' benchmarks and test runs share the cores: 23.8 and 27.7 ms (30 publishes each, `--only serial`, 12:25 UTC, load average 3.0-3.6, another benchmark busy on a core), 30-73 ms in the runs above. Inside the Worker (a build instrumented with timestamps, not committed; 20 publishes at load average 3.9): the read batch 2-10 ms (median 6), the write batch with its read-back 5-41 ms (median 10), assembling and compiling the snapshot under 1 ms, R2 head plus conditional put 3-20 ms (median 7), the last batch 1-10 ms (median 2): about 25 ms of that run's 55 ms median; the rest is authentication (session token and its D1 lookup), the write limiter (locally a Durable Object call), routing and validation, and loopback HTTP. Local D1 and R2 are simulators in the same workerd process on the same pinned core, so every round trip waits for that core: the 3 round trips are what the code controls.",
  "- **Publish and task create under load** stay well below the floor (0.17-0.28): each is CPU-bound in workerd at 10-20 ms of CPU per request here (three D1 batches of up to 27 statements run by local SQLite in the same process, the snapshot compiled and written to the local R2 with a head and a conditional put), against 3-5 ms for the floor. Task create also publishes a snapshot that grows by one task with every request of the run.",
  "- **Whitelist upload, < 64 MB extra.** Missed as measured here: +131 to +144 MB of workerd's resident memory (format 1: +175 MB; before issue 17: +257 MB). Measured split on 2026-12-06, each with a temporary build (not committed) and this script's `--only whitelist`, 2 trials each: a Worker that only **reads the 35.3 MiB body to its end** and answers 400 peaks at **+39 and +41 MB** (workerd receiving and streaming the body to the isolate, no Graycast code); the upload that **reads, checks and hashes every line** and then answers 400 without writing peaks at **+57 and +58 MB** (0.55 s of CPU): the Worker's own parse is ~17 MB above the body's cost (the list's hashes are 9 bytes a value, 9 MB for 1,000,000, plus their arrays' growth). The remaining ~85 MB of the full upload comes with writing the 257 objects (16.0 MiB of shard tables and a 1.2 MiB Bloom filter, 6 puts in flight), which in this host Miniflare's local R2 stores inside the same workerd process (format 1's 35 MiB of shards cost about the same there, so it is not proportional to the bytes); deployed, R2 is a separate service. So the Worker's own memory for a 1,000,000-line upload is ~17 MB for the parse plus, while writing, the counting sort's order (4 MiB), the Bloom filter (1.2 MB) and the 6 tables in flight (64 KB each): about 25 MB, within the goal; what this host measures on top is the runtime's body transport and the local R2, which no Worker code controls.",
  "- **Whitelist upload, < 5 s.** Met: 1.44-1.66 s in every trial of 2026-12-06 (seven trials) (workerd CPU 1.4-1.6 s for the Worker, the local R2 and D1 together), against 3.19-3.21 s at a quiet moment with format 1 and 8.3-11.8 s before issue 17.",
];

const mb = (b) => (b / 2 ** 20).toFixed(0);

function versions() {
  const read = (p) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, "node_modules", p, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  return `Node ${process.version}, wrangler ${read("wrangler")}, miniflare ${read("miniflare")}, workerd ${read("workerd")}, autocannon ${read("autocannon")}`;
}

// ---------------------------------------------------------------- report
/** @param {{ runs: any[] }} results */
function report(results) {
  const L = [];
  const byId = new Map();
  for (const run of results.runs) {
    if (!byId.has(run.id)) byId.set(run.id, []);
    byId.get(run.id).push(run);
  }
  const floorRuns = results.runs.map((r) => r.floor);
  L.push(
    "| route | req/s | p50 ms | p99 ms | ratio to the floor | server CPU per request | other work on the machine | notes |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    `| floor: GET /v1/auth/me (session lookup, user, teams, host apps) | ${fmtInt(median(floorRuns.map((f) => f.rps)))} | ${fmt(median(floorRuns.map((f) => f.p50)))} | ${fmt(median(floorRuns.map((f) => f.p99)))} | 1 | ${fmtInt(median(floorRuns.map((f) => f.serverCpuUsPerReq)))} µs | ${fmtInt(median(floorRuns.map((f) => f.otherCpuPct)))}% | median over every floor run of this section |`,
  );
  for (const [, runs] of byId) {
    const rps = median(runs.map((x) => x.r.rps));
    const ratio = median(runs.map((x) => x.r.rps / x.floor.rps));
    const non2xx = runs.reduce((s, x) => s + (x.r.non2xx ?? 0), 0);
    const notes = [
      runs[0].note,
      non2xx
        ? `non-2xx answers: ${non2xx} (${JSON.stringify(runs.map((x) => x.r.statusCodes))})`
        : "every answer 2xx",
    ]
      .filter(Boolean)
      .join("; ");
    L.push(
      `| ${runs[0].label} | ${fmtInt(rps)} | ${fmt(median(runs.map((x) => x.r.p50)))} | ${fmt(median(runs.map((x) => x.r.p99)))} | ${fmt(ratio)} | ${fmtInt(median(runs.map((x) => x.r.serverCpuUsPerReq)))} µs | ${fmtInt(median(runs.map((x) => x.r.otherCpuPct)))}% | ${notes} |`,
    );
  }
  return L;
}

let exitCode = 0;
try {
  // --report <file>: render the section again from a run saved with --json <file> (no measuring).
  const saved = arg("--report") ? JSON.parse(readFileSync(arg("--report"), "utf8")) : undefined;
  if (saved) Object.assign(options, saved.options);
  const results = saved ? saved.results : await main();
  const cpu = cpus();
  const record = saved ?? {
    results,
    options,
    started: started.toISOString(),
    loadBefore,
    loadDuring: loadavg(),
    machine: `${cpu[0]?.model?.trim() ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}; ${versions()}`,
  };
  if (arg("--json")) writeFileSync(arg("--json"), JSON.stringify(record));
  const { machine, loadDuring } = record;
  const table = report(results);
  const lines = [
    "<!-- admin:start -->",
    "",
    "## The control plane under load",
    "",
    `Written by \`node bench/admin.mjs\` on ${record.started}; only this section is rewritten. Machine: ${machine}. Load average ${record.loadBefore.map((/** @type {number} */ x) => x.toFixed(2)).join(" / ")} at the start, ${loadDuring.map((/** @type {number} */ x) => x.toFixed(2)).join(" / ")} at the end (other engineers' work shares the 2 cores).`,
    "",
    `workerd (Miniflare host, direct sockets; the edge and the admin Worker as \`wrangler deploy --dry-run\` builds them, D1 migrated and seeded with the \`npm start\` accounts, state on tmpfs) pinned to core 0, autocannon pinned to core 1; ${options.connections} connections, ${options.duration} s per run, ${options.rounds} round(s); every run right after a run of the floor, and its ratio is against that run. Medians over rounds. The admin Worker's write limiter is raised to ${BENCH_WRITE_LIMIT.toLocaleString("en-US")} a minute for the bench (still called per write). ${options.apps} mini programs bound to the demo host app, each with approved versions made through the admin API.`,
    "",
    ...table,
    "",
    "Other work on the machine: CPU busy outside workerd, the load generator and this script during the run, in % of one core (bench/lib/loadgen.mjs); when it is high, every figure of that run is lower and the ratios are noisy.",
    "",
  ];
  if (results.serial)
    lines.push(
      `- **publish, one at a time** (the API call alone, one app, ${results.serial.n} publishes each replacing the online version, nothing else in flight): median **${fmt(results.serial.median)} ms**, p90 ${fmt(results.serial.p90)} ms, max ${fmt(results.serial.max)} ms (goal: median < 15 ms locally).`,
    );
  if (results.whitelist) {
    const w = results.whitelist;
    const ok = w.trials.filter((t) => !t.error);
    lines.push(
      `- **${w.lines.toLocaleString("en-US")}-line whitelist upload** (${(w.bytes / 2 ** 20).toFixed(1)} MiB of random GUIDs, PUT .../whitelists/guid to a pending task, each trial in a fresh host; wall time to the answer, which comes after the shards and the Bloom filter are in R2, the D1 batch and the snapshot publish): ${w.trials
        .map((t) =>
          t.error
            ? `failed (${t.error})`
            : `**${(t.ms / 1000).toFixed(2)} s** (workerd CPU ${(t.serverCpuMs / 1000).toFixed(2)} s), workerd RSS ${mb(t.rssBefore)} MB before, peak ${mb(t.peak)} MB (**+${mb(t.extra)} MB**)`,
        )
        .join(
          "; ",
        )}; ${fmtInt(ok[0]?.count)} values in ${ok[0]?.shards} shards (goal: < 5 s, < 64 MB extra). Memory is workerd's resident set size (VmRSS in /proc/<pid>/status; one workerd process runs both Workers and Miniflare's R2 and D1) sampled every 20 ms during the upload, minus its value just before it; the client's own memory is not counted.`,
    );
  }
  lines.push("", ...RECORDED, "", "<!-- admin:end -->");
  const section = lines.join("\n");
  console.log(section);
  if (write) {
    const path = join(ROOT, "BENCHMARKS.md");
    let text = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
    const start = text.indexOf("<!-- admin:start -->");
    const end = text.indexOf("<!-- admin:end -->");
    if (start >= 0 && end > start)
      text = text.slice(0, start) + section + text.slice(end + "<!-- admin:end -->".length);
    else {
      const inc = text.indexOf("<!-- increments:start -->");
      text =
        inc >= 0
          ? `${text.slice(0, inc)}${section}\n\n${text.slice(inc)}`
          : `${text.replace(/\n*$/, "\n")}\n${section}\n`;
    }
    writeFileSync(path, text);
    log("BENCHMARKS.md: admin section written");
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
