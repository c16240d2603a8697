// The body of `npm run bench` (bench/run.mjs, which makes sure Node 22 runs it): Graycast's benchmark. See BENCHMARKS.md for what each
// figure means; this script rewrites BENCHMARKS.md on every full run.
//
//   node bench/run.mjs [--rounds 3] [--duration 5] [--connections 50] [--quick]
//                      [--only online,tasks,...] [--skip load,decide,publish,startup,logs,shards] [--no-write]
//                      [--member-share 0.5] (whitelisted share of the tasks scenario's users)
//                      [--json <path>] [--profile <scenario>|none] (CPU profile of the edge during a
//                      scenario, in a separate host so the measured runs have no profiler attached; default online)
//
// Steps: bundle the Workers as wrangler deploys them; start-up time; one workerd host (Miniflare,
// direct sockets) with the edge and a hello-world Worker, pinned to core 0, the load generator
// pinned to core 1; the scenarios in alternation with hello-world, several rounds; the exact-cap
// burst; the pure decide micro-benchmark; publish-to-edge; then BENCHMARKS.md.
import { execSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleCore, bundleWorker } from "./bundle.mjs";
import { admittedCount, settledCount } from "./counter.mjs";
import { APPS, buildWorld, clientBody, seedR2 } from "./fixtures.mjs";
import {
  benchSecrets,
  helloWithBindingsOf,
  helloWorker,
  machineBusyMs,
  r2FloorWorker,
  startHost,
  WORKER_NAMES,
  workerFromWrangler,
} from "./host.mjs";
import { loadCommand, removeSpecs, runLoad } from "./loadgen.mjs";
import { logsSection, measureLogQueries } from "./logs.mjs";
import { profileWorker } from "./profile.mjs";
import { publishToEdge } from "./publish.mjs";
import { writeReport } from "./report.mjs";
import { checkGet, edgeScenarios, Unavailable } from "./scenarios.mjs";
import { coldStart, startupProfile } from "./startup.mjs";
import { hasTaskset, log, NODE, pinPid, ROOT, run } from "./util.mjs";

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const has = (f) => argv.includes(f);
const arg = (f, fallback) => (has(f) ? argv[argv.indexOf(f) + 1] : fallback);
const quick = has("--quick");
const options = {
  rounds: Number(arg("--rounds", process.env.BENCH_ROUNDS ?? (quick ? 1 : 3))),
  duration: Number(arg("--duration", process.env.BENCH_DURATION ?? (quick ? 2 : 5))),
  warmup: quick ? 1 : 2,
  connections: Number(arg("--connections", process.env.BENCH_CONNECTIONS ?? 50)),
  poolSize: 1000,
  // share of whitelisted users in the tasks scenario's pool
  memberShare: Number(arg("--member-share", 0.5)),
  whitelistSize: 1_000_000,
  exactCap: 1000,
  admitCap: 10_000_000,
  only: arg("--only")?.split(","),
  skip: new Set(arg("--skip", "").split(",").filter(Boolean)),
  write: !has("--no-write") && !quick && !has("--only"),
  json: arg("--json"),
  // the scenario profiled in a host of its own after the measured runs ("none" to skip)
  profile: arg("--profile", "online") === "none" ? undefined : arg("--profile", "online"),
};
const TIME_BUDGET_MS = 9.5 * 60_000;
const startedAt = Date.now();
const overBudget = () => Date.now() - startedAt > TIME_BUDGET_MS;

const multiCore = cpus().length >= 2 && hasTaskset();
const SERVER_CPU = multiCore ? 0 : undefined;
const CLIENT_CPU = multiCore ? 1 : undefined;

const tmp = mkdtempSync(join("/dev/shm", "graycast-bench-"));
/**
 * One scenario's record in the report.
 * @typedef {object} ScenarioRecord
 * @property {string} id
 * @property {string} label
 * @property {unknown} goal
 * @property {boolean} baseline
 * @property {object[]} runs
 * @property {boolean} [available]
 * @property {string} [note]
 */
const results = {
  startedAt: new Date(startedAt).toISOString(),
  options: { ...options, skip: [...options.skip] },
  machine: machine(),
  versions: versions(),
  git: gitState(),
  pinning: multiCore ? { server: SERVER_CPU, client: CLIENT_CPU } : null,
  /** @type {string[]} */
  commands: [],
  bundle: {},
  startup: {},
  /** @type {ScenarioRecord[]} */
  scenarios: [],
  admission: {},
  /** @type {unknown} decide.mjs's --json answer */
  decide: null,
  /** @type {Awaited<ReturnType<typeof publishToEdge>> | null} */
  publish: null,
  /** @type {string[]} */
  notes: [],
};
const note = (text) => {
  results.notes.push(text);
  log(text);
};

