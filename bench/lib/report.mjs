// Turns one run's results into BENCHMARKS.md (rewritten by every full run, keeping the section
// `npm run bench:increments` writes) and a console summary.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { shardsSection } from "./shards-report.mjs";
import { fmt, fmtInt, median } from "./util.mjs";

const KiB = 1024;
const verdict = (ok) => (ok === undefined ? "n/a" : ok ? "met" : "**not met**");

function scenarioStats(entry) {
  const runs = entry.runs.filter((r) => !r.error);
  if (runs.length === 0) return undefined;
  const m = (key) => median(runs.map((r) => r[key]));
  return {
    rounds: runs.length,
    rps: m("rps"),
    p50: m("p50"),
    p99: m("p99"),
    ratio: entry.baseline ? 1 : m("ratio"),
    cpuUs: m("serverCpuUsPerReq"),
    serverCpuPct: m("serverCpuPct"),
    clientCpuPct: m("clientCpuPct"),
    non2xx: runs.reduce((s, r) => s + (r.non2xx ?? 0) + (r.errors ?? 0), 0),
    requests: runs.reduce((s, r) => s + (r.requests ?? 0), 0),
    admissionsPerSec: runs.some((r) => r.admissionsPerSec !== undefined) ? m("admissionsPerSec") : undefined,
    admitted: runs.reduce((s, r) => s + (r.admitted ?? 0), 0),
    ok: runs.reduce((s, r) => s + (r.ok ?? 0), 0),
  };
}

