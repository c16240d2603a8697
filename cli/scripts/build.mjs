#!/usr/bin/env node
// Bundles the CLI (cli/src, TypeScript, plus the core/ rules it shares with the server) into one
// file, cli/dist/graycast.mjs, with esbuild. `npm run cli:build`; cli/bin/graycast.mjs runs this
// itself when the bundle is missing or older than any source it was built from.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BUNDLE = join(ROOT, "cli", "dist", "graycast.mjs");
/** The bundle's inputs (repository-relative), recorded beside it for the staleness check. */
export const INPUTS_FILE = join(ROOT, "cli", "dist", "inputs.json");

export async function buildCli() {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [join(ROOT, "cli", "src", "cli.ts")],
    outfile: BUNDLE,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Dependencies are bundled too (openapi-fetch, yaml, fflate): the file runs on its own.
    banner: {
      js: "// graycast CLI, bundled by cli/scripts/build.mjs from cli/src. Do not edit.\nimport { createRequire as __graycastRequire } from 'node:module'; const require = __graycastRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: "warning",
    legalComments: "none",
  });
  const inputs = Object.keys(result.metafile.inputs)
    .map((p) => relative(ROOT, join(process.cwd(), p)))
    .filter((p) => !p.startsWith("node_modules") && !p.includes("/node_modules/"));
  mkdirSync(dirname(INPUTS_FILE), { recursive: true });
  writeFileSync(INPUTS_FILE, `${JSON.stringify(inputs, null, 2)}\n`);
  return BUNDLE;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  await buildCli();
  console.log(`built ${relative(ROOT, BUNDLE)}`);
}
