#!/usr/bin/env node
// Login and the server API (PRODUCT.md X5, X6; docs/server-api.md) against `npm start`'s stack:
// the team admin generates an AppSecret (or resets the one that exists), the host app's server
// mints a user assertion, the client gets a one-time code from the edge (POST /v1/login), and the
// mini program's server exchanges it with GET /sns/jscode2session; a second exchange is refused.
//
// `demoLogin({ appId })` is what scripts/demo-devmgmt.mjs calls for its mini program; run alone
// (`node scripts/lib/demo-login.mjs`) it makes a mini program bound to the demo host app first.
import { pathToFileURL } from "node:url";
import { admin, call, login } from "./api.mjs";
import {
  ADMIN_URL,
  DEMO_HOST_APP,
  DEMO_TEAM,
  demoUser,
  EDGE_URL,
  mintUserAssertion,
  readHostAppKey,
} from "./local.mjs";

/** @param {string} label @param {unknown} value */
const show = (label, value) =>
  console.log(`   ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);

/** A mini program of the demo team bound (approved) to the demo host app; returns its App ID. */
export async function makeBoundMiniProgram() {
  const dev = demoUser((u) => u.team === "developer");
  const manager = demoUser((u) => u.hostApp === "manager");
  const devToken = await login(dev.email, dev.password);
  const managerToken = await login(manager.email, manager.password);
  const mp = await admin("POST", "/v1/mini-programs", {
    token: devToken,
    json: { teamId: DEMO_TEAM.id, name: `Login demo ${new Date().toISOString().slice(11, 19)}` },
  });
  await admin("POST", `/v1/mini-programs/${mp.appId}/bindings`, {
    token: devToken,
    json: { hostAppId: DEMO_HOST_APP.id },
  });
  await admin("POST", `/v1/host-apps/${DEMO_HOST_APP.id}/bindings/${mp.appId}/approve`, {
    token: managerToken,
  });
  return mp.appId;
}

/**
 * POST /v1/login, retried while the edge has not yet seen the binding (snapshot TTL, 2 s).
 * @param {string} appId
 * @param {string} assertion
 * @returns {Promise<{ code: string; expiresIn: number; assertion: string | null }>}
 */
async function loginCode(appId, assertion) {
  const started = Date.now();
  for (;;) {
    const res = await fetch(`${EDGE_URL}/v1/login`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-graycast-user": new URLSearchParams({ assertion }).toString(),
      },
      body: JSON.stringify({ appId, hostAppId: DEMO_HOST_APP.id }),
    });
    const body = /** @type {{ code: string; expiresIn: number }} */ (await res.json());
    if (res.status === 200) return { ...body, assertion: res.headers.get("x-graycast-assertion") };
    if (![403, 404].includes(res.status) || Date.now() - started > 15_000)
      throw new Error(`POST /v1/login -> ${res.status} ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The whole login against the local stack, printing each step; returns what a mini program's
 * server ends up with. `account` is the host app's user; `adminToken` a team admin's session
 * (the demo team admin's when omitted).
 * @param {{ appId: string; account?: string; adminToken?: string }} options
 */
export async function demoLogin({ appId, account = "user-4711", adminToken }) {
  if (!appId) throw new Error("demoLogin needs the appId of a mini program bound to the demo host app");
  const hostAppKey = readHostAppKey();
  if (!hostAppKey?.kid)
    throw new Error("no .graycast/host-app-key.json: run npm start (it registers the demo host app's key)");
  const teamAdmin = demoUser((u) => u.team === "admin");
  const token = adminToken ?? (await login(teamAdmin.email, teamAdmin.password));

  // X5: the team admin's AppSecret, shown once (reset when this mini program already has one).
  const status = await admin("GET", `/v1/mini-programs/${appId}/secret`, { token });
  const made = await admin(
    "POST",
    `/v1/mini-programs/${appId}/secret/${status.exists ? "reset" : "generate"}`,
    {
      token,
    },
  );
  show(`AppSecret ${status.exists ? "reset" : "generated"} by the team admin (shown once)`, {
    secret: `${made.secret.slice(0, 8)}… (32 hex characters)`,
    hint: made.hint,
    generation: made.generation,
  });

  // The host app's server vouches for its signed-in user (docs/trust.md).
  const assertion = mintUserAssertion(hostAppKey, { sub: account });
  show(`user assertion for ${account}, minted by the host app's server`, `${assertion.slice(0, 40)}…`);

  // X6: the client asks the edge for a one-time code (client.login() in the reference client).
  const code = await loginCode(appId, assertion);
  show(`POST ${EDGE_URL}/v1/login (x-graycast-assertion: ${code.assertion})`, {
    code: `${code.code.slice(0, 24)}…`,
    expiresIn: code.expiresIn,
  });

  // The mini program's server exchanges it, WeChat-style.
  const query = new URLSearchParams({
    appid: appId,
    secret: made.secret,
    js_code: code.code,
    grant_type: "authorization_code",
  });
  const session = await call(ADMIN_URL, "GET", `/sns/jscode2session?${query}`);
  if (session.status !== 200)
    throw new Error(`jscode2session -> ${session.status} ${JSON.stringify(session.data)}`);
  show("GET /sns/jscode2session", { ...session.data, session_key: "(16 random bytes, base64)" });
  const again = await call(ADMIN_URL, "GET", `/sns/jscode2session?${query}`);
  show(`the same code again -> HTTP ${again.status}`, again.data);
  if (again.data?.errcode !== 40163) throw new Error("a login code must work once");

  const tokenQuery = new URLSearchParams({
    grant_type: "client_credential",
    appid: appId,
    secret: made.secret,
  });
  const accessToken = await call(ADMIN_URL, "GET", `/cgi-bin/token?${tokenQuery}`);
  if (accessToken.status !== 200)
    throw new Error(`cgi-bin/token -> ${accessToken.status} ${JSON.stringify(accessToken.data)}`);
  show("GET /cgi-bin/token", {
    access_token: `${accessToken.data.access_token.slice(0, 12)}…`,
    expires_in: accessToken.data.expires_in,
  });
  return { appId, openid: session.data.openid, unionid: session.data.unionid, secret: made.secret };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log("\n== login and the server API (docs/server-api.md)");
  const appId = await makeBoundMiniProgram();
  show("mini program bound to the demo host app", appId);
  await demoLogin({ appId });
  console.log("\nDone.");
}