let activeHost;
async function cleanup() {
  await activeHost?.dispose().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
  removeSpecs();
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    await cleanup();
    process.exit(130);
  });
}

// The orchestrator (and the load generators it spawns) stay off the server's core.
if (multiCore) pinPid(process.pid, CLIENT_CPU);

// How busy the machine is before the benchmark does anything: other people's work.
{
  const before = machineBusyMs();
  await new Promise((r) => setTimeout(r, 2000));
  results.machine.backgroundCpuPctStart = ((machineBusyMs() - before) / 2000) * 100;
  log(
    `machine busy before start: ${Math.round(results.machine.backgroundCpuPctStart)}% of one core (${cpus().length} cores)`,
  );
}

// ---------------------------------------------------------------- 1. bundles
log("bundling the Workers (wrangler deploy --dry-run)");
const edgeBundle = await bundleWorker("edge", join(tmp, "edge"));
const edgeMin = edgeBundle.ok
  ? await bundleWorker("edge", join(tmp, "edge-min"), { minify: true })
  : edgeBundle;
const adminBundle = options.skip.has("publish")
  ? { ok: /** @type {const} */ (false), error: "skipped" }
  : await bundleWorker("admin", join(tmp, "admin"));
results.bundle = { edge: strip(edgeBundle), edgeMinified: strip(edgeMin), admin: strip(adminBundle) };
results.commands.push(edgeBundle.command, edgeMin.command);
if (!edgeBundle.ok) note(`edge Worker does not bundle: ${edgeBundle.error}`);

const coreBuild = await bundleCore(join(tmp, "core.mjs"));
const core = coreBuild.ok
  ? await import(pathToFileURL(coreBuild.path).href).catch((err) => ({ error: err }))
  : undefined;
if (!coreBuild.ok) note(`core does not bundle: ${coreBuild.error}`);
else if (core?.error) note(`bundled core does not load: ${core.error.message ?? core.error}`);

const secrets = benchSecrets();

// ---------------------------------------------------------------- 2. start-up
if (!options.skip.has("startup") && edgeBundle.ok) {
  log("start-up: workerd profile and cold starts");
  results.startup.profile = await startupProfile("edge");
  if (results.startup.profile.ok) results.commands.push(results.startup.profile.command);
  const times = quick ? 1 : 3;
  const edgeWorker = workerFromWrangler("edge", edgeBundle.script, { secrets });
  results.startup.hello = await coldStart(helloWithBindingsOf(edgeWorker), "/", { times, stateRoot: tmp });
  results.startup.edge = await coldStart(edgeWorker, "/healthz", { times, stateRoot: tmp });
}

// ---------------------------------------------------------------- 3. edge under load
if (edgeBundle.ok && !options.skip.has("load")) {
  await loadPhase().catch((err) =>
    note(
      `load phase failed: ${String(err.message ?? err)
        .split("\n")
        .slice(0, 3)
        .join(" ")}`,
    ),
  );
}

