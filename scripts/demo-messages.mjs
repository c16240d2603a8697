#!/usr/bin/env node
// `npm run demo:messages`: subscription messages (PRODUCT.md T1-T5; issue 14; docs/messages.md)
// against `npm start` (run that first): the developer picks a public template and its keywords
// (My Template, with the preview; the same keyword set again is refused), the host app's manager
// points the push webhook at a receiver this script runs, a user logs in through the edge and
// subscribes to the long-term template, the mini program's server sends 5 messages with its access
// token, they are in the user's inbox (newest first) and pushed signed to the receiver, and a sixth
// the same day is refused with 40038.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { admin, call, login } from "./lib/api.mjs";
import { demoLogin, makeBoundMiniProgram } from "./lib/demo-login.mjs";
import {
  ADMIN_URL,
  DEMO_HOST_APP,
  demoUser,
  EDGE_URL,
  mintUserAssertion,
  readHostAppKey,
} from "./lib/local.mjs";

/** @param {number} n @param {string} text */
const step = (n, text) => console.log(`\n== ${n}. ${text}`);
/** @param {string} label @param {unknown} value */
const show = (label, value) =>
  console.log(`   ${label}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The host app's push receiver: verifies each push with the docs/messages.md recipe.
 * @param {() => string} secret
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
      const fresh = Math.abs(Date.now() / 1000 - Number(ts)) < 300;
      const verified = fresh && given.length === want.length && timingSafeEqual(given, want);
      got.push({ verified, body: JSON.parse(body) });
      res.writeHead(verified ? 204 : 401).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = /** @type {import("node:net").AddressInfo} */ (server.address());
      resolve({
        url: `http://127.0.0.1:${address.port}/graycast/messages`,
        got,
        close: () => server.close(),
      });
    }),
  );
}

/**
 * An edge call as the host app's signed-in user (retried while the edge has not seen the binding yet).
 * @param {string} method @param {string} path @param {string} assertion @param {unknown} [json]
 * @returns {Promise<any>}
 */
async function asUser(method, path, assertion, json) {
  const started = Date.now();
  for (;;) {
    const res = await fetch(`${EDGE_URL}${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        "x-graycast-user": new URLSearchParams({ assertion }).toString(),
      },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    const data = await res.json();
    if (res.status === 200) return data;
    if (![403, 404].includes(res.status) || Date.now() - started > 15_000)
      throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(data)}`);
    await sleep(250);
  }
}

