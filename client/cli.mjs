#!/usr/bin/env node
// The reference client from a terminal: checks once, updates once, prints what it did.
//
//   node client/cli.mjs --edge http://127.0.0.1:8787 --app <appId> --host-app <hostAppId> --dir ./device
//       [--keys pinned-jwks.json] [--platform android|ios] [--os 14] [--host-app-version 8.0.0]
//       [--guid <id>] [--account <id>] [--network wifi] [--preset <file.apkg>] [--check-method GET|POST]
//
// The installed files and the trusted state go under <dir>/<appId>/ (client/src/node.ts).
// Real apps pin the platform keys when they are built; this tool pins them from `--keys`, or
// on first use fetches <edge>/.well-known/jwks.json and keeps it in <dir>/pinned-jwks.json
// (trust on first use, fine for a local demo, not for a product).
//
// The client is TypeScript; esbuild (already installed for wrangler and vitest) bundles it
// into a temporary module first, so no build step is needed.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { ensureZstdNode } from "../scripts/lib/node22.mjs";

// Node's zlib has zstd from 22.15 on; from an older `node` this re-runs itself with Node 22.
ensureZstdNode(import.meta.url, "the reference client");

const { values: args } = parseArgs({
  options: {
    edge: { type: "string" },
    app: { type: "string" },
    "host-app": { type: "string" },
    dir: { type: "string" },
    keys: { type: "string" },
    platform: { type: "string", default: "android" },
    os: { type: "string", default: "14" },
    "host-app-version": { type: "string", default: "8.0.0" },
    guid: { type: "string" },
    account: { type: "string" },
    network: { type: "string" },
    preset: { type: "string" },
    "check-method": { type: "string", default: "GET" },
  },
});
/** The networks a check may name (core/decide.ts `Network`). */
const NETWORKS = ["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"];
const usage =
  "usage: node client/cli.mjs --edge <url> --app <appId> --host-app <hostAppId> --dir <dir> [--keys <jwks.json>]";
const edge = required("edge");
const appId = required("app");
const hostAppId = required("host-app");
const dir = required("dir");
const checkMethod = args["check-method"];
if (checkMethod !== "GET" && checkMethod !== "POST") {
  console.error("--check-method is GET or POST");
  process.exit(2);
}
// The edge validates the device facts too; refusing them here names the flag at fault.
const platform = args.platform;
if (!isPlatform(platform)) {
  console.error("--platform is android or ios");
  process.exit(2);
}
const network = args.network;
if (network !== undefined && !isNetwork(network)) {
  console.error(`--network is one of ${NETWORKS.join(", ")}`);
  process.exit(2);
}

const client = await loadClient();
mkdirSync(dir, { recursive: true });
const pinned = await pinnedKeys();
/** @type {import("./src/types").ClientConfig["device"]} */
const device = { hostAppVersion: args["host-app-version"], platform, osVersion: args.os };
if (args.guid) device.guid = args.guid;
if (args.account) device.account = args.account;
if (network) device.network = network;
const graycast = client.createNodeClient(
  {
    edge,
    appId,
    hostAppId,
    device,
    platformKeys: pinned,
    checkMethod,
  },
  dir,
);

try {
  if (args.preset) {
    const preset = await graycast.installPreset(
      new Uint8Array(readFileSync(args.preset)),
      basename(args.preset),
    );
    console.log(
      preset.installed
        ? `preset: installed ${preset.version}`
        : `preset: kept ${preset.version} (the preset is not newer)`,
    );
  }
  const result = await graycast.update();
  console.log(
    `check: ${result.status} (${result.reason})${result.version ? ` version ${result.version}` : ""}, installed ${result.installed ?? "nothing"} -> ${result.plan}`,
  );
  if (result.activated) {
    const fallback = result.fallback
      ? `; increment not used: ${result.fallback.code}: ${result.fallback.message}`
      : "";
    console.log(
      `installed ${result.version} via ${result.via} package (${result.transferred} bytes${result.resumed ? `, ${result.resumed} resumed` : ""}; developer signature ${result.developerSignature})${fallback}`,
    );
  }
  const state = await graycast.trustedState();
  console.log(
    state.delisted
      ? `${appId} is delisted: it must not run`
      : state.installed
        ? `running ${state.installed.version} (${state.installed.list.length} files) from ${join(dir, appId)}`
        : "nothing installed",
  );
} catch (error) {
  if (!(error instanceof client.ClientError)) throw error;
  console.error(`refused (${error.code}): ${error.message}\nthe trusted state is unchanged`);
  process.exit(1);
}

/**
 * A required flag's value, or the usage line and exit 2.
 * @param {"edge" | "app" | "host-app" | "dir"} name
 * @returns {string}
 */
function required(name) {
  const value = args[name];
  if (value) return value;
  console.error(`missing --${name}\n${usage}`);
  process.exit(2);
}

/**
 * @param {string} value
 * @returns {value is import("../core/decide").Platform}
 */
function isPlatform(value) {
  return value === "android" || value === "ios";
}

/**
 * @param {string} value
 * @returns {value is import("../core/decide").Network}
 */
function isNetwork(value) {
  return NETWORKS.includes(value);
}

/**
 * The client's Node entry, bundled from TypeScript on the fly.
 * @returns {Promise<typeof import("./src/node")>}
 */
async function loadClient() {
  const temp = mkdtempSync(join(tmpdir(), "graycast-cli-"));
  try {
    const outfile = join(temp, "client.mjs");
    await build({
      entryPoints: [fileURLToPath(new URL("./src/node.ts", import.meta.url))],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      outfile,
      logLevel: "error",
    });
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

async function pinnedKeys() {
  if (args.keys) return JSON.parse(readFileSync(args.keys, "utf8"));
  const file = join(dir, "pinned-jwks.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
  const res = await fetch(`${edge.replace(/\/+$/, "")}/.well-known/jwks.json`);
  if (!res.ok) throw new Error(`cannot fetch the edge's JWKS: HTTP ${res.status}`);
  const jwks = await res.json();
  writeFileSync(file, JSON.stringify(jwks, null, 2));
  console.log(`pinned the edge's keys in ${file} (trust on first use; real apps pin them at build time)`);
  return jwks;
}
