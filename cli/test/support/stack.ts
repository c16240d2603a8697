/**
 * Global setup of the `cli` test project: builds the CLI bundle, then starts ONE real local stack
 * for every CLI test (scripts/start.mjs: the edge, builder and admin Workers under wrangler dev,
 * with the demo data) on free ports, with its own state, dev registry and ports file in a
 * temporary GRAYCAST_LOCAL_DIR, so it never meets a developer's `npm start` or another checkout's.
 * Teardown stops the whole process group and removes the folder.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { TestProject } from "vitest/node";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

export interface Stack {
  adminUrl: string;
  edgeUrl: string;
  demoAppId: string;
  localDir: string;
  bundle: string;
}

declare module "vitest" {
  interface ProvidedContext {
    stack: Stack;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export default async function setup(project: TestProject) {
  const { buildCli } = (await import(pathToFileURL(join(ROOT, "cli", "scripts", "build.mjs")).href)) as {
    buildCli: () => Promise<string>;
  };
  const bundle = await buildCli();
  // One more attempt from fresh state when the first fails, as the console runner does
  // (console/test/run.mjs): npm start seeds through the API while the builder works on the same
  // local files, and a seeding call that loses that race ends npm start.
  for (let attempt = 1; ; attempt++) {
    try {
      const { stack, stop } = await startStack(bundle);
      project.provide("stack", stack);
      return stop;
    } catch (error) {
      if (attempt === 2) throw error;
      console.warn(
        `[cli-test] the stack did not come up (${String(error).split("\n")[0]}); starting it again`,
      );
    }
  }
}

/** One `npm start` on free ports and fresh state; resolves once the demo data is seeded. */
async function startStack(bundle: string) {
  const localDir = mkdtempSync(join(tmpdir(), "graycast-cli-stack-"));
  const [edge, admin, builder] = [await freePort(), await freePort(), await freePort()];
  // wrangler needs Node 22: the `node` package's binary comes first on PATH, as under `npm start`.
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "scripts", "start.mjs")], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PATH: `${join(ROOT, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
      GRAYCAST_LOCAL_DIR: localDir,
      EDGE_PORT: String(edge),
      ADMIN_PORT: String(admin),
      BUILDER_PORT: String(builder),
    },
  });
  let log = "";
  // The stack's own output, for when a test fails on what the Workers did (kept after the run).
  const logFile = createWriteStream(join(tmpdir(), `graycast-cli-stack-${process.pid}.log`));
  child.stdout?.pipe(logFile);
  child.stderr?.pipe(logFile);
  // The whole process group, even when start.mjs itself has already exited (a failed start
  // ends start.mjs but may leave the wrangler and workerd processes it started).
  const groupAlive = () => {
    try {
      if (child.pid) process.kill(-child.pid, 0);
      return Boolean(child.pid);
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (child.pid && groupAlive()) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let waited = 0; groupAlive() && waited < 10_000; waited += 100)
        await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    rmSync(localDir, { recursive: true, force: true });
  };
  try {
    const demoAppId = await new Promise<string>((resolve, reject) => {
      const onData = (d: Buffer) => {
        log += String(d);
        const m = /Demo mini program (gc[a-z2-7]+)/.exec(log);
        if (m && log.includes("Graycast is running.")) resolve(m[1]!);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", (d: Buffer) => {
        log += String(d);
      });
      child.once("exit", (code) =>
        reject(new Error(`scripts/start.mjs exited (${code}):\n${log.slice(-4000)}`)),
      );
    });
    const stack = {
      adminUrl: `http://127.0.0.1:${admin}`,
      edgeUrl: `http://127.0.0.1:${edge}`,
      demoAppId,
      localDir,
      bundle,
    };
    return { stack, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
