#!/usr/bin/env node
// `npm run test:browser`: the web console in a real browser (Chromium from the system package
// manager, driven by playwright-core) against a whole local stack this runner starts itself
// (scripts/start.mjs) on its own ports, in a throwaway GRAYCAST_LOCAL_DIR (state, dev registry),
// so it never touches your own `npm start`. Each test does one page's main task end to end, as a
// person would, and asserts what the page shows; screenshots go to docs/console/. The stack is
// stopped at the end. Last line: `N passed, N failed`.
//
// Environment: CHROMIUM (default /usr/bin/chromium), CONSOLE_TEST_PORT (edge port, default 28787;
// the admin Worker gets +1, the builder +2), CONSOLE_TEST_ONLY (run the tests whose name contains it, or one of its comma-separated parts).
import { execFileSync, spawn } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const ROOT = new URL("../..", import.meta.url).pathname;
const SHOTS = join(ROOT, "docs", "console");
const EDGE_PORT = Number(process.env.CONSOLE_TEST_PORT ?? 28787);
const ADMIN = `http://127.0.0.1:${EDGE_PORT + 1}`;
const EDGE = `http://127.0.0.1:${EDGE_PORT}`;
const LOCAL_DIR = mkdtempSync(join(tmpdir(), "graycast-console-test-"));
const FILES = join(LOCAL_DIR, "files");
const WAIT = 30_000;
const started = Date.now();
const log = (msg) => console.log(`[console-test] ${msg}`);
mkdirSync(SHOTS, { recursive: true });
mkdirSync(FILES, { recursive: true });

// ---- the stack ------------------------------------------------------------------------------
// scripts/start.mjs in its own process group, so stopping the group stops every wrangler and
// workerd process it started, even when start.mjs itself has already exited.
let stack;
let stackOutput = "";
function startStack() {
  rmSync(join(LOCAL_DIR, "state"), { recursive: true, force: true });
  stackOutput = "";
  stack = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs")], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      GRAYCAST_LOCAL_DIR: LOCAL_DIR,
      EDGE_PORT: String(EDGE_PORT),
      ADMIN_PORT: String(EDGE_PORT + 1),
      BUILDER_PORT: String(EDGE_PORT + 2),
    },
  });
  stack.stdout.on("data", (d) => (stackOutput += d));
  stack.stderr.on("data", (d) => (stackOutput += d));
}
const groupAlive = () => {
  try {
    process.kill(-stack.pid, 0);
    return true;
  } catch {
    return false;
  }
};
function signalStack(signal) {
  try {
    process.kill(-stack.pid, signal);
  } catch {}
}
/** SIGTERM to the whole group (start.mjs stops its Workers on it), SIGKILL for what is left after 15 s. */
async function stopStack() {
  if (!stack) return;
  signalStack("SIGTERM");
  for (let i = 0; i < 60 && groupAlive(); i++) await new Promise((r) => setTimeout(r, 250));
  signalStack("SIGKILL");
}
process.on("exit", () => {
  if (stack) signalStack("SIGKILL");
  rmSync(LOCAL_DIR, { recursive: true, force: true });
});
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

async function waitForStack() {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if (stack.exitCode !== null)
      throw new Error(`npm start exited (${stack.exitCode}):\n${stackOutput.slice(-3000)}`);
    if (stackOutput.includes("Graycast is running.")) {
      const appId = /Demo mini program (gc[a-z2-7]+)/.exec(stackOutput)?.[1];
      if (!appId) throw new Error("no demo mini program in the start banner");
      return appId;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the stack did not start in 240 s:\n${stackOutput.slice(-3000)}`);
}

/**
 * Starts the stack and waits for its demo data. One more attempt from fresh state when the first
 * fails: npm start seeds through the API while the builder works on the same local D1 file, and a
 * seeding call that loses that race ends npm start (the runner logs it and starts over once).
 */
async function startAndWait() {
  for (let attempt = 1; ; attempt++) {
    startStack();
    try {
      return await waitForStack();
    } catch (error) {
      await stopStack();
      if (attempt === 2) throw error;
      log(`the stack did not come up (${String(error.message).split("\n")[0]}); starting it again`);
    }
  }
}

// ---- a tiny harness ---------------------------------------------------------------------------
const tests = [];
const test = (name, fn) => tests.push({ name, fn });
function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}
/** Waits until the page shows `text` (a string or RegExp) somewhere visible. */
async function see(page, text, timeout = WAIT) {
  await page.getByText(text).first().waitFor({ state: "visible", timeout });
}
async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

let browser;
const sessions = new Map();
/** A signed-in page per account (a login costs one of the account's 5 per minute: reuse it). */
async function as(email, password) {
  if (sessions.has(email)) return sessions.get(email);
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => log(`page error (${email}): ${e.message}`));
  await page.goto(`${ADMIN}/`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();
  sessions.set(email, page);
  return page;
}
const DEV = ["dev@acme.local", "developer-pass"];
const LEAD = ["lead@acme.local", "team-admin-pass"];
const MANAGER = ["manager@superapp.local", "manager-pass"];
const AUDITOR = ["auditor@superapp.local", "auditor-pass"];

/** A small real code package (zip) for `version`, written where the file chooser can pick it. */
async function packageFile(version) {
  const { demoPackage } = await import("../../scripts/lib/api.mjs");
  const path = join(FILES, `shop-${version}.zip`);
  writeFileSync(path, demoPackage(version));
  return path;
}
/** "2026-12-05T08:30:05" in the browser's zone (the runner and the browser share the machine's). */
function localInput(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
async function gotoHash(page, hash) {
  const url = `${ADMIN}/#${hash}`;
  // The same URL again is no navigation at all: reload, so the page shows fresh data.
  if (page.url() === url) await page.reload();
  else await page.goto(url);
}

// ---- state shared by the tests, in order -------------------------------------------------------
let demoAppId;
let shopAppId;
let taskUrl;

// ---- the tests ----------------------------------------------------------------------------------
test("sign in: a wrong password is refused next to the form; then the list, filtered by the team switcher", async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${ADMIN}/`);
  await see(page, "Sign in with your Graycast account.");
  await shot(page, "sign-in", false);
  await page.getByLabel("Email").fill("dev@acme.local");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").first().waitFor();
  assert((await page.getByRole("heading", { name: "Mini programs" }).count()) === 0, "not signed in");
  await context.close();

  const dev = await as(...DEV);
  await see(dev, "Demo Mall");
  await dev.getByLabel("Team").selectOption({ label: "Acme" });
  await see(dev, "Demo Mall");
  assert((await dev.getByRole("row").count()) >= 2, "the team's mini programs are listed");
  await shot(dev, "mini-programs");
});

test("mini program list: create one, see its App ID with a copy button and the IDE link, edit it, request a binding", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, "/");
  await dev.getByRole("button", { name: "Create mini program" }).click();
  // The API's own message appears next to the field it is about.
  await dev.getByLabel("Name").fill(" ");
  await dev.getByRole("button", { name: "Create", exact: true }).click();
  await dev.locator("#f-name-err").waitFor();
  await dev.getByLabel("Name").fill("Console Shop");
  await dev.getByLabel("Description").fill("Made in the browser test");
  await dev.getByRole("button", { name: "Create", exact: true }).click();
  await see(dev, "Very important: keep this ID safe.");
  shopAppId = (await dev.locator("#app-id").textContent()).trim();
  assert(/^gc[a-z2-7]{16,40}$/.test(shopAppId), `an App ID, got ${shopAppId}`);
  assert(dev.url().includes(shopAppId), "the details page is the mini program's own");
  await dev.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: ADMIN });
  await dev.getByRole("button", { name: "Copy App ID" }).click();
  await see(dev, "Copied");
  assert(
    (await dev.evaluate(() => navigator.clipboard.readText())) === shopAppId,
    "the App ID is on the clipboard",
  );
  assert(
    (await dev.getByRole("link", { name: "Download the latest IDE" }).getAttribute("href")).startsWith(
      "http",
    ),
    "IDE link",
  );
  await dev.getByRole("button", { name: "Edit" }).click();
  await dev.getByLabel("Description").fill("A shop made in the browser test");
  await dev.getByRole("button", { name: "Save" }).click();
  await see(dev, "A shop made in the browser test");
  await dev.getByRole("button", { name: "Request binding" }).click();
  await see(dev, "Binding requested");
  await see(dev, /pending/);
  await shot(dev, "details");
});

test("host app side: the manager approves the binding and sees the members", async () => {
  const manager = await as(...MANAGER);
  await gotoHash(manager, "/host-apps");
  await see(manager, "SuperApp Auditor");
  await manager.getByRole("button", { name: "Approve Console Shop" }).click();
  await manager.getByRole("button", { name: "Approve Console Shop" }).waitFor({ state: "detached" });
  const row = manager.getByRole("row").filter({ hasText: "Console Shop" });
  await row.getByText("approved").waitFor();
  await shot(manager, "host-apps");
});

test("versions: a bad archive gets a clear error; a zip uploads with a progress bar; submit for audit", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/versions`);
  await dev.getByRole("heading", { name: "Version overview" }).waitFor();
  const bad = join(FILES, "not-a-zip.zip");
  writeFileSync(bad, "this is not a zip archive");
  await dev.getByLabel("Version number").fill("1.0.0");
  await dev.getByLabel("Code package (.zip)").setInputFiles(bad);
  await dev.getByRole("button", { name: "Upload" }).click();
  await see(dev, /This archive cannot be used: not a zip archive/);
  await dev.getByLabel("Code package (.zip)").setInputFiles(await packageFile("1.0.0"));
  await dev.getByLabel("Description").fill("first release");
  await dev.getByRole("button", { name: "Upload" }).click();
  await see(dev, /Uploaded 1\.0\.0: 6 files/);
  await dev.getByLabel("Note for the auditors").fill("please review");
  await dev.getByRole("button", { name: "Submit for audit" }).click();
  await see(dev, "1.0.0 submitted for audit");
  await dev.getByRole("article", { name: "Audit progress" }).getByText("waiting").waitFor();
  await shot(dev, "versions");
});

