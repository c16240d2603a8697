#!/usr/bin/env node
// `npm run demo:health`: a grayscale task that suspends itself (PRODUCT.md G7, issue 15), against
// `npm start` (run that first). A task for 1.1.0 carries health guardrails; healthy logs of the
// online version (1.0.0) and failing logs of the gray one go to the edge's POST /v1/logs like a
// client's logger sends them; the log consumer counts them in the task's counter object and the
// error-rate guardrail trips: the task is suspended (cause guardrail) with the figures, new users
// get 1.0.0 at once, and the team's notification webhook (a receiver this script runs) gets a
// signed `grayscale.guardrail_tripped` event. Then a resume by hand, whose window starts afresh.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { admin, login, uploadVersion } from "./lib/api.mjs";
import { DEMO_HOST_APP, DEMO_TEAM, demoUser, EDGE_URL } from "./lib/local.mjs";

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
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dev = demoUser((u) => u.team === "developer");
const lead = demoUser((u) => u.team === "admin");
const auditor = demoUser((u) => u.hostApp === "auditor");
const manager = demoUser((u) => u.hostApp === "manager");

/**
 * One session's log batch (core/contracts/logs.ts LogBatch): a page view, then `errors` error
 * entries of which the first `crashes` are crash reports.
 * @param {string} version
 * @param {string} guid
 * @param {number} errors
 * @param {number} [crashes]
 */
function logBatch(version, guid, errors, crashes = 0) {
  const time = Date.now();
  return {
    appId,
    hostAppId: DEMO_HOST_APP.id,
    hostAppVersion: "8.2.0",
    platform: "android",
    osVersion: "14",
    guid,
    clientVersion: version,
    baseLibraryVersion: "2.30.0",
    entries: [
      { time, level: "info", message: "order page shown", page: "pages/order/detail" },
      ...Array.from({ length: errors }, (_, i) => ({
        time: time + 1 + i,
        level: "error",
        message: "TypeError: Cannot read properties of undefined (reading 'price')",
        page: "pages/order/detail",
        filterMsg: ["checkout"],
        ...(i < crashes ? { crash: true } : {}),
      })),
    ],
  };
}

/**
 * Sends a batch to the edge as a client's logger does; waits out a 429 (Retry-After).
 * @param {ReturnType<typeof logBatch>} batch
 */
async function sendLogs(batch) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await fetch(`${EDGE_URL}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (r.status === 429) {
      await sleep(Number(r.headers.get("retry-after") ?? "1") * 1000);
      continue;
    }
    if (r.status >= 300) throw new Error(`POST /v1/logs -> ${r.status} ${await r.text()}`);
    return;
  }
  throw new Error("POST /v1/logs: still rate limited after 10 tries");
}

/**
 * The team's server: verifies each event with the docs/messages.md recipe.
 * @param {() => string} secret
 * @returns {Promise<{ url: string; got: { verified: boolean; body: any }[]; close(): void }>}
 */
function startReceiver(secret) {
  /** @type {{ verified: boolean; body: any }[]} */
  const got = [];
  const server = createServer((req, res) => {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const ts = String(req.headers["x-graycast-timestamp"] ?? "");
      const given = Buffer.from(
        String(req.headers["x-graycast-signature"] ?? "").replace(/^sha256=/, ""),
        "hex",
      );
      const want = createHmac("sha256", secret()).update(`${ts}.${body}`).digest();
      const verified = given.length === want.length && timingSafeEqual(given, want);
      got.push({ verified, body: JSON.parse(body) });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({ url: `http://127.0.0.1:${address.port}/graycast/events`, got, close: () => server.close() });
    }),
  );
}

step(0, "the team admin points the team's notification webhook at a receiver (secret shown once)");
const leadToken = await login(lead.email, lead.password);
let teamSecret = "";
const receiver = await startReceiver(() => teamSecret);
const hook = await admin("PUT", `/v1/teams/${DEMO_TEAM.id}/webhook`, {
  token: leadToken,
  json: { url: receiver.url, events: ["grayscale.guardrail_tripped"], rotateSecret: true },
});
teamSecret = hook.secret;
show("webhook", { url: hook.url, events: hook.events, secret: `${teamSecret.slice(0, 10)}… (shown once)` });