async function loadPhase() {
  log("starting workerd (Miniflare, direct sockets): hello-world + edge");
  const edge = workerFromWrangler("edge", edgeBundle.script, { secrets });
  activeHost = await startHost({
    workers: [helloWorker(), edge, r2FloorWorker(edge)],
    stateDir: join(tmp, "load"),
  });
  const host = activeHost;
  const urls = { hello: host.urls.hello, edge: host.urls[WORKER_NAMES.edge], r2floor: host.urls["r2-floor"] };
  if (multiCore) for (const pid of host.workerdPids) pinPid(pid, SERVER_CPU);
  if (host.workerdPids.length === 0)
    note("could not find the workerd process: server CPU per request not measured");
  results.host = { workerdPids: host.workerdPids.length, urls };

  let world;
  if (core && !core.error) {
    try {
      world = buildWorld(core, {
        whitelistSize: options.whitelistSize,
        admitCap: options.admitCap,
        exactCap: options.exactCap,
        log,
      });
      world.admitCap = options.admitCap;
      log(`seeding R2 with ${world.objects.length} objects`);
      await seedR2(await host.mf.getR2Bucket("PACKAGES", WORKER_NAMES.edge), world.objects);
    } catch (err) {
      note(
        `could not build the snapshots with the current core: ${err instanceof Error ? err.message : err}`,
      );
      world = undefined;
    }
  }

  const all = edgeScenarios({ urls, world: world ?? {}, options });
  const wanted = all.filter((s) => s.baseline || !options.only || options.only.includes(s.id));
  const available = [];
  for (const s of wanted) {
    const entry = { id: s.id, label: s.label, goal: s.goal, baseline: !!s.baseline, runs: [] };
    results.scenarios.push(entry);
    if (!world && !s.baseline) {
      entry.available = false;
      entry.note = "not available: the fixtures could not be built with the current core";
      continue;
    }
    try {
      entry.note = await s.prepare();
      entry.available = true;
      available.push({ s, entry });
    } catch (err) {
      entry.available = false;
      entry.note = `not available: ${err instanceof Unavailable ? err.message : `error: ${err instanceof Error ? err.message : err}`}`;
      log(`${s.id}: ${entry.note}`);
    }
  }
  const hello = available.find((a) => a.s.baseline);
  if (!hello) throw new Error("the hello-world baseline does not answer");
  const measured = available.filter((a) => !a.s.baseline);

  const load = async (a, round, label) => {
    const spec = a.s.spec(round);
    const before = a.s.admissions ? await admittedCount(host.mf, a.s.admissions) : undefined;
    const r = await runLoad(spec, { serverPids: host.workerdPids, cpu: CLIENT_CPU });
    if (before) {
      const after = await settledCount(host.mf, a.s.admissions, { maxMs: 3_000 });
      r.admitted = after.rows - before.rows;
      r.admissionsPerSec = r.admitted / r.seconds;
    }
    if (r.error) log(`${label}: ${r.error}`);
    else
      log(
        `${label}: ${Math.round(r.rps)} req/s, p50 ${r.p50?.toFixed(2)} ms, p99 ${r.p99?.toFixed(2)} ms, server CPU ${r.serverCpuUsPerReq?.toFixed(0)} µs/req${r.non2xx || r.errors ? `, non-2xx ${r.non2xx}, errors ${r.errors}` : ""}`,
      );
    return r;
  };

  // Warm-up: JIT, snapshot and whitelist caches, DO creation.
  log(`warm-up (${options.warmup} s each)`);
  for (const a of available)
    await runLoad({ ...a.s.spec(0), duration: options.warmup }, { serverPids: [], cpu: CLIENT_CPU });

  for (let round = 1; round <= options.rounds; round++) {
    for (const a of measured) {
      if (overBudget()) {
        note(`time budget reached: stopped after round ${round - 1}`);
        round = options.rounds + 1;
        break;
      }
      const base = await load(hello, round, `round ${round} hello-world`);
      const r = await load(a, round, `round ${round} ${a.s.id}`);
      hello.entry.runs.push(base);
      a.entry.runs.push({ ...r, ratio: r.rps / base.rps, baselineRps: base.rps, baseline: base });
    }
  }

  // Exact cap: a burst of 3x the cap in new users at full concurrency; the counter must end
  // exactly at the cap, and exactly that many answers may carry the grayscale version. Slots an
  // isolate leased and did not use come back when the lease ends, so after the burst the run
  // waits for every lease to end, and sends further waves of new users while any is admitted.
  const wantExact = !options.only || options.only.includes("admit");
  if (world && wantExact && !overBudget()) {
    log(`exact cap: ${options.exactCap * 3} new users against cap ${options.exactCap}`);
    const wave = (amount, n) => ({
      url: urls.edge,
      method: "GET",
      connections: options.connections,
      amount,
      newUser: {
        path: checkGet(clientBody(APPS.cap)).path,
        header: "x-graycast-user",
        field: "guid",
        prefix: `cap-${Date.now()}-${n}-`,
      },
      countReasons: true,
    });
    const r = await runLoad(wave(options.exactCap * 3, 0), { serverPids: host.workerdPids, cpu: CLIENT_CPU });
    let grayscaleAnswers = r.taskIds?.[world.tasks.cap] ?? 0;
    let count = await settledCount(host.mf, world.tasks.cap, { untilFree: true });
    const waves = [grayscaleAnswers];
    while (!r.error && count.rows < options.exactCap && waves.length < 6) {
      const more = await runLoad(wave(options.exactCap, waves.length), {
        serverPids: host.workerdPids,
        cpu: CLIENT_CPU,
      });
      const admittedNow = more.taskIds?.[world.tasks.cap] ?? 0;
      waves.push(admittedNow);
      grayscaleAnswers += admittedNow;
      count = await settledCount(host.mf, world.tasks.cap, { untilFree: true });
      if (admittedNow === 0) break;
    }
    results.admission.exact = {
      cap: options.exactCap,
      requests: r.requests,
      ok: r.ok,
      reasons: r.reasons,
      waves,
      grayscaleAnswers,
      counter: count.counter,
      rows: count.rows,
      reserved: count.reserved,
      overCap: Math.max(0, (Number.isFinite(count.rows) ? count.rows : grayscaleAnswers) - options.exactCap),
      exact:
        count.rows === options.exactCap &&
        (Number.isNaN(count.counter) || count.counter === options.exactCap) &&
        grayscaleAnswers === options.exactCap &&
        count.reserved === 0,
      error: r.error,
    };
    log(
      `exact cap: admitted rows ${count.rows}, counter ${count.counter}, grayscale answers ${grayscaleAnswers} in ${waves.length} wave(s) [${waves.join(", ")}], reserved ${count.reserved} (cap ${options.exactCap})`,
    );
  }

  // The big capped task: every grayscale answer of the admission runs is one admitted row.
  const admit = results.scenarios.find((e) => e.id === "admit");
  if (admit?.available && world) {
    const count = await settledCount(host.mf, world.tasks.admit);
    results.admission.admitTask = { cap: options.admitCap, counter: count.counter, rows: count.rows };
  }

  await host.dispose();
  activeHost = undefined;

  // Where the edge's CPU goes during one scenario: a fresh host with workerd's inspector, the
  // same fixtures, one extra run with the CPU profiler attached (not counted in the figures).
  const profiled = options.profile && available.find((a) => a.s.id === options.profile && !a.s.baseline);
  if (has("--profile") && options.profile && !profiled)
    note(`--profile ${options.profile}: no such available scenario`);
  if (profiled && world && !overBudget()) {
    log(`profiling the edge during ${profiled.s.id} (separate host, inspector attached)`);
    activeHost = await startHost({
      workers: [helloWorker(), edge, r2FloorWorker(edge)],
      stateDir: join(tmp, "profile"),
      inspector: true,
    });
    const p = activeHost;
    if (multiCore) for (const pid of p.workerdPids) pinPid(pid, SERVER_CPU);
    await seedR2(await p.mf.getR2Bucket("PACKAGES", WORKER_NAMES.edge), world.objects);
    const again = edgeScenarios({
      urls: { hello: p.urls.hello, edge: p.urls[WORKER_NAMES.edge], r2floor: p.urls["r2-floor"] },
      world,
      options,
    }).find((x) => x.id === profiled.s.id);
    try {
      if (!again) throw new Error(`no scenario ${profiled.s.id} in the profiling host`);
      await again.prepare();
      await runLoad({ ...again.spec(0), duration: options.warmup }, { serverPids: [], cpu: CLIENT_CPU });
      const spec = again.spec(99);
      results.profile = {
        scenario: again.id,
        label: again.label,
        ...(await profileWorker(await p.mf.getInspectorURL(), WORKER_NAMES.edge, edgeBundle.script, () =>
          runLoad(spec, { serverPids: p.workerdPids, cpu: CLIENT_CPU }),
        )),
      };
      if (results.profile.error) note(`profile failed: ${results.profile.error}`);
    } catch (err) {
      note(`profile failed: ${err instanceof Error ? err.message : err}`);
    }
    await p.dispose();
    activeHost = undefined;
  }
}