test("audits: the auditor must give a reason to reject, then approves; the developer publishes", async () => {
  const auditor = await as(...AUDITOR);
  await gotoHash(auditor, "/host-apps");
  const form = auditor.getByRole("form", { name: "Audit of Console Shop 1.0.0" });
  await form.getByRole("button", { name: "Reject" }).click();
  await form.getByText("a rejection needs a reason").waitFor();
  await shot(auditor, "audits");
  await form.getByRole("button", { name: "Approve" }).click();
  await form.getByText("Approved.").waitFor();

  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/versions`);
  await dev.getByRole("button", { name: "Publish 1.0.0" }).click();
  await see(dev, "Published 1.0.0");
  await dev.getByRole("article", { name: "Online version" }).getByText("1.0.0").first().waitFor();
});

test("grayscale: seed rules shown next to the field, a task with a whitelist upload, progress after edge checks, suspend / resume / end and revert", async () => {
  const dev = await as(...DEV);
  const auditor = await as(...AUDITOR);
  // 1.1.0 approved, not online: the grayscale candidate.
  await gotoHash(dev, `/apps/${shopAppId}/versions`);
  await dev.getByLabel("Version number").fill("1.1.0");
  await dev.getByLabel("Code package (.zip)").setInputFiles(await packageFile("1.1.0"));
  await dev.getByRole("button", { name: "Upload" }).click();
  await see(dev, /Uploaded 1\.1\.0/);
  await dev.getByRole("button", { name: "Submit for audit" }).click();
  await see(dev, "1.1.0 submitted for audit");
  await gotoHash(auditor, "/host-apps");
  await auditor
    .getByRole("form", { name: "Audit of Console Shop 1.1.0" })
    .getByRole("button", { name: "Approve" })
    .click();
  await auditor.getByText("Approved.").waitFor();

  await gotoHash(dev, `/apps/${shopAppId}/grayscale/new`);
  await dev.getByLabel("Task name").fill("A name far longer than twenty characters");
  await dev.getByLabel("Number of grayscale users (cap)").fill("2");
  const whitelist = join(FILES, "guids.txt");
  writeFileSync(whitelist, "guid-001\nguid-002\nguid-003\nguid-001\n");
  await dev.getByLabel("GUIDs: txt whitelist").setInputFiles(whitelist);
  await dev.getByRole("button", { name: "Create grayscale task" }).click();
  // The seed's rule, in the API's words, next to the name field.
  await dev.locator("#f-name-err").getByText(/20/).waitFor();
  await shot(dev, "grayscale-new");
  await dev.getByLabel("Task name").fill("Console canary");
  const startAt = Date.now() + 20_000;
  await dev.getByLabel("Start time").fill(localInput(startAt));
  await dev.getByRole("button", { name: "Create grayscale task" }).click();
  await see(dev, "Grayscale task created.");
  await see(dev, /whitelist guid: 3 entries/);
  taskUrl = dev.url();

  const taskPath = `/v1/mini-programs/${shopAppId}/grayscale-tasks/${taskUrl.split("/grayscale/")[1].split("?")[0]}`;
  await dev.locator("#task-cap-shards").getByText("1 (one counter)").waitFor();

  // Edit it: the seed's name rule is checked again, next to the field; the cap goes from 2 to 3
  // and, while the task is pending, its cap shards from 1 to 4 (65 is past the most, 64: refused
  // next to the field).
  await dev.getByRole("button", { name: "Edit task" }).click();
  const edit = dev.getByRole("form", { name: "Edit task" });
  const shards = edit.getByLabel("Cap shards");
  assert(
    (await shards.inputValue()) === "1",
    `the dialog shows the current cap shards: ${await shards.inputValue()}`,
  );
  await edit.getByLabel("Task name").fill("Console canary, second edition");
  await edit.getByRole("button", { name: "Save task" }).click();
  await dev.locator("#edit-name-err").getByText("the task name must have 1 to 20 characters").waitFor();
  await edit.getByLabel("Task name").fill("Console canary");
  await edit.getByLabel("Number of grayscale users (cap)").fill("3");
  await shards.fill("65");
  await edit.getByRole("button", { name: "Save task" }).click();
  await dev.locator("#edit-capShards-err").getByText(/64/).waitFor();
  await edit.getByText("The task was not saved: see the message next to the field.").waitFor();
  await edit.screenshot({ path: join(SHOTS, "grayscale-edit.png") });
  await shards.fill("4");
  await edit.getByRole("button", { name: "Save task" }).click();
  await see(dev, "Task saved.");
  await dev.locator("#task-cap-shards").getByText("4 (the cap split over 4 counters)").waitFor();
  const edited = await apiAsPage(dev, "GET", taskPath);
  assert(
    edited.capShards === 4 && edited.userCap === 3,
    `the task has 4 cap shards and a cap of 3: ${edited.capShards}, ${edited.userCap}`,
  );
  // Opened again, the dialog starts from the saved value.
  await dev.getByRole("button", { name: "Edit task" }).click();
  assert(
    (await shards.inputValue()) === "4",
    `the dialog shows the saved cap shards: ${await shards.inputValue()}`,
  );
  await edit.getByRole("button", { name: "Cancel" }).click();

  // The list: newest first, with its state.
  await gotoHash(dev, `/apps/${shopAppId}/grayscale`);
  await dev.getByRole("row").filter({ hasText: "Console canary" }).getByText("pending").waitFor();
  await shot(dev, "grayscale-list");

  // Clients check in at the edge once the task has started: two whitelisted GUIDs are admitted
  // (the cap of 3 is not reached, so the task keeps delivering), one off the list is not.
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now() + 1500)));
  // The version a client is told to run (the signed manifest's payload; verification is the edge
  // tests' business).
  const check = async (guid) => {
    const q = new URLSearchParams({
      appId: shopAppId,
      hostAppId: "ha_demo_superapp",
      hostAppVersion: "8.2.0",
      platform: "android",
      osVersion: "14",
      guid,
      network: "wifi",
    });
    const res = await fetch(`${EDGE}/v1/check?${q}`);
    const body = await res.json();
    assert(res.status === 200, `edge check ${guid}: ${res.status} ${JSON.stringify(body)}`);
    return JSON.parse(Buffer.from(body.manifest.split(".")[1], "base64url").toString()).version;
  };
  // The edge sees the task once its snapshot reaches it (a few seconds at most).
  const seen = Date.now() + 45_000;
  while ((await check("guid-001")) !== "1.1.0") {
    assert(Date.now() < seen, "the edge admits guid-001 to the grayscale version");
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert((await check("guid-002")) === "1.1.0", "guid-002 is admitted");
  assert((await check("not-on-the-list")) === "1.0.0", "a GUID off the whitelist gets the online version");
  await dev.goto(taskUrl);
  // Admissions settle into the count when the edge's lease is returned (ADMISSION_LEASE_TTL_MS).
  const deadline = Date.now() + 60_000;
  while (!(await dev.getByText("2 of 3 users admitted").count())) {
    assert(Date.now() < deadline, "progress shows 2 of 3 admitted");
    await new Promise((r) => setTimeout(r, 2000));
    await dev.getByRole("button", { name: "Refresh" }).click();
  }
  await dev
    .getByRole("img", { name: /Admitted users over time, against the cap: 2 admitted of a cap of 3/ })
    .waitFor();
  await dev.getByRole("img", { name: /By platform: android 2/ }).waitFor();
  await shot(dev, "grayscale-progress");

  // The explain tool while the task delivers: the task, its conditions, and what guid-001 gets.
  await gotoHash(dev, `/apps/${shopAppId}/explain`);
  await dev.getByLabel("GUID").fill("guid-001");
  await dev.getByRole("button", { name: "Explain" }).click();
  await dev.locator("#explain-reason").waitFor();
  await dev.getByRole("heading", { name: /Console canary \(1\.1\.0\)/ }).waitFor();
  await shot(dev, "explain");
  await dev.goto(taskUrl);

  await dev.getByRole("button", { name: "Suspend" }).click();
  await see(dev, "Task suspended");
  await dev.getByRole("button", { name: "Resume" }).click();
  await see(dev, "Task resumed.");
  await dev.getByRole("button", { name: "End and revert" }).click();
  await see(dev, "every admitted user goes back to the online version");
  await dev.getByRole("alertdialog").getByRole("button", { name: "End and revert" }).click();
  await see(dev, "Task ended and reverted");
  await see(dev, /State: ended \(reverted\)/);
});

test("explain: after the revert, the client is back on the online version", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/explain`);
  await dev.getByLabel("GUID").fill("guid-001");
  await dev.getByRole("button", { name: "Explain" }).click();
  await dev.locator("#explain-reason").waitFor();
  // After "end and revert" the client is back on the online version.
  await see(dev, /Gets 1\.0\.0/);
});

test("packages: the increment list and the .apkg download of the online version", async () => {
  const dev = await as(...DEV);
  demoAppId = /Demo mini program (gc[a-z2-7]+)/.exec(stackOutput)[1];
  await gotoHash(dev, `/apps/${demoAppId}/packages`);
  await dev.getByRole("heading", { name: "Incremental packages" }).waitFor();
  await dev.getByRole("row").filter({ hasText: "1.0.0 → 1.1.0" }).waitFor();
  const [download] = await Promise.all([
    dev.waitForEvent("download"),
    dev.getByRole("button", { name: `Download ${demoAppId}_1.1.0.apkg` }).click(),
  ]);
  assert(
    download.suggestedFilename() === `${demoAppId}_1.1.0.apkg`,
    `apkg name: ${download.suggestedFilename()}`,
  );
  await see(dev, `Downloaded ${demoAppId}_1.1.0.apkg`);
  await shot(dev, "packages");
});

