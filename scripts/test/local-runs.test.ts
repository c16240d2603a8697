/**
 * Local runs keep to themselves (issue 10): every wrangler process `npm start` starts gets a dev
 * registry inside this checkout's .graycast/, so two checkouts never bind each other's Workers,
 * and wrangler's metrics and update check are off. The two-stack run and the cron are checked by
 * hand (README "Local runs"); this pins the environment and the flags the script passes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs module without types
import { REGISTRY_DIR, ROOT, localWranglerEnv } from "../lib/local.mjs";

describe("local wrangler processes", () => {
  it("use a dev registry under this checkout's .graycast/, with metrics and the update check off", () => {
    const env = localWranglerEnv();
    expect(env.WRANGLER_REGISTRY_PATH).toBe(REGISTRY_DIR);
    expect(REGISTRY_DIR).toBe(join(ROOT, ".graycast", "registry"));
    expect(env.WRANGLER_SEND_METRICS).toBe("false");
    expect(env.WRANGLER_HIDE_BANNER).toBe("true");
  });

  it("start.mjs starts every wrangler process with that environment and the admin Worker with --test-scheduled", () => {
    const start = readFileSync(join(ROOT, "scripts", "start.mjs"), "utf8");
    const spawns = start.match(/spawn(Sync)?\(wrangler[^;]*/g) ?? [];
    expect(spawns.length).toBeGreaterThanOrEqual(2);
    for (const call of spawns) expect(call).toContain("env: localWranglerEnv()");
    expect(start).toMatch(/startWorker\("admin", ADMIN_PORT, \[[^\]]*"--test-scheduled"/);
    expect(start).toContain("/__scheduled?cron=*+*+*+*+*");
  });
});
