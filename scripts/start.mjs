#!/usr/bin/env node
// `npm start`: the whole system locally, on wrangler's embedded defaults (local D1, R2 and
// Durable Objects under .graycast/state), with demo data. Restarting keeps the data.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildConsole } from "./build-console.mjs";
import { admin, login, uploadVersion } from "./lib/api.mjs";
import {
  ADMIN_PORT,
  ADMIN_URL,
  BUILDER_PORT,
  DEMO_HOST_APP,
  DEMO_TEAM,
  DEMO_TESTER,
  DEMO_USERS,
  demoUser,
  EDGE_PORT,
  EDGE_URL,
  ensureDevVars,
  LOCAL_DIR,
  localWranglerEnv,
  newHostAppKey,
  ROOT,
  readHostAppKey,
  readState,
  STATE_DIR,
  saveHostAppKey,
  savePorts,
  seedSql,
  WORKERS,
  writeState,
} from "./lib/local.mjs";

const wrangler = join(ROOT, "node_modules", ".bin", "wrangler");
/** @param {string} msg */
const log = (msg) => console.log(`[graycast] ${msg}`);

/** @param {string[]} args */
function runOrDie(args) {
  const r = spawnSync(wrangler, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: localWranglerEnv(),
  });
  if (r.status !== 0) {
    console.error(r.stdout, r.stderr);
    process.exit(1);
  }
}

mkdirSync(STATE_DIR, { recursive: true });
ensureDevVars();
// The web console the admin Worker serves at / (console/dist, control-plane/wrangler.toml [assets]).
log("building the web console");
await buildConsole({ quiet: true });
log("applying D1 migrations (local)");
// D1 belongs to the admin Worker's configuration (the builder binds the same local database).
runOrDie([
  "d1",
  "migrations",
  "apply",
  "DB",
  "--local",
  "-c",
  WORKERS.admin.config,
  "--persist-to",
  STATE_DIR,
]);
const seedFile = join(LOCAL_DIR, "seed.sql");
writeFileSync(seedFile, seedSql());
runOrDie([
  "d1",
  "execute",
  "DB",
  "--local",
  "-c",
  WORKERS.admin.config,
  "--persist-to",
  STATE_DIR,
  "--file",
  seedFile,
]);

/** @type {import("node:child_process").ChildProcess[]} */
const children = [];
/** @type {NodeJS.Timeout | undefined} */
let cronTimer;
/**
 * One `wrangler dev` per Worker, each with its own configuration (its top level: local development)
 * and its own local secrets, the .dev.vars beside the config (scripts/lib/local.mjs, WORKERS).
 */
/**
 * @param {keyof typeof WORKERS} worker
 * @param {number} port
 * @param {string[]} [extra] more `wrangler dev` arguments
 */
function startWorker(worker, port, extra = []) {
  const child = spawn(
    wrangler,
    [
      "dev",
      "-c",
      WORKERS[worker].config,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      STATE_DIR,
      "--show-interactive-dev-session=false",
      ...extra,
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: localWranglerEnv(),
    },
  );
  const prefix = `[${worker}] `;
  // The admin and builder processes share the local D1 file; when both write at once workerd
  // logs the lock (and its stack) although the call is retried and succeeds
  // (control-plane/src/db/busy-retry.ts). Those two lines are left out; nothing else is.
  let lockStack = false;
  /** @param {string} line */
  const shown = (line) => {
    if (line.includes("database is locked: SQLITE_BUSY")) return !(lockStack = true);
    if (lockStack && line.trimStart().startsWith("stack:")) return (lockStack = false);
    lockStack = false;
    return true;
  };
  /**
   * @param {import("node:stream").Readable} stream
   * @param {NodeJS.WriteStream} out
   */
  const forward = (stream, out) =>
    stream.on("data", (/** @type {Buffer} */ d) =>
      out.write(
        String(d)
          .split("\n")
          .filter(Boolean)
          .filter(shown)
          .map((l) => `${prefix + l}\n`)
          .join(""),
      ),
    );
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  child.on("exit", (code) => {
    log(`${worker} worker exited (${code}); stopping`);
    shutdown(code ?? 1);
  });
  children.push(child);
}