test("rollback: to an earlier release, then the seed's 'no continuous rollback' is explained", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${demoAppId}/versions`);
  await dev.getByLabel("Roll back to").selectOption("1.0.0");
  await dev.getByRole("button", { name: "Roll back", exact: true }).click();
  await see(dev, "Continuous rollback is not supported: the next rollback needs a new publish first.");
  await dev.getByRole("alertdialog").getByRole("button", { name: "Roll back to 1.0.0" }).click();
  await see(dev, "Rolled back to 1.0.0");
  await see(dev, /Continuous rollback is not supported: the online version came from a rollback/);
  assert(
    (await dev.getByRole("button", { name: "Roll back", exact: true }).count()) === 0,
    "no second rollback",
  );
  await shot(dev, "rollback");
});

test("shelf: delisting says what it does before it happens; then back on the shelf", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}`);
  await dev.getByRole("button", { name: "Take off the shelf" }).click();
  const dialog = dev.getByRole("alertdialog");
  await dialog.getByText("no version can be published and no new grayscale task started").waitFor();
  await dialog.getByText("versions can still be submitted for audit").waitFor();
  await shot(dev, "delist-confirm");
  await dialog.getByRole("button", { name: "Delist" }).click();
  await see(dev, "The mini program is delisted.");
  await dev
    .getByRole("heading", { name: /Console Shop/ })
    .getByText("delisted")
    .waitFor();
  await dev.getByRole("button", { name: "Put on the shelf" }).click();
  await dev.getByRole("alertdialog").getByRole("button", { name: "Put on the shelf" }).click();
  await see(dev, "The mini program is on the shelf again.");
});

test("team admin: API token shown once, a signing key registered, the change log", async () => {
  const lead = await as(...LEAD);
  await gotoHash(lead, "/tokens");
  await lead.getByLabel("Name").fill("ci");
  await lead.getByLabel("write").check();
  await lead.getByRole("button", { name: "Create token" }).click();
  await see(lead, "it is shown only once");
  assert(/^gct_/.test((await lead.locator("#new-token").textContent()).trim()), "the new token is shown");
  await lead.getByRole("row").filter({ hasText: "read, write" }).waitFor();
  await shot(lead, "tokens");

  await gotoHash(lead, "/signing-keys");
  const jwk = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
  await lead.getByLabel("Name").fill("release laptop");
  await lead.getByLabel("Public key (JWK)").fill(JSON.stringify(jwk));
  await lead.getByRole("button", { name: "Register key" }).click();
  await lead.getByRole("button", { name: "Revoke release laptop" }).waitFor();
  await shot(lead, "signing-keys");

  await gotoHash(lead, "/change-log");
  await see(lead, "signing_key.register");
  await see(lead, "mini_program.create");
  await shot(lead, "change-log", false);
});

/** A user assertion of the demo host app (docs/trust.md), signed with a private JWK and its kid. */
function mintAssertion(privateJwk, kid, sub) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "EdDSA", kid })}.${b64({ iss: "ha_demo_superapp", sub, aud: "graycast", iat, exp: iat + 600 })}`;
  const { kty, crv, x, d } = privateJwk;
  const key = createPrivateKey({ key: { kty, crv, x, d }, format: "jwk" });
  return `${input}.${sign(null, Buffer.from(input), key).toString("base64url")}`;
}
/** POST /v1/login at the edge for the Console Shop through SuperApp: { status, body, assertion }. */
async function edgeLogin(assertion) {
  const res = await fetch(`${EDGE}/v1/login`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-graycast-user": new URLSearchParams({ assertion }).toString(),
    },
    body: JSON.stringify({ appId: shopAppId, hostAppId: "ha_demo_superapp" }),
  });
  return { status: res.status, body: await res.json(), assertion: res.headers.get("x-graycast-assertion") };
}
/** Asks the edge until `ok` holds for its answer (a console change reaches it with the next snapshot, seconds). */
async function edgeLoginUntil(assertion, ok, what) {
  const deadline = Date.now() + WAIT;
  let last;
  while (Date.now() < deadline) {
    last = await edgeLogin(assertion);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `${what}: the edge answered ${last?.status} ${JSON.stringify(last?.body)} (${last?.assertion})`,
  );
}
const serverApi = async (path) => (await fetch(`${ADMIN}${path}`)).json();
let hostKey; // { privateJwk, kid, name }
let loginCode;

test("host-app keys: the manager registers a user-assertion key (a private JWK is refused next to the field); the edge logs its users in", async () => {
  const manager = await as(...MANAGER);
  await gotoHash(manager, "/host-apps");
  await manager.locator('a[href="#/host-apps/ha_demo_superapp/keys"]').click();
  await manager.getByRole("heading", { name: "User-assertion keys of SuperApp" }).waitFor();
  const privateJwk = generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
  const form = manager.getByRole("form", { name: "Register a user-assertion key" });
  await form.getByLabel("Name").fill("api server 2026");
  await form.getByLabel("Public key (JWK)").fill(JSON.stringify(privateJwk));
  await form.getByRole("button", { name: "Register key" }).click();
  await manager.locator("#key-jwk-err").waitFor();
  assert(
    /this is a private key/.test(await manager.locator("#key-jwk-err").textContent()),
    "the API's refusal of the private member is next to the field",
  );
  const { kty, crv, x } = privateJwk;
  await form.getByLabel("Public key (JWK)").fill(JSON.stringify({ kty, crv, x }));
  await form.getByRole("button", { name: "Register key" }).click();
  await see(manager, "api server 2026 registered: sign assertions with kid");
  const row = manager.getByRole("row").filter({ hasText: "api server 2026" });
  await row.getByText("active", { exact: true }).waitFor();
  const kid = /kid (\S+)\./.exec(await manager.getByText("api server 2026 registered").textContent())[1];
  assert((await row.locator("code").textContent()).trim() === kid, "the row shows the kid");
  hostKey = { privateJwk, kid };
  await shot(manager, "host-app-keys");

  // The key reaches the edge: an assertion it signs logs a user in to the Console Shop.
  const ok = await edgeLoginUntil(
    mintAssertion(privateJwk, kid, "shopper-1"),
    (r) => r.status === 200,
    "login",
  );
  assert(ok.assertion === "verified" && typeof ok.body.code === "string", "a login code for a verified user");
  loginCode = ok.body.code;

  // An auditor of the host app reads the keys but is not offered to change them.
  const auditor = await as(...AUDITOR);
  await gotoHash(auditor, "/host-apps/ha_demo_superapp/keys");
  await auditor.getByRole("row").filter({ hasText: "api server 2026" }).waitFor();
  await see(auditor, "Only the host app's managers register, retire and revoke keys.");
  assert((await auditor.getByRole("button", { name: /Revoke/ }).count()) === 0, "no revoke button");
});

test("AppSecret: a developer is told why not; the team admin generates it (shown once), resets it (old one dead at once), freezes and unfreezes", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/secret`);
  await see(dev, "Only the mini program team administrator can view and operate key management");
  assert((await dev.getByRole("button", { name: "Generate AppSecret" }).count()) === 0, "no generate button");

  const lead = await as(...LEAD);
  await gotoHash(lead, `/apps/${shopAppId}/secret`);
  await see(lead, "not generated yet");
  await lead.getByRole("button", { name: "Generate AppSecret" }).click();
  await see(lead, "you will not see it again");
  const first = (await lead.locator("#new-secret").textContent()).trim();
  assert(/^[0-9a-f]{32}$/.test(first), `a 32-hex secret is shown, got ${first}`);
  assert((await lead.locator("#secret-hint").textContent()).trim() === `${first.slice(0, 8)}…`, "hint");
  await lead.getByRole("button", { name: "Copy AppSecret" }).waitFor();
  await shot(lead, "app-secret");
  // The secret shown works: the login code from the edge becomes an openid.
  const session = await serverApi(
    `/sns/jscode2session?appid=${shopAppId}&secret=${first}&js_code=${encodeURIComponent(loginCode)}&grant_type=authorization_code`,
  );
  assert(typeof session.openid === "string", `jscode2session: ${JSON.stringify(session)}`);
  const token = (p) =>
    serverApi(`/cgi-bin/token?grant_type=client_credential&appid=${shopAppId}&secret=${p}`);
  assert(typeof (await token(first)).access_token === "string", "an access token for the secret");
  // Leaving the page forgets it.
  await lead.getByRole("button", { name: "I have copied it: hide it" }).click();
  assert((await lead.locator("#new-secret").count()) === 0, "the secret is gone from the page");

  await lead.getByRole("button", { name: "Reset AppSecret" }).click();
  const dialog = lead.getByRole("alertdialog");
  await dialog.getByText(/stops working at once, and so do the\s+access tokens minted with it/).waitFor();
  await shot(lead, "app-secret-reset", false);
  await dialog.getByRole("button", { name: "Reset now" }).click();
  await see(lead, "New AppSecret");
  const second = (await lead.locator("#new-secret").textContent()).trim();
  assert(second !== first && /^[0-9a-f]{32}$/.test(second), "a new secret");
  await see(lead, "2 (1 for the first secret, +1 on each reset)");
  assert((await token(first)).errcode === 40001, "the old secret is refused at once");
  assert(typeof (await token(second)).access_token === "string", "the new one works");

  await lead.getByRole("button", { name: "Freeze", exact: true }).click();
  await lead.getByRole("alertdialog").getByText("errcode 40243").waitFor();
  await lead.getByRole("alertdialog").getByRole("button", { name: "Freeze", exact: true }).click();
  await see(lead, "The AppSecret is frozen");
  await lead.locator(".facts").getByText("frozen", { exact: true }).waitFor();
  assert((await token(second)).errcode === 40243, "a frozen secret is refused");
  await lead.getByRole("button", { name: "Unfreeze" }).click();
  await lead.getByRole("alertdialog").getByRole("button", { name: "Unfreeze" }).click();
  await see(lead, "The AppSecret is unfrozen");
  assert(typeof (await token(second)).access_token === "string", "unfrozen, it works again");
  await gotoHash(lead, "/change-log");
  await see(lead, "app_secret.unfreeze");
});

