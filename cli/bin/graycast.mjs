#!/usr/bin/env node
// `graycast` (npx graycast from the checkout, or a package bin): runs cli/dist/graycast.mjs,
// rebuilding it first when it is missing or older than any of its sources (cli/src, core/).
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLE = join(ROOT, "cli", "dist", "graycast.mjs");
const INPUTS = join(ROOT, "cli", "dist", "inputs.json");

function stale() {
  if (!existsSync(BUNDLE) || !existsSync(INPUTS)) return true;
  const built = statSync(BUNDLE).mtimeMs;
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(INPUTS, "utf8"));
  } catch {
    return true;
  }
  // A source that is gone or newer than the bundle means a rebuild (a new file is reached
  // through one of the existing ones, which then changed too).
  return inputs.some((p) => {
    const st = statSync(join(ROOT, p), { throwIfNoEntry: false });
    return !st || st.mtimeMs > built;
  });
}

// Installed without its sources (a published package), the bundle is used as it is.
if (existsSync(join(ROOT, "cli", "src")) && stale()) {
  const { buildCli } = await import(pathToFileURL(join(ROOT, "cli", "scripts", "build.mjs")).href);
  await buildCli();
}
await import(pathToFileURL(BUNDLE).href);