step(1, "a mini program with 1.0.0 online and 1.1.0 approved");
const devToken = await login(dev.email, dev.password);
const managerToken = await login(manager.email, manager.password);
const auditorToken = await login(auditor.email, auditor.password);
const mp = await admin("POST", "/v1/mini-programs", {
  token: devToken,
  json: { teamId: DEMO_TEAM.id, name: "Health guardrails demo" },
});
const appId = mp.appId;
await admin("POST", `/v1/mini-programs/${appId}/bindings`, {
  token: devToken,
  json: { hostAppId: DEMO_HOST_APP.id },
});
await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, { token: managerToken });
for (const version of ["1.0.0", "1.1.0"]) {
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
  "a grayscale task for 1.1.0 with guardrails: error rate at most 10 points above 1.0.0's over 20+ sessions in 10 minutes; at most 5 crashes an hour",
);
const now = Date.now();
const task = await admin("POST", `/v1/mini-programs/${appId}/grayscale-tasks`, {
  token: devToken,
  json: {
    version: "1.1.0",
    name: "Checkout rewrite",
    startAt: now,
    endAt: now + 3_600_000,
    hostApps: [{ hostAppId: DEMO_HOST_APP.id }],
    platforms: [{ platform: "android" }, { platform: "ios" }],
    percentage: 50,
    guardrails: {
      errorRate: { maxPointsAboveOnline: 10, minSessions: 20 },
      crashes: { max: 5, windowMinutes: 60 },
    },
  },
});
show("task", { id: task.id, state: task.state, guardrails: task.guardrails });
const taskPath = `/v1/mini-programs/${appId}/grayscale-tasks/${task.id}`;

step(
  3,
  "clients log: 30 sessions of 1.0.0 (1 with an error), 30 sessions of 1.1.0 (18 with errors, 2 crashes)",
);
for (let i = 0; i < 30; i++) {
  await sendLogs(logBatch("1.0.0", `online-device-${i}`, i === 0 ? 1 : 0));
  await sendLogs(logBatch("1.1.0", `gray-device-${i}`, i < 18 ? 2 : 0, i < 2 ? 1 : 0));
}
show("sent", "60 batches to POST /v1/logs");

step(4, "the log consumer counts them; wait for the guardrail to suspend the task");
/** @type {any} */
let current = task;
const deadline = Date.now() + 120_000;
while (Date.now() < deadline) {
  current = await admin("GET", taskPath, { token: devToken });
  if (current.suspendCause === "guardrail") break;
  await sleep(1_000);
}
if (current.suspendCause !== "guardrail") {
  const p = await admin("GET", `${taskPath}/progress`, { token: devToken });
  show("health so far", p.health);
  throw new Error(`the task did not suspend itself in 2 minutes (state ${current.state})`);
}
show("state", `${current.state} (cause: ${current.suspendCause})`);
show("why", current.guardrailTrip.summary);
show("gray", current.guardrailTrip.gray);
show("online", current.guardrailTrip.online);

step(
  "4b",
  "the team's webhook receives grayscale.guardrail_tripped, signed (the builder Worker delivers it)",
);
const hookDeadline = Date.now() + 60_000;
while (receiver.got.length === 0 && Date.now() < hookDeadline) await sleep(250);
const event = receiver.got.find((g) => g.body.taskId === task.id);
if (!event) throw new Error("the team's webhook got no event in a minute");
show("event", { type: event.body.type, taskId: event.body.taskId, verified: event.verified });
show("trip", event.body.trip.summary);

step(5, "progress: health per 10-minute bucket for both versions, next to admitted users");
const progress = await admin("GET", `${taskPath}/progress`, { token: devToken });
show("admitted", progress.admitted ?? "(uncapped task: not counted)");
for (const b of progress.health.buckets)
  show(new Date(b.bucket).toISOString(), { gray: b.gray, online: b.online });

step(6, "a new user now gets 1.0.0 (explain: the edge's own decision, admits nobody)");
const why = await admin("POST", `/v1/mini-programs/${appId}/explain`, {
  token: devToken,
  json: {
    client: {
      hostAppId: DEMO_HOST_APP.id,
      hostAppVersion: "8.2.0",
      platform: "android",
      osVersion: "14",
      guid: "brand-new-device",
    },
  },
});
show("decision", `${why.decision.version} (${why.decision.reason})`);
show("task", why.tasks.find((/** @type {{ taskId: string }} */ t) => t.taskId === task.id)?.why);

step(7, "the change log names the guardrail");
const log = await admin("GET", `/v1/change-log?teamId=${DEMO_TEAM.id}&limit=200`, { token: devToken });
for (const e of log.entries
  .filter((/** @type {{ targetId: string }} */ e) => e.targetId === task.id)
  .reverse())
  show(e.action, { actor: e.actorId, cause: e.detail.cause ?? null, summary: e.detail.summary ?? null });

step(8, "after a fix, resume by hand: the guardrail's window starts afresh (old figures no longer count)");
const resumed = await admin("POST", `${taskPath}/resume`, { token: devToken });
show("state", `${resumed.state} (last trip kept on record: ${resumed.guardrailTrip.guardrail})`);
await sendLogs(logBatch("1.1.0", "gray-device-0", 1));
await sleep(5_000);
show("one more failing session after the resume", (await admin("GET", taskPath, { token: devToken })).state);
// The demo's receiver goes away with this script: so does the webhook.
await admin("DELETE", `/v1/teams/${DEMO_TEAM.id}/webhook`, { token: leadToken });
receiver.close();
console.log("\nDone.");