export async function main() {
  const dev = demoUser((u) => u.team === "developer");
  const manager = demoUser((u) => u.hostApp === "manager");
  const devToken = await login(dev.email, dev.password);
  const managerToken = await login(manager.email, manager.password);
  const hostAppKey = readHostAppKey();
  if (!hostAppKey?.kid) throw new Error("no .graycast/host-app-key.json: run npm start first");

  step(1, "a mini program of the demo team, bound to the demo host app");
  const appId = await makeBoundMiniProgram();
  show("App ID", appId);

  step(2, "the public template library: search by name, filter by type");
  const found = await admin("GET", "/v1/message-library?q=flight&type=long-term", { token: devToken });
  const flight = found.templates[0];
  show(
    `"flight", long-term: ${found.total} template(s)`,
    `${flight.id} ${flight.title} (${flight.category})`,
  );
  for (const k of flight.keywords) show(`   keyword ${k.key}`, `${k.name} (${k.type}), e.g. ${k.example}`);

  step(3, "My Template: 3 keywords in the chosen order, with the preview the user sees");
  const keywords = ["character_string1", "phrase2", "time3"];
  const mine = await admin("POST", `/v1/mini-programs/${appId}/message-templates`, {
    token: devToken,
    json: { publicTemplateId: flight.id, keywords },
  });
  show("templateId", mine.templateId);
  console.log(mine.preview.replace(/^/gm, "     | "));
  const again = await call(ADMIN_URL, "POST", `/v1/mini-programs/${appId}/message-templates`, {
    token: devToken,
    json: { publicTemplateId: flight.id, keywords: [...keywords].reverse() },
  });
  show(`the same keywords again, in another order -> HTTP ${again.status}`, again.data.error.message);

  step(4, "the host app's manager points the push webhook at a receiver (secret shown once)");
  let secret = "";
  const receiver = /** @type {{ url: string; got: { verified: boolean; body: any }[]; close(): void }} */ (
    await startReceiver(() => secret)
  );
  const hook = await admin("PUT", `/v1/host-apps/${DEMO_HOST_APP.id}/message-webhook`, {
    token: managerToken,
    json: { url: receiver.url, rotateSecret: true },
  });
  secret = hook.secret;
  show("webhook", { url: hook.url, secret: `${secret.slice(0, 10)}… (shown once)` });

  try {
    step(5, "a user logs in (edge code -> jscode2session); the server gets an access token");
    const account = `msg-user-${Date.now().toString(36)}`;
    const session = await demoLogin({ appId, account });
    const tokenQuery = new URLSearchParams({
      grant_type: "client_credential",
      appid: appId,
      secret: session.secret,
    });
    const { data: tok } = await call(ADMIN_URL, "GET", `/cgi-bin/token?${tokenQuery}`);
    const accessToken = tok.access_token;

    step(
      6,
      "the user taps and accepts the long-term template in the host app's pop-up (POST /v1/messages/subscribe)",
    );
    const assertion = mintUserAssertion(hostAppKey, { sub: account });
    const sub = await asUser("POST", "/v1/messages/subscribe", assertion, {
      appId,
      hostAppId: DEMO_HOST_APP.id,
      choices: [{ templateId: mine.templateId, decision: "accept" }],
    });
    show("requestSubscribeMessage result", sub);

    step(7, "the mini program's server sends 5 flight updates (POST /cgi-bin/message/subscribe/send)");
    const send = (/** @type {string} */ status, /** @type {string} */ time) =>
      call(ADMIN_URL, "POST", `/cgi-bin/message/subscribe/send?access_token=${accessToken}`, {
        json: {
          touser: session.openid,
          template_id: mine.templateId,
          page: "pages/flight/index?id=CX889",
          data: { character_string1: { value: "CX889" }, phrase2: { value: status }, time3: { value: time } },
        },
      });
    const updates = [
      ["Late", "2026-12-05 21:40"],
      ["Late", "2026-12-05 22:10"],
      ["Ready", "2026-12-05 22:10"],
      ["Board", "2026-12-05 22:10"],
      ["Gone", "2026-12-05 22:25"],
    ];
    for (const [status, time] of updates) {
      const r = await send(status ?? "", time ?? "");
      show(`${status} ${time} -> HTTP ${r.status}`, r.data);
      if (r.data.errcode !== 0) throw new Error("a send within the quota must succeed");
    }
    const bad = await send("Delayed", "22:10");
    show(
      "a value breaking its keyword's type (phrase: at most 5 characters)",
      `HTTP ${bad.status} ${JSON.stringify(bad.data)}`,
    );

    step(8, "delivered: the user's inbox through the edge, newest first");
    const inbox = await asUser(
      "GET",
      `/v1/messages/inbox?appId=${appId}&hostAppId=${DEMO_HOST_APP.id}&limit=10`,
      assertion,
    );
    for (const m of inbox.messages)
      show(m.id, `${m.title}: ${m.lines.map((/** @type {any} */ l) => `${l.name} ${l.value}`).join(", ")}`);
    const read = await asUser("POST", "/v1/messages/inbox/read", assertion, {
      appId,
      hostAppId: DEMO_HOST_APP.id,
      ids: [inbox.messages[0].id],
    });
    show("marked read", read);
    const deadline = Date.now() + 20_000;
    while (receiver.got.length < updates.length && Date.now() < deadline) await sleep(250);
    show(
      "pushed to the host app's webhook (the builder Worker consumes the queue)",
      `${receiver.got.length} received, ${receiver.got.filter((g) => g.verified).length} with a valid signature`,
    );

    step(9, "a sixth long-term message the same day (China Standard Time) is refused");
    const sixth = await send("Gone", "2026-12-05 22:30");
    show(`HTTP ${sixth.status} (Retry-After ${sixth.headers.get("retry-after")} s)`, sixth.data);
    if (sixth.data.errcode !== 40038)
      throw new Error("the sixth long-term message of the day must be refused");
  } finally {
    // The demo's receiver goes away with this script: so does the webhook.
    await call(ADMIN_URL, "DELETE", `/v1/host-apps/${DEMO_HOST_APP.id}/message-webhook`, {
      token: managerToken,
    });
    receiver.close();
  }
  console.log("\nsubscription message demo done");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();
