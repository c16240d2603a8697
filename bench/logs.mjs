#!/usr/bin/env node
// `node bench/logs.mjs [--entries 1000000] [--no-write]`: how fast the admin API's real-time log
// query answers for one busy mini program's day (bench/lib/logs.mjs; issue 15). Prints the table
// and rewrites the logs section of BENCHMARKS.md (between its markers) unless --no-write.
// `npm run bench` runs it too (bench/lib/main.mjs, step "logs"; `--skip logs` leaves it out).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Miniflare needs Node >= 22: a bare `node bench/logs.mjs` from an older Node re-runs itself
// with node_modules/.bin/node (as bench/run.mjs does).
const node22 = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
if (Number(process.versions.node.split(".")[0]) < 22 && existsSync(node22)) {
  const r = spawnSync(node22, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status ?? 1);
}
const { LOGS_END, LOGS_START, logsSection, measureLogQueries } = await import("./lib/logs.mjs");
const { ROOT } = await import("./lib/util.mjs");

const argv = process.argv.slice(2);
const arg = (f, fallback) => (argv.includes(f) ? argv[argv.indexOf(f) + 1] : fallback);
const entries = Number(arg("--entries", 1_000_000));
const tmp = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : ROOT, "graycast-logs-bench-"));
try {
  const result = await measureLogQueries({ entries, tmp });
  const section = logsSection(result);
  console.log(`\n${section}`);
  if (!argv.includes("--no-write")) writeLogsSection(section);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** Replaces the section between the logs markers of BENCHMARKS.md (appends it the first time). */
function writeLogsSection(section) {
  const path = join(ROOT, "BENCHMARKS.md");
  let text = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  const start = text.indexOf(LOGS_START);
  const end = text.indexOf(LOGS_END);
  if (start >= 0 !== end >= 0 || (start >= 0 && end < start))
    throw new Error("BENCHMARKS.md has a broken pair of logs markers; fix them by hand");
  if (start >= 0) text = text.slice(0, start) + section + text.slice(end + LOGS_END.length);
  else text = `${text.replace(/\n*$/, "\n")}\n${section}\n`;
  writeFileSync(path, text);
  spawnSync("npx", ["biome", "format", "--write", path], { stdio: "ignore", cwd: ROOT });
}
