#!/usr/bin/env node
// `npm run demo`: walks a new mini program through its whole release lifecycle against
// `npm start` (run that first, in another terminal), printing every request and answer.
import { createHash } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { admin, call, edge, login, uploadVersion } from "./lib/api.mjs";
import {
  ADMIN_URL,
  DEMO_HOST_APP,
  DEMO_TEAM,
  DEMO_TESTER,
  demoUser,
  EDGE_URL,
  mintUserAssertion,
  readHostAppKey,
} from "./lib/local.mjs";

/**
 * @param {number | string} n
 * @param {string} text
 */
const step = (n, text) => console.log(`\n== ${n}. ${text}`);
/**
 * @param {string} label
 * @param {unknown} value
 */
const show = (label, value) =>
  console.log(`   ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
const jwks = createRemoteJWKSet(new URL(`${EDGE_URL}/.well-known/jwks.json`));

/**
 * Asks the edge until its answer shows `expected` (a change reaches every edge isolate within
 * the snapshot TTL, 2 s by default) and prints how long that took.
 */
/**
 * @param {string} appId
 * @param {string | undefined} installedVersion
 * @param {Record<string, unknown>} expected
 */
async function checkUntil(appId, installedVersion, expected) {
  const started = Date.now();
  for (;;) {
    const payload = await check(appId, installedVersion, true);
    const ok = Object.entries(expected).every(([k, v]) => payload[k] === v);
    if (ok || Date.now() - started > 15_000) {
      show(`check (installed ${installedVersion ?? "none"}) after ${Date.now() - started} ms`, pick(payload));
      if (!ok) throw new Error(`the edge did not show ${JSON.stringify(expected)} within 15 s`);
      return payload;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** @param {import("jose").JWTPayload} p the signed manifest's claims */
const pick = (p) => ({
  status: p.status,
  reason: p.reason,
  version: p.version,
  rollback: p.rollback,
  exp: p.exp,
});

/** Asks the edge which version to run and verifies the signed answer as a client would. */
/**
 * @param {string} appId
 * @param {string} [installedVersion]
 * @param {boolean} [quiet]
 */
async function check(appId, installedVersion, quiet = false) {
  const client = {
    appId,
    hostAppId: DEMO_HOST_APP.id,
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
    guid: "demo-guid-1",
    ...(installedVersion ? { installedVersion } : {}),
  };
  // The query form of the check (POST with the same fields as JSON gives the same answer).
  const r = await edge("GET", `/v1/check?${new URLSearchParams(client)}`);
  if (r.status !== 200) throw new Error(`check -> ${r.status} ${JSON.stringify(r.data)}`);
  const { payload, protectedHeader } = await jwtVerify(r.data.manifest, jwks, {
    issuer: "graycast",
    audience: DEMO_HOST_APP.id,
    subject: appId,
  });
  if (!quiet)
    show(`check (installed ${installedVersion ?? "none"}), signed by ${protectedHeader.kid}`, pick(payload));
  return payload;
}

const dev = demoUser((u) => u.team === "developer");
const auditor = demoUser((u) => u.hostApp === "auditor");
const manager = demoUser((u) => u.hostApp === "manager");

step(1, "log in as the developer, the host app manager and the auditor");
const devToken = await login(dev.email, dev.password);
const managerToken = await login(manager.email, manager.password);
const auditorToken = await login(auditor.email, auditor.password);
show("developer", dev.email);

step(2, "create a mini program and bind it to the host app (the manager approves)");
const mp = await admin("POST", "/v1/mini-programs", {
  token: devToken,
  json: { teamId: DEMO_TEAM.id, name: `Walkthrough ${new Date().toISOString().slice(11, 19)}` },
});
const appId = mp.appId;
show("App ID", appId);
await admin("POST", `/v1/mini-programs/${appId}/bindings`, {
  token: devToken,
  json: { hostAppId: DEMO_HOST_APP.id },
});
await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: managerToken });
await check(appId);

for (const version of ["1.0.0", "1.1.0"]) {
  step(version === "1.0.0" ? 3 : 5, `upload ${version}, submit it for audit, the auditor approves, publish`);
  const v = await uploadVersion(devToken, appId, version);
  show("uploaded", {
    version: v.version,
    sha256: v.package.sha256,
    size: v.package.size,
    files: v.package.fileCount,
  });
  const audit = await admin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
    token: devToken,
    json: { note: "walkthrough" },
  });
  const decision = await admin("POST", `/v1/audits/${audit.auditId}/decision`, {
    token: auditorToken,
    json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
  });
  show("audit", decision.outcome);
  await admin("POST", `/v1/mini-programs/${appId}/versions/${version}/publish`, { token: devToken });
  const m = await checkUntil(appId, version === "1.1.0" ? "1.0.0" : undefined, { status: "ok", version });
  if (version === "1.0.0") {
    step(4, "download the package from the edge: full, then resumed with Range, verified by sha256");
    const full = await fetch(m.package.url);
    const bytes = Buffer.from(await full.arrayBuffer());
    show("full", {
      status: full.status,
      etag: full.headers.get("etag"),
      cache: full.headers.get("cache-control"),
      bytes: bytes.length,
    });
    const part = await fetch(m.package.url, { headers: { range: "bytes=100-" } });
    const tail = Buffer.from(await part.arrayBuffer());
    show("range", { status: part.status, contentRange: part.headers.get("content-range") });
    const joined = Buffer.concat([bytes.subarray(0, 100), tail]);
    show("sha256 matches manifest", createHash("sha256").update(joined).digest("hex") === m.package.sha256);
    const again = await fetch(m.package.url, {
      headers: { "if-none-match": full.headers.get("etag") ?? "" },
    });
    show("revalidation", again.status);
  }
}

// The approval of 1.1.0 planned an increment from 1.0.0; the builder Worker (its own process under
// npm start) builds it from the queue, off the hot path, and republishes the snapshot
// (docs/increments.md).
{
  const started = Date.now();
  let m = await check(appId, "1.0.0", true);
  while (!m.increment && Date.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 300));
    m = await check(appId, "1.0.0", true);
  }
  if (!m.increment)
    throw new Error("no increment from 1.0.0 was offered within 15 s (is the builder Worker running?)");
  const res = await fetch(m.increment.url);
  const bytes = Buffer.from(await res.arrayBuffer());
  show(`increment offered to a client on 1.0.0 after ${Date.now() - started} ms`, {
    from: m.increment.fromVersion,
    bytes: m.increment.size,
    fullPackage: m.package.size,
  });
  show(
    "increment sha256 matches manifest",
    createHash("sha256").update(bytes).digest("hex") === m.increment.sha256,
  );
}

step(6, "roll back to 1.0.0: a client on 1.1.0 is told to go back (signed rollback)");
await admin("POST", `/v1/mini-programs/${appId}/rollback`, { token: devToken, json: { version: "1.0.0" } });
await checkUntil(appId, "1.1.0", { version: "1.0.0", rollback: true });
const second = await call(ADMIN_URL, "POST", `/v1/mini-programs/${appId}/rollback`, {
  token: devToken,
  json: { version: "1.0.0" },
});
show("a second rollback", `${second.status} ${second.data.error?.message}`);

step(7, "take it off the shelf: clients get 'delisted'; put it back");
await admin("PUT", `/v1/mini-programs/${appId}/shelf`, { token: devToken, json: { listed: false } });
await checkUntil(appId, "1.0.0", { status: "delisted" });
await admin("PUT", `/v1/mini-programs/${appId}/shelf`, { token: devToken, json: { listed: true } });
await checkUntil(appId, "1.0.0", { status: "ok", version: "1.0.0" });

step(8, "version overview and release history");
const overview = await admin("GET", `/v1/mini-programs/${appId}/overview`, { token: devToken });
show("online", overview.online?.version);
show(
  "releases",
  overview.releases.map(
    (/** @type {{ via: string, fromVersion: string | null, version: string }} */ r) =>
      `${r.via} ${r.fromVersion ?? "-"} -> ${r.version}`,
  ),
);

step(9, `who is the user (docs/trust.md): the trial version only for a tester the host app vouches for`);
await uploadVersion(devToken, appId, "1.2.0", "work in progress");
await admin("PUT", `/v1/mini-programs/${appId}/trial`, {
  token: devToken,
  json: { pagePath: "pages/index/index?from=trial", testers: [DEMO_TESTER] },
});
const hostAppKey = readHostAppKey();
if (!hostAppKey?.kid)
  throw new Error("no .graycast/host-app-key.json: run npm start (it registers the demo host app's key)");
/** A trial check by GET; `user` goes in the x-graycast-user header (never the URL). */
/** @param {Record<string, string>} user */
async function trialCheck(user) {
  const facts = {
    appId,
    hostAppId: DEMO_HOST_APP.id,
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
    trial: "true",
  };
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${EDGE_URL}/v1/check?${new URLSearchParams(facts)}`, {
      headers: { "x-graycast-user": new URLSearchParams(user).toString() },
    });
    const answer = /** @type {import("../core/contracts/check").CheckResponse} */ (await res.json());
    const { payload } = await jwtVerify(answer.manifest, jwks, {
      issuer: "graycast",
      audience: DEMO_HOST_APP.id,
      subject: appId,
    });
    // The trial configuration reaches the edge within the snapshot TTL.
    if (payload.reason === "trial" || attempt > 40 || !("assertion" in user))
      return { payload, assertion: res.headers.get("x-graycast-assertion") };
    await new Promise((r) => setTimeout(r, 250));
  }
}
await new Promise((r) => setTimeout(r, 2_500));
const claimed = await trialCheck({ account: DEMO_TESTER });
show(`account=${DEMO_TESTER}&trial=true, no assertion`, pick(claimed.payload));
const assertion = mintUserAssertion(hostAppKey, { sub: DEMO_TESTER });
show(
  "assertion minted by the host app's server (node:crypto, key in .graycast/host-app-key.json)",
  `${assertion.slice(0, 40)}…`,
);
const vouched = await trialCheck({ assertion });
show(`trial=true with the assertion (x-graycast-assertion: ${vouched.assertion})`, {
  ...pick(vouched.payload),
  pagePath: vouched.payload.pagePath,
});
if (claimed.payload.reason === "trial" || vouched.payload.reason !== "trial")
  throw new Error("the trial version must need a verified tester");
console.log("\nDone.");