test("host-app keys: retire then revoke, each confirmed; the edge refuses the revoked key's assertions", async () => {
  const manager = await as(...MANAGER);
  await gotoHash(manager, "/host-apps/ha_demo_superapp/keys");
  await manager.getByRole("button", { name: "Retire api server 2026" }).click();
  await manager
    .getByRole("alertdialog")
    .getByText(/keep\s+verifying for an hour and a minute/)
    .waitFor();
  await manager.getByRole("alertdialog").getByRole("button", { name: "Retire" }).click();
  await see(manager, "api server 2026 is retired: assertions it signed verify until");
  await manager
    .getByRole("row")
    .filter({ hasText: "api server 2026" })
    .getByText("retired", { exact: true })
    .waitFor();
  await manager.getByRole("button", { name: "Revoke api server 2026" }).click();
  await manager
    .getByRole("alertdialog")
    .getByText(/stops verifying/)
    .waitFor();
  await shot(manager, "host-app-keys-revoke", false);
  await manager.getByRole("alertdialog").getByRole("button", { name: "Revoke" }).click();
  await see(manager, "api server 2026 is revoked");
  await manager
    .getByRole("row")
    .filter({ hasText: "api server 2026" })
    .getByText("revoked", { exact: true })
    .waitFor();
  await edgeLoginUntil(
    mintAssertion(hostKey.privateJwk, hostKey.kid, "shopper-2"),
    (r) => r.status === 401 && r.assertion === "unknown_key",
    "a revoked key must stop verifying",
  );
});

test("platform and team: the platform admin creates a user, the team admin makes them a viewer", async () => {
  const platform = await as("admin@graycast.local", "platform-admin-pass");
  await gotoHash(platform, "/platform");
  const form = platform.getByRole("form", { name: "Create a user" });
  await form.getByLabel("Email").fill("qa@acme.local");
  await form.getByLabel("Name").fill("Acme QA");
  await form.getByLabel("Initial password").fill("short");
  await form.getByRole("button", { name: "Create user" }).click();
  await platform.locator("#user-password-err").waitFor();
  await form.getByLabel("Initial password").fill("a-long-enough-password");
  await form.getByRole("button", { name: "Create user" }).click();
  await see(platform, "User created.");
  await platform.getByRole("button", { name: "Disable Acme QA" }).waitFor();
  await shot(platform, "platform");

  const lead = await as(...LEAD);
  await gotoHash(lead, "/team");
  await lead.getByLabel("Email of an existing user").fill("qa@acme.local");
  await lead.getByLabel("Role", { exact: true }).selectOption("viewer");
  await lead.getByRole("button", { name: "Add member" }).click();
  await lead.getByRole("button", { name: "Remove Acme QA" }).waitFor();
  assert((await lead.getByLabel("Role of Acme QA").inputValue()) === "viewer", "QA is a viewer");
  await shot(lead, "team");
});

test("team webhook: the team admin creates it (secret shown once), an http URL is refused, rotates and removes it", async () => {
  const lead = await as(...LEAD);
  await gotoHash(lead, "/team");
  const form = lead.getByRole("form", { name: "Team notification webhook" });
  await form.getByLabel("URL (https)").fill("http://ops.acme.example/graycast/events");
  await form.getByRole("button", { name: "Create webhook" }).click();
  await lead.locator("#team-webhook-url-err").waitFor();
  await form.getByLabel("URL (https)").fill("https://ops.acme.example/graycast/events");
  await form.getByRole("button", { name: "Create webhook" }).click();
  await see(lead, "Signing secret, shown this once");
  const first = await lead.locator("p.notice code").first().textContent();
  assert(/^whsec_/.test(first ?? ""), "the new secret is shown");
  await form.getByRole("button", { name: "Save webhook" }).waitFor();
  await shot(lead, "team-webhook");
  await form.getByRole("button", { name: "Rotate secret" }).click();
  await lead.getByRole("alertdialog").getByRole("button", { name: "Rotate" }).click();
  await lead.waitForFunction((old) => {
    const c = document.querySelector("p.notice code");
    return c && c.textContent !== old;
  }, first);
  await gotoHash(lead, "/team");
  await form.getByRole("button", { name: "Save webhook" }).waitFor();
  assert((await lead.getByText("whsec_").count()) === 0, "the secret is not shown again");
  assert(
    (await form.getByLabel("URL (https)").inputValue()) === "https://ops.acme.example/graycast/events",
    "the URL is kept",
  );
  await form.getByRole("button", { name: "Remove webhook" }).click();
  await lead.getByRole("alertdialog").getByRole("button", { name: "Remove" }).click();
  await form.getByRole("button", { name: "Create webhook" }).waitFor();
});

test("account: change password (the wrong current one is refused), sign out, sign in with the new one", async () => {
  const lead = await as(...LEAD);
  await gotoHash(lead, "/account");
  await lead.getByLabel("Current password").fill("wrong-password");
  await lead.getByLabel("New password").fill("a-brand-new-team-pass");
  await lead.getByRole("button", { name: "Change password" }).click();
  await lead.getByRole("form", { name: "Change password" }).getByRole("alert").first().waitFor();
  await lead.getByLabel("Current password").fill("team-admin-pass");
  await lead.getByLabel("New password").fill("a-brand-new-team-pass");
  await lead.getByRole("button", { name: "Change password" }).click();
  await see(lead, "Password changed.");
  await shot(lead, "account");
  await lead.getByRole("button", { name: "Sign out" }).first().click();
  await see(lead, "Sign in with your Graycast account.");
  await lead.getByLabel("Email").fill("lead@acme.local");
  await lead.getByLabel("Password").fill("a-brand-new-team-pass");
  await lead.getByRole("button", { name: "Sign in" }).click();
  await lead.getByRole("navigation", { name: "Main" }).waitFor();
});

test("a 390 px phone: the version page fits the screen without sideways scrolling", async () => {
  const dev = await as(...DEV);
  await dev.setViewportSize({ width: 390, height: 844 });
  await gotoHash(dev, `/apps/${shopAppId}/versions`);
  await dev.getByRole("heading", { name: "Version overview" }).waitFor();
  await dev.getByRole("article", { name: "Online version" }).waitFor();
  await dev.getByRole("heading", { name: "Trial version" }).waitFor();
  await dev.getByLabel("Page path").waitFor();
  const width = await dev.evaluate(() => document.documentElement.scrollWidth);
  assert(width <= 390, `page width ${width} fits 390 px`);
  await shot(dev, "phone-versions");
  await gotoHash(dev, taskUrl.split("#")[1]);
  await dev.getByRole("heading", { name: "Progress" }).waitFor();
  const taskWidth = await dev.evaluate(() => document.documentElement.scrollWidth);
  assert(taskWidth <= 390, `task page width ${taskWidth} fits 390 px`);
  await dev.setViewportSize({ width: 1200, height: 800 });
});

test("domains: a rule refused in the API's words, a request domain added, a business domain verified by its token, one removed", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/domains`);
  const request = dev.getByRole("form", { name: "Add a request domain" });
  await request.getByLabel("New request domain").fill("http://api.shop.example");
  await request.getByRole("button", { name: "Add request domain" }).click();
  await request.getByRole("alert").first().waitFor();
  assert(/https/.test(await request.getByRole("alert").first().textContent()), "the refusal names https");
  await request.getByLabel("New request domain").fill("https://api.shop.example");
  await request.getByRole("button", { name: "Add request domain" }).click();
  await see(dev, "https://api.shop.example added to request.");
  const business = dev.getByRole("form", { name: "Add a business domain" });
  await business.getByLabel("New business domain").fill("https://h5.shop.example");
  await business.getByRole("button", { name: "Add business domain" }).click();
  await see(dev, "place the verification file, then verify it");
  const block = dev.getByRole("article", { name: /business/ });
  await block.getByText("pending", { exact: true }).waitFor();
  const token = (await block.locator("code[id^=token-]").textContent()).trim();
  const verify = dev.getByRole("form", { name: "Verify https://h5.shop.example" });
  await verify.getByLabel(/proof/).fill("not-the-token");
  await verify.getByRole("button", { name: "Verify h5.shop.example" }).click();
  await verify.getByRole("alert").first().waitFor();
  await shot(dev, "domains");
  await verify.getByLabel(/proof/).fill(token);
  await verify.getByRole("button", { name: "Verify h5.shop.example" }).click();
  await see(dev, "https://h5.shop.example verified (proof checked).");
  await block.getByText("verified", { exact: true }).waitFor();
  await request.getByLabel("New request domain").fill("https://old.shop.example");
  await request.getByRole("button", { name: "Add request domain" }).click();
  await dev.getByRole("button", { name: "Remove https://old.shop.example" }).click();
  await dev.getByRole("alertdialog").getByText("Clients stop reaching it").waitFor();
  await dev.getByRole("alertdialog").getByRole("button", { name: "Remove domain" }).click();
  await see(dev, "https://old.shop.example removed from request.");
});

test("switches: a bad key refused next to the field; a typed switch set; the runtime-config preview shows it with the domains", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/switches`);
  const form = dev.getByRole("form", { name: "Set a switch" });
  await form.getByLabel("Key").fill("1-not-a-key");
  await form.getByRole("button", { name: "Save switch" }).click();
  await form.getByRole("alert").first().waitFor();
  await form.getByLabel("Key").fill("checkout.newFlow");
  await form.getByLabel("Type").selectOption("boolean");
  await form.getByLabel("Value").selectOption("true");
  await form.getByRole("button", { name: "Save switch" }).click();
  await see(dev, "checkout.newFlow = true for everyone.");
  await form.getByLabel("Key").fill("banner.text");
  await form.getByLabel("Type").selectOption("string");
  await form.getByLabel("Value").fill("Winter sale");
  await form.getByLabel("Host app").selectOption({ label: "SuperApp" });
  await form.getByRole("button", { name: "Save switch" }).click();
  await see(dev, "banner.text = Winter sale for SuperApp.");
  await dev
    .getByRole("row")
    .filter({ hasText: "banner.text" })
    .getByRole("cell", { name: "SuperApp", exact: true })
    .waitFor();
  const preview = dev.getByRole("form", { name: "Runtime config preview" });
  await preview.getByLabel("Client of host app").selectOption({ label: "SuperApp" });
  await preview.getByRole("button", { name: "Show runtime config" }).click();
  await dev.locator("#runtime-config").waitFor();
  const config = JSON.parse(await dev.locator("#runtime-config").textContent());
  assert(config.switches["checkout.newFlow"]?.value === true, "the boolean switch");
  assert(config.switches["banner.text"]?.value === "Winter sale", "SuperApp's string switch");
  assert(
    config.domains.request?.includes("api.shop.example") &&
      config.domains.business?.includes("h5.shop.example"),
    `domains: ${JSON.stringify(config.domains)}`,
  );
  assert(!config.domains.request?.includes("old.shop.example"), "the removed domain is gone");
  await shot(dev, "switches");
});

