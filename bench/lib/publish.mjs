// Change reach: time from a publish in the control plane until the edge serves the new version.
// Both Workers run under one Miniflare host and share its R2 and Durable Objects (as two
// `wrangler dev` sharing --persist-to do, and as production shares the bucket); D1 gets the
// repository's migrations and the demo accounts of `npm start`. The version is published
// through the admin API and the edge's check is polled until it answers with that version.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startHost, WORKER_NAMES, workerFromWrangler } from "./host.mjs";
import { jwsClaims, median, ROOT, sleep } from "./util.mjs";

// The demo accounts and package builder of `npm start`, loaded when needed (scripts/ may be
// mid-edit; a failure then only makes this figure "not available").
let demo;
export async function loadDemo() {
  const local = await import("../../scripts/lib/local.mjs");
  const { demoPackage } = await import("../../scripts/lib/api.mjs");
  demo = { ...local, demoPackage };
  return demo;
}

/** D1 migrated from migrations/ and seeded with the demo accounts of `npm start` (after `loadDemo`). */
export async function applyMigrations(db) {
  const { seedSql } = demo;
  const journal = JSON.parse(readFileSync(join(ROOT, "migrations", "meta", "_journal.json"), "utf8"));
  for (const entry of journal.entries) {
    const sql = readFileSync(join(ROOT, "migrations", `${entry.tag}.sql`), "utf8");
    for (const stmt of sql.split("--> statement-breakpoint")) {
      if (stmt.trim()) await db.prepare(stmt).run();
    }
  }
  for (const line of seedSql().split("\n")) if (line.trim()) await db.prepare(line).run();
}

/** @param {string} base */
function api(base) {
  /**
   * @param {string} method
   * @param {string} path
   * @param {{ token?: string, json?: unknown, body?: RequestInit["body"], contentType?: string }} [options]
   */
  return async (method, path, { token, json, body, contentType } = {}) => {
    /** @type {Record<string, string>} */
    const headers = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (json !== undefined) headers["content-type"] = "application/json";
    else if (contentType) headers["content-type"] = contentType;
    const res = await fetch(base + path, {
      method,
      headers,
      body: json !== undefined ? JSON.stringify(json) : body,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
    if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 200)}`);
    return data;
  };
}

async function edgeVersion(edgeUrl, appId) {
  const { DEMO_HOST_APP } = demo;
  const res = await fetch(`${edgeUrl}/v1/check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      appId,
      hostAppId: DEMO_HOST_APP.id,
      hostAppVersion: "8.0.0",
      platform: "ios",
      osVersion: "17.4",
    }),
    signal: AbortSignal.timeout(5_000),
  });
  const json = /** @type {{ manifest?: string } | undefined} */ (await res.json().catch(() => undefined));
  return jwsClaims(json?.manifest)?.version;
}

async function waitFor(edgeUrl, appId, version, timeoutMs, pollMs) {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if ((await edgeVersion(edgeUrl, appId).catch(() => undefined)) === version) return performance.now();
    await sleep(pollMs);
  }
  return undefined;
}

/**
 * Runs `trials` publishes; returns { ok, samples: [{ version, publishMs, reachMs }], medianMs,
 * maxMs, ttlMs } or { ok: false, error }.
 */
/**
 * @param {{ edgeScript: string, adminScript: string, secrets: Record<string, string>, stateDir: string,
 *   trials?: number, pollMs?: number, log?: (line: string) => void }} options
 */
export async function publishToEdge({
  edgeScript,
  adminScript,
  secrets,
  stateDir,
  trials = 5,
  pollMs = 25,
  log = () => {},
}) {
  const edge = workerFromWrangler("edge", edgeScript, { secrets });
  const admin = workerFromWrangler("admin", adminScript, { secrets });
  const ttlMs = Number(edge.bindings.SNAPSHOT_TTL_MS ?? 2000);
  let host;
  try {
    await loadDemo();
    const { DEMO_HOST_APP, DEMO_TEAM, DEMO_USERS, demoPackage } = demo;
    host = await startHost({ workers: [edge, admin], stateDir });
    await applyMigrations(await host.mf.getD1Database("DB", WORKER_NAMES.admin));
    const call = api(host.urls[WORKER_NAMES.admin]);
    const login = async (u) =>
      (await call("POST", "/v1/auth/login", { json: { email: u.email, password: u.password } })).token;
    const dev = await login(DEMO_USERS.find((u) => u.team === "developer"));
    const manager = await login(DEMO_USERS.find((u) => u.hostApp === "manager"));
    const auditor = await login(DEMO_USERS.find((u) => u.hostApp === "auditor"));

    const { appId } = await call("POST", "/v1/mini-programs", {
      token: dev,
      json: { teamId: DEMO_TEAM.id, name: "Bench Reach" },
    });
    await call("POST", `/v1/mini-programs/${appId}/bindings`, {
      token: dev,
      json: { hostAppId: DEMO_HOST_APP.id },
    });
    await call("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: manager });
    const approve = async (version) => {
      await call("POST", `/v1/mini-programs/${appId}/versions?version=${version}`, {
        token: dev,
        body: demoPackage(version),
        contentType: "application/zip",
      });
      const audit = await call("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
        token: dev,
        json: {},
      });
      await call("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: auditor,
        json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
      });
    };
    const edgeUrl = host.urls[WORKER_NAMES.edge];

    // A first release, so every trial below replaces a version the edge already caches.
    await approve("1.0.0");
    await call("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: dev });
    if ((await waitFor(edgeUrl, appId, "1.0.0", 30_000, 50)) === undefined)
      throw new Error("the edge never served the first release");

    const samples = [];
    for (let i = 1; i <= trials; i++) {
      const version = `1.0.${i}`;
      await approve(version);
      // Publishes land at different points of the edge's revalidation period.
      await sleep(Math.round((ttlMs * i) / (trials + 1)));
      const t0 = performance.now();
      await call("POST", `/v1/mini-programs/${appId}/versions/${version}/publish`, { token: dev });
      const published = performance.now();
      const seen = await waitFor(edgeUrl, appId, version, 30_000, pollMs);
      if (seen === undefined) throw new Error(`the edge did not serve ${version} within 30 s of its publish`);
      samples.push({ version, publishMs: published - t0, reachMs: seen - t0 });
      log(
        `publish ${version}: API ${Math.round(published - t0)} ms, edge serves it after ${Math.round(seen - t0)} ms`,
      );
    }
    const reach = samples.map((s) => s.reachMs);
    return { ok: true, samples, medianMs: median(reach), maxMs: Math.max(...reach), ttlMs, pollMs };
  } catch (err) {
    return { ok: false, error: String(err instanceof Error ? err.message : err) };
  } finally {
    await host?.dispose().catch(() => {});
  }
}
