// Small helpers shared by the benchmark scripts.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BIN = join(ROOT, "node_modules", ".bin");
/** The Node that runs this script (Node 22 from node_modules under `npm run`). */
export const NODE = process.execPath;

/**
 * Each Worker's configuration (docs/deploy.md): the bundles are built as the production environment
 * deploys them; the host takes bindings and vars from the top level (local development), whose
 * names (graycast-edge-dev...) the cross-Worker bindings refer to.
 */
export const WORKER_CONFIGS = {
  edge: "wrangler.toml",
  admin: "control-plane/wrangler.toml",
  builder: "control-plane/builder/wrangler.toml",
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** `taskset -c <cpus>` when taskset exists and the machine has more than one core. */
export function pinPrefix(cpus) {
  if (cpus === undefined || cpus === null) return [];
  return hasTaskset() ? ["taskset", "-c", String(cpus)] : [];
}

let tasksetKnown;
export function hasTaskset() {
  if (tasksetKnown === undefined)
    tasksetKnown = spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0;
  return tasksetKnown;
}

/** Moves every thread of `pid` to `cpus`; false when taskset is missing or refused. */
export function pinPid(pid, cpus) {
  if (!hasTaskset()) return false;
  return (
    spawnSync("taskset", ["-a", "-c", "-p", String(cpus), String(pid)], { stdio: "ignore" }).status === 0
  );
}

/** Runs a command to completion, capturing output; never throws. */
export function run(cmd, args, options = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...options });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = options.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs) : undefined;
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err), ms: performance.now() - started });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The claims of a compact JWS, without verifying it (the benchmark only checks what it got). */
export function jwsClaims(jws) {
  if (typeof jws !== "string") return undefined;
  const part = jws.split(".")[1];
  if (!part) return undefined;
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
}

export const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
export const fmt = (n, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

export function fileExists(path) {
  return existsSync(path);
}

/** Logs a progress line on stderr (stdout stays for the summary). */
export function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}
