/**
 * The reference client over a mini program's life, in Node: delisting (seed: the preset "cannot
 * be used normally") and relisting, answers without a release, grayscale tickets carried between
 * checks, the filesystem store's atomic swap, and the CLI the README shows.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MANIFEST_ISSUER, type ManifestClaims } from "../../core/manifest";
import { FsStore } from "../src/node";
import { freshEdgeAndDevice } from "./support/client";
import { APP_ID, buildApkg, HOST_APP, twoVersions } from "./support/fixtures";

const t = freshEdgeAndDevice();

const { v1, v2 } = await twoVersions();

/** A signed answer without a version (delisted, no_release, not_bound). */
function statusClaims(status: ManifestClaims["status"], revision: number): ManifestClaims {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: MANIFEST_ISSUER,
    sub: APP_ID,
    aud: HOST_APP,
    iat,
    exp: iat + 3600,
    status,
    reason: status === "ok" ? "online" : status,
    revision,
  };
}

describe("delisting", () => {
  it("a signed delisting makes the installed version and any preset unusable; relisting restores them", async () => {
    t.edge.answer(await t.edge.claims(v1));
    await t.device.client.update();
    t.edge.answer(statusClaims("delisted", 100));
    expect(await t.device.client.update()).toMatchObject({
      plan: "delisted",
      status: "delisted",
      activated: false,
    });
    await expect(t.device.client.open()).rejects.toMatchObject({ code: "delisted" });
    await expect(t.device.client.installPreset(buildApkg("a.b.c", v1.zip))).rejects.toMatchObject({
      code: "delisted",
    });
    // The files stay: relisting the same version needs no download.
    expect((await t.device.client.trustedState()).installed?.version).toBe("1.0.0");

    t.edge.answer(await t.edge.claims(v1, { revision: 101 }));
    expect(await t.device.client.update()).toMatchObject({ plan: "none", activated: false, transferred: 0 });
    expect((await t.device.client.open()).version).toBe("1.0.0");
  });

  it("no release or no binding: nothing to install, nothing changes but the freshness", async () => {
    for (const status of ["no_release", "not_bound"] as const) {
      t.edge.answer(statusClaims(status, 5));
      expect(await t.device.client.update()).toMatchObject({ plan: "unavailable", status, activated: false });
    }
    expect(await t.device.client.trustedState()).toMatchObject({
      installed: null,
      highestRevision: 5,
      delisted: null,
    });
    await expect(t.device.client.open()).rejects.toMatchObject({ code: "not_installed" });
  });
});

describe("grayscale tickets", () => {
  it("tickets from answers are kept (at most 8, newest last) and sent back with the next check", async () => {
    t.edge.answer(await t.edge.claims(v1));
    t.edge.tickets = ["t0", "t1"];
    await t.device.client.check();
    t.edge.tickets = Array.from({ length: 8 }, (_, i) => `t${i + 1}`);
    await t.device.client.check();
    await t.device.client.check();
    const sent = t.edge.requests.filter((r) => r.path === "/v1/check").map((r) => r.check?.tickets);
    expect(sent).toEqual([undefined, ["t0", "t1"], ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"]]);
  });
});

describe("filesystem store", () => {
  it("an activation that fails leaves the previous version current; leftovers are removed by the next one", async () => {
    t.edge.answer(await t.edge.claims(v1));
    await t.device.client.update();
    const store = new FsStore(join(t.device.root, APP_ID));
    const before = t.device.contents();
    const state = (await store.load())!;
    const next = { ...state, installed: { ...state.installed!, version: "9.9.9" } };
    await expect(
      store.activate(
        next,
        new Map([
          ["ok.js", new Uint8Array([1])],
          ["../escape.js", new Uint8Array([2])],
        ]),
      ),
    ).rejects.toThrow(/leaves the install directory/);
    expect(await store.load()).toEqual(state);
    expect(await store.readFile("app.json")).toEqual(v1.bytes.get("app.json"));
    expect(t.device.contents().length).toBe(before.length + 1); // the half-written 9.9.9/ok.js

    t.edge.answer(await t.edge.claims(v2));
    await t.device.client.update();
    const dirs = new Set(
      t.device
        .contents()
        .map(([path]) => path.split("/").slice(0, 3).join("/"))
        .filter((p) => p.includes("/versions/")),
    );
    expect([...dirs]).toEqual([expect.stringMatching(new RegExp(`^${APP_ID}/versions/1\\.1\\.0-`))]);
  });
});

describe("CLI", () => {
  it("checks and updates once, printing what it did, with keys pinned from a file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "graycast-cli-test-"));
    try {
      const keys = join(dir, "keys.json");
      writeFileSync(keys, JSON.stringify(t.edge.pinned));
      mkdirSync(join(dir, "device"));
      t.edge.answer(await t.edge.claims(v1));
      const run = await cli([
        "--edge",
        t.edge.url,
        "--app",
        APP_ID,
        "--host-app",
        HOST_APP,
        "--dir",
        join(dir, "device"),
        "--keys",
        keys,
      ]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("check: ok (online) version 1.0.0, installed nothing -> install");
      expect(run.stdout).toContain("installed 1.0.0 via full package");
      expect(readFileSync(join(dir, "device", APP_ID, "current.json"), "utf8")).toContain(
        '"version": "1.0.0"',
      );

      t.edge.answer(await t.edge.claims(v1, { sub: "gcsomeotherappaaaabbbbcc" }));
      const refused = await cli([
        "--edge",
        t.edge.url,
        "--app",
        APP_ID,
        "--host-app",
        HOST_APP,
        "--dir",
        join(dir, "device"),
        "--keys",
        keys,
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain("refused (mix_and_match)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, "..", "cli.mjs"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
