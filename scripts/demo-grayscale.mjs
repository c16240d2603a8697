#!/usr/bin/env node
// `npm run demo:grayscale`: walks a grayscale task from creation to its end against `npm start`
// (run that first): targeting, a GUID whitelist, an exact user cap, sticky admission with
// tickets, explain, progress, suspend, end-and-revert, and a release that ends a task.
import { createRemoteJWKSet, jwtVerify } from "jose";
import { admin, call, login, uploadVersion } from "./lib/api.mjs";
import { ADMIN_URL, DEMO_HOST_APP, DEMO_TEAM, demoUser, EDGE_URL } from "./lib/local.mjs";

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
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SNAPSHOT_TTL_MS = 2_500; // the edge revalidates its snapshot every 2 s

const dev = demoUser((u) => u.team === "developer");
const auditor = demoUser((u) => u.hostApp === "auditor");
const manager = demoUser((u) => u.hostApp === "manager");
/** @type {Map<string, string[]>} what each device keeps between checks */
const tickets = new Map();

/**
 * One client check from a device in Shenzhen on Wi-Fi, verified as a client would.
 * @param {string} guid
 * @param {string} [installedVersion]
 * @param {Record<string, string | boolean>} [extra] more client facts
 */
async function check(guid, installedVersion, extra = {}) {
  const body = {
    appId,
    hostAppId: DEMO_HOST_APP.id,
    hostAppVersion: "8.2.0",
    platform: "android",
    osVersion: "14",
    guid,
    network: "wifi",
    ...(installedVersion ? { installedVersion } : {}),
    ...extra,
  };
  // The query form of the check: each stored admission ticket as its own `ticket` parameter.
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(body)) query.set(k, String(v));
  for (const ticket of tickets.get(guid) ?? []) query.append("ticket", ticket);
  const r = await fetch(`${EDGE_URL}/v1/check?${query}`, {
    headers: { "x-graycast-geo": "country=CN;region=GD;city=Shenzhen" },
  });
  const data = /** @type {import("../core/contracts/check").CheckResponse} */ (await r.json());
  if (r.status !== 200) throw new Error(`check -> ${r.status} ${JSON.stringify(data)}`);
  if (data.tickets?.length) tickets.set(guid, data.tickets);
  const { payload } = await jwtVerify(data.manifest, jwks, {
    issuer: "graycast",
    audience: DEMO_HOST_APP.id,
    subject: appId,
  });
  return payload;
}
/** @param {import("jose").JWTPayload} p the signed manifest's claims */
const brief = (p) =>
  `${p.version ?? "-"} (${p.reason}${p.rollback && p.reason !== "rollback" ? ", rollback" : ""})`;

step(1, "a mini program with 1.0.0 online and 1.1.0 approved");
const devToken = await login(dev.email, dev.password);
const managerToken = await login(manager.email, manager.password);
const auditorToken = await login(auditor.email, auditor.password);
const mp = await admin("POST", "/v1/mini-programs", {
  token: devToken,
  json: { teamId: DEMO_TEAM.id, name: "Grayscale walkthrough" },
});
const appId = mp.appId;
await admin("POST", `/v1/mini-programs/${appId}/bindings`, {
  token: devToken,
  json: { hostAppId: DEMO_HOST_APP.id },
});
await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: managerToken });
for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
  await uploadVersion(devToken, appId, version);
  const audit = await admin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
    token: devToken,
    json: {},
  });
  await admin("POST", `/v1/audits/${audit.auditId}/decision`, {
    token: auditorToken,
    json: { hostAppId: DEMO_HOST_APP.id, decision: "approve" },
  });
  if (version === "1.0.0")
    await admin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: devToken });
}
show("App ID", appId);

step(
  2,
  "create a grayscale task for 1.1.0, starting in 8 s: SuperApp >= 8.0, Android 12+, Wi-Fi, China, a GUID whitelist, at most 3 users",
);
const now = Date.now();
const startAt = now + 8_000;
const task = await admin("POST", `/v1/mini-programs/${appId}/grayscale-tasks`, {
  token: devToken,
  json: {
    version: "1.1.0",
    name: "Shenzhen Wi-Fi beta",
    startAt,
    endAt: now + 3_600_000,
    userCap: 3,
    hostApps: [{ hostAppId: DEMO_HOST_APP.id, minVersion: "8.0" }],
    platforms: [{ platform: "android", minOsVersion: "12" }],
    networks: ["wifi"],
    countries: { include: ["CN"] },
  },
});
show("task", { id: task.id, state: task.state, userCap: task.userCap });
const refused = await call(ADMIN_URL, "POST", `/v1/mini-programs/${appId}/grayscale-tasks`, {
  token: devToken,
  json: {
    version: "1.1.0",
    name: "a name that is far too long",
    startAt: now,
    endAt: now + 60_000,
    hostApps: [{ hostAppId: DEMO_HOST_APP.id }],
    platforms: [{ platform: "ios" }],
  },
});
show("a 27-character name is refused", `${refused.status} ${refused.data.error.message}`);