test("permissions: the manager declares an API, the developer applies with a reason, a rejection needs a reason, approvals reach the runtime config, then a revoke", async () => {
  const manager = await as(...MANAGER);
  await gotoHash(manager, "/host-apps/ha_demo_superapp/permissions");
  const declare = manager.getByRole("form", { name: "Declare a sensitive API" });
  await declare.getByLabel("API name").fill("getLocation");
  await declare.getByLabel("What it does").fill("the user's precise location");
  await declare.getByRole("button", { name: "Declare API" }).click();
  await see(manager, "getLocation declared: mini programs must apply for it.");

  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/permissions`);
  const apply = dev.getByRole("form", { name: "Apply for a sensitive API" });
  await apply.getByLabel("API").selectOption("getLocation");
  await apply.getByLabel("Reason").fill("store finder shows the nearest shop");
  await apply.getByRole("button", { name: "Apply for the API" }).click();
  await see(dev, "Applied for getLocation in SuperApp: the host app decides.");
  const skip = dev.getByRole("form", { name: "Apply to skip domain verification" });
  await skip.getByLabel("Reason").fill("the staging API has no certificate yet");
  await skip.getByRole("button", { name: "Apply to skip verification" }).click();
  await see(dev, "Applied to skip domain verification in SuperApp.");

  await gotoHash(manager, "/host-apps/ha_demo_superapp/permissions");
  const decideApi = manager.getByRole("form", { name: `Decide getLocation for ${shopAppId}` });
  await decideApi.getByRole("button", { name: "Reject" }).click();
  await decideApi.getByText("a reason is required to reject").waitFor();
  await shot(manager, "host-app-permissions");
  await decideApi.getByRole("button", { name: "Approve" }).click();
  await see(manager, `getLocation for ${shopAppId}: approved.`);
  const decideSkip = manager.getByRole("form", { name: `Decide skip domain verification for ${shopAppId}` });
  await decideSkip.getByRole("button", { name: "Approve" }).click();
  await see(manager, `skip domain verification for ${shopAppId}: approved.`);

  await gotoHash(dev, `/apps/${shopAppId}/switches`);
  const preview = dev.getByRole("form", { name: "Runtime config preview" });
  await preview.getByLabel("Client of host app").selectOption({ label: "SuperApp" });
  await preview.getByRole("button", { name: "Show runtime config" }).click();
  await dev.locator("#runtime-config").waitFor();
  const config = JSON.parse(await dev.locator("#runtime-config").textContent());
  assert(config.apis.includes("getLocation") && config.skipDomainCheck === true, JSON.stringify(config));
  await gotoHash(dev, `/apps/${shopAppId}/permissions`);
  await dev.getByText("approved", { exact: true }).first().waitFor();
  await shot(dev, "permissions");

  await gotoHash(manager, "/host-apps/ha_demo_superapp/permissions");
  const revoke = manager.getByRole("form", { name: `Decide getLocation for ${shopAppId}` });
  await revoke.getByLabel(/Reason/).fill("the store finder is gone");
  await revoke.getByRole("button", { name: "Revoke" }).click();
  await see(manager, `getLocation for ${shopAppId}: revoked.`);
});

test("privacy: the template filled in (a missing field refused next to it), previewed, published as version 1, read back", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${shopAppId}/privacy`);
  const form = dev.getByRole("form", { name: "Privacy agreement" });
  await form.getByLabel("Developer name").fill("Acme Shop Ltd.");
  await form.getByLabel("Data collected (one per line)").fill("Nickname and avatar\nApproximate location");
  await form.getByLabel("Purposes (one per line)").fill("Show nearby stores");
  await form.getByLabel("Retention").fill("Until you delete your account, at most 2 years");
  await form.getByRole("button", { name: "Save draft" }).click();
  await dev.locator("#f-fields-contact-err").waitFor();
  await form.getByLabel("Contact").fill("privacy@acme.example");
  await form.getByRole("button", { name: "Preview" }).click();
  await dev
    .locator("#privacy-preview")
    .getByText(/Acme Shop Ltd\./)
    .waitFor();
  const text = await dev.locator("#privacy-preview").textContent();
  assert(
    text.includes("Approximate location") && text.includes("privacy@acme.example"),
    "the fields fill the template",
  );
  await see(dev, "Preview of version 1");
  await shot(dev, "privacy");
  await form.getByRole("button", { name: "Publish" }).click();
  await see(dev, "Version 1 published: clients ask their users to accept it.");
  await dev.getByRole("button", { name: "Read version 1" }).click();
  await dev
    .locator("#privacy-version")
    .getByText(/Show nearby stores/)
    .waitFor();
});

test("bindings: the team admin removes one after a confirmation; the edge stops serving that host app", async () => {
  // (the key npm start registered for SuperApp, kept in the stack's local dir): bound, it logs in
  const demoKey = JSON.parse(readFileSync(join(LOCAL_DIR, "host-app-key.json"), "utf8"));
  await edgeLoginUntil(mintAssertion(demoKey, demoKey.kid, "shopper-3"), (r) => r.status === 200, "login");
  const lead = await as(...LEAD);
  await gotoHash(lead, `/apps/${shopAppId}`);
  await lead.getByRole("button", { name: "Remove binding to SuperApp" }).click();
  const dialog = lead.getByRole("alertdialog");
  await dialog.getByText(/Clients of SuperApp stop getting Console Shop/).waitFor();
  await shot(lead, "binding-remove", false);
  await dialog.getByRole("button", { name: "Remove binding" }).click();
  await see(lead, "The binding to SuperApp is removed.");
  await lead.getByRole("button", { name: "Remove binding to SuperApp" }).waitFor({ state: "detached" });
  // The same user of SuperApp is now refused: the mini program is no longer bound to it.
  await edgeLoginUntil(
    mintAssertion(demoKey, demoKey.kid, "shopper-3"),
    (r) => r.status === 403,
    "an unbound mini program must refuse login through that host app",
  );
});

/** The elements that stick out of the viewport on the right (what made a page scroll sideways). */
const overflowing = (page) =>
  page.evaluate(() =>
    [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest(".table-wrap"))
      .slice(0, 4)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}: ${(e.textContent ?? "").slice(0, 40)}`)
      .join(" | "),
  );
test("a 390 px phone: the AppSecret, domains (a business domain waiting for verification), permissions, switches and privacy tabs and the host app's key page fit", async () => {
  const lead = await as(...LEAD);
  await lead.setViewportSize({ width: 390, height: 844 });
  try {
    await gotoHash(lead, `/apps/${demoAppId}/domains`);
    const business = lead.getByRole("form", { name: "Add a business domain" });
    await business.getByLabel("New business domain").fill("https://h5.phone-check.example");
    await business.getByRole("button", { name: "Add business domain" }).click();
    await see(lead, "place the verification file, then verify it");
    for (const tab of ["domains", "permissions", "switches", "privacy", "secret"]) {
      await gotoHash(lead, `/apps/${demoAppId}/${tab}`);
      await lead.getByRole("heading", { level: 2 }).first().waitFor();
      await lead.waitForFunction(() => !document.querySelector(".loading"));
      const width = await lead.evaluate(() => document.documentElement.scrollWidth);
      assert(width <= 390, `${tab}: page width ${width} fits 390 px; ${await overflowing(lead)}`);
    }
    await shot(lead, "phone-app-secret");
  } finally {
    await lead.setViewportSize({ width: 1200, height: 800 });
  }
  const manager = await as(...MANAGER);
  await manager.setViewportSize({ width: 390, height: 844 });
  try {
    for (const page of ["keys", "permissions"]) {
      await gotoHash(manager, `/host-apps/ha_demo_superapp/${page}`);
      await manager.getByRole("heading", { level: 1 }).waitFor();
      await manager.waitForFunction(() => !document.querySelector(".loading"));
      const width = await manager.evaluate(() => document.documentElement.scrollWidth);
      assert(
        width <= 390,
        `host app ${page}: page width ${width} fits 390 px; ${await overflowing(manager)}`,
      );
    }
  } finally {
    await manager.setViewportSize({ width: 1200, height: 800 });
  }
});

test("/docs: the API reference renders from /openapi.json with nothing from another origin", async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(ADMIN) && !r.url().startsWith("data:")) foreign.push(r.url());
  });
  await page.goto(`${ADMIN}/docs`);
  await page.getByRole("heading", { name: /Graycast admin API/ }).waitFor();
  const op = page.locator("#op-post-v1-mini-programs-appId-grayscale-tasks");
  await op.locator("summary").click();
  await op.getByRole("heading", { name: "Responses" }).waitFor();
  await op.getByRole("link", { name: "CreateGrayscaleTask" }).waitFor();
  assert(foreign.length === 0, `requests to other origins: ${foreign.join(", ")}`);
  await shot(page, "docs", false);
  await context.close();
});

// ---- subscription messages (issue 14): the Messages tab and the host app's push webhook ----------
/** A signed-in API call outside the browser (to set up a team viewer). */
async function apiAs(token, method, path, body) {
  const res = await fetch(`${ADMIN}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
const MSG_VIEWER = ["msg-viewer@acme.local", "a-viewer-of-acme"];

