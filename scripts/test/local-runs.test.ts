/**
 * Local runs keep to themselves (issue 10): every wrangler process `npm start` starts gets a dev
 * registry inside this checkout's .graycast/, so two checkouts never bind each other's Workers,
 * wrangler's metrics, update check and `Request.cf` download are off, and each Worker starts from
 * its own configuration with its own secrets. The two-stack run and the cron are checked by
 * hand (README "Local runs"); this pins the environment and the flags the script passes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureDevVars, localWranglerEnv, REGISTRY_DIR, ROOT, WORKERS } from "../lib/local.mjs";

describe("local wrangler processes", () => {
  it("use a dev registry under this checkout's .graycast/, with metrics and the update check off", () => {
    const env = localWranglerEnv();
    expect(env.WRANGLER_REGISTRY_PATH).toBe(REGISTRY_DIR);
    expect(REGISTRY_DIR).toBe(join(ROOT, ".graycast", "registry"));
    expect(env.WRANGLER_SEND_METRICS).toBe("false");
    expect(env.WRANGLER_HIDE_BANNER).toBe("true");
    expect(env.CLOUDFLARE_CF_FETCH_ENABLED).toBe("false");
  });

  it("each Worker runs from its own configuration and reads only its own local secrets", () => {
    expect(
      Object.fromEntries(
        Object.entries(WORKERS).map(([name, w]) => [name, (w as { config: string }).config]),
      ),
    ).toEqual({
      edge: "wrangler.toml",
      admin: "control-plane/wrangler.toml",
      builder: "control-plane/builder/wrangler.toml",
    });
    // wrangler dev reads the .dev.vars beside the configuration; the admin Worker never holds the
    // manifest signing key or the ticket secret.
    for (const w of Object.values(WORKERS) as { config: string; devVars: string; secrets: string[] }[])
      expect(w.devVars).toBe(join(dirname(w.config), ".dev.vars"));
    expect(WORKERS.admin.secrets).not.toContain("MANIFEST_SIGNING_KEY");
    expect(WORKERS.admin.secrets).not.toContain("ADMISSION_TICKET_SECRET");
    expect(WORKERS.builder.secrets).toEqual(["PACKAGE_KEY_SECRET", "MESSAGE_WEBHOOK_KEY"]);
    // Compared without whitespace, so the formatter's line breaks do not matter.
    const start = readFileSync(join(ROOT, "scripts", "start.mjs"), "utf8").replace(/\s+/g, "");
    expect(start).toContain(`["dev","-c",WORKERS[worker].config,`);
    expect(start).toMatch(/"migrations","apply","DB","--local","-c",WORKERS\.admin\.config/);
  });

  it("start.mjs starts every wrangler process with that environment and the admin Worker with --test-scheduled", () => {
    const start = readFileSync(join(ROOT, "scripts", "start.mjs"), "utf8").replace(/\s+/g, "");
    const spawns = start.match(/spawn(Sync)?\(wrangler[^;]*/g) ?? [];
    expect(spawns.length).toBeGreaterThanOrEqual(2);
    for (const call of spawns) expect(call).toContain("env:localWranglerEnv()");
    expect(start).toMatch(/startWorker\("admin",ADMIN_PORT,\[[^\]]*"--test-scheduled"/);
    expect(start).toContain("/__scheduled?cron=*+*+*+*+*");
  });

  it("npm start writes each Worker only its own secrets, and splits an older single .dev.vars keeping its values", () => {
    const root = mkdtempSync(join(tmpdir(), "graycast-devvars-"));
    try {
      mkdirSync(join(root, "control-plane", "builder"), { recursive: true });
      writeFileSync(
        join(root, ".dev.vars"),
        'MANIFEST_SIGNING_KEY=\'{"kid":"old"}\'\nJWT_SECRET="jwt-old"\nADMISSION_TICKET_SECRET="ticket-old"\nPACKAGE_KEY_SECRET="pk-old"\nMANIFEST_VERIFY_KEYS=\'[]\'\n',
      );
      ensureDevVars(root);
      const names = (file: string) =>
        [...readFileSync(join(root, file), "utf8").matchAll(/^([A-Z_]+)=(.*)$/gm)].map(
          (m) => `${m[1]}=${m[2]}`,
        );
      // Secrets added since (the login code key, the AppSecret and user-id keys) get fresh values;
      // LOGIN_CODE_KEY is one value in the edge and admin Workers.
      const edgeLines = names(".dev.vars");
      expect(edgeLines.slice(0, 4)).toEqual([
        `MANIFEST_SIGNING_KEY='{"kid":"old"}'`,
        'ADMISSION_TICKET_SECRET="ticket-old"',
        'PACKAGE_KEY_SECRET="pk-old"',
        "MANIFEST_VERIFY_KEYS='[]'",
      ]);
      expect(edgeLines.slice(4).map((l) => l.split("=")[0])).toEqual(["LOGIN_CODE_KEY"]);
      const adminLines = names("control-plane/.dev.vars");
      expect(adminLines.slice(0, 2)).toEqual(['JWT_SECRET="jwt-old"', 'PACKAGE_KEY_SECRET="pk-old"']);
      expect(adminLines.slice(2).map((l) => l.split("=")[0])).toEqual([
        "APP_SECRET_HASH_KEY",
        "USER_ID_KEY",
        "LOGIN_CODE_KEY",
        "MESSAGE_WEBHOOK_KEY",
      ]);
      expect(adminLines[4]).toBe(edgeLines[4]);
      // MESSAGE_WEBHOOK_KEY (issue 14) is one value in the admin and builder Workers.
      expect(names("control-plane/builder/.dev.vars")).toEqual([
        'PACKAGE_KEY_SECRET="pk-old"',
        adminLines[5],
      ]);
      // A fresh checkout gets fresh values, one PACKAGE_KEY_SECRET for all three.
      rmSync(join(root, ".dev.vars"));
      rmSync(join(root, "control-plane", ".dev.vars"));
      rmSync(join(root, "control-plane", "builder", ".dev.vars"));
      ensureDevVars(root);
      const admin = names("control-plane/.dev.vars");
      expect(admin.map((l) => l.split("=")[0])).toEqual([
        "JWT_SECRET",
        "PACKAGE_KEY_SECRET",
        "APP_SECRET_HASH_KEY",
        "USER_ID_KEY",
        "LOGIN_CODE_KEY",
        "MESSAGE_WEBHOOK_KEY",
      ]);
      expect(names(".dev.vars").map((l) => l.split("=")[0])).toEqual([
        "MANIFEST_SIGNING_KEY",
        "ADMISSION_TICKET_SECRET",
        "PACKAGE_KEY_SECRET",
        "LOGIN_CODE_KEY",
      ]);
      expect(names(".dev.vars")[3]).toBe(admin[4]);
      expect(new Set(admin.map((l) => l.split("=")[1])).size).toBe(6);
      expect(names("control-plane/builder/.dev.vars")).toEqual([admin[1], admin[5]]);
      expect(names(".dev.vars")[2]).toBe(admin[1]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