step(3, "while it is pending, upload a txt whitelist of GUIDs (one per line; duplicates collapse)");
const lines = ["device-001", "device-002", "device-003", "device-004", "device-005", "device-002", ""].join(
  "\n",
);
const wl = await admin("PUT", `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/whitelists/guid`, {
  token: devToken,
  body: lines,
  contentType: "text/plain",
});
show("whitelist", wl);
show("before the start, device-001 gets", brief(await check("device-001")));
await sleep(Math.max(0, startAt - Date.now()) + SNAPSHOT_TTL_MS);

step(4, "clients check: whitelisted devices are admitted until the cap of 3; others get the online version");
for (const guid of ["device-001", "device-002", "device-003", "device-004", "stranger-9"])
  show(guid, brief(await check(guid)));

step(5, "admitted devices keep 1.1.0 on later checks (sticky, via their signed admission tickets)");
show("device-001 again", brief(await check("device-001", "1.1.0")));
show("device-004 again", brief(await check("device-004")));

step(6, "explain: why device-004 does not get 1.1.0 (nobody is admitted by asking)");
const why = await admin("POST", `/v1/mini-programs/${appId}/explain`, {
  token: devToken,
  json: {
    client: {
      hostAppId: DEMO_HOST_APP.id,
      hostAppVersion: "8.2.0",
      platform: "android",
      osVersion: "14",
      guid: "device-004",
      network: "wifi",
    },
    geo: { country: "CN", region: "GD", city: "Shenzhen" },
  },
});
show("decision", why.decision);
for (const t of why.tasks ?? [])
  show(`task ${t.taskId}`, {
    outcome: t.outcome,
    counter: t.counter,
    failing: t.conditions
      .filter((/** @type {{ pass: boolean }} */ c) => !c.pass)
      .map((/** @type {{ condition: string }} */ c) => c.condition),
  });

step(7, "progress: admitted users against the cap, by host app and platform");
show(
  "progress",
  await admin("GET", `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/progress`, { token: devToken }),
);

step(8, "suspend: no new users; admitted users keep the version");
show(
  "state",
  (await admin("POST", `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/suspend`, { token: devToken }))
    .state,
);
await sleep(SNAPSHOT_TTL_MS);
show("device-001", brief(await check("device-001", "1.1.0")));
show("device-005 (whitelisted, new)", brief(await check("device-005")));

step(9, "end and revert: everyone goes back to the online version, with a signed rollback");
const ended = await admin("POST", `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}/end-and-revert`, {
  token: devToken,
});
show("state", `${ended.state} (${ended.endReason})`);
await sleep(SNAPSHOT_TTL_MS);
show("device-001", brief(await check("device-001", "1.1.0")));

step(10, "a second task for 1.2.0 (everyone on Android), then publishing 1.2.0 ends it");
const second = await admin("POST", `/v1/mini-programs/${appId}/grayscale-tasks`, {
  token: devToken,
  json: {
    version: "1.2.0",
    name: "Android 1.2.0",
    startAt: Date.now(),
    endAt: Date.now() + 3_600_000,
    hostApps: [{ hostAppId: DEMO_HOST_APP.id }],
    platforms: [{ platform: "android" }],
  },
});
await sleep(SNAPSHOT_TTL_MS);
show("device-042", brief(await check("device-042", "1.0.0")));
await admin("POST", `/v1/mini-programs/${appId}/versions/1.2.0/publish`, { token: devToken });
const after = await admin("GET", `/v1/mini-programs/${appId}/grayscale-tasks/${second.id}`, {
  token: devToken,
});
show("task after the release", `${after.state} (${after.endReason})`);
await sleep(SNAPSHOT_TTL_MS);
show("device-042", brief(await check("device-042", "1.2.0")));
const list = await admin("GET", `/v1/mini-programs/${appId}/grayscale-tasks`, { token: devToken });
show(
  "tasks, newest first",
  list.tasks.map(
    (/** @type {{ name: string, state: string, endReason: string | null }} */ t) =>
      `${t.name}: ${t.state}/${t.endReason}`,
  ),
);
console.log("\nDone.");
