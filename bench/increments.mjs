#!/usr/bin/env node
// `npm run bench:increments` = `node bench/increments.mjs [options]`: how big Graycast's
// incremental packages (core/increment.ts) are on real multi-version front-end packages from
// the npm registry, as a share of the full package, next to the alternatives:
//
//   - ours: `buildIncrement` (format 3) and `buildDeltaIncrement` (format 4, the delta format)
//     exactly as the builder calls them (control-plane/src/increments/build.ts): the zstd level
//     from `incrementLevel(from unpacked, to unpacked)`, compressed by the WASM build of zstd the
//     builder runs (@bokuweb/zstd-wasm, same .wasm file), format 3 once more by Node's zlib zstd
//     to compare the codecs (size and time); each increment is then applied with
//     `applyIncrement` + node:zlib's decoder and must give the target's files byte for byte.
//     "Served" is the smaller of the two, what a current client downloads;
//   - whole changed files: a zip (deflate level 9) of every changed or added file plus the list
//     of removed paths, what a file-level diff without binary deltas would ship;
//   - reference binary deltas of one whole-package archive onto the other: the zstd command-line
//     tool (`-19 --patch-from`, and `--ultra -22 --long --patch-from`) and xdelta3 (`-9`, with and
//     without its secondary compressor, the smaller kept); the goal is served / the better of
//     zstd -19 and xdelta3 <= 1.0x on every pair. Both tools are installed with the machine's
//     package manager (`apt-get install -y zstd xdelta3`) when missing, unless --no-install.
//
// The corpus (pinned below: versions and the registry's sha512 integrity) is downloaded once into
// bench/.cache/npm/; each version's files are treated as a mini program package, and the full
// package is their zip as an upload would bring it (fflate, deflate level 6, fixed mtime).
//
//   node bench/increments.mjs              # prints the table, rewrites the increments section of BENCHMARKS.md
//   node bench/increments.mjs --no-write   # prints only
//   node bench/increments.mjs --only vant,@vant/weapp --no-cli
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as zlib from "node:zlib";
import { ensureZstdNode } from "../scripts/lib/node22.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");

// A bare `node bench/increments.mjs` from a Node without zstd re-runs itself with Node 22.
ensureZstdNode(import.meta.url, "bench:increments");

const { checkConsecutive, npmFiles, tarball } = await import("./lib/npm-corpus.mjs");
const { zipSync } = await import("fflate");

// ---------------------------------------------------------------- corpus (pinned)

/**
 * Four consecutive releases of each package (consecutive in the registry's list of releases
 * when pinned; checked again on a cold cache), so there are three consecutive pairs and one
 * three-version skip (first -> fourth). Integrity: the registry's `dist.integrity`.
 */
