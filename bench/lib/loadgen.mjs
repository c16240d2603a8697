// Runs one load (bench/lib/load.mjs) in a child process pinned to the load generator's core,
// and samples workerd's CPU time around it so each figure comes with the server's CPU per request.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpuMsOf, machineBusyMs } from "./host.mjs";
import { NODE, pinPrefix, run } from "./util.mjs";

const LOAD_SCRIPT = new URL("./load.mjs", import.meta.url).pathname;
const specDir = mkdtempSync(join(tmpdir(), "graycast-bench-spec-"));
let specCount = 0;

/** Removes the spec files of this process's runs. */
export function removeSpecs() {
  rmSync(specDir, { recursive: true, force: true });
}

/** The command line one load run uses (for BENCHMARKS.md). */
export function loadCommand(cpu) {
  return [...pinPrefix(cpu), "node", "bench/lib/load.mjs", "<spec.json>"].join(" ");
}

/**
 * spec: see load.mjs. `serverPids`: workerd processes to charge CPU to. `cpu`: core for the load
 * generator. Returns load.mjs's result plus serverCpuMs and serverCpuUsPerReq, or { error }.
 */
/**
 * @param {{ duration?: number, [field: string]: unknown }} spec the load (load.mjs reads the rest)
 * @param {{ serverPids?: number[], cpu?: number }} [options]
 */
export async function runLoad(spec, { serverPids = [], cpu } = {}) {
  const path = join(specDir, `spec-${++specCount}.json`);
  writeFileSync(path, JSON.stringify(spec));
  const prefix = pinPrefix(cpu);
  const cmd = prefix.length ? prefix[0] : NODE;
  const args = prefix.length ? [...prefix.slice(1), NODE, LOAD_SCRIPT, path] : [LOAD_SCRIPT, path];
  const cpuBefore = serverPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  // Miniflare's own Node side (this process) should stay idle: direct sockets bypass it.
  const hostBefore = process.cpuUsage();
  const machineBefore = machineBusyMs();
  const r = await run(cmd, args, { timeoutMs: ((spec.duration ?? 30) + 60) * 1000 });
  const host = process.cpuUsage(hostBefore);
  const machineMs = machineBusyMs() - machineBefore;
  const cpuAfter = serverPids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  const line = r.stdout.trim().split("\n").pop();
  let result;
  try {
    result = JSON.parse(line);
  } catch {
    return {
      error: `load generator failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`,
    };
  }
  const serverCpuMs = cpuAfter - cpuBefore;
  const wallMs = r.ms;
  const hostNodeMs = (host.user + host.system) / 1000;
  // Load generator CPU as the child measured it over its own run; everything else busy on the
  // machine meanwhile was other work (other users' processes, this script's spawn overhead).
  const clientMs = (result.clientCpuPct / 100) * result.seconds * 1000;
  return {
    ...result,
    serverCpuMs,
    serverCpuPct: (serverCpuMs / 1000 / result.seconds) * 100,
    serverCpuUsPerReq: result.requests > 0 ? (serverCpuMs * 1000) / result.requests : NaN,
    hostNodeCpuPct: ((host.user + host.system) / 1e6 / result.seconds) * 100,
    otherCpuPct: Math.max(0, ((machineMs - serverCpuMs - clientMs - hostNodeMs) / wallMs) * 100),
  };
}
