/**
 * The web console as the admin Worker serves it (issue 13): every environment of
 * control-plane/wrangler.toml serves console/dist through Workers Static Assets while the Worker
 * keeps its own paths, and the build holds everything the browser needs, from this origin only,
 * under a strict CSP. What the pages do is tested in a browser: console/test/run.mjs
 * (`npm run test:browser`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { buildConsole } from "../build-console.mjs";
import { ROOT } from "../lib/local.mjs";

const ADMIN_CONFIG = join(ROOT, "control-plane", "wrangler.toml");
/** The admin Worker's own paths: an asset must never answer them. */
const WORKER_PATHS = ["/v1/*", "/docs", "/openapi.json", "/healthz", "/sns/*", "/cgi-bin/*", "/__scheduled"];

describe("control-plane/wrangler.toml [assets]", () => {
  for (const env of [undefined, "staging", "production"]) {
    it(`${env ?? "local"}: serves console/dist, runs the Worker first on its own paths, no SPA fallback`, () => {
      const config = unstable_readConfig({ config: ADMIN_CONFIG, env }, { hideWarnings: true });
      const assets = config.assets!;
      expect(assets.directory).toBe("../console/dist");
      expect(assets.run_worker_first).toEqual(expect.arrayContaining(WORKER_PATHS));
      // A fallback to index.html would answer unknown API paths with HTML instead of a JSON 404.
      expect(assets.not_found_handling).toBe("none");
      // No binding: the Worker never serves console files itself (and its env types stay as they are).
      expect(assets.binding).toBeUndefined();
    });
  }
});

describe("the console build", () => {
  let out = "";
  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "graycast-console-build-"));
    await buildConsole({ quiet: true, out });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("is index.html, one stylesheet, the console script and the /docs script", () => {
    for (const file of [
      "index.html",
      "_headers",
      "assets/console.css",
      "assets/console.js",
      "assets/docs.js",
    ])
      expect(existsSync(join(out, file)), file).toBe(true);
    const html = readFileSync(join(out, "index.html"), "utf8");
    expect(html).toContain('<script type="module" src="/assets/console.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/assets/console.css" />');
    // Nothing from another origin (no CDN): the page works on a laptop offline.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script>|<style>|style="/);
  });

  it("every file carries a CSP that allows this origin only, without inline script or style", () => {
    const headers = readFileSync(join(out, "_headers"), "utf8");
    expect(headers).toMatch(/^\/\*$/m);
    const csp = /Content-Security-Policy: (.*)$/m.exec(headers)?.[1] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
  });

  it("the scripts talk only to this origin's admin API", () => {
    const js = readFileSync(join(out, "assets", "console.js"), "utf8");
    expect(js).toContain("/v1/mini-programs");
    // The only absolute URLs are XML namespaces (SVG) and input placeholders on the reserved
    // example.com domain (RFC 2606), never a server to call.
    const urls = [...js.matchAll(/https?:\/\/[^"'`\s)]+/g)].map((m) => m[0]);
    const placeholder = (u: string) => new URL(u).hostname.endsWith(".example.com");
    expect(urls.filter((u) => !u.startsWith("http://www.w3.org/") && !placeholder(u))).toEqual([]);
    const docs = readFileSync(join(out, "assets", "docs.js"), "utf8");
    expect(docs).toContain("/openapi.json");
  });
});
