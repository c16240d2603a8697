#!/usr/bin/env node
// `npm run bench:console`: how fast the web console's pages show up, measured in Chromium
// (playwright-core, /usr/bin/chromium or CHROMIUM) against the stack of the last `npm start`
// (its ports from .graycast/ports.json). For each page: a fresh load of index.html, the first
// contentful paint the browser reports, the time until the page's own content is on screen (its
// data fetched from the admin API and rendered), and how many admin API calls that took.
// Medians of --rounds loads (default 5). A measurement to record, not a test: nothing here passes
// or fails on a time.
import { chromium } from "playwright-core";
import { ADMIN_URL, demoUser, readState } from "../scripts/lib/local.mjs";

const args = process.argv.slice(2);
const roundsAt = args.indexOf("--rounds");
const ROUNDS = roundsAt >= 0 ? Number(args[roundsAt + 1]) : 5;

const dev = demoUser((u) => u.team === "developer");
/** @type {string | undefined} */
const appId = readState("demo.json")?.appId;
if (!appId) throw new Error("no demo mini program (.graycast/demo.json): run npm start first");

/**
 * Each page: its hash route and a text on it. "Content on screen" is when that text shows and the
 * page's last admin API answer has arrived (whichever is later), found after the network is idle.
 */
const PAGES = [
  { name: "mini program list", hash: "/", ready: "Demo Mall" },
  { name: "details", hash: `/apps/${appId}`, ready: appId },
  { name: "versions", hash: `/apps/${appId}/versions`, ready: "Audit records" },
  { name: "grayscale tasks", hash: `/apps/${appId}/grayscale`, ready: "Grayscale release" },
  { name: "packages", hash: `/apps/${appId}/packages`, ready: "Incremental packages" },
  { name: "change log", hash: "/change-log", ready: "Change log" },
];

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" });
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${ADMIN_URL}/`);
  await page.getByLabel("Email").fill(dev.email);
  await page.getByLabel("Password").fill(dev.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Main" }).waitFor();

  /** @type {string[]} */
  const apiCalls = [];
  let lastApiDone = 0;
  const isApi = (/** @type {string} */ url) => new URL(url).pathname.startsWith("/v1/");
  page.on("request", (r) => {
    if (isApi(r.url())) apiCalls.push(r.url());
  });
  page.on("requestfinished", (r) => {
    if (isApi(r.url())) lastApiDone = Date.now();
  });

  console.log(`console pages, ${ROUNDS} fresh loads each, medians (ms), Chromium headless, ${ADMIN_URL}`);
  console.log("| page | first contentful paint | content on screen | admin API calls |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const p of PAGES) {
    /** @type {number[]} */ const fcp = [];
    /** @type {number[]} */ const ready = [];
    /** @type {number[]} */ const calls = [];
    for (let i = 0; i < ROUNDS; i++) {
      await page.goto("about:blank");
      apiCalls.length = 0;
      lastApiDone = 0;
      const t0 = Date.now();
      await page.goto(`${ADMIN_URL}/#${p.hash}`);
      await page.getByText(p.ready).first().waitFor({ state: "visible", timeout: 30_000 });
      const shown = Date.now();
      await page.waitForLoadState("networkidle");
      ready.push(Math.max(shown, lastApiDone) - t0);
      calls.push(apiCalls.length);
      fcp.push(
        await page.evaluate(
          () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN,
        ),
      );
    }
    console.log(
      `| ${p.name} | ${Math.round(median(fcp))} | ${Math.round(median(ready))} | ${median(calls)} |`,
    );
  }
} finally {
  await browser.close();
}
