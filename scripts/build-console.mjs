#!/usr/bin/env node
// Builds the web console (console/src, Hono's JSX on the DOM) into console/dist, the directory
// the admin Worker serves through Workers Static Assets (control-plane/wrangler.toml [assets]).
// npm start, npm test and the deploy scripts run it; nothing is fetched from a CDN at run time:
// the bundle holds everything the browser needs.
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

const ROOT = new URL("..", import.meta.url).pathname;
const SRC = join(ROOT, "console", "src");
const OUT = join(ROOT, "console", "dist");

/**
 * Builds the console into `out` (console/dist unless a test asks for another folder); npm start and
 * npm run deploy:admin call it, and `node scripts/build-console.mjs`.
 */
export async function buildConsole({ quiet = false, out = OUT } = {}) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "assets"), { recursive: true });
  // index.html, the stylesheet and _headers (the CSP of every console file) as they are.
  cpSync(join(ROOT, "console", "public"), out, { recursive: true });
  await build({
    entryPoints: { console: join(SRC, "main.tsx"), docs: join(SRC, "docs.tsx") },
    outdir: join(out, "assets"),
    bundle: true,
    format: "esm",
    target: "es2022",
    jsx: "automatic",
    jsxImportSource: "hono/jsx/dom",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  if (!quiet) console.log(`[console] built ${out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  await buildConsole({ quiet: process.argv.includes("--quiet") });
