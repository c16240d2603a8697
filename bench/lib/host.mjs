// The benchmark host: Miniflare's Node API runs workerd, and `unsafeDirectSockets` makes workerd
// serve each Worker on its own loopback port, with no entry Worker or Node proxy in between
// (TOOLCHAIN.md "Load on loopback"). Bindings come from each Worker's configuration (top level,
// util.mjs WORKER_CONFIGS) through wrangler's own translation (`unstable_getMiniflareWorkerOptions`), so the edge runs with exactly the R2,
// Durable Object and vars configuration it deploys with; only secrets are generated here.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { ROOT, WORKER_CONFIGS } from "./util.mjs";

export const HELLO_SCRIPT = `export default { fetch() { return new Response("hello world"); } };`;

/** Fresh local secrets, as `npm start` writes them into .dev.vars. */
export function benchSecrets() {
  const jwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  return {
    MANIFEST_SIGNING_KEY: JSON.stringify({ ...jwk, kid: `bench-${randomBytes(4).toString("hex")}` }),
    JWT_SECRET: randomBytes(32).toString("hex"),
    ADMISSION_TICKET_SECRET: randomBytes(32).toString("hex"),
  };
}

/**
 * Vars the benchmark host sets over wrangler.toml's, in the open: the per-address check limit
 * (README "Sessions, API tokens and rate limits") is off, because every request here comes from
 * one loopback client without `cf-connecting-ip`, and locally each `limit()` is a Durable Object
 * round trip that the deployed binding (a counter in the Cloudflare location) does not make.
 */
export const BENCH_EDGE_VARS = { CHECK_RATE_LIMIT: "off" };

/** A Worker's configuration (top level), as Miniflare options. */
const optionsOf = (worker) =>
  unstable_getMiniflareWorkerOptions(join(ROOT, WORKER_CONFIGS[worker])).workerOptions;

/**
 * The Workers' names in their configurations: the host runs them under these, as the admin
 * Worker's Durable Object (script_name) and EDGE_SIGNER service bindings name the edge.
 */
const nameOf = (worker) => unstable_readConfig({ config: join(ROOT, WORKER_CONFIGS[worker]) }).name;
export const WORKER_NAMES = { edge: nameOf("edge"), admin: nameOf("admin") };

