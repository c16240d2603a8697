/**
 * cli/src/api/admin-api.ts (the CLI's typed paths) is generated from the admin API's OpenAPI
 * document (`npm run cli:api`); these fail when the committed file is stale, against the
 * document served in-process and by the running stack.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, inject, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FILE = join(ROOT, "cli", "src", "api", "admin-api.ts");

describe("cli/src/api/admin-api.ts", () => {
  it("is what `npm run cli:api` makes from the control plane's own document (in-process)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "cli", "scripts", "gen-admin-api.mjs"), "--check"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.stderr + r.stdout).toContain("up to date");
    expect(r.status).toBe(0);
  });

  it("is what the running admin Worker's GET /openapi.json generates, every path included", async () => {
    const doc = (await (await fetch(`${inject("stack").adminUrl}/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    // @ts-expect-error: a plain .mjs module without types
    const { generate } = await import("../scripts/gen-admin-api.mjs");
    const committed = readFileSync(FILE, "utf8");
    expect(generate(doc)).toBe(committed);
    for (const path of Object.keys(doc.paths)) expect(committed).toContain(`"${path}": {`);
  });
});