function shutdown(code = 0) {
  clearTimeout(cronTimer);
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  process.exit(code);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

/**
 * @param {string} url
 * @param {number} [seconds]
 */
async function waitHealthy(url, seconds = 90) {
  for (let i = 0; i < seconds * 4; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become healthy`);
}

/** The demo mini program: two released versions and a development version, created through the API. */
async function seedDemoMiniProgram() {
  const dev = demoUser((u) => u.team === "developer");
  const manager = demoUser((u) => u.hostApp === "manager");
  const auditor = demoUser((u) => u.hostApp === "auditor");
  const devToken = await login(dev.email, dev.password);
  const known = readState("demo.json");
  const list = await admin("GET", `/v1/mini-programs?teamId=${DEMO_TEAM.id}`, { token: devToken });
  if (known && list.miniPrograms.some((/** @type {{ appId: string }} */ m) => m.appId === known.appId))
    return known.appId;
  const mp = await admin("POST", "/v1/mini-programs", {
    token: devToken,
    json: { teamId: DEMO_TEAM.id, name: "Demo Mall", description: "A demo shop" },
  });
  const appId = mp.appId;
  await admin("POST", `/v1/mini-programs/${appId}/bindings`, {
    token: devToken,
    json: { hostAppId: DEMO_HOST_APP.id },
  });
  const managerToken = await login(manager.email, manager.password);
  await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: managerToken });
  const auditorToken = await login(auditor.email, auditor.password);
  for (const version of ["1.0.0", "1.1.0"]) {
    await uploadVersion(devToken, appId, version, `release ${version}`);
    const audit = await admin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
      token: devToken,
      json: { note: `please review ${version}` },
    });
    await admin("POST", `/v1/audits/${audit.auditId}/decision`, {
      token: auditorToken,
      json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
    });
    await admin("POST", `/v1/mini-programs/${appId}/versions/${version}/publish`, { token: devToken });
  }
  await uploadVersion(devToken, appId, "1.2.0", "work in progress");
  await admin("PUT", `/v1/mini-programs/${appId}/trial`, {
    token: devToken,
    json: { pagePath: "pages/index/index?from=trial", testers: [DEMO_TESTER] },
  });
  writeState("demo.json", { appId });
  return appId;
}

/**
 * The demo host app's user-assertion key (docs/trust.md): the private JWK stays in the local
 * state (`.graycast/host-app-key.json`), the public half is registered once; a restart keeps it.
 */
async function seedDemoHostAppKey() {
  const manager = demoUser((u) => u.hostApp === "manager");
  const token = await login(manager.email, manager.password);
  const known = readHostAppKey();
  const { keys } = await admin("GET", `/v1/host-apps/${DEMO_HOST_APP.id}/keys`, { token });
  if (
    known?.kid &&
    keys.some(
      (/** @type {{ id: string, status: string }} */ k) => k.id === known.kid && k.status === "active",
    )
  )
    return known.kid;
  const jwk = newHostAppKey();
  const made = await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/keys`, {
    token,
    json: { name: "demo host app server", jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } },
  });
  saveHostAppKey({ ...jwk, kid: made.id });
  return made.id;
}

// ---- The cron, locally --------------------------------------------------------------------
// Cron triggers do not fire under `wrangler dev`, so grayscale tasks would never end at their end
// time or cap locally. The admin Worker runs with --test-scheduled, and this calls its scheduled
// handler at the start of every minute, as the deployed "* * * * *" trigger does.
function startCron() {
  const tick = async () => {
    try {
      const res = await fetch(`${ADMIN_URL}/__scheduled?cron=*+*+*+*+*`);
      if (!res.ok) log(`cron run answered HTTP ${res.status}`);
    } catch (error) {
      log(`cron run failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const schedule = () => {
    cronTimer = setTimeout(() => tick().finally(schedule), 60_000 - (Date.now() % 60_000));
  };
  schedule();
}
// ---------------------------------------------------------------------------------------------

log("starting the edge and control-plane Workers");
// One after the other: two wrangler dev processes starting at the same instant can race for
// the same local socket.
startWorker("edge", EDGE_PORT, ["--var", "ALLOW_GEO_OVERRIDE:true", "--var", `ADMIN_BASE_URL:${ADMIN_URL}`]);
await waitHealthy(EDGE_URL);
// The increment builder (control-plane/src/builder.ts) consumes the admin Worker's queue from its
// own process, through the dev registry: a build never runs where admin requests do.
startWorker("builder", BUILDER_PORT);
await waitHealthy(`http://127.0.0.1:${BUILDER_PORT}`);
startWorker("admin", ADMIN_PORT, ["--var", `EDGE_BASE_URL:${EDGE_URL}`, "--test-scheduled"]);
await waitHealthy(ADMIN_URL);
startCron();
savePorts();
const appId = await seedDemoMiniProgram();
const hostAppKid = await seedDemoHostAppKey();

const users = DEMO_USERS.map(
  (u) =>
    `    ${u.email.padEnd(26)} ${u.password.padEnd(22)} ${u.platformAdmin ? "platform admin" : u.team ? `team ${DEMO_TEAM.name}: ${u.team}` : `host app ${DEMO_HOST_APP.name}: ${u.hostApp}`}`,
).join("\n");
console.log(`
  Graycast is running.
    edge (clients)          ${EDGE_URL}      check: GET /v1/check?… (or POST), JWKS: /.well-known/jwks.json
    control plane (admin)   ${ADMIN_URL}      API docs: ${ADMIN_URL}/docs
    web console             ${ADMIN_URL}/     sign in with a demo login below
  Demo mini program ${appId} (Demo Mall) on host app ${DEMO_HOST_APP.id}: online 1.1.0, development 1.2.0 (trial for ${DEMO_TESTER}).
  Host app user-assertion key ${hostAppKid}: private JWK in .graycast/host-app-key.json (docs/trust.md).
  Demo logins (email, password, role):
${users}
  Try it: npm run demo     Stop: Ctrl-C (data stays in .graycast/state)
`);
