// Start-up time of the edge Worker, two ways:
// 1. cold start under the benchmark host: from `new Miniflare()` (workerd process spawned, the
//    script compiled and its top level evaluated) to the first 200 from the Worker's own port;
//    the same for the hello-world Worker, so the difference is what the edge's script adds;
// 2. workerd's CPU profile of the script's start-up phase (`wrangler check startup`): the
//    "Active" time is CPU spent evaluating the bundle's top level (the figure Cloudflare limits).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHost } from "./host.mjs";
import { BIN, median, NODE, run, sleep, WORKER_CONFIGS } from "./util.mjs";

async function firstOk(url, deadlineMs) {
  while (performance.now() < deadlineMs) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      await r.arrayBuffer();
      if (r.ok) return true;
    } catch {}
    await sleep(5);
  }
  return false;
}

/** Median ms from `new Miniflare` to the first 200 of `probePath`, over `times` fresh starts. */
export async function coldStart(worker, probePath, { times = 3, stateRoot }) {
  const samples = [];
  for (let i = 0; i < times; i++) {
    const stateDir = join(stateRoot, `startup-${worker.name}-${i}`);
    const t0 = performance.now();
    let host;
    try {
      host = await startHost({ workers: [worker], stateDir });
      const ok = await firstOk(host.urls[worker.name] + probePath, t0 + 30_000);
      if (ok) samples.push(performance.now() - t0);
    } catch (err) {
      return { ok: false, error: String(err instanceof Error ? err.message : err) };
    } finally {
      await host?.dispose().catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
  return { ok: samples.length > 0, medianMs: median(samples), samples };
}

/** `wrangler check startup --args="-c <config> --env production"`: workerd's profile of the start-up phase. */
export async function startupProfile(worker) {
  const dir = mkdtempSync(join(tmpdir(), "graycast-startup-"));
  const outfile = join(dir, "startup.cpuprofile");
  const args = [
    join(BIN, "wrangler"),
    "check",
    "startup",
    `--args=-c ${WORKER_CONFIGS[worker]} --env production`,
    "--outfile",
    outfile,
  ];
  const r = await run(NODE, args, {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
    timeoutMs: 120_000,
  });
  rmSync(dir, { recursive: true, force: true });
  const text = r.stdout + r.stderr;
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : NaN;
  };
  const active = num(/Active:\s*([\d.]+)\s*ms/);
  if (r.code !== 0 || !Number.isFinite(active))
    return { ok: false, error: text.trim().split("\n").slice(-6).join("\n") };
  return {
    ok: true,
    command: `wrangler check startup --args="-c ${WORKER_CONFIGS[worker]} --env production"`,
    activeMs: active,
    gcMs: num(/including\s*([\d.]+)\s*ms garbage/),
    windowMs: num(/Profile window:\s*([\d.]+)\s*ms/),
  };
}