test("messages: search and page the public template library, add a template with keywords in a chosen order (preview first), the same keyword set refused with 409, delete; a viewer only reads", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${demoAppId}/messages`);
  await dev.getByRole("link", { name: "Messages" }).waitFor();
  await see(dev, "No template yet: add one from the library below.");
  // The whole library, paged: 10 a page.
  const status = dev.getByRole("navigation", { name: "Library pages" }).getByRole("status");
  await status.getByText(/^Page 1 of \d+ · \d+ templates$/).waitFor();
  const [, pages, total] = /of (\d+) · (\d+)/.exec(await status.textContent());
  assert(Number(total) >= 30 && Number(pages) === Math.ceil(Number(total) / 10), `pages: ${pages}/${total}`);
  const firstTitle = await dev
    .getByRole("table", { name: "Public templates" })
    .getByRole("row")
    .nth(1)
    .textContent();
  await dev.getByRole("button", { name: "Next page" }).click();
  await status.getByText(`Page 2 of ${pages} · ${total} templates`).waitFor();
  const secondTitle = await dev
    .getByRole("table", { name: "Public templates" })
    .getByRole("row")
    .nth(1)
    .textContent();
  assert(firstTitle !== secondTitle, "page 2 shows other templates");
  // Filters: long-term travel templates only.
  const search = dev.getByRole("form", { name: "Search the template library" });
  await search.getByLabel("Type").selectOption("long-term");
  await search.getByLabel("Category").selectOption("travel");
  await search.getByRole("button", { name: "Search" }).click();
  await status.getByText(/^Page 1 of 1 · \d+ templates$/).waitFor();
  const rows = dev.getByRole("table", { name: "Public templates" }).locator("tbody tr");
  const n = await rows.count();
  assert(n >= 1, "some long-term travel templates");
  for (let i = 0; i < n; i++) {
    const cells = rows.nth(i).locator("td");
    assert((await cells.nth(1).textContent()).trim() === "travel", "category travel");
    assert((await cells.nth(2).textContent()).trim() === "long-term", "type long-term");
  }
  // Search by name.
  await search.getByLabel("Template name").fill("flight status");
  await search.getByRole("button", { name: "Search" }).click();
  await status.getByText("Page 1 of 1 · 1 templates").waitFor();
  await dev.getByRole("button", { name: "Choose keywords of Flight status changed" }).click();
  const composer = dev.getByRole("article", { name: /Flight status changed/ });
  const preview = composer.locator("#message-preview");
  await composer.getByLabel(/Flight character_string1/).check();
  await composer.getByLabel(/Status phrase2/).check();
  await composer.getByLabel(/New departure time3/).check();
  assert(
    (await preview.textContent()) ===
      "Flight status changed\nFlight: CX889\nStatus: Late\nNew departure: 2026-12-05 21:40",
    `preview in the order chosen: ${await preview.textContent()}`,
  );
  // Reorder: the departure time first, then the status before the flight.
  await composer.getByRole("button", { name: "Move New departure up" }).click();
  await composer.getByRole("button", { name: "Move New departure up" }).click();
  await composer.getByRole("button", { name: "Move Status up" }).click();
  const wanted = "Flight status changed\nNew departure: 2026-12-05 21:40\nStatus: Late\nFlight: CX889";
  assert((await preview.textContent()) === wanted, `reordered preview: ${await preview.textContent()}`);
  await shot(dev, "messages-compose");
  await composer.getByRole("button", { name: "Add to My Template" }).click();
  await see(dev, /Flight status changed added to My Template as mt[a-z2-7]{24}\./);
  const mine = dev.getByRole("table", { name: "My Template" });
  const row = mine.getByRole("row").filter({ hasText: "Flight status changed" });
  await row.waitFor();
  // The list shows what the API keeps: the same preview, the keywords in the chosen order.
  assert((await row.locator("pre.preview").textContent()) === wanted, "the API's preview matches");
  const keys = await row.locator("ol.keywords code").allTextContents();
  assert(keys.join(",") === "time3,phrase2,character_string1", `keywords in order: ${keys}`);
  const templateId = (await row.locator("td").nth(1).locator("code").textContent()).trim();
  assert(/^mt[a-z2-7]{24}$/.test(templateId), `template id ${templateId}`);

  // The same keyword set in another order: the seed's "the keywords cannot be repeated".
  await dev.getByRole("button", { name: "Choose keywords of Flight status changed" }).click();
  await composer.getByLabel(/Status phrase2/).check();
  await composer.getByLabel(/New departure time3/).check();
  await composer.getByLabel(/Flight character_string1/).check();
  await composer.getByRole("button", { name: "Add to My Template" }).click();
  const alert = composer.getByRole("alert");
  await alert.getByText("Already in My Template with these keywords.").waitFor();
  assert(/the keywords cannot be repeated/.test(await alert.textContent()), "the API's words");
  assert((await mine.locator("tbody tr").count()) === 1, "nothing added");
  await shot(dev, "messages-duplicate");
  // Another set of the same template is another template; then it is deleted.
  await composer.getByLabel(/New departure time3/).uncheck();
  await composer.getByRole("button", { name: "Add to My Template" }).click();
  await see(dev, /Flight status changed added to My Template as mt/);
  await mine.locator("tbody tr").nth(1).waitFor();
  const second = (
    await mine.locator("tbody tr").first().locator("td").nth(1).locator("code").textContent()
  ).trim();
  assert(second !== templateId, "a second template, newest first");
  await dev.getByRole("button", { name: `Delete Flight status changed (${second})` }).click();
  await dev
    .getByRole("alertdialog")
    .getByText(/errcode\s+40037/)
    .waitFor();
  await dev.getByRole("alertdialog").getByRole("button", { name: "Delete template" }).click();
  await see(dev, `Flight status changed (${second}) deleted.`);
  await mine.getByText(second, { exact: true }).waitFor({ state: "detached" });
  assert((await mine.locator("tbody tr").count()) === 1, "one template left");
  await shot(dev, "messages");

  // A viewer of the team reads the templates and may preview, but changes nothing.
  const platformToken = (
    await (
      await fetch(`${ADMIN}/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "admin@graycast.local", password: "platform-admin-pass" }),
      })
    ).json()
  ).token;
  // The mini program's team, read with the developer's own session.
  const devToken = await dev.evaluate(() => sessionStorage.getItem("graycast.token"));
  const mp = await apiAs(devToken, "GET", `/v1/mini-programs/${demoAppId}`);
  await apiAs(platformToken, "POST", "/v1/users", {
    email: MSG_VIEWER[0],
    name: "Message Viewer",
    password: MSG_VIEWER[1],
    isPlatformAdmin: false,
  });
  await apiAs(platformToken, "POST", `/v1/teams/${mp.teamId}/members`, {
    email: MSG_VIEWER[0],
    role: "viewer",
  });
  const viewer = await as(...MSG_VIEWER);
  await gotoHash(viewer, `/apps/${demoAppId}/messages`);
  await viewer.getByRole("table", { name: "My Template" }).getByText(templateId).waitFor();
  await see(viewer, "Only the team's admins and developers add and delete templates.");
  assert((await viewer.getByRole("button", { name: /^Delete / }).count()) === 0, "no delete button");
  const viewerSearch = viewer.getByRole("form", { name: "Search the template library" });
  await viewerSearch.getByLabel("Template name").fill("flight status");
  await viewerSearch.getByRole("button", { name: "Search" }).click();
  await viewer.getByRole("button", { name: "Preview Flight status changed" }).click();
  await viewer
    .getByLabel(/Gate character_string4/)
    .first()
    .check();
  await viewer.locator("#message-preview").getByText("Gate: G23").waitFor();
  assert((await viewer.getByRole("button", { name: "Add to My Template" }).count()) === 0, "no add button");

  // A 390 px phone: the tab fits without sideways scrolling (tables scroll in their own box).
  await dev.setViewportSize({ width: 390, height: 844 });
  try {
    await gotoHash(dev, `/apps/${demoAppId}/messages`);
    await dev.getByRole("button", { name: "Choose keywords of Order shipped" }).click();
    await dev.getByRole("article", { name: /Order shipped/ }).waitFor();
    const width = await dev.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `messages: page width ${width} fits 390 px; ${await overflowing(dev)}`);
  } finally {
    await dev.setViewportSize({ width: 1200, height: 800 });
  }
});