export const CORPUS = [
  {
    name: "@vant/weapp",
    kind: "WeChat mini program component library, many small files",
    versions: [
      [
        "1.11.4",
        "sha512-egOsWO4hVMP1SQSqQ46jy8UD3WysvlnUecRzPM21Y3ovkOFZ6wlaO7oHQmTXRpwr+V41Qri1qEbtNjhVxFqdyw==",
      ],
      [
        "1.11.5",
        "sha512-F/yebMtysTaDrqpCyk6AdQrY3lDB7y5TXNwHtBarxtL2NZzoH+D6pBwz9nY+d0vCin0w0IH9kDF57yb/BP3mNA==",
      ],
      [
        "1.11.6",
        "sha512-a3heReWYT2gNdsyj6x1hBwsM8V8NrjcPAmle86NH2CD2V/i/h0le75piW6KntSfOPCwekVWMBKhysNrBpJeKdw==",
      ],
      [
        "1.11.7",
        "sha512-Rwn9BBnb4kHSV4XmvBicwtd42J+amEUfnFDcXJsGNPNX4a9c/DoT6YLsm4X1wB2+sQbdiQsbFBLAvGRBxCkD8g==",
      ],
    ],
  },
  {
    name: "tdesign-miniprogram",
    kind: "WeChat mini program component library, Tencent TDesign",
    versions: [
      [
        "1.13.0",
        "sha512-CaqqOlXCFJdkTh0ZeVRnTHhGz97uLckRA58ADT9Cs+YJXimA7rtAFt7mb+jqLn+v1944U3lyeX6GNy0lctI4zQ==",
      ],
      [
        "1.13.1",
        "sha512-j6gwyW81iJSL6/4gxR243IAoQO9YG45kiZZYgzKWRUYelLDu4p0yTjcUOX7iUinDyMeoVl18LoU+u+jMc3hO6w==",
      ],
      [
        "1.13.2",
        "sha512-d6kth6wGChny1zGLsswBVCJz1V2Xb7F9NdAQOLRK0tMWuIrPMS6Wm9D19WOhuFECM/ZfTPe1ClmObwrk7/ftwg==",
      ],
      [
        "1.14.0",
        "sha512-uWzUKebTGjRyQem1rFhD6V/OQ+IpD0S3clFUqeN5IrFxFM59XfNZ/ifTZoVHFhDOG769iI5Gvwfu+BX7kW9vrQ==",
      ],
    ],
  },
  {
    name: "@nutui/nutui-taro",
    kind: "Taro mini program component library; dist/nutui.umd.js (700 KB) embeds the version",
    versions: [
      [
        "4.3.8",
        "sha512-/hjppeqC548eEsa+pC1nMhvnYa8+3dQ6hdw3RTlhqEV95EaR+Xf0zHsD6K46WMV2bieMEkll3SyZDWdl0+ulJw==",
      ],
      [
        "4.3.9",
        "sha512-vsWpB5q8UUncBVGqL+fCjfI6e3sgbnpS5g8niwQKED08PnJzRUDDASm1zi0ws3q42rDgOwG2QZI9YzYii66Zew==",
      ],
      [
        "4.3.11",
        "sha512-S4xlk6fGpj4+pkxG1FvydgIVOSlMtyGl+0VizznSe9nmeZPlbM8z8XJ5IbTc1fpnQz5GbPOxf9RTlIm62CUgcA==",
      ],
      [
        "4.3.13",
        "sha512-+n8vVZAu92MUX6VEf6gO73Iz3JThjksdb6aSarvciCSydlWWdlQqZwYIGMTG4zOwDfCoQ3HfLa36zVaIJLSn3g==",
      ],
    ],
  },
  {
    name: "vant",
    kind: "mobile UI library, bundle-heavy: lib/vant.js, .cjs.js, .es.js, .min.js (1.8 MB together) embed the version",
    versions: [
      [
        "4.9.19",
        "sha512-fRt32XI0fO0vB3/YGhZOpTnHKjplUiNuA05yZy8rPZntmbQE5GA57Y7iC7jmMDxSOaLebovynhgCvWnyk9zmDw==",
      ],
      [
        "4.9.20",
        "sha512-QOv8i6/qBXSYO1DsjaxM+U7Hlgc+pIaChF21t/N4zW4pR4DmVNbEri9vchlzWFMz3R7wnCDfV9usOeXCyjHgPQ==",
      ],
      [
        "4.9.21",
        "sha512-hXUoZMrLLjykimFRLDlGNd+K2iYSRh9YwLMKnsVdVZ+9inUKxpqnjhOqlZwocbnYkvJlS+febf9u9aJpDol4Pw==",
      ],
      [
        "4.9.22",
        "sha512-P2PDSj3oB6l3W1OpVlQpapeLmI6bXMSvPqPdrw5rutslC0Y6tSkrVB/iSD57weD7K92GsjGkvgDK0eZlOsXGqw==",
      ],
    ],
  },
];

/** Pairs measured per package, as indexes into its versions. */
/** @type {[number, number, string][]} */
const PAIRS = [
  [0, 1, "consecutive"],
  [1, 2, "consecutive"],
  [2, 3, "consecutive"],
  [0, 3, "3-version skip"],
];

// ---------------------------------------------------------------- options

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
if (flag("--help")) {
  console.log(`node bench/increments.mjs [--no-write] [--no-cli] [--only <name,...>] [--cache <dir>]
  --no-write   print the table only; leave BENCHMARKS.md alone
  --no-cli     skip the zstd and xdelta3 reference deltas even when they are installed
  --no-install do not install missing zstd / xdelta3 with apt-get
  --only       measure only these packages (comma-separated npm names)
  --cache      where tarballs are kept (default bench/.cache/npm)`);
  process.exit(0);
}
const WRITE = !flag("--no-write");
const CACHE = value("--cache", join(ROOT, "bench", ".cache", "npm"));
const ONLY = value("--only")
  ?.split(",")
  .map((s) => s.trim());
const corpus = ONLY ? CORPUS.filter((p) => ONLY.includes(p.name)) : CORPUS;
if (corpus.length === 0) {
  console.error(`--only names no package of the corpus (${CORPUS.map((p) => p.name).join(", ")})`);
  process.exit(1);
}
const log = (...a) => console.error(...a);
const FIXED_MTIME = new Date("2020-01-01T00:00:00Z");

// ---------------------------------------------------------------- the code under test