// ---------------------------------------------------------------- 4. decide micro-benchmark
if (!options.skip.has("decide") && !overBudget()) {
  log("decide micro-benchmark (one core)");
  const args = [
    join(ROOT, "bench", "decide.mjs"),
    "--json",
    ...(coreBuild.ok ? ["--core", coreBuild.path] : []),
    ...(quick ? ["--trials", "3"] : []),
  ];
  const r = multiCore
    ? await run("taskset", ["-c", String(CLIENT_CPU), NODE, ...args], { timeoutMs: 180_000 })
    : await run(NODE, args, { timeoutMs: 180_000 });
  let decided;
  try {
    decided = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
  } catch {
    decided = {
      available: false,
      note: `decide.mjs failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-4).join(" | ")}`,
    };
  }
  results.decide = decided;
  results.commands.push(`${multiCore ? `taskset -c ${CLIENT_CPU} ` : ""}node bench/decide.mjs --json`);
  if (decided.available)
    log(
      `decide: ${Math.round(decided.hot.median)} decisions/s (hot path), ${Math.round(decided.explained.median)} (rankTasks)`,
    );
  else log(`decide: ${decided.note}`);
}

// ---------------------------------------------------------------- 5. publish-to-edge
if (!options.skip.has("publish") && !overBudget()) {
  if (!edgeBundle.ok || !adminBundle.ok) {
    results.publish = { ok: false, error: `the ${!edgeBundle.ok ? "edge" : "admin"} Worker does not bundle` };
  } else {
    log("publish-to-edge (admin API publish -> edge check)");
    const published = await publishToEdge({
      edgeScript: edgeBundle.script,
      adminScript: adminBundle.script,
      secrets,
      stateDir: join(tmp, "publish"),
      trials: quick ? 2 : 5,
      log,
    });
    results.publish = published;
    if (!published.ok) log(`publish-to-edge: ${published.error}`);
  }
}