test("message webhook: the manager sets it (http refused next to the field), sees the secret once, rotates it, removes it; the auditor reads it and the dead letters", async () => {
  const manager = await as(...MANAGER);
  await gotoHash(manager, "/host-apps");
  await manager.getByRole("link", { name: "Message push webhook" }).first().click();
  await manager.getByRole("heading", { name: /Message push webhook of/ }).waitFor();
  await see(manager, "No webhook: delivered messages go to the users' inboxes only.");
  await see(manager, "No dead letters.");
  const form = manager.getByRole("form", { name: "Configure the webhook" });
  await form.getByLabel("Webhook URL").fill("http://push.superapp.example/graycast/messages");
  await form.getByRole("button", { name: "Set webhook" }).click();
  await manager.locator("#webhook-url-input-err").waitFor();
  assert(
    /https/.test(await manager.locator("#webhook-url-input-err").textContent()),
    "the refusal names https",
  );
  const url = "https://push.superapp.example/graycast/messages";
  await form.getByLabel("Webhook URL").fill(url);
  await form.getByRole("button", { name: "Set webhook" }).click();
  await see(manager, "you will not see it again");
  const first = (await manager.locator("#webhook-secret").textContent()).trim();
  assert(/^whsec_[a-z2-7]{52}$/.test(first), `a secret is shown: ${first}`);
  assert((await manager.locator("#webhook-url").textContent()) === url, "the URL is shown");
  await shot(manager, "message-webhook");
  await manager.getByRole("button", { name: "I have copied it: hide it" }).click();
  assert((await manager.locator("#webhook-secret").count()) === 0, "the secret is gone from the page");
  // Saving the same URL keeps the secret (none shown).
  await form.getByRole("button", { name: "Save URL" }).click();
  await see(manager, `Pushes go to ${url} (same signing secret).`);
  assert((await manager.locator("#webhook-secret").count()) === 0, "no new secret");

  await manager.getByRole("button", { name: "Rotate secret" }).click();
  await manager
    .getByRole("alertdialog")
    .getByText(/stops signing/)
    .waitFor();
  await manager.getByRole("alertdialog").getByRole("button", { name: "Rotate now" }).click();
  await see(manager, "New signing secret: the old one stopped signing at once.");
  const second = (await manager.locator("#webhook-secret").textContent()).trim();
  assert(second !== first && second.startsWith("whsec_"), "a new secret");
  // A 390 px phone: the page with its secret shown fits without sideways scrolling.
  await manager.setViewportSize({ width: 390, height: 844 });
  try {
    const width = await manager.evaluate(() => document.documentElement.scrollWidth);
    assert(width <= 390, `message webhook: page width ${width} fits 390 px; ${await overflowing(manager)}`);
  } finally {
    await manager.setViewportSize({ width: 1200, height: 800 });
  }

  // The auditor reads the webhook and the dead letters, with no button to change them.
  const auditor = await as(...AUDITOR);
  await gotoHash(auditor, "/host-apps/ha_demo_superapp/messages");
  await auditor.locator("#webhook-url").getByText(url).waitFor();
  await see(auditor, "Only the host app's managers configure the webhook and rotate its secret.");
  await see(auditor, "No dead letters.");
  for (const name of ["Save URL", "Rotate secret", "Remove webhook"])
    assert((await auditor.getByRole("button", { name }).count()) === 0, `no ${name} button`);

  await manager.getByRole("button", { name: "Remove webhook" }).click();
  await manager
    .getByRole("alertdialog")
    .getByText(/no longer pushed/)
    .waitFor();
  await manager.getByRole("alertdialog").getByRole("button", { name: "Remove webhook" }).click();
  await see(manager, "Webhook removed: messages go to the users' inboxes only.");
  await see(manager, "No webhook: delivered messages go to the users' inboxes only.");
  assert((await manager.locator("#webhook-secret").count()) === 0, "no secret left on the page");
});

// ---- real-time logs and health guardrails (issue 15) -------------------------------------------
/** The admin API as the signed-in person on `page` (their session token), for set-up the test is not about. */
async function apiAsPage(page, method, path, json) {
  return apiAs(await page.evaluate(() => sessionStorage.getItem("graycast.token")), method, path, json);
}
/**
 * A log batch as a client's logger sends it to the edge (core/contracts/logs.ts LogBatch); waits
 * out a 429 (Retry-After), as the logger does.
 */