export function writeReport(results, { path, write }) {
  const L = [];
  const push = (...lines) => L.push(...lines);
  const o = results.options;
  const m = results.machine;
  const v = results.versions;

  push(
    "# Benchmarks",
    "",
    `Written by \`npm run bench\` (\`node bench/run.mjs\`) on ${results.finishedAt}; every full run rewrites this file, so edit`,
    "bench/lib/report.mjs rather than this page. Goals are the ones of the benchmark issue; how each figure is",
    'measured is under "Method".',
    "",
  );
  // Other work on the machine: before the start, and during every load run (machine busy time minus
  // workerd, the load generator and this script).
  const others = results.scenarios
    .flatMap((e) => e.runs.flatMap((r) => [r.otherCpuPct, r.baseline?.otherCpuPct]))
    .filter(Number.isFinite);
  const otherMedian = median(others);
  const otherMax = others.length ? Math.max(...others) : NaN;
  results.noise = { before: m.backgroundCpuPctStart, duringMedian: otherMedian, duringMax: otherMax };
  if (m.backgroundCpuPctStart > 15 || otherMedian > 15) {
    const during = Number.isFinite(otherMedian)
      ? ` and ${fmtInt(otherMedian)}% (median; max ${fmtInt(otherMax)}%) during the load runs`
      : "";
    push(
      `> **Noisy run.** Other work kept the machine ${fmtInt(m.backgroundCpuPctStart)}% busy (of one core; ${m.cores} cores) just before the start${during},`,
      "> so absolute figures are low and ratios wobble. Re-run on a quiet machine before reading much into them.",
      "",
    );
  }
  if (results.git.dirtyFiles > 0) {
    push(
      `> Code under test: commit ${results.git.commit} plus ${results.git.dirtyFiles} uncommitted changed files (work in progress).`,
      "",
    );
  }

  // -------------------------------------------------------------- edge under load
  push("## The edge Worker under load", "");
  push(
    `workerd (Miniflare host, direct sockets) ${results.pinning ? `pinned to core ${results.pinning.server}, autocannon pinned to core ${results.pinning.client}` : "unpinned (taskset missing or one core)"}; ` +
      `${o.connections} connections, ${o.duration} s per run, ${o.rounds} round(s), each scenario run right after its own hello-world run. Medians over rounds.`,
    "",
    "| scenario | req/s | p50 ms | p99 ms | ratio to hello-world | goal | server CPU per request (above hello-world) | notes |",
    "| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
  );
  const stats = {};
  for (const e of results.scenarios) {
    const s = e.available ? scenarioStats(e) : undefined;
    stats[e.id] = s;
    if (!s) {
      push(
        `| ${e.label} | — | — | — | — | ${e.goal ? `>= ${e.goal.ratio}` : ""} | — | ${e.note ?? "not run"} |`,
      );
      continue;
    }
    const goal = e.goal
      ? `>= ${e.goal.ratio}: ${verdict(s.ratio >= e.goal.ratio && (e.id !== "admit" || results.admission.exact?.overCap === 0))}`
      : "";
    const errors = s.non2xx > 0 ? `; ${s.non2xx} non-2xx/errors of ${fmtInt(s.requests)}` : "";
    const above = !e.baseline && stats.hello ? ` (+${fmtInt(s.cpuUs - stats.hello.cpuUs)})` : "";
    push(
      `| ${e.label} | ${fmtInt(s.rps)} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${e.baseline ? "1" : fmt(s.ratio)} | ${goal} | ${fmtInt(s.cpuUs)} µs${above} | ${e.note ?? ""}${errors} |`,
    );
  }
  if (results.scenarios.length === 0) push("| (the load phase did not run) | | | | | | | |");
  push("");
  push(...floorGoals(stats));

  // -------------------------------------------------------------- other figures
  push("## Other figures", "", "| figure | value | goal |", "| --- | --- | --- |");
  const d = results.decide;
  if (d?.available) {
    push(
      `| pure \`decide\`, hot path: ${d.tasks} tasks, ${fmtInt(d.whitelistSize)}-entry whitelist, one core | ${fmtInt(d.hot.median)} decisions/s (trials ${fmtInt(d.hot.min)}–${fmtInt(d.hot.max)}${d.hot.perCpuSecond ? `; ${fmtInt(d.hot.perCpuSecond)} per second of its own CPU time` : ""}) | >= 1,500,000/s: ${verdict(d.hot.median >= 1_500_000)} |`,
    );
    push(
      `| pure \`decide\`, explaining form (\`rankTasks\`, every condition reported) | ${fmtInt(d.explained.median)} decisions/s | (for comparison) |`,
    );
  } else push(`| pure \`decide\` | ${d ? d.note : "not run"} | >= 1,500,000/s: n/a |`);

  const admit = stats.admit;
  if (admit?.admissionsPerSec !== undefined) {
    push(
      `| Durable Object admission rate (new users admitted per second through the edge, one capped task) | ${fmtInt(admit.admissionsPerSec)} admissions/s | |`,
    );
  } else push("| Durable Object admission rate | not available | |");
  const ex = results.admission.exact;
  if (ex) {
    const waves =
      ex.waves && ex.waves.length > 1
        ? ` (burst, then ${ex.waves.length - 1} wave(s) of ${fmtInt(ex.cap)} new users once the leases ended: grayscale answers per wave ${ex.waves.map(fmtInt).join(", ")})`
        : "";
    push(
      `| exact cap: ${fmtInt(ex.requests)} new users in a burst against a cap of ${fmtInt(ex.cap)}${waves} | admitted rows ${fmtInt(ex.rows)}, counter ${fmtInt(ex.counter)}, grayscale answers ${fmtInt(ex.grayscaleAnswers)}, slots still leased ${fmtInt(ex.reserved ?? 0)}; over the cap: ${fmtInt(ex.overCap)} | equal to the cap, zero over: ${verdict(ex.exact)} |`,
    );
  } else push("| exact cap (admitted count against the cap) | not available | equal to the cap: n/a |");
  const at = results.admission.admitTask;
  if (at && admit) {
    const consistent = at.rows === at.counter;
    push(
      `| admission runs: counter of the big capped task vs its admitted rows | counter ${fmtInt(at.counter)}, rows ${fmtInt(at.rows)} (probe and pool users included) | equal: ${verdict(consistent)} |`,
    );
  }

  const p = results.publish;
  if (p?.ok) {
    push(
      `| publish -> edge serves it (${p.samples.length} publishes, edge snapshot TTL ${p.ttlMs} ms, polled every ${p.pollMs} ms) | median ${fmt(p.medianMs / 1000)} s, max ${fmt(p.maxMs / 1000)} s (publish API call alone: median ${fmtInt(median(p.samples.map((s) => s.publishMs)))} ms) | < 10 s: ${verdict(p.maxMs < 10_000)} |`,
    );
  } else push(`| publish -> edge serves it | ${p ? `not available: ${p.error}` : "not run"} | < 10 s: n/a |`);

  const b = results.bundle.edge;
  if (b?.ok) {
    const gz = b.wranglerGzipKiB ?? b.gzipBytes / KiB;
    push(
      `| edge bundle as deployed (wrangler.toml: minify = true) | ${fmt(gz, 1)} KiB gzip (${fmt(b.wranglerUploadKiB ?? b.rawBytes / KiB, 1)} KiB raw) | < 100 KiB gzip: ${verdict(gz < 100)} |`,
    );
    const bm = results.bundle.edgeMinified;
    if (bm?.ok)
      push(
        `| edge bundle with \`--minify\` | ${fmt(bm.wranglerGzipKiB ?? bm.gzipBytes / KiB, 1)} KiB gzip (${fmt(bm.wranglerUploadKiB ?? bm.rawBytes / KiB, 1)} KiB raw) | (what minify alone would give) |`,
      );
  } else push(`| edge bundle | does not build: ${b?.error?.split("\n")[0] ?? "?"} | < 100 KiB gzip: n/a |`);

  const st = results.startup;
  if (st.profile?.ok)
    push(
      `| edge start-up CPU (workerd profile of the script's start-up phase) | ${fmt(st.profile.activeMs, 1)} ms active (incl. ${fmt(st.profile.gcMs, 1)} ms GC) | (Cloudflare's limit: 1 s) |`,
    );
  else if (st.profile)
    push(`| edge start-up CPU | not available: ${String(st.profile.error).split("\n").pop()} | |`);
  if ((st.edge && !st.edge.ok) || (st.hello && !st.hello.ok)) {
    push(
      `| cold start under the host | not available: ${String((st.edge?.ok ? st.hello : st.edge)?.error ?? "no successful start").split("\n")[0]} | |`,
    );
  }
  if (st.edge?.ok && st.hello?.ok) {
    push(
      `| cold start under the host: \`new Miniflare()\` -> first 200 (median of ${st.edge.samples.length}) | edge ${fmtInt(st.edge.medianMs)} ms; hello-world with the same bindings ${fmtInt(st.hello.medianMs)} ms; difference (the edge script) ${fmtInt(st.edge.medianMs - st.hello.medianMs)} ms | |`,
    );
  }
  push("");

  // -------------------------------------------------------------- what limits the misses
  const limits = [];
  const missed = (id) => {
    const e = results.scenarios.find((x) => x.id === id);
    const st = stats[id];
    return e?.goal && st && st.ratio < e.goal.ratio
      ? { e, st, above: stats.hello ? st.cpuUs - stats.hello.cpuUs : undefined }
      : undefined;
  };
  const budget = (m) =>
    stats.hello && m
      ? ` The goal leaves ${fmtInt(stats.hello.cpuUs * (1 / m.e.goal.ratio - 1))} µs of CPU above hello-world per request; this run spent ${fmtInt(m.above)} µs.`
      : "";
  // The bare Workers under the same host: what the check's exchange costs with no work at all.
  const floorNote = () => {
    const get = stats.getfloor;
    const post = stats.jsonfloor;
    if (!get || !post) return "";
    return ` The runtime itself takes part of that budget: a bare Worker answering the same GET requests with the same headers and a body it already holds reaches ${fmt(get.ratio, 2)} of hello-world (${fmtInt(get.cpuUs - stats.hello.cpuUs)} µs above it: the longer request line, six response headers, ~1 KB of body), and one that reads and parses the same POST body reaches ${fmt(post.ratio, 2)} (rows "(reference)" above). The check reaches ${fmt(stats.online.ratio, 2)}, ${fmt(stats.online.ratio / get.ratio, 2)} of its GET floor: Graycast's own work is the ${fmtInt(stats.online.cpuUs - get.cpuUs)} µs above that floor.`;
  };
  const online = missed("online");
  if (online) {
    limits.push(
      `- **check, online path.**${budget(online)}${floorNote()} The design changes that brought the check here are measured in this file's history: the check is a GET (no request body: reading one is the POST floor's cost; identifiers and tickets in a header, out of URLs), it is answered before any router, an answer is built, signed and encoded once per decision, host app, installed version and 10 s window and then served as bytes to every client that gets it, the headers are one \`Headers\` object copied natively, and values that repeat across clients (app, host app, versions, device model...) are validated by their zod schema once per isolate, not once per request. What is left per request is parsing the query and the user header, zod for the per-user values (guid), the decision and one Map lookup. See the profile below.`,
    );
  }
  const tasks = missed("tasks");
  if (tasks) {
    limits.push(
      `- **check, tasks + 1M whitelist.**${budget(tasks)} Whitelists are stored in format 2 (core/grayscale/whitelist-v2.ts): each shard is a hash table of 64-bit keyed fingerprints read in place from the object's bytes, so the whole 1,000,000-entry list is 16 MiB of tables (format 1's indexed text took ~45 MB) inside the 48 MB shard budget and after warm-up no check reads R2; the value is hashed once for the Bloom block, the shard and the fingerprint, and the split-block Bloom filter answers from one cache line. Above the online path, each check walks five tasks (four fail on one rule each) and, for members, probes the Bloom filter and one shard, and every grayscale answer carries its admission ticket (an HMAC, remembered per isolate for a user who checks again) in a body built from the already encoded manifest part.`,
    );
  }
  const admitM = missed("admit");
  if (admitM) {
    limits.push(
      `- **check, first admissions.**${budget(admitM)} A busy isolate admits from an admission lease (edge-worker/src/admission-leases.ts): no Durable Object call on the request path, the users reported to the GrayscaleCounter in batches. What remains per new user is an online-path check, the ticket's HMAC, and the object's SQLite insert of the user's row, which in this host runs on the same single core as the edge (in production it runs elsewhere).`,
    );
  }
  const repeat = missed("repeat");
  if (repeat) {
    limits.push(
      `- **check, repeat admitted.**${budget(repeat)} Verified tickets are remembered per isolate (same bytes, same key: no base64 decoding and no HMAC on a repeat), so a repeat check costs the online path plus validating the ~150-character \`ticket\` parameter, one task's rules, and echoing the ticket in the answer.`,
    );
  }
  if (d?.available && d.hot.median < 1_500_000) {
    limits.push(
      `- **pure \`decide\`.** ${fmtInt(d.hot.median)}/s is ${fmt(1e9 / d.hot.median / 1000, 2)} µs per decision. The walk no longer tests each task's rules: the plan of a snapshot (core \`DecidePlan\`, made once per snapshot object) indexes every rule dimension from the client's value to a bit mask of the tasks that value passes (core/grayscale/rule-masks.ts: host app and app version, platform and OS version, network, brand, model, country, region, city, verified user, time window and phase), so a decision ANDs about ten lookups and visits only the tasks left, for their percentage bucket, typed-in targets (hash sets), whitelist and admission. What a decision costs now is mostly what the masks cannot take away, measured part by part (\`node bench/decide.mjs --only parts\`: each part alone over the same clients). The whitelist membership port (${d.meanWhitelistLookups === undefined ? "about 0.55" : fmt(d.meanWhitelistLookups, 2)} lookups per decision) was the largest part; issue 17's whitelist format 2 (core/grayscale/whitelist-v2.ts: 64-bit keyed fingerprints in per-shard hash tables read in place, 16 MiB for the whole list instead of ~45 MB, and a split-block Bloom filter whose 8 probes share one cache line) cut one lookup from ~0.9 µs to ~0.5 µs: in alternating runs on 2026-12-06 (3 rounds each, pinned to core 1, load average 1.3-1.8) the membership port alone went from 0.96-1.28M/s to 1.86-2.20M/s and hot decisions from 602-643k/s to 745-825k/s (+22%). About 0.2 µs of a lookup is now hashing the GUID (murmur3 over its UTF-16 code units). What is left: the masks (~0.35 µs alone), the rollout hash of each percentage task visited (murmur3 of the GUID under the task's seed; another function would move the users of running rollouts, so it stays), the user key every chosen task's ticket is bound to, and the answer. 1.5M/s leaves 0.67 µs per decision, about what the masks and the hashing alone take here; the rate also moves by ±20% with other work on this 2-core host (656k-777k/s for the same code on 2026-12-06). Earlier steps, measured: the masks walk against the per-task rule walk (f3f2882), 1.36x at load average 1.4-1.6 and 1.18x at load 4 (\`--compare\`, medians of 10 trial pairs, 2026-12-05); issue 11's one decision (tickets and admission ports included) against e39646a's, level (per-pair median 1.01 over six adjacent pairs of 3 s runs, 2026-12-06).`,
    );
  }
  if (b?.ok && (b.wranglerGzipKiB ?? b.gzipBytes / KiB) >= 100) {
    limits.push("- **edge bundle.** Still over 100 KiB gzip: see the bundle table below for what is in it.");
  }
  if (limits.length) push("## What limits the figures that miss their goal", "", ...limits, "");

  // -------------------------------------------------------------- machine and commands
  push(
    "## Machine and versions",
    "",
    `- Date: ${results.startedAt} to ${results.finishedAt} (${Math.round(results.elapsedSeconds)} s)`,
    `- CPU: ${m.cpuModel}, ${m.cores} cores (\`nproc\`); memory ${fmt(m.memGiB, 1)} GiB; Linux ${m.kernel}`,
    `- Other work on the machine: ${fmtInt(m.backgroundCpuPctStart)}% of one core busy just before the start; during the load runs ${fmtInt(otherMedian)}% median, ${fmtInt(otherMax)}% max (load average ${m.loadAvgStart.map((x) => x.toFixed(2)).join(" / ")} at start)`,
    `- Node ${v.node}, wrangler ${v.wrangler}, miniflare ${v.miniflare}, workerd ${v.workerd}, autocannon ${v.autocannon}, esbuild ${v.esbuild}`,
    `- Code: commit ${results.git.commit}${results.git.dirtyFiles ? ` + ${results.git.dirtyFiles} uncommitted files` : ""}`,
    "",
    "## Commands",
    "",
    "```sh",
    "npm run bench                       # = node bench/run.mjs: everything below, rewrites BENCHMARKS.md",
    "npm run bench -- --quick            # 1 round of 2 s, prints the tables, leaves BENCHMARKS.md alone",
    "npm run bench -- --rounds 5 --duration 10 --connections 50",
    "npm run bench -- --only online,tasks --no-write   # some scenarios only",
    "npm run bench -- --only tasks --member-share 1 --no-write   # whitelisted users only",
    "npm run bench -- --profile admit    # profile another scenario (default: online; none: skip)",
    "node bench/decide.mjs               # the decide micro-benchmark alone",
    "node bench/shard-sim.mjs            # the admission-sharding simulation behind docs/scale.md",
    "node bench/shards.mjs               # cap shards with the real objects (npm run bench runs it too): calls per admission, admissions/s, exactness (docs/scale.md 5b)",
    "node bench/admin.mjs                # the control plane under load, publish alone, a 1M-line whitelist upload (its own section)",
    "```",
    "",
    "What run.mjs executes:",
    "",
    "```sh",
    ...results.commands.filter(Boolean).map((c) => c),
    "```",
    "",
  );

  // -------------------------------------------------------------- method
  push(
    "## Method",
    "",
    "- **Host.** One workerd process under Miniflare's Node API (the `miniflare` package wrangler ships), each Worker on its own",
    "  loopback port through `unsafeDirectSockets`: no `wrangler dev` proxy and no entry Worker between the load generator and",
    "  the Worker. The edge runs the bundle `wrangler deploy --dry-run -c wrangler.toml --env production` produces, with the bindings wrangler.toml",
    "  declares (R2 `PACKAGES`, Durable Object `GRAYSCALE_COUNTER`, vars, translated by wrangler's own",
    "  `unstable_getMiniflareWorkerOptions`) and freshly generated secrets, with one var set over wrangler.toml's:",
    '  `CHECK_RATE_LIMIT = "off"` (bench/lib/host.mjs `BENCH_EDGE_VARS`): locally the rate limit binding\'s `limit()` is a',
    "  Durable Object round trip the deployed binding does not make. State (R2, Durable Objects, D1) lives on tmpfs",
    '  (`/dev/shm`). The hello-world Worker (`new Response("hello world")`) runs in the same workerd.',
    "- **Pinning.** workerd's threads are moved to core 0 (`taskset -a -p`), the load generator runs on core 1 (`taskset -c 1`).",
    "- **Load.** autocannon, HTTP/1.1, keep-alive, no pipelining. Every scenario run is preceded by a hello-world run, and",
    "  its ratio is against that run; the table gives medians over rounds. Latency percentiles come from every response's",
    "  own timing (fractional ms), not autocannon's whole-millisecond histogram. Server CPU per request is workerd's",
    "  user+system CPU time (from /proc) during the run divided by the requests answered; it includes HTTP parsing, so",
    "  hello-world's figure is the floor.",
    "- **Fixtures.** Snapshots, tasks and the whitelist are built with the core's own `compileSnapshot`, `compileTask` and",
    "  `buildWhitelistV2` (bundled with esbuild) and written to R2 through Miniflare, as the control plane would write them.",
    "  Online path: a snapshot without tasks. Tasks + whitelist: five delivering tasks, highest version first; a client",
    "  fails four of them on one rule each (app version, platform, network, brand); the fifth targets a 1,000,000-GUID",
    "  whitelist (storage format 2: a split-block Bloom filter + 256 shard tables of fingerprints in R2). A pool of",
    "  1,000 clients rotates: half in the whitelist, half not",
    "  (`--member-share`), members spread over the whole list as real users would be.",
    "  First admissions: one task with a cap never reached; each request carries a GUID never seen before, so each is a",
    "  first admission: a `GrayscaleCounter.admit` call until the isolate holds an admission lease, then from the lease",
    "  (`ADMISSION_LEASE_SIZE` of wrangler.toml), the users reported to the object in batches. Repeat admitted: 1,000",
    "  users admitted first, then their checks replayed with the admission tickets the edge returned. Checks are sent as",
    "  the reference client sends them: `GET /v1/check?…`, the guid and tickets in the `x-graycast-user` header.",
    "  Range: `GET /v1/packages/{sha256}` for 64 KiB of a 1 MiB package in R2.",
    "  Before any load each scenario is checked once (status, reason, task, tickets, bytes); a scenario the code cannot",
    '  serve yet is reported "not available" with the reason.',
    "- **Durable Object admission rate.** Users added to the capped task's GrayscaleCounter during each first-admission",
    "  run (its `progress()` read through Miniflare's Durable Object namespace: the per-platform tallies are a GROUP BY over",
    "  its `admitted` rows), read once the edge's last batch is settled, divided by the run's length; median over rounds.",
    "  The edge and the object share workerd's one core here. Many isolates and one object: docs/scale.md.",
    "- **Exact cap.** A burst of 3x the cap in new users at full concurrency against a task capped at " +
      fmtInt(o.exactCap) +
      "; then,",
    "  once every admission lease has ended (unused slots go back), further waves of new users while any is admitted;",
    "  the object's counter (`progress()`), its `admitted` rows and the number of answers carrying the task's version must",
    "  all equal the cap, with no slot still leased.",
    "- **decide.** `bench/decide.mjs`, one Node process pinned to one core: 20 compiled tasks (app and OS ranges, platforms,",
    "  networks, brands, models, regions, inline targets, percentages, caps, two tasks on a 1,000,000-entry whitelist held",
    "  in memory as Bloom filter + shards), 10,000 rotating clients; per decision core `decide` (core/decide.ts: the",
    "  precedence and the walk: the plan's rule masks give the tasks whose rules hold, those are visited highest version",
    "  first for their percentage, targets and admission, whitelist membership asked once per decision) with in-memory",
    "  ports that answer synchronously, as the edge's do when nothing needs I/O. The explaining form adds `rankTasks`",
    "  (every condition of every task). Both are checked to give the first eligible task of `rankTasks` for every client",
    "  before timing. Median of 5 one-second trials after warm-up, as wall-clock rate and per second of the process's own",
    "  CPU time (less disturbed by other work on the machine). Two cores are compared with `--compare <core.mjs>` (one",
    "  process, alternating one-second trials, after checking both give every client the same decision).",
    "- **Publish -> edge.** Edge and control plane in one workerd sharing R2; D1 migrated from `migrations/` and seeded",
    "  with the `npm start` accounts; a version is uploaded, audited and published through the admin API, and the edge's",
    "  `POST /v1/check` polled until its manifest names that version. Publishes are spread over the snapshot TTL.",
    "- **Profile.** After the measured runs, a second host with workerd's inspector runs one scenario again (`--profile`,",
    "  default the online check) with the DevTools CPU profiler attached; self time is grouped by the bundle's source",
    "  modules. The profiled run is not part of any figure.",
    '- **Bundle size.** wrangler\'s own "Total Upload / gzip" line of `wrangler deploy --dry-run -c wrangler.toml --env production`.',
    '- **Start-up.** `wrangler check startup` profiles the script\'s start-up phase in workerd ("Active" CPU time, what',
    "  Cloudflare's start-up limit measures); the cold start is wall time from `new Miniflare()` to the first 200 on the",
    "  Worker's own port, which includes spawning workerd and Miniflare's services for R2 and Durable Objects; the",
    "  baseline is a hello-world Worker with the same bindings (empty Durable Object classes), so the difference is what",
    "  compiling and evaluating the edge's script adds.",
    "",
  );

  // -------------------------------------------------------------- per round
  push(
    "## Per-round data",
    "",
    "CPU columns are percent of one core during the run: workerd (server), autocannon (load generator), this script's",
    "own Node process (Miniflare's Node side, which direct sockets keep off the request path) and everything else busy on",
    "the machine (other users' work, plus the load generator's own start-up). A server well under 100% with a load",
    "generator well under 100% means the cores were shared with other work.",
    "",
    "| scenario | round | req/s | ratio | p50 ms | p99 ms | server µs/req | server % | load gen % | host Node % | other work % | its hello-world: req/s, server %, load gen %, other % |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const e of results.scenarios) {
    if (e.baseline) continue;
    for (const [i, r] of e.runs.entries()) {
      if (r.error) {
        push(`| ${e.id} | ${i + 1} | error: ${r.error} | | | | | | | | | |`);
        continue;
      }
      const h = r.baseline ?? {};
      push(
        `| ${e.id} | ${i + 1} | ${fmtInt(r.rps)} | ${fmt(r.ratio)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmtInt(r.serverCpuUsPerReq)} | ${fmtInt(r.serverCpuPct)} | ${fmtInt(r.clientCpuPct)} | ${fmtInt(r.hostNodeCpuPct)} | ${fmtInt(r.otherCpuPct)} | ${fmtInt(h.rps)}, ${fmtInt(h.serverCpuPct)}, ${fmtInt(h.clientCpuPct)}, ${fmtInt(h.otherCpuPct)} |`,
      );
    }
  }
  push("");

  const pr = results.profile;
  if (pr && !pr.error) {
    push(
      `## Where the edge's CPU goes: ${pr.label}`,
      "",
      `\`--profile ${pr.scenario}\`: workerd's CPU profiler attached to the edge during one extra ${o.duration} s run (${fmtInt(pr.load?.rps)} req/s while profiled),`,
      `${fmt(pr.busyMs, 0)} ms busy. Self time by source module of the bundle (\`(runtime)\`: workerd's own code — body reads, crypto,`,
      "Response — called from the module that needed it), then by function (`:line` of the bundle for anonymous ones).",
      "",
      "| module | % of busy |",
      "| --- | ---: |",
      ...pr.byModule.map((x) => `| ${x.name} | ${fmt(x.pct, 1)} |`),
      "",
      "| function [module] | % of busy |",
      "| --- | ---: |",
      ...pr.byFunction.map((x) => `| ${x.name.replace(/\|/g, "\\|")} | ${fmt(x.pct, 1)} |`),
      "",
    );
  }

  if (b?.ok && b.breakdown?.length) {
    push(
      "## What the edge bundle is made of",
      "",
      "Bytes in the unminified bundle per package (esbuild metafile):",
      "",
      "| input | KiB |",
      "| --- | ---: |",
    );
    for (const x of b.breakdown.slice(0, 10)) push(`| ${x.name} | ${fmt(x.bytes / KiB, 1)} |`);
    push("");
  }

  if (results.notes.length)
    push("## Notes from this run", "", ...results.notes.map((n) => `- ${n.replace(/\n/g, " ")}`), "");

  // The log query section (bench/lib/logs.mjs): this run's, else the one `node bench/logs.mjs` wrote.
  const before = existsSync(path) ? readFileSync(path, "utf8") : "";
  if (results.shards?.length) push(...shardsSection(results.shards));
  if (results.logsSection) push(results.logsSection, "");
  else {
    const from = before.indexOf(LOGS_START);
    const to = before.indexOf(LOGS_END);
    if (from >= 0 && to > from) push(before.slice(from, to + LOGS_END.length), "");
  }

  // `node bench/admin.mjs` and `npm run bench:increments` own the sections between their markers:
  // carry them over unchanged.
  const previous = existsSync(path) ? readFileSync(path, "utf8") : "";
  /** @type {[string, string][]} */
  const owned = [
    [ADMIN_START, ADMIN_END],
    [INCREMENTS_START, INCREMENTS_END],
  ];
  for (const [open, close] of owned) {
    const start = previous.indexOf(open);
    const end = previous.indexOf(close);
    if (start >= 0 && end > start) push(previous.slice(start, end + close.length), "");
  }

  const text = L.join("\n");
  if (write) {
    writeFileSync(path, text);
    // Formatted as the repository's gate wants it (biome ci checks Markdown tables too).
    spawnSync("npx", ["biome", "format", "--write", path], { stdio: "ignore" });
  }
  return text;
}

