// Builds what the benchmark runs: the Workers exactly as `wrangler deploy` would upload them
// (`--dry-run --outdir`), and the pure core as one ES module for Node micro-benchmarks.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { BIN, NODE, ROOT, run, WORKER_CONFIGS } from "./util.mjs";

/**
 * `wrangler deploy --dry-run -c <the Worker's config> --env production --outdir <outdir> [--minify]`. Returns the bundle path,
 * wrangler's own "Total Upload: X KiB / gzip: Y KiB" figures, the gzip size computed here, and
 * the biggest contributors (from esbuild's metafile) so a size regression names its cause.
 */
export async function bundleWorker(worker, outdir, { minify = false } = {}) {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const meta = join(outdir, "meta.json");
  const args = [
    join(BIN, "wrangler"),
    "deploy",
    "--dry-run",
    "-c",
    WORKER_CONFIGS[worker],
    "--env",
    "production",
    "--outdir",
    outdir,
    "--metafile",
    meta,
  ];
  if (minify) args.push("--minify");
  const r = await run(NODE, args, {
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
    timeoutMs: 120_000,
  });
  const command = `wrangler deploy --dry-run -c ${WORKER_CONFIGS[worker]} --env production --outdir <tmp>${minify ? " --minify" : ""}`;
  const script = join(outdir, "index.js");
  if (r.code !== 0 || !existsSync(script)) {
    return { ok: /** @type {const} */ (false), command, error: lastLines(r.stderr || r.stdout) };
  }
  const text = r.stdout + r.stderr;
  const m = /Total Upload:\s*([\d.]+)\s*KiB\s*\/\s*gzip:\s*([\d.]+)\s*KiB/.exec(text);
  const bytes = readFileSync(script);
  return {
    ok: /** @type {const} */ (true),
    command,
    script,
    rawBytes: statSync(script).size,
    gzipBytes: gzipSync(bytes).length,
    wranglerUploadKiB: m ? Number(m[1]) : undefined,
    wranglerGzipKiB: m ? Number(m[2]) : undefined,
    breakdown: existsSync(meta) ? breakdown(JSON.parse(readFileSync(meta, "utf8"))) : [],
  };
}

/** Bytes in the output per npm package (or per first-level source folder), largest first. */
function breakdown(meta) {
  const by = new Map();
  for (const out of Object.values(meta.outputs ?? {})) {
    for (const [input, info] of Object.entries(out.inputs ?? {})) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = pkg
        ? pkg[1]
        : input
            .replace(/^(\.\.\/)+/, "")
            .split("/")
            .slice(0, 2)
            .join("/");
      by.set(key, (by.get(key) ?? 0) + info.bytesInOutput);
    }
  }
  return [...by.entries()].sort((a, b) => b[1] - a[1]).map(([name, bytes]) => ({ name, bytes }));
}

/** Modules of the pure core the micro-benchmarks may use; missing ones are skipped. */
const CORE_MODULES = {
  snapshot: "core/snapshot.ts",
  decide: "core/decide.ts",
  semver: "core/semver.ts",
  types: "core/grayscale/types.ts",
  rules: "core/grayscale/rules.ts",
  match: "core/grayscale/match.ts",
  lifecycle: "core/grayscale/lifecycle.ts",
  whitelist: "core/grayscale/whitelist.ts",
  whitelistBuild: "core/grayscale/whitelist-build.ts",
  whitelistV2: "core/grayscale/whitelist-v2.ts",
  hash: "core/grayscale/hash.ts",
  choose: "core/grayscale/choose.ts",
  select: "core/grayscale/select.ts",
};

/**
 * Bundles the core into one ES module for Node (`export * as rules from ...` etc.), so the
 * benchmark exercises the same code the Workers bundle. Returns { ok, path, modules } or an error.
 */
export async function bundleCore(outfile) {
  const { build } = await import("esbuild");
  const present = Object.entries(CORE_MODULES).filter(([, rel]) => existsSync(join(ROOT, rel)));
  const contents = present
    .map(([name, rel]) => `export * as ${name} from ${JSON.stringify(join(ROOT, rel))};`)
    .join("\n");
  try {
    await build({
      stdin: { contents, resolveDir: ROOT, loader: "ts", sourcefile: "bench-core-entry.ts" },
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      outfile,
      logLevel: "silent",
    });
    return { ok: true, path: outfile, modules: present.map(([name]) => name) };
  } catch (err) {
    return {
      ok: false,
      error: String(err instanceof Error ? err.message : err)
        .split("\n")
        .slice(0, 6)
        .join("\n"),
    };
  }
}

function lastLines(text, n = 12) {
  return String(text).trim().split("\n").slice(-n).join("\n");
}
