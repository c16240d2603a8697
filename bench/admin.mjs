#!/usr/bin/env node
// `node bench/admin.mjs [options]`: the control plane under load, runnable alone (bench/lib/admin.mjs;
// its options are listed there and in BENCHMARKS.md). wrangler and Miniflare need Node >= 22: a bare
// `node bench/admin.mjs` from an older system Node re-runs itself with node_modules/.bin/node.
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
} else {
  await import("./lib/admin.mjs");
}