const ADMIN_START = "<!-- admin:start -->";
const ADMIN_END = "<!-- admin:end -->";
const INCREMENTS_START = "<!-- increments:start -->";
const LOGS_START = "<!-- logs:start -->";
const LOGS_END = "<!-- logs:end -->";
const INCREMENTS_END = "<!-- increments:end -->";

/**
 * Issue 17's yardstick: each check scenario's ratio to hello-world divided by the GET floor
 * Worker's (the same exchange with none of Graycast's work), against that issue's goals.
 */
/** @type {[string, string, number][]} */
const FLOOR_GOALS = [
  ["online", "check, online path", 0.95],
  ["tasks", "check, 5 tasks + 1,000,000-entry whitelist", 0.9],
  ["repeat", "repeat check of admitted users (tickets)", 0.9],
  ["admit", "first admissions to a capped task", 0.75],
];
/** @param {Record<string, { ratio: number } | undefined>} stats */
export function floorGoals(stats) {
  const floor = stats.getfloor;
  const rows = FLOOR_GOALS.filter(([id]) => stats[id] && floor);
  if (rows.length === 0) return [];
  return [
    "### Against the GET floor (issue 17's yardstick)",
    "",
    "Each check's ratio to hello-world divided by that of the bare Worker answering the check's GET (the row \"(reference) a bare Worker answering the check's GET\"): what is left is Graycast's own work.",
    "",
    "| scenario | ratio to the GET floor | goal |",
    "| --- | ---: | --- |",
    ...rows.map(([id, label, goal]) => {
      const r = (stats[id]?.ratio ?? 0) / (floor?.ratio ?? 1);
      return `| ${label} | ${fmt(r, 2)} | >= ${goal}: ${r >= goal ? "met" : "**not met**"} |`;
    }),
    "",
  ];
}
