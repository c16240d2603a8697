/**
 * `scripts/sign-package.mjs`, run as a developer runs it (Node, a zip and a private JWK on disk),
 * signs what the control plane verifies: its header for the golden package and RFC 8032's test
 * key is byte for byte the one the workerd suite derives with WebCrypto over the control plane's
 * own files digest (test/admin-signing-keys.test.ts, "agrees with the control plane").
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";

const enc = new TextEncoder();
const golden = zipSync(
  {
    "app.json": enc.encode(JSON.stringify({ pages: ["pages/index/index"] })),
    "pages/index/index.js": enc.encode("Page({});\n"),
    "pages/index/index.wxml": enc.encode("<view>signed</view>\n"),
    "static/": new Uint8Array(0),
  },
  { mtime: new Date("2026-01-01T00:00:00Z") },
);
// RFC 8032 test vector 1: a published test key, never a real one.
const RFC8032 = {
  kty: "OKP",
  crv: "Ed25519",
  d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
  x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
};
const KID = "sk_aaaaaaaaaaaaaaaa";
const EXPECTED = `${KID}:EdDSA:h17JQUovzG165QSprlV86Tj6GdX_wMZO_P-pV50_jlhMmLNg92bhvoyLGgt8GP4-5Njk9b3VXQqnB9D3R6zMCw`;

const dir = mkdtempSync(join(tmpdir(), "graycast-sign-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) =>
  spawnSync(process.execPath, ["scripts/sign-package.mjs", ...args], { encoding: "utf8", timeout: 60_000 });

describe("scripts/sign-package.mjs", () => {
  it("prints the x-graycast-signature header the control plane accepts", () => {
    writeFileSync(join(dir, "golden.zip"), golden);
    writeFileSync(join(dir, "key.json"), JSON.stringify(RFC8032));
    const r = run(
      "--zip",
      join(dir, "golden.zip"),
      "--app-id",
      "gcaaaabbbbccccddddeeeeff",
      "--version",
      "1.0.0",
      "--key",
      join(dir, "key.json"),
      "--kid",
      KID,
    );
    expect(r.stderr).toContain(
      "filesSha256 d51d032038b76d5fd95552b2d99c81b37f69779c3163841279286b24214b029c",
    );
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(EXPECTED);
  });

  it("refuses a public key, a missing argument and a malformed kid, with a message and a non-zero exit", () => {
    writeFileSync(join(dir, "public.json"), JSON.stringify({ kty: "OKP", crv: "Ed25519", x: RFC8032.x }));
    const cases = [
      run(
        "--zip",
        join(dir, "golden.zip"),
        "--app-id",
        "gcaaaabbbbccccddddeeeeff",
        "--version",
        "1.0.0",
        "--key",
        join(dir, "public.json"),
        "--kid",
        KID,
      ),
      run(
        "--zip",
        join(dir, "golden.zip"),
        "--version",
        "1.0.0",
        "--key",
        join(dir, "key.json"),
        "--kid",
        KID,
      ),
      run(
        "--zip",
        join(dir, "golden.zip"),
        "--app-id",
        "gcaaaabbbbccccddddeeeeff",
        "--version",
        "1.0.0",
        "--key",
        join(dir, "key.json"),
        "--kid",
        "not-a-kid",
      ),
    ];
    for (const r of cases) {
      expect(r.status).not.toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr.length).toBeGreaterThan(0);
    }
  });

  it("refuses what the upload refuses: a name with a bidirectional override, a second archive appended", () => {
    writeFileSync(
      join(dir, "bidi.zip"),
      zipSync({ "app.json": enc.encode("{}"), "pages/invoice\u202Esj.js": enc.encode("x") }),
    );
    writeFileSync(
      join(dir, "twice.zip"),
      new Uint8Array([...golden, ...zipSync({ "payload.js": enc.encode("evil()") })]),
    );
    const args = [
      "--app-id",
      "gcaaaabbbbccccddddeeeeff",
      "--version",
      "1.0.0",
      "--key",
      join(dir, "key.json"),
      "--kid",
      KID,
    ];
    const bidi = run("--zip", join(dir, "bidi.zip"), ...args);
    expect(bidi.status).toBe(2);
    expect(bidi.stdout).toBe("");
    expect(bidi.stderr).toContain(
      '"pages/invoice\\u202Esj.js": path contains an invisible or bidirectional-control character (U+202E)',
    );
    const twice = run("--zip", join(dir, "twice.zip"), ...args);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/\d+ bytes before the archive \(another archive or data prepended\)/);
  });
});