async function sendLogs(batch) {
  for (let attempt = 0; attempt < 10; attempt++) {
    const res = await fetch(`${EDGE}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (res.status === 429) {
      await new Promise((r) => setTimeout(r, Number(res.headers.get("retry-after") ?? "1") * 1000));
      continue;
    }
    const text = await res.text();
    assert(res.status === 202, `POST /v1/logs: ${res.status} ${text}`);
    return JSON.parse(text);
  }
  throw new Error("POST /v1/logs: still rate limited after 10 tries");
}
const logBatch = (appId, device, entries) => ({
  appId,
  hostAppId: "ha_demo_superapp",
  hostAppVersion: "8.2.0",
  platform: "android",
  osVersion: "14",
  baseLibraryVersion: "2.30.0",
  clientVersion: "1.1.0",
  ...device,
  entries,
});
/** The texts of the log table's message column, top to bottom. */
const logMessages = (page) =>
  page.getByRole("table", { name: "Log entries, newest first" }).locator("td.log-message").allTextContents();

/** Waits until the log table shows exactly `want` (a new search replaces the last one's rows). */
async function seeLogs(page, want, what) {
  const deadline = Date.now() + WAIT;
  let got;
  while (JSON.stringify((got = await logMessages(page))) !== JSON.stringify(want)) {
    assert(Date.now() < deadline, `${what}: ${JSON.stringify(got)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await see(page, `${want.length} entries: that is all.`);
}

test("logs: follow shows entries as clients send them; the seed's filters kept in a shareable link; load more by cursor", async () => {
  const dev = await as(...DEV);
  await gotoHash(dev, `/apps/${demoAppId}/logs`);
  await dev.getByRole("heading", { name: "Real-time logs" }).waitFor();
  await dev.getByLabel("Follow: show new entries as they arrive").check();
  await see(dev, /Checking every 3 s/);

  // Two devices log while the page follows: the entries appear without a reload, newest first.
  // A whole second: the time filter's inputs have a resolution of one second.
  const t0 = Math.floor((Date.now() - 60_000) / 1000) * 1000;
  await sendLogs(
    logBatch(demoAppId, { guid: "console-device-a" }, [
      { time: t0, level: "debug", message: "cart state restored", page: "pages/cart/index" },
      { time: t0 + 1000, level: "info", message: "order page shown", page: "pages/order/detail" },
      {
        time: t0 + 2000,
        level: "warn",
        message: "price list is 3 minutes old",
        page: "pages/order/detail",
        filterMsg: ["pricing"],
      },
      {
        time: t0 + 3000,
        level: "error",
        message: "TypeError: Cannot read properties of undefined (reading 'price')",
        page: "pages/order/detail",
        filterMsg: ["checkout", "pay-v2"],
      },
    ]),
  );
  await sendLogs(
    logBatch(
      demoAppId,
      { guid: "console-device-b", platform: "ios", osVersion: "17.2", baseLibraryVersion: "2.31.0" },
      [
        {
          time: t0 + 4000,
          level: "error",
          message: "payment sheet closed by the system",
          page: "pages/pay/index",
          filterMsg: ["checkout"],
        },
      ],
    ),
  );
  await see(dev, "payment sheet closed by the system");
  await see(dev, "cart state restored");
  await see(dev, /5 new entries since you started following/);
  const all = await logMessages(dev);
  assert(all[0] === "payment sheet closed by the system", `newest first, got ${all[0]}`);
  assert(all.indexOf("cart state restored") > all.indexOf("order page shown"), "older below newer");
  await shot(dev, "logs-follow");
  await dev.getByLabel("Follow: show new entries as they arrive").uncheck();

  // Error and above with the filterMsg "checkout": both errors; the filters go into the link.
  await dev.getByLabel("Level").selectOption({ label: "Error and above" });
  await dev.getByLabel("filterMsg content").fill("checkout");
  await dev.getByRole("button", { name: "Search logs" }).click();
  await dev.waitForURL(/level=error/);
  assert(dev.url().includes("filterMsg=checkout"), `the filters are in the URL: ${dev.url()}`);
  await seeLogs(
    dev,
    [
      "payment sheet closed by the system",
      "TypeError: Cannot read properties of undefined (reading 'price')",
    ],
    "only the two checkout errors",
  );
  // Warn and above on one device (GUID), platform and base library version: the warning and the error.
  await dev.getByLabel("Level").selectOption({ label: "Warn and above" });
  await dev.getByLabel("filterMsg content").fill("");
  await dev.getByLabel("GUID").fill("console-device-a");
  await dev.getByLabel("System type").selectOption({ label: "Android" });
  await dev.getByLabel("Base library version").fill("2.30.0");
  await dev.getByLabel("Client version").fill("1.1.0");
  await dev.getByRole("button", { name: "Search logs" }).click();
  await dev.waitForURL(/guid=console-device-a/);
  await seeLogs(
    dev,
    ["TypeError: Cannot read properties of undefined (reading 'price')", "price list is 3 minutes old"],
    "device a's warning and error",
  );
  // A shared link opens the same view: the same filters in the form, the same entries.
  const shared = dev.url();
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const other = await context.newPage();
  await other.goto(`${ADMIN}/`);
  await other.evaluate(
    (token) => sessionStorage.setItem("graycast.token", token),
    await dev.evaluate(() => sessionStorage.getItem("graycast.token")),
  );
  // The console reads the session when it loads: open the link as a fresh load of the page.
  await other.goto(shared);
  await other.reload();
  await see(other, "2 entries: that is all.");
  assert((await other.getByLabel("GUID").inputValue()) === "console-device-a", "GUID filled from the link");
  assert((await other.getByLabel("Level").inputValue()) === "warn", "level from the link");
  assert((await other.getByLabel("System type").inputValue()) === "android", "platform from the link");
  await context.close();
  // The page link (exact) and a time range that ends before the error: the warning alone.
  await dev.getByLabel("Level").selectOption({ label: "All levels" });
  await dev.getByLabel("Page link").fill("pages/order/detail");
  await dev.getByLabel("From", { exact: true }).fill(localInput(t0));
  await dev.getByLabel("To", { exact: true }).fill(localInput(t0 + 2500));
  await dev.getByRole("button", { name: "Search logs" }).click();
  await dev.waitForURL(/page=pages%2Forder%2Fdetail/);
  await seeLogs(
    dev,
    ["price list is 3 minutes old", "order page shown"],
    "the order page's entries in the time range",
  );
  assert(
    await dev.getByLabel("Follow: show new entries as they arrive").isDisabled(),
    "no follow with an end",
  );
  await shot(dev, "logs-filters");

  // 60 entries of one device: 50 a page, then "Load more" by the cursor.
  await sendLogs(
    logBatch(
      demoAppId,
      { guid: "console-device-c" },
      Array.from({ length: 60 }, (_, i) => ({
        time: t0 + 10_000 + i,
        level: "info",
        message: `step ${String(i + 1).padStart(2, "0")} of the wizard`,
        page: "pages/wizard/index",
      })),
    ),
  );
  await gotoHash(dev, `/apps/${demoAppId}/logs?guid=console-device-c`);
  const deadline = Date.now() + WAIT;
  // The queue consumer stores the batch within seconds: look for a while after each load.
  for (;;) {
    const shown = await dev
      .getByText("step 60 of the wizard")
      .waitFor({ timeout: 5_000 })
      .then(
        () => true,
        () => false,
      );
    if (shown) break;
    assert(Date.now() < deadline, "the 60 entries arrive");
    await dev.reload();
  }
  await dev.getByRole("button", { name: "Load more" }).waitFor();
  assert((await logMessages(dev)).length === 50, "a page of 50");
  await dev.getByRole("button", { name: "Load more" }).click();
  await see(dev, "60 entries: that is all.");
  const wizard = await logMessages(dev);
  assert(
    wizard[0] === "step 60 of the wizard" && wizard[59] === "step 01 of the wizard",
    "all 60, newest first",
  );
  assert((await dev.getByRole("button", { name: "Load more" }).count()) === 0, "no more to load");
});

test("guardrails: a task with health guardrails (a bad window refused next to the field) suspends itself on failing logs; the figures, health over time, then a resume", async () => {
  const dev = await as(...DEV);
  const manager = await as(...MANAGER);
  const auditor = await as(...AUDITOR);
  // Set-up through the API (the other tests do it in the console): 1.0.0 online, 1.1.0 approved.
  const mp = await apiAsPage(dev, "POST", "/v1/mini-programs", {
    teamId: "team_demo_acme",
    name: "Guarded Shop",
  });
  const appId = mp.appId;
  await apiAsPage(dev, "POST", `/v1/mini-programs/${appId}/bindings`, { hostAppId: "ha_demo_superapp" });
  await apiAsPage(manager, "POST", `/v1/host-apps/ha_demo_superapp/bindings/${appId}/approve`);
  const { demoPackage } = await import("../../scripts/lib/api.mjs");
  const token = await dev.evaluate(() => sessionStorage.getItem("graycast.token"));
  // The team may require signed uploads (the team admin test registers a key): sign with a key of
  // this test's own, registered by the team admin, with scripts/sign-package.mjs as a developer would.
  const keys = generateKeyPairSync("ed25519");
  const signer = await apiAsPage(await as(...LEAD), "POST", "/v1/teams/team_demo_acme/signing-keys", {
    name: "guardrails test",
    jwk: keys.publicKey.export({ format: "jwk" }),
  });
  const keyFile = join(LOCAL_DIR, "guardrails-key.json");
  writeFileSync(keyFile, JSON.stringify(keys.privateKey.export({ format: "jwk" })));
  for (const version of ["1.0.0", "1.1.0"]) {
    const zip = demoPackage(version);
    const zipFile = join(LOCAL_DIR, `guarded-${version}.zip`);
    writeFileSync(zipFile, zip);
    const signature = execFileSync(
      process.execPath,
      [
        join(ROOT, "scripts", "sign-package.mjs"),
        ...["--zip", zipFile, "--app-id", appId, "--version", version, "--key", keyFile, "--kid", signer.id],
      ],
      { encoding: "utf8", cwd: ROOT },
    );
    const up = await fetch(`${ADMIN}/v1/mini-programs/${appId}/versions?version=${version}&description=`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/zip",
        "x-graycast-signature": signature.trim(),
      },
      body: zip,
    });
    const answer = await up.text();
    assert(up.status < 300, `upload ${version}: ${up.status} ${answer}`);
    const audit = await apiAsPage(dev, "POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {});
    await apiAsPage(auditor, "POST", `/v1/audits/${audit.auditId}/decision`, {
      hostAppId: "ha_demo_superapp",
      decision: "approve",
    });
    if (version === "1.0.0")
      await apiAsPage(dev, "POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`);
  }

  // The form: both rules; a crash window that is not whole 10-minute steps is refused next to it.
  await gotoHash(dev, `/apps/${appId}/grayscale/new`);
  await dev.getByLabel("Task name").fill("Guarded rollout");
  const startAt = Date.now() + 5_000;
  await dev.getByLabel("Start time").fill(localInput(startAt));
  await dev.getByLabel("Suspend when the error rate is too high").check();
  await dev.getByLabel("Points above the online version's error rate").fill("10");
  await dev.getByLabel("Minimum sessions per version").fill("20");
  await dev.getByLabel("Suspend on crash reports").check();
  await dev.getByLabel("Crash reports tolerated").fill("5");
  await dev.getByLabel("Crash window (minutes)").fill("15");
  await dev.getByRole("button", { name: "Create grayscale task" }).click();
  await dev.locator("#gr-crashes-windowMinutes-err").waitFor();
  // A refused submit keeps what was entered, the times included.
  assert(
    (await dev.getByLabel("Start time").inputValue()) === localInput(startAt),
    `the start time entered is kept: ${await dev.getByLabel("Start time").inputValue()}`,
  );
  await shot(dev, "grayscale-guardrails-form");
  await dev.getByLabel("Crash window (minutes)").fill("60");
  await dev.getByRole("button", { name: "Create grayscale task" }).click();
  await see(dev, "Grayscale task created.");
  const guardrails = await dev.locator("#task-guardrails").textContent();
  assert(
    guardrails.includes(
      "error rate more than 10 points above the online version's, both over at least 20 sessions in 10 minutes",
    ) && guardrails.includes("more than 5 crash reports in 60 minutes"),
    `the task shows its guardrails: ${guardrails}`,
  );
  const taskId = dev.url().split("/grayscale/")[1].split("?")[0];

  // Clients log once the task delivers: 40 sessions of 1.0.0 (one with an error), 40 of 1.1.0
  // (24 with errors, 2 crash reports).
  await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now() + 1500)));
  const session = (version, guid, errors, crashes) => {
    const time = Date.now();
    return logBatch(appId, { guid, clientVersion: version }, [
      { time, level: "info", message: "order page shown", page: "pages/order/detail" },
      ...Array.from({ length: errors }, (_, i) => ({
        time: time + 1 + i,
        level: "error",
        message: "TypeError: Cannot read properties of undefined (reading 'price')",
        page: "pages/order/detail",
        ...(i < crashes ? { crash: true } : {}),
      })),
    ]);
  };
  for (let i = 0; i < 40; i++) {
    await sendLogs(session("1.0.0", `online-device-${i}`, i === 0 ? 1 : 0, 0));
    await sendLogs(session("1.1.0", `gray-device-${i}`, i < 24 ? 2 : 0, i < 2 ? 1 : 0));
  }

  // The task page says it suspended itself, with the figures that tripped it.
  const deadline = Date.now() + 60_000;
  while (!(await dev.getByRole("heading", { name: "Suspended by the error rate guardrail" }).count())) {
    assert(Date.now() < deadline, "the guardrail suspends the task");
    await new Promise((r) => setTimeout(r, 2000));
    await dev.getByRole("button", { name: "Refresh" }).click();
  }
  await see(dev, /suspended by a health guardrail/);
  const task = await apiAsPage(dev, "GET", `/v1/mini-programs/${appId}/grayscale-tasks/${taskId}`);
  assert(task.suspendCause === "guardrail", `suspendCause guardrail: ${task.suspendCause}`);
  const trip = task.guardrailTrip;
  await see(dev, trip.summary);
  const figures = dev.getByRole("table", { name: "Figures that tripped the guardrail" });
  const row = async (name) =>
    (await figures.getByRole("row", { name }).locator("td").allTextContents()).join(" | ");
  const want = (v) => [v.sessions, v.errorSessions, `${v.errorRate}%`, v.crashes].join(" | ");
  assert((await row(/Gray version 1\.1\.0/)) === want(trip.gray), `gray figures: ${await row(/Gray/)}`);
  assert(
    (await row(/Online version 1\.0\.0/)) === want(trip.online),
    `online figures: ${await row(/Online/)}`,
  );
  assert(trip.gray.errorRate - trip.online.errorRate > 10 && trip.gray.sessions >= 20, "the figures trip it");
  // Health over time for both versions, next to the admitted users.
  await dev
    .getByRole("img", { name: /Error rate \(% of sessions with an error\), latest bucket: gray 1\.1\.0 \d/ })
    .waitFor();
  await dev
    .getByRole("img", {
      name: /Sessions \(distinct devices\), latest bucket: gray 1\.1\.0 \d+; online 1\.0\.0 \d+/,
    })
    .waitFor();
  const health = dev.getByRole("table", { name: "Health figures per window" });
  assert((await health.getByRole("row").count()) >= 2, "a row per 10-minute window");
  await shot(dev, "grayscale-guardrail-tripped");

  // Resume by hand: delivering again, the trip kept on record.
  await dev.getByRole("button", { name: "Resume" }).click();
  await see(dev, "Task resumed.");
  await dev.getByRole("heading", { name: "Last guardrail trip (error rate), since resumed" }).waitFor();
  assert(
    (await dev.getByRole("heading", { name: "Suspended by the error rate guardrail" }).count()) === 0,
    "no longer suspended",
  );
  await see(dev, /State: being delivered/);
  await shot(dev, "grayscale-guardrail-resumed");
});

// ---- run ------------------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
try {
  log(`starting the stack on ${EDGE} / ${ADMIN} (state in ${LOCAL_DIR})`);
  demoAppId = await startAndWait();
  log(`stack up in ${Math.round((Date.now() - started) / 1000)} s`);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const only = process.env.CONSOLE_TEST_ONLY;
  for (const t of tests) {
    if (only && !only.split(",").some((o) => t.name.includes(o))) continue;
    const t0 = Date.now();
    try {
      await t.fn();
      passed++;
      log(`✓ ${t.name} (${Date.now() - t0} ms)`);
    } catch (error) {
      failed++;
      log(
        `✗ ${t.name}\n    ${String(error?.stack ?? error)
          .split("\n")
          .slice(0, 6)
          .join("\n    ")}`,
      );
      // What each signed-in page showed when the test failed (kept after the run).
      const dir = join(tmpdir(), "graycast-console-failures");
      mkdirSync(dir, { recursive: true });
      for (const [email, page] of sessions)
        await page.screenshot({ path: join(dir, `${email}.png`), fullPage: true }).catch(() => {});
      log(`    screenshots of the signed-in pages: ${dir}`);
    }
  }
} catch (error) {
  failed++;
  log(`setup failed: ${error?.stack ?? error}`);
} finally {
  await browser?.close().catch(() => {});
  await stopStack();
}
log(`done in ${Math.round((Date.now() - started) / 1000)} s; screenshots in docs/console/`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