/** core/increment.ts as an ES module, built with esbuild the way bench/lib/bundle.mjs builds the core. */
async function loadCore() {
  const { build } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "graycast-increments-"));
  const outfile = join(dir, "increment.mjs");
  try {
    await build({
      entryPoints: [join(ROOT, "core", "increment.ts")],
      bundle: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      outfile,
      logLevel: "silent",
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const core = await loadCore();

const sha256 = async (data) => createHash("sha256").update(data).digest("hex");

// The production codec: the same zstd.wasm the admin Worker imports, through the package's Node entry.
const wasm = await import("@bokuweb/zstd-wasm");
await wasm.init();
const wasmCompress = (content, dictionary, level) => {
  const cctx = wasm.createCCtx();
  try {
    return wasm.compressUsingDict(cctx, content, dictionary, level);
  } finally {
    wasm.freeCCtx(cctx);
  }
};
// The WASM module's memory: it grows to the high-water mark of every compression and never shrinks.
const wasmModule = createRequire(import.meta.url)(
  join(ROOT, "node_modules", "@bokuweb", "zstd-wasm", "dist", "common", "module.js"),
).Module;
const wasmHeapBytes = () => wasmModule.HEAPU8.buffer.byteLength;
const wasmDecompress = (frame, dictionary) => {
  const dctx = wasm.createDCtx();
  try {
    return wasm.decompressUsingDict(dctx, frame, dictionary);
  } finally {
    wasm.freeDCtx(dctx);
  }
};
const nodeCompress = (content, dictionary, level) =>
  new Uint8Array(
    zlib.zstdCompressSync(content, {
      dictionary,
      params: { [zlib.constants.ZSTD_c_compressionLevel]: level },
    }),
  );
const nodeDecompress = (frame, dictionary, contentSize) =>
  new Uint8Array(zlib.zstdDecompressSync(frame, { dictionary, maxOutputLength: contentSize }));

// ---------------------------------------------------------------- zstd CLI

/**
 * The reference tools: installed from the machine's package manager when missing (the bench only,
 * never the tests), unless --no-cli or --no-install.
 */
function ensureTool(bin, pkg, versionArgs) {
  const probe = () => spawnSync(bin, versionArgs, { encoding: "utf8" });
  let r = probe();
  if (r.status === 0 || flag("--no-cli") || flag("--no-install")) return r;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  const [cmd, ...pre] = root ? ["apt-get"] : ["sudo", "-n", "apt-get"];
  /** @param {string[]} a */
  const apt = (a) => spawnSync(cmd ?? "apt-get", [...pre, ...a], { encoding: "utf8", stdio: "pipe" });
  log(`${bin} is not installed: ${[cmd, ...pre].join(" ")} install -y ${pkg}`);
  let install = apt(["install", "-y", pkg]);
  if (install.status !== 0) {
    // A fresh machine may not have the package lists yet.
    apt(["update"]);
    install = apt(["install", "-y", pkg]);
  }
  if (install.status !== 0)
    log(`could not install ${pkg}: ${(install.stderr || "").trim().split("\n").pop()}`);
  r = probe();
  return r;
}

const ZSTD = (() => {
  if (flag("--no-cli")) return { available: false, why: "--no-cli" };
  const r = ensureTool("zstd", "zstd", ["--version"]);
  if (r.status === 0)
    return {
      available: true,
      bin: "zstd",
      version: (/v(\d+\.\d+\.\d+)/.exec(r.stdout) ?? [])[1] ?? r.stdout.trim(),
    };
  return { available: false, why: "zstd is not installed" };
})();

const XDELTA = (() => {
  if (flag("--no-cli")) return { available: false, why: "--no-cli" };
  const r = ensureTool("xdelta3", "xdelta3", ["-V"]);
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  if (r.status === 0 || /xdelta3 version/i.test(text))
    return { available: true, bin: "xdelta3", version: (/version (\S+)/i.exec(text) ?? [])[1] ?? "?" };
  return { available: false, why: "xdelta3 is not installed" };
})();

/** xdelta3 runs tried on each pair; the smallest counts (its best shot). */
const XDELTA_RUNS = [
  { key: "xd9", args: ["-9"] },
  { key: "xd9djw", args: ["-9", "-S", "djw"] },
];

/** Size of `xdelta3 -e <args> -s old new`, checked by decoding it back; or { error }. */
function xdeltaDelta(dir, oldFile, newFile, run) {
  const out = join(dir, `${run.key}.vcdiff`);
  const bin = XDELTA.bin ?? "xdelta3";
  const r = spawnSync(bin, ["-e", ...run.args, "-f", "-s", oldFile, newFile, out], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0 || !existsSync(out))
    return { error: (r.stderr || String(r.error ?? r.status)).trim().split("\n").pop() };
  const back = join(dir, `${run.key}.out`);
  const d = spawnSync(bin, ["-d", "-f", "-s", oldFile, out, back], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (d.status !== 0 || !readFileSync(back).equals(readFileSync(newFile)))
    return { error: "the xdelta3 delta does not decode to the new bytes" };
  return { bytes: statSync(out).size };
}

const CLI_RUNS = [
  { key: "cli19", label: "zstd -19 --patch-from", args: ["-19"] },
  { key: "cli22", label: "zstd --ultra -22 --long --patch-from", args: ["--ultra", "-22", "--long"] },
];

/** One version as a plain archive: for each file in path order, "path\0size\n" then its bytes. */
function archiveOf(version) {
  const parts = [];
  for (const f of version.files) parts.push(Buffer.from(`${f.path}\0${f.size}\n`), version.bytes.get(f.path));
  return Buffer.concat(parts);
}

/** Size of `zstd <args> --patch-from=<dict> <content>`, or undefined when it fails. */
function cliDelta(dir, dictFile, contentFile, run) {
  const bin = ZSTD.bin;
  if (!bin) return { error: "no zstd CLI" };
  const out = join(dir, `${run.key}.zst`);
  const r = spawnSync(bin, [...run.args, `--patch-from=${dictFile}`, "-f", "-q", "-o", out, contentFile], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0 || !existsSync(out))
    return { error: (r.stderr || String(r.error ?? r.status)).trim().split("\n").pop() };
  const bytes = statSync(out).size;
  // A delta that does not give the new bytes back is no reference.
  const back = join(dir, `${run.key}.out`);
  const d = spawnSync(bin, ["-d", "--long=31", `--patch-from=${dictFile}`, "-f", "-q", "-o", back, out], {
    encoding: "utf8",
    timeout: 300_000,
  });
  if (d.status !== 0 || !readFileSync(back).equals(readFileSync(contentFile)))
    return { error: "the CLI delta does not decode to the new bytes" };
  return { bytes };
}

// ---------------------------------------------------------------- one version, one pair

async function loadVersion(name, version, integrity) {
  const { bytes: tgz, source } = await tarball(CACHE, { name, version, integrity }, log);
  const list = npmFiles(tgz);
  const files = [];
  const bytes = new Map();
  let unpacked = 0;
  for (const f of list) {
    files.push({ path: f.path, size: f.bytes.byteLength, sha256: await sha256(f.bytes) });
    bytes.set(f.path, f.bytes);
    unpacked += f.bytes.byteLength;
  }
  const zipInput = {};
  for (const f of list) zipInput[f.path] = [f.bytes, { level: 6, mtime: FIXED_MTIME }];
  const zip = zipSync(zipInput);
  return {
    name,
    version,
    source,
    files,
    bytes,
    unpacked,
    digest: await core.filesDigest(files, sha256),
    zipBytes: zip.byteLength,
  };
}

const bytesOf = (v) => (path) => {
  const data = v.bytes.get(path);
  if (!data) throw new Error(`${v.name}@${v.version}: no file ${JSON.stringify(path)}`);
  return data;
};

function sameBytes(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** Applies `increment` to `from` with node:zlib's decoder; throws unless it gives `to` byte for byte. */
async function verifyApplies(increment, from, to, decompress, what) {
  const result = await core.applyIncrement({
    increment,
    base: from.files,
    bytesOf: bytesOf(from),
    expect: { from: from.digest, to: to.digest },
    decompress,
    sha256,
  });
  if (result.files.length !== to.files.length)
    throw new Error(
      `${what}: applying gives ${result.files.length} files, the target has ${to.files.length}`,
    );
  for (const f of to.files) {
    const got = result.bytes.get(f.path);
    if (!got || !sameBytes(got, to.bytes.get(f.path)))
      throw new Error(`${what}: ${f.path} differs after applying the increment`);
  }
}

async function measurePair(from, to, kind) {
  // No level: buildIncrement picks it from the dictionary and content sizes, as in the admin Worker.
  const input = (compress) => ({
    from: { files: from.files, bytesOf: bytesOf(from) },
    to: { files: to.files, bytesOf: bytesOf(to) },
    compress,
    sha256,
  });

  let t = performance.now();
  const ours = await core.buildIncrement(input(wasmCompress));
  const buildMs = performance.now() - t;
  t = performance.now();
  const viaNode = await core.buildIncrement(input(nodeCompress));
  const nodeBuildMs = performance.now() - t;
  // Format 4 as the builder makes it: reusing format 3's content frame (same inputs, same level).
  t = performance.now();
  const delta = await core.buildDeltaIncrement({
    ...input(wasmCompress),
    level: ours.prelude.level,
    contentFrame: core.decodeIncrement(ours.bytes).contentFrame,
  });
  const deltaBuildMs = performance.now() - t;

  // Both must apply with the reference client's decoder, byte for byte; the production one with WASM too.
  const what = `${from.name} ${from.version} -> ${to.version}`;
  await verifyApplies(ours.bytes, from, to, nodeDecompress, `${what} (WASM-built, node:zlib applies)`);
  await verifyApplies(ours.bytes, from, to, wasmDecompress, `${what} (WASM-built, WASM applies)`);
  await verifyApplies(viaNode.bytes, from, to, nodeDecompress, `${what} (node:zlib-built)`);
  await verifyApplies(delta.bytes, from, to, nodeDecompress, `${what} (format 4, node:zlib applies)`);
  await verifyApplies(delta.bytes, from, to, wasmDecompress, `${what} (format 4, WASM applies)`);

  // "frame": the content frame (the changed bytes against the dictionary); the rest is the
  // prelude and the plan frame, what a file-level format adds to a bare binary delta.
  const frame = core.decodeIncrement(ours.bytes).contentFrame;
  const nodeFrame = core.decodeIncrement(viaNode.bytes).contentFrame;

  // What changed, by path.
  const old = new Map(from.files.map((f) => [f.path, f]));
  const neu = new Map(to.files.map((f) => [f.path, f]));
  const changed = to.files.filter((f) => old.has(f.path) && old.get(f.path).sha256 !== f.sha256);
  const added = to.files.filter((f) => !old.has(f.path));
  const removed = from.files.filter((f) => !neu.has(f.path)).map((f) => f.path);

  // Baseline: the changed and added files whole, zipped at deflate level 9, plus the removed paths.
  /** @type {import("fflate").Zippable} */
  const whole = {};
  for (const f of [...changed, ...added])
    whole[f.path] = [to.bytes.get(f.path), { level: 9, mtime: FIXED_MTIME }];
  if (removed.length)
    whole[".removed.json"] = [
      new TextEncoder().encode(JSON.stringify(removed)),
      { level: 9, mtime: FIXED_MTIME },
    ];
  const wholeBytes = Object.keys(whole).length ? zipSync(whole).byteLength : 22;

  // Reference deltas from the zstd CLI. (1) Whole package to whole package, what a general
  // binary delta tool ships: each version as one archive of its files in path order (path, size,
  // bytes), `--patch-from` the old archive; like ours, it carries every path. (2) The CLI on
  // exactly the inputs of our content frame (our dictionary, the changed files' bytes), to check
  // the codec setting alone.
  const cli = {};
  if (ZSTD.available || XDELTA.available) {
    const dir = mkdtempSync(join(tmpdir(), "graycast-zstd-"));
    try {
      const oldFile = join(dir, "old.archive");
      const newFile = join(dir, "new.archive");
      writeFileSync(oldFile, archiveOf(from));
      writeFileSync(newFile, archiveOf(to));
      for (const run of ZSTD.available ? CLI_RUNS : []) {
        const s = performance.now();
        cli[run.key] = { ...cliDelta(dir, oldFile, newFile, run), ms: performance.now() - s };
      }
      if (XDELTA.available)
        for (const run of XDELTA_RUNS) cli[run.key] = xdeltaDelta(dir, oldFile, newFile, run);
      if (ZSTD.available && ours.prelude.contentSize > 0) {
        const dictFile = join(dir, "dictionary.bin");
        const contentFile = join(dir, "content.bin");
        writeFileSync(dictFile, core.baseDictionary(from.files, bytesOf(from), ours.plan));
        writeFileSync(contentFile, Buffer.concat(ours.plan.changed.map(([path]) => to.bytes.get(path))));
        cli.sameInputs = cliDelta(dir, dictFile, contentFile, CLI_RUNS[0]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const cliSizes = CLI_RUNS.map((r) => cli[r.key]?.bytes).filter((n) => Number.isFinite(n));
  const bestCli = cliSizes.length ? Math.min(...cliSizes) : undefined;
  const xdSizes = XDELTA_RUNS.map((r) => cli[r.key]?.bytes).filter((n) => Number.isFinite(n));
  const xdelta = xdSizes.length ? Math.min(...xdSizes) : undefined;
  const xdeltaRun = XDELTA_RUNS.find((r) => cli[r.key]?.bytes === xdelta)?.args.join(" ");
  // The goal's yardstick: the better of `zstd -19 --patch-from` and xdelta3.
  const goalRefs = [cli.cli19?.bytes, xdelta].filter((n) => Number.isFinite(n));
  const goalRef = goalRefs.length ? Math.min(...goalRefs) : undefined;
  const served = Math.min(ours.bytes.byteLength, delta.bytes.byteLength);
  // A pair that misses the goal: what format 4 at zstd level 19 would give, and what the WASM
  // module's memory grows to for it (the builder Worker has 128 MB in all; level 18 is what fits).
  let level19;
  if (goalRef && served > goalRef) {
    const heapBefore = wasmHeapBytes();
    const at19 = await core.buildDeltaIncrement({ ...input(wasmCompress), level: 19 });
    await verifyApplies(at19.bytes, from, to, nodeDecompress, `${what} (format 4 at level 19)`);
    level19 = { bytes: at19.bytes.byteLength, heapBefore, heapAfter: wasmHeapBytes() };
  }

  return {
    package: from.name,
    from: from.version,
    to: to.version,
    kind,
    filesTo: to.files.length,
    changed: changed.length,
    added: added.length,
    removed: removed.length,
    travelled: ours.plan.changed.length,
    contentSize: ours.prelude.contentSize,
    dictionarySize: from.unpacked,
    fullBytes: to.zipBytes,
    level: ours.prelude.level,
    ours: ours.bytes.byteLength,
    frame: frame.byteLength,
    // prelude + plan frame: what the file-level format adds to a bare binary delta
    overhead: ours.bytes.byteLength - frame.byteLength,
    nodeFrame: nodeFrame.byteLength,
    nodeTotal: viaNode.bytes.byteLength,
    wholeBytes,
    cli19: cli.cli19?.bytes,
    cli22: cli.cli22?.bytes,
    cliSameInputs: cli.sameInputs?.bytes,
    cliErrors: Object.entries(cli)
      .filter(([, v]) => v.error)
      .map(([k, v]) => `${k}: ${v.error}`),
    bestCli,
    buildMs,
    nodeBuildMs,
    deltaBuildMs,
    format4: delta.bytes.byteLength,
    coding: ["delta", "delta+zstd", "zstd"][delta.prelude.coding],
    served,
    xdelta,
    xdeltaRun,
    goalRef,
    servedOverGoal: goalRef ? served / goalRef : undefined,
    level19,
    servedShare: served / to.zipBytes,
    share: ours.bytes.byteLength / to.zipBytes,
    wholeOverOurs: wholeBytes / ours.bytes.byteLength,
    oursOverBestCli: bestCli ? ours.bytes.byteLength / bestCli : undefined,
    frameOverBestCli: cli.sameInputs?.bytes ? frame.byteLength / cli.sameInputs.bytes : undefined,
  };
}

/**
 * Whether the pinned versions are adjacent releases in the registry's list: asked once (one
 * request per package), then remembered in the cache next to the tarballs with its date.
 */
async function consecutiveNote(name, versions) {
  const file = join(CACHE, "consecutive.json");
  const known = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
  const key = `${name}@${versions.join(",")}`;
  if (!known[key]) {
    try {
      const c = await checkConsecutive(name, versions);
      const text = c.ok
        ? `consecutive releases in the registry's list (${c.listed} releases listed)`
        : c.missing
          ? `NOT known to be consecutive: the registry does not list ${c.missing.join(", ")}`
          : `NOT consecutive: the registry also lists ${c.between.join(", ")} between them`;
      known[key] = { text, checked: new Date().toISOString().slice(0, 10) };
      writeFileSync(file, JSON.stringify(known, null, 2));
    } catch (err) {
      return `adjacency not checked (${err instanceof Error ? err.message : err})`;
    }
  }
  return `${known[key].text}, checked ${known[key].checked}`;
}

// ---------------------------------------------------------------- run

function median(values) {
  const v = values.filter(Number.isFinite).sort((x, y) => x - y);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const max = (values) => Math.max(...values.filter(Number.isFinite));
function pct(x) {
  return `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}
const n = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const r2 = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : "-");

const started = new Date();
const t0 = performance.now();
const rows = [];
const corpusNotes = [];
for (const pkg of corpus) {
  const versions = [];
  for (const [version, integrity] of pkg.versions)
    versions.push(await loadVersion(pkg.name, version, integrity));
  const consecutive = await consecutiveNote(
    pkg.name,
    versions.map((v) => v.version),
  );
  corpusNotes.push({
    name: pkg.name,
    kind: pkg.kind,
    versions: versions.map((v) => ({
      version: v.version,
      files: v.files.length,
      unpacked: v.unpacked,
      zip: v.zipBytes,
    })),
    consecutive,
  });
  for (const [a, b, kind] of PAIRS) {
    const row = await measurePair(versions[a], versions[b], kind);
    rows.push(row);
    log(
      `${row.package} ${row.from} -> ${row.to}: format 3 ${row.ours} B, format 4 ${row.format4} B (${row.coding}), zstd -19 ${row.cli19 ?? "-"}, xdelta3 ${row.xdelta ?? "-"}: ${r2(row.servedOverGoal)}; ${Math.round(row.buildMs)} ms`,
    );
  }
}
const elapsed = (performance.now() - t0) / 1000;

// ---------------------------------------------------------------- report

const summary = {
  rows: rows.length,
  medianShare: median(rows.map((r) => r.servedShare)),
  worstShare: max(rows.map((r) => r.servedShare)),
  medianServedOverGoal: median(rows.map((r) => r.servedOverGoal)),
  worstServedOverGoal: max(rows.map((r) => r.servedOverGoal)),
  missed: rows.filter((r) => r.servedOverGoal > 1),
  medianOursOverCli: median(rows.map((r) => r.oursOverBestCli)),
  worstOursOverCli: max(rows.map((r) => r.oursOverBestCli)),
  medianFrameOverCli: median(rows.map((r) => r.frameOverBestCli)),
  worstFrameOverCli: max(rows.map((r) => r.frameOverBestCli)),
  medianWholeOverOurs: median(rows.map((r) => r.wholeBytes / r.served)),
  medianFormat4OverFormat3: median(rows.map((r) => r.format4 / r.ours)),
  codings: [...new Set(rows.map((r) => r.coding))]
    .map((c) => `${c} ${rows.filter((r) => r.coding === c).length}`)
    .join(", "),
  medianWasmOverNode: median(rows.map((r) => r.frame / r.nodeFrame)),
  worstWasmOverNode: max(rows.map((r) => Math.max(r.frame / r.nodeFrame, r.nodeFrame / r.frame))),
  medianWasmMsOverNode: median(rows.map((r) => r.buildMs / r.nodeBuildMs)),
  medianXdeltaOverZstd: median(rows.map((r) => r.xdelta / r.cli19)),
};

const HEAD = [
  "package",
  "from → to",
  "changed / added / removed (of files)",
  "full package (zip)",
  "format 3: total (prelude and plan + content frame)",
  "format 4 (content coding)",
  "served: share of full",
  "whole changed files",
  "zstd -19 --patch-from",
  "xdelta3",
  "zstd -22 --long --patch-from",
  "served / best of zstd -19 and xdelta3",
  "format 3 frame / zstd -19 on its inputs",
  "level",
  "build ms: format 3 WASM / node:zlib, + format 4",
];
const ALIGN = HEAD.map((_, i) => (i < 2 ? "---" : "---:"));
const cells = (r) => [
  r.package,
  `${r.from} → ${r.to}${r.kind === "3-version skip" ? " (skip)" : ""}`,
  `${r.changed} / ${r.added} / ${r.removed} (${r.filesTo})`,
  n(r.fullBytes),
  `${n(r.ours)} (${n(r.overhead)} + ${n(r.frame)})`,
  `${n(r.format4)} (${r.coding})`,
  `${pct(r.servedShare)}`,
  n(r.wholeBytes),
  n(r.cli19),
  r.xdelta ? `${n(r.xdelta)} (${r.xdeltaRun})` : "-",
  n(r.cli22),
  r.goalRef
    ? `${r.servedOverGoal > 1 ? "**" : ""}${r2(r.servedOverGoal)}${r.servedOverGoal > 1 ? "**" : ""}`
    : "-",
  r2(r.frameOverBestCli),
  String(r.level),
  `${n(r.buildMs)} / ${n(r.nodeBuildMs)}, +${n(r.deltaBuildMs)}`,
];
const tableLines = [
  `| ${HEAD.join(" | ")} |`,
  `| ${ALIGN.join(" | ")} |`,
  ...rows.map((r) => `| ${cells(r).join(" | ")} |`),
];

const summaryLines = [
  `- Served increment (the smaller format) as a share of the full package: median **${pct(summary.medianShare)}**, worst **${pct(summary.worstShare)}** (${summary.rows} pairs).`,
  ZSTD.available || XDELTA.available
    ? `- Served / the better of \`zstd -19 --patch-from\` and xdelta3 on the whole-package archives (goal <= 1.0x on every pair): median **${r2(summary.medianServedOverGoal)}**, worst **${r2(summary.worstServedOverGoal)}**; ${summary.missed.length === 0 ? "met on every pair" : `missed on ${summary.missed.length} of ${summary.rows}: ${summary.missed.map((r) => `${r.package} ${r.from} → ${r.to} (${r2(r.servedOverGoal)})`).join(", ")}`}.`
    : "- Reference deltas: not measured (--no-cli or tools missing).",
  ...summary.missed
    .filter((r) => r.level19)
    .map(
      (r) =>
        `- What limits ${r.package} ${r.from} → ${r.to}: the zstd level the builder Worker's memory allows. Format 4 at level 19 (same dictionary) would be ${n(r.level19.bytes)} B (${r2(r.level19.bytes / r.goalRef)} of the goal's reference), but the WASM zstd's memory grew from ${mib(r.level19.heapBefore)} (the high-water mark of every level-${r.level} build of this run) to ${mib(r.level19.heapAfter)} for it; next to both versions unpacked in the same isolate (${mib(r.dictionarySize * 2)} here), the dictionary and content copies and the JS heap, that leaves no safe margin in the Worker's 128 MB, so above 4 MiB of dictionary and content the builder stays at level 18 (core \`incrementLevel\`; test/increment-level-memory.test.ts measures each band). The WASM build exposes only \`ZSTD_compress_usingDict\` (no parameter API to raise the search depth without the larger tables), and workerd's node:zlib zstd drops dictionaries (docs/increments.md).`,
    ),
  `- Format 4 / format 3: median ${r2(summary.medianFormat4OverFormat3)}; format 4's content coding chosen: ${summary.codings}. xdelta3 / zstd -19: median ${r2(summary.medianXdeltaOverZstd)}.`,
  ZSTD.available
    ? `- Format 3 alone / the best whole-package zstd CLI delta (-19 or -22 --long): median ${r2(summary.medianOursOverCli)}, worst ${r2(summary.worstOursOverCli)}; its content frame / the CLI at -19 on the same inputs: median ${r2(summary.medianFrameOverCli)}, worst ${r2(summary.worstFrameOverCli)}.`
    : "",
  `- Whole changed files / served: median **${r2(summary.medianWholeOverOurs)}**.`,
  `- The two codecs (WASM, the builder's; node:zlib, native) on format 3 at the same level: frames differ by at most ${((summary.worstWasmOverNode - 1) * 100).toFixed(1)}% (median WASM / node:zlib ${summary.medianWasmOverNode.toFixed(3)}); build time WASM / node:zlib median ${summary.medianWasmMsOverNode.toFixed(2)}.`,
].filter(Boolean);

const cliFailures = rows.flatMap((r) => r.cliErrors.map((e) => `${r.package} ${r.from} → ${r.to}: ${e}`));
if (cliFailures.length)
  summaryLines.push(`- zstd CLI runs that failed (left out of the ratios): ${cliFailures.join("; ")}.`);

const cpu = cpus();
const machine = `Node ${process.version} (zstd ${process.versions.zstd ?? "?"} in node:zlib), ${cpu[0]?.model?.trim() ?? "unknown CPU"}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}; zstd CLI ${ZSTD.available ? ZSTD.version : `absent (${ZSTD.why})`}; xdelta3 ${XDELTA.available ? XDELTA.version : `absent (${XDELTA.why})`}`;
const command = `npm run bench:increments${args.length ? ` -- ${args.join(" ")}` : ""}`;

console.log(tableLines.join("\n"));
console.log();
console.log(summaryLines.join("\n"));
console.log(`\n${rows.length} pairs in ${elapsed.toFixed(1)} s; ${machine}`);

if (WRITE) {
  const section = [
    "<!-- increments:start -->",
    "",
    "## Incremental packages on real npm packages",
    "",
    `Written by \`${command}\` (\`node bench/increments.mjs\`) on ${started.toISOString()} in ${elapsed.toFixed(0)} s; only this section is rewritten.`,
    `Machine: ${machine}.`,
    "",
    "Corpus: four consecutive releases of each package, downloaded from registry.npmjs.org and checked against the pinned `dist.integrity` (sha512); every version's files are the mini program package, and the full package is their zip (deflate level 6).",
    "",
    ...corpusNotes.map(
      (p) =>
        `- \`${p.name}\` (${p.kind}): ${p.versions.map((v) => `${v.version} (${v.files} files, ${n(v.unpacked)} B unpacked, zip ${n(v.zip)} B)`).join(", ")}; ${p.consecutive}.`,
    ),
    "",
    "Ours, as the builder Worker makes them (control-plane/src/increments/build.ts): format 3, `buildIncrement` (core/increment.ts), zstd level from `incrementLevel(dictionary, content)`, compressed by the builder's WASM zstd (@bokuweb/zstd-wasm): the prelude (37 bytes) and the plan frame (only what differs from the base, by path), then the content frame, the changed files' bytes against the dictionary (the base's files, those the target changes last, at most 8 MiB). Format 4 (the delta format), `buildDeltaIncrement`: a binary plan, then the same content coded the smallest of three ways: a copy/insert delta (core/delta.ts), that delta zstd-compressed, or format 3's content frame. Served: the smaller of the two, what a current client downloads (older clients get format 3). Every increment was applied with `applyIncrement` and node:zlib's decoder (and the WASM one) and gave the target's files byte for byte. " +
      "Whole changed files: a zip (deflate level 9) of the changed and added files plus the list of removed paths. " +
      "Whole-package reference deltas: each version as one archive of its files in path order (`path\\0size\\n` then the bytes); `zstd -19 --patch-from=old new`, `zstd --ultra -22 --long --patch-from=old new`, and `xdelta3 -e -9 -s old new` with and without `-S djw` (the smaller shown); each decoded back and compared. Like our increments they carry every path; they are what a general binary delta tool ships. Same-input check: `zstd -19 --patch-from` on exactly format 3's content frame inputs (CLI frames carry a 4-byte checksum ours do not). Build ms: one run each, on a machine shared with other work.",
    "",
    ...tableLines,
    "",
    ...summaryLines,
    "",
    "<!-- increments:end -->",
  ].join("\n");
  const path = join(ROOT, "BENCHMARKS.md");
  let text = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n";
  const start = text.indexOf("<!-- increments:start -->");
  const end = text.indexOf("<!-- increments:end -->");
  if (start >= 0 !== end >= 0 || (start >= 0 && end < start))
    throw new Error("BENCHMARKS.md has a broken pair of increments markers; fix them by hand");
  if (start >= 0) text = text.slice(0, start) + section + text.slice(end + "<!-- increments:end -->".length);
  else text = `${text.replace(/\n*$/, "\n")}\n${section}\n`;
  writeFileSync(path, text);
  log("BENCHMARKS.md: increments section written");
}
