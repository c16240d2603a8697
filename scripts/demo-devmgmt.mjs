#!/usr/bin/env node
// `npm run demo:devmgmt`: development management and the signed runtime config (issue 12) against
// `npm start` (run that first): server domains with the console's rules, a business domain
// verified by proof, a sensitive API declared, applied for and approved, a skip-domain
// application rejected, switches, a privacy agreement published from the template, then the
// runtime config a client receives from the edge, verified against the edge's JWKS.
//
// Two steps belong to the key-management work (X5 / X6) and are placeholders here: `steps.appSecret`
// (generate an AppSecret) and `steps.login` (log a user in via jscode2session). Both are exported,
// so they can be wired in without touching the rest:
//   import { steps, main } from "./demo-devmgmt.mjs"; steps.appSecret = async (ctx) => {...}; await main();
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { admin, call, login } from "./lib/api.mjs";
import { ADMIN_URL, DEMO_HOST_APP, DEMO_TEAM, DEMO_USERS, EDGE_URL } from "./lib/local.mjs";

const step = (n, text) => console.log(`\n== ${n}. ${text}`);
const show = (label, value) =>
  console.log(`   ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The edge revalidates its snapshot every 2 s. */
const SNAPSHOT_TTL_MS = 2_500;

/** The same rule as core/runtime-config.ts `isRequestAllowed` (the reference client uses that one). */
function isRequestAllowed(config, url, kind) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== (kind === "socket" ? "wss:" : "https:")) return false;
  if (config.skipDomainCheck) return true;
  const host = u.hostname.toLowerCase();
  return (config.domains[kind] ?? []).includes(u.port && u.port !== "443" ? `${host}:${u.port}` : host);
}

/**
 * Steps other work plugs in. Each gets the demo's context ({ appId, tokens, show }) and may add
 * to it; the defaults only say what will happen there.
 */
export const steps = {
  /** X5: the team admin generates the AppSecret (shown once). PLACEHOLDER, wired by the key-management work. */
  async appSecret(ctx) {
    ctx.show("placeholder", "generate an AppSecret (team admin; shown once) -- wired by the X5 work");
  },
  /** X6: a user logs in (one-time code from the edge, then GET /sns/jscode2session). PLACEHOLDER, wired by the X6 work. */
  async login(ctx) {
    ctx.show("placeholder", "log a user in via jscode2session -- wired by the X6 work");
  },
};

export async function main() {
  const tokens = {};
  for (const u of DEMO_USERS) tokens[u.team ?? u.hostApp ?? "platform"] = await login(u.email, u.password);
  const dev = tokens.developer;
  const ctx = { tokens, show, appId: "" };

  step(1, "a mini program bound to the demo host app");
  const mp = await admin("POST", "/v1/mini-programs", {
    token: dev,
    json: { teamId: DEMO_TEAM.id, name: "Dev management walkthrough" },
  });
  const appId = mp.appId;
  ctx.appId = appId;
  await admin("POST", `/v1/mini-programs/${appId}/bindings`, {
    token: dev,
    json: { hostAppId: DEMO_HOST_APP.id },
  });
  await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${appId}/approve`, {
    token: tokens.manager,
  });
  show("App ID", appId);

  step(2, "server domains: https:// for request / uploadFile / downloadFile, wss:// for socket");
  const base = `/v1/mini-programs/${appId}`;
  for (const [kind, domain] of [
    ["request", "https://api.example.com"],
    ["uploadFile", "https://upload.example.com"],
    ["downloadFile", "https://cdn.example.com"],
    ["socket", "wss://live.example.com"],
  ]) {
    const d = await admin("POST", `${base}/domains/${kind}`, { token: dev, json: { domain } });
    show(kind, d.url);
  }
  for (const [kind, domain] of [
    ["request", "http://api.example.com"],
    ["request", "https://10.0.0.8"],
    ["request", "https://localhost"],
    ["request", "https://*.example.com"],
    ["request", "https://api.example.com/v1"],
    ["request", "https://API.example.com"],
  ]) {
    const r = await call(ADMIN_URL, "POST", `${base}/domains/${kind}`, { token: dev, json: { domain } });
    show(`refused ${domain}`, `${r.status} ${r.data.error.issues?.[0]?.message ?? r.data.error.message}`);
  }

  step(3, "a business (web-view) domain: the team serves the token, then verifies");
  const biz = await admin("POST", `${base}/domains/business`, {
    token: dev,
    json: { domain: "https://m.example.com" },
  });
  show("serve this token", `${biz.verification.token} at ${biz.verification.fileUrl}`);
  const wrong = await call(ADMIN_URL, "POST", `${base}/domains/business/${biz.id}/verify`, {
    token: dev,
    json: { proof: "not-the-token" },
  });
  show("a wrong proof", `${wrong.status} ${wrong.data.error.message}`);
  const verified = await admin("POST", `${base}/domains/business/${biz.id}/verify`, {
    token: dev,
    json: { proof: biz.verification.token },
  });
  show("verified", `${verified.verification.state} by ${verified.method} (local runs: the caller's proof)`);

  step(4, "sensitive API: the host app declares it, the developer applies, the auditor approves");
  const declared = await call(ADMIN_URL, "POST", `/v1/host-apps/${DEMO_HOST_APP.id}/sensitive-apis`, {
    token: tokens.manager,
    json: { name: "getLocation", description: "The user's precise location" },
  });
  show(
    "declared getLocation",
    declared.status === 409 ? "already declared (an earlier run)" : declared.status,
  );
  const application = await admin("POST", `${base}/api-applications`, {
    token: dev,
    json: { hostAppId: DEMO_HOST_APP.id, apiName: "getLocation", reason: "Find the nearest store" },
  });
  show("application", { status: application.status, appliedBy: application.appliedBy });
  const approved = await admin(
    "POST",
    `/v1/host-apps/${DEMO_HOST_APP.id}/api-applications/${application.id}/approve`,
    { token: tokens.auditor, json: { reason: "needed for the store finder" } },
  );
  show("decision", {
    status: approved.status,
    decidedBy: approved.decidedBy,
    reason: approved.decisionReason,
  });

  step(5, "skip domain verification: applied for, rejected by the host app's manager with a reason");
  const skip = await admin("POST", `${base}/skip-domain-applications`, {
    token: dev,
    json: { hostAppId: DEMO_HOST_APP.id, reason: "our hosts change often" },
  });
  const rejected = await admin(
    "POST",
    `/v1/host-apps/${DEMO_HOST_APP.id}/skip-domain-applications/${skip.id}/reject`,
    { token: tokens.manager, json: { reason: "list your domains instead" } },
  );
  show("skip-domain", { status: rejected.status, reason: rejected.decisionReason });

  step(6, "switches: typed values");
  await admin("PUT", `${base}/switches/banner`, {
    token: dev,
    json: { type: "string", value: "Winter sale" },
  });
  await admin("PUT", `${base}/switches/newCheckout`, { token: dev, json: { type: "boolean", value: false } });
  await admin("PUT", `${base}/switches/limits`, { token: dev, json: { type: "json", value: { cart: 50 } } });
  const bad = await call(ADMIN_URL, "PUT", `${base}/switches/newCheckout`, {
    token: dev,
    json: { type: "number", value: 1 },
  });
  show("changing a key's type", `${bad.status} ${bad.data.error.message}`);

  step(7, "privacy agreement: fill in the template, preview, publish version 1");
  await admin("PUT", `${base}/privacy/draft`, {
    token: dev,
    json: {
      fields: {
        developerName: "Acme Ltd.",
        contact: "privacy@acme.example",
        dataCollected: ["Nickname and avatar", "Approximate location"],
        purposes: ["Show nearby stores"],
        thirdParties: ["Maps provider"],
        retention: "Until you delete your account, at most 2 years",
      },
    },
  });
  const preview = await admin("POST", `${base}/privacy/preview`, { token: dev, json: {} });
  show("preview (first line)", preview.text.split("\n")[0]);
  const v1 = await admin("POST", `${base}/privacy/publish`, { token: dev });
  show("published", { version: v1.version, sha256: v1.sha256 });

  step(8, "AppSecret (X5)");
  await steps.appSecret(ctx);
  step(9, "login via jscode2session (X6)");
  await steps.login(ctx);

  step(10, "the runtime config a client receives: GET /v1/config, a JWS verified against the edge's JWKS");
  await sleep(SNAPSHOT_TTL_MS);
  const res = await fetch(`${EDGE_URL}/v1/config?appId=${appId}&hostAppId=${DEMO_HOST_APP.id}`);
  const body = await res.json();
  if (res.status !== 200) throw new Error(`config -> ${res.status} ${JSON.stringify(body)}`);
  const jwks = createRemoteJWKSet(new URL(`${EDGE_URL}/.well-known/jwks.json`));
  const { payload, protectedHeader } = await jwtVerify(body.config, jwks, {
    issuer: "graycast",
    typ: "graycast-config+jwt",
    subject: appId,
    audience: DEMO_HOST_APP.id,
    algorithms: ["EdDSA"],
  });
  show("header", protectedHeader);
  console.log(JSON.stringify(payload, null, 2).replace(/^/gm, "   "));
  for (const [url, kind] of [
    ["https://api.example.com/items", "request"],
    ["https://tracker.example.net/pixel", "request"],
    ["wss://live.example.com/room", "socket"],
  ])
    show(`isRequestAllowed(${url}, ${kind})`, String(isRequestAllowed(payload, url, kind)));
  show("isApiAllowed(getLocation)", String(payload.apis.includes("getLocation")));
  const text = await (await fetch(payload.privacy.url)).text();
  const digest = createHash("sha256").update(text).digest("hex");
  show(
    "privacy text",
    `${payload.privacy.url} (${text.length} chars, sha256 ${digest === payload.privacy.sha256 ? "matches" : "DIFFERS"})`,
  );
  show("a user who accepted nothing must accept version", payload.privacy.version);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
