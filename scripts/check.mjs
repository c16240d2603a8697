#!/usr/bin/env node
// `npm run check`: the quality gate (issue 11, point 3) that CI runs before the tests (.ci/run).
// Runs each step below in order, prints one line per step (✓ or ✗, the command, its time), the
// output of any failed step, and a last line naming the failed steps; exits 1 if any failed.
// Every step runs even after a failure, so one CI run shows everything that is wrong.
//
// A new TypeScript program (e.g. cli/ or console/) is one line in PROGRAMS; a new Worker is one
// line in WORKER_CONFIGS.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Each program's tsconfig: `tsc --noEmit -p <it>` must be clean. */
const PROGRAMS = [
  "tsconfig.json", // the Workers: core/, edge-worker/, durable-objects/, control-plane/, test/ (workerd types)
  "client/tsconfig.json", // the reference client and its CLI (Node)
  "console/tsconfig.json", // the web console (DOM, hono/jsx/dom)
  "cli/tsconfig.json", // the developers' CLI, graycast (Node)
  "scripts/tsconfig.json", // npm start, the demos, the signing tools, this gate (Node)
  "bench/tsconfig.json", // the benchmark (Node)
];

/** Each Worker's configuration (package.json deploy:* scripts): its production build must bundle. */
const WORKER_CONFIGS = [
  "wrangler.toml",
  "control-plane/wrangler.toml",
  "control-plane/builder/wrangler.toml",
];

const outdir = mkdtempSync(join(tmpdir(), "graycast-check-"));

/**
 * @typedef {object} Step
 * @property {string} name what the result line shows
 * @property {string} command the executable (found in node_modules/.bin first)
 * @property {string[]} args
 */

/** @type {Step[]} */
const STEPS = [
  { name: "biome ci .", command: "biome", args: ["ci", "."] },
  ...PROGRAMS.map((config) => ({
    name: `tsc -p ${config}`,
    command: "tsc",
    args: ["--noEmit", "-p", config],
  })),
  { name: "npm run types:check", command: "npm", args: ["run", "--silent", "types:check"] },
  { name: "drizzle-kit check", command: "drizzle-kit", args: ["check"] },
  // The admin Worker serves the console's build as static assets: the dry run needs it built.
  { name: "build the console", command: "node", args: ["scripts/build-console.mjs"] },
  ...WORKER_CONFIGS.map((config, i) => ({
    name: `wrangler deploy --dry-run --env production -c ${config}`,
    command: "wrangler",
    args: ["deploy", "--dry-run", "--env", "production", "-c", config, "--outdir", join(outdir, String(i))],
  })),
];

// node_modules/.bin first, as under `npm run` (its `node` is the Node 22 the tools need); wrangler
// makes no outside calls (no metrics, no update banner), so the gate runs offline too.
const env = {
  ...process.env,
  PATH: `${join(ROOT, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
  NO_COLOR: "1",
  FORCE_COLOR: "0",
};

/** @type {string[]} */
const failed = [];
const started = Date.now();
try {
  for (const step of STEPS) {
    const t0 = Date.now();
    const run = spawnSync(step.command, step.args, {
      cwd: ROOT,
      env,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 * 1024 * 1024,
    });
    const seconds = ((Date.now() - t0) / 1000).toFixed(1);
    const ok = run.status === 0;
    console.log(`${ok ? "✓" : "✗"} ${step.name} (${seconds} s)`);
    if (!ok) {
      failed.push(step.name);
      const output = `${run.stdout ?? ""}${run.stderr ?? ""}${run.error ? `${run.error.message}\n` : ""}`;
      const lines = output.trimEnd().split("\n");
      // The end of a long log names the problem; the whole of it is one command away.
      for (const line of lines.slice(-60)) console.log(`    ${line}`);
    }
  }
} finally {
  rmSync(outdir, { recursive: true, force: true });
}

const total = ((Date.now() - started) / 1000).toFixed(0);
if (failed.length) {
  console.log(`check failed (${failed.length} of ${STEPS.length} steps, ${total} s): ${failed.join("; ")}`);
  process.exit(1);
}
console.log(`check passed (${STEPS.length} steps, ${total} s)`);