// ---------------------------------------------------------------- 5b. real-time log queries
// A day of one busy mini program's logs, then the admin API's filtered queries (bench/lib/logs.mjs;
// alone: `node bench/logs.mjs`). A tenth of the volume with --quick.
if (!options.skip.has("logs") && (!options.only || options.only.includes("logs")) && !overBudget()) {
  log("real-time log queries (one day of one mini program's logs)");
  try {
    const measured = await measureLogQueries({ entries: quick ? 100_000 : 1_000_000, tmp, log });
    results.logsSection = logsSection(measured);
  } catch (err) {
    results.notes.push(`log queries: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------- 5c. cap shards, real objects
// bench/shards.mjs in its own process (its own workerd): calls per admission, admissions/s and
// exactness at K = 1, 4, 16 (docs/scale.md 5b). Fewer users with --quick.
if (!options.skip.has("shards") && (!options.only || options.only.includes("shards")) && !overBudget()) {
  log("cap shards with the real objects (bench/shards.mjs)");
  const args = [
    "bench/shards.mjs",
    "--json",
    ...(quick ? ["--isolates", "16,64", "--per-isolate", "50"] : []),
  ];
  const r = await run(NODE, args, { timeoutMs: 10 * 60 * 1000 });
  try {
    if (r.code !== 0) throw new Error(r.stderr.trim().split("\n").slice(-3).join(" "));
    // Miniflare may log to stdout before the rows (JSON.stringify with 2 spaces: "[\n  {").
    results.shards = JSON.parse(r.stdout.slice(r.stdout.indexOf("[\n  {")));
  } catch (err) {
    results.notes.push(`cap shards: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---------------------------------------------------------------- 6. report
results.finishedAt = new Date().toISOString();
results.elapsedSeconds = (Date.now() - startedAt) / 1000;
results.machine.loadAvgEnd = loadavg();
results.commands.push(loadCommand(CLIENT_CPU));
const summary = writeReport(results, { path: join(ROOT, "BENCHMARKS.md"), write: options.write });
console.log(summary);
if (options.json) writeFileSync(options.json, JSON.stringify(results, null, 2));
if (!options.write)
  log(`BENCHMARKS.md not written (${quick ? "--quick" : options.only ? "--only" : "--no-write"})`);
await cleanup();
log(`done in ${Math.round(results.elapsedSeconds)} s`);
// Nothing may keep the process alive (a Miniflare that failed to start can leave a socket open).
process.exit(0);

// ---------------------------------------------------------------- helpers
function strip(b) {
  const { script, ...rest } = b;
  return rest;
}

function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {}
  return {
    cores: cpus().length,
    cpuModel: model,
    memGiB: totalmem() / 2 ** 30,
    freeMemGiB: freemem() / 2 ** 30,
    kernel: release(),
    loadAvgStart: loadavg(),
  };
}

function versions() {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      return "?";
    }
  };
  return {
    node: process.version,
    wrangler: pkg("wrangler"),
    miniflare: pkg("miniflare"),
    workerd: pkg("workerd"),
    autocannon: pkg("autocannon"),
    esbuild: pkg("esbuild"),
  };
}

function gitState() {
  try {
    const commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execSync("git status --porcelain", { cwd: ROOT, encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean).length;
    return { commit, dirtyFiles: dirty };
  } catch {
    return { commit: "?", dirtyFiles: 0 };
  }
}
