// Scripts that need zstd in node:zlib (Node 22.15 or later) call `ensureZstdNode(import.meta.url)`
// first: from an older Node (these machines start with 20) they re-run themselves with the Node 22
// that the `node` npm package installs at node_modules/.bin/node, and exit with its status.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as zlib from "node:zlib";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * @param {string} scriptUrl the calling script's import.meta.url
 * @param {string} what what needs zstd, for the error message
 */
export function ensureZstdNode(scriptUrl, what) {
  if (typeof zlib.zstdCompressSync === "function") return;
  const node22 = join(ROOT, "node_modules", ".bin", "node");
  if (existsSync(node22) && process.env.GRAYCAST_REEXEC !== "1") {
    const r = spawnSync(node22, [fileURLToPath(scriptUrl), ...process.argv.slice(2)], {
      stdio: "inherit",
      env: { ...process.env, GRAYCAST_REEXEC: "1" },
    });
    process.exit(r.status ?? 1);
  }
  console.error(`${what} needs a Node with zstd in node:zlib (22.15 or later); this is ${process.version}`);
  process.exit(1);
}