/** Worker options of one Worker's configuration (`edge`, `admin`), running the prebuilt bundle `scriptPath`. */
export function workerFromWrangler(worker, scriptPath, { vars = {}, secrets = {} } = {}) {
  const workerOptions = optionsOf(worker);
  const name = WORKER_NAMES[worker];
  // The bundle is already resolved: its modules are listed explicitly instead of by rules.
  const { modulesRules: _rules, ...options } = workerOptions;
  /** @type {Record<string, unknown>} the configuration's vars, then the benchmark's, secrets and `vars` */
  const bindings = {
    ...(workerOptions.bindings ?? {}),
    ...(worker === "edge" ? BENCH_EDGE_VARS : {}),
    ...secrets,
    ...vars,
  };
  return {
    ...options,
    name,
    modules: bundleModules(scriptPath),
    modulesRoot: dirname(scriptPath),
    bindings,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * hello-world with every binding of `worker` (R2, Durable Objects, vars...), each Durable Object
 * class an empty stub: for start-up, the difference to `worker` is then its script alone.
 */
export function helloWithBindingsOf(worker) {
  const classes = [
    ...new Set(
      Object.values(worker.durableObjects ?? {})
        .map((d) => (typeof d === "string" ? d : d.scriptName ? undefined : d.className))
        .filter(Boolean),
    ),
  ];
  const { modules: _m, modulesRoot: _r, scriptPath: _s, ...rest } = worker;
  return {
    ...rest,
    name: `${worker.name}-hello`,
    modules: true,
    script: `import { DurableObject } from "cloudflare:workers";\n${classes.map((c) => `export class ${c} extends DurableObject {}\n`).join("")}export default { fetch() { return new Response("hello world"); } };`,
  };
}

/** @type {[RegExp, string][]} */
const MODULE_TYPES = [
  [/\.(m?js)$/, "ESModule"],
  [/\.(txt|html|sql)$/, "Text"],
  [/\.bin$/, "Data"],
  [/\.wasm$/, "CompiledWasm"],
];

/** The entry module and any extra modules wrangler wrote beside it (text, data, wasm). */
function bundleModules(scriptPath) {
  const dir = dirname(scriptPath);
  const modules = [{ type: "ESModule", path: scriptPath }];
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (path === scriptPath || file === "meta.json" || file === "README.md" || file.endsWith(".map"))
      continue;
    const type = MODULE_TYPES.find(([re]) => re.test(file))?.[1];
    if (type) modules.push({ type, path });
  }
  return modules;
}

export function helloWorker() {
  return {
    name: "hello",
    modules: true,
    script: HELLO_SCRIPT,
    compatibilityDate: "2026-10-01",
    compatibilityFlags: ["nodejs_compat"],
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * A bench-only reference Worker on the same R2 bucket as `edge`: `GET /<key>` with a Range header
 * is one `bucket.get(key, { range })` streamed back, nothing else. It shows what the local R2
 * simulator itself costs, so the edge's package route can be read against it.
 */
/** The headers of a check answer (edge-worker/src/headers.ts JSON_NO_STORE_HEADERS), for the floor Worker. */
const CHECK_HEADER_LIST = [
  ["content-type", "application/json"],
  ["cache-control", "no-store"],
  ["x-content-type-options", "nosniff"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["referrer-policy", "no-referrer"],
  ["x-frame-options", "DENY"],
];

export function r2FloorWorker(edge) {
  return {
    name: "r2-floor",
    modules: true,
    script: `const BODY = new TextEncoder().encode(JSON.stringify({ manifest: "${"x".repeat(900)}" }));
// The edge's check headers (edge-worker/src/headers.ts), as one Headers object, as the edge sends them.
const HEADERS = new Headers(${JSON.stringify(CHECK_HEADER_LIST)});
export default {
  async fetch(request, env) {
    // The floors under the check route: the same request and a response of the same size and
    // headers, with none of Graycast's work. GET answers bytes it already holds; POST first reads
    // and parses the body.
    const url = request.url;
    if (url.includes("/v1/check")) {
      if (request.method === "POST") JSON.parse(await request.text());
      return new Response(BODY, { headers: HEADERS });
    }
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    const m = /^bytes=(\\d+)-(\\d+)$/.exec(request.headers.get("range") ?? "");
    const object = await env.PACKAGES.get(key, m ? { range: { offset: Number(m[1]), length: Number(m[2]) - Number(m[1]) + 1 } } : {});
    if (!object) return new Response("not found", { status: 404 });
    return new Response(object.body, { status: m ? 206 : 200 });
  },
};`,
    compatibilityDate: edge.compatibilityDate,
    compatibilityFlags: edge.compatibilityFlags,
    r2Buckets: edge.r2Buckets,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/**
 * Starts one workerd under Miniflare with `workers`; state (R2, DOs, D1) lives under
 * `stateDir` (tmpfs). Returns the instance, each Worker's direct URL and workerd's pid.
 */
export async function startHost({ workers, stateDir, verbose = false, inspector = false }) {
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  const before = new Set(childPids(process.pid));
  // wrangler hands out Worker options in Miniflare 4's shape; this Miniflare converts them.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      workers,
      resourcePersistencePath: join(stateDir, "persist"),
      resourceTmpPath: join(stateDir, "tmp"),
      enableDevRegistry: false,
      telemetry: { enabled: false },
      // A fixed cf object: no fetch of the real one (no internet here) and the same on every run.
      cf: { country: "CN", region: "Guangdong", city: "Shenzhen", colo: "SZX", asn: 4134 },
      log: new Log(verbose ? LogLevel.INFO : LogLevel.WARN),
      host: "127.0.0.1",
      port: 0,
      ...(inspector ? { inspectorPort: await freePort() } : {}),
    }),
  );
  try {
    await mf.ready;
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  const urls = {};
  for (const w of workers) urls[w.name] = (await mf.unsafeGetDirectURL(w.name)).origin;
  const workerdPids = childPids(process.pid).filter((pid) => !before.has(pid) && commOf(pid) === "workerd");
  return { mf, urls, workerdPids, dispose: () => mf.dispose() };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : undefined;
      server.close(() => resolve(port));
    });
  });
}

/** Direct children of `pid` (Linux /proc). */
export function childPids(pid) {
  const out = [];
  const taskDir = `/proc/${pid}/task`;
  if (!existsSync(taskDir)) return out;
  for (const tid of readdirSync(taskDir)) {
    try {
      const text = readFileSync(`${taskDir}/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {}
  }
  return out;
}

export function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Busy CPU time (ms) of the whole machine so far, all cores, from /proc/stat: user, nice, system
 * and steal. Interrupt and softirq time (loopback networking of the benchmark itself, not charged
 * to any process) are left out, as are idle and iowait.
 */
export function machineBusyMs() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const fields = cpu.trim().split(/\s+/).slice(1).map(Number);
    const [user = NaN, nice = NaN, system = NaN, , , , , steal = NaN] = fields;
    return ((user + nice + system + steal) * 1000) / 100;
  } catch {
    return NaN;
  }
}

/** CPU time (ms, user + system, all threads) used so far by `pid`. */
export function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] = utime, fields[12] = stime (clock ticks; 100 Hz on Linux)
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
