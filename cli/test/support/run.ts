/**
 * Runs the CLI as a user does: a separate Node process on the bundle, with its own config folder
 * (XDG_CONFIG_HOME) and the test stack's URL; optionally on a pseudo-terminal (util-linux
 * `script`), where stdout and stderr arrive together as the terminal shows them.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, inject } from "vitest";

export interface Run {
  code: number;
  /** Everything it printed, for assertion messages. */
  output: string;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json<T = any>(): T;
  /** stderr parsed as JSON (errors with --json). */
  errorJson(): { error: { kind: string; status?: number; code?: string; message: string; hint?: string } };
}

const made: string[] = [];

/** A fresh config folder (XDG_CONFIG_HOME) for one user of the CLI; removed by `removeConfigHomes`. */
export function newConfigHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "graycast-cli-config-"));
  made.push(dir);
  return dir;
}

export function removeConfigHomes(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  configHome?: string;
  cwd?: string;
  /** On a pseudo-terminal (stdout, stderr and stdin are the terminal). */
  tty?: boolean;
}

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * util-linux `script` gives a real pseudo-terminal. Where it is missing, the CLI is told it is on
 * a terminal (GRAYCAST_FORCE_TTY=1) and its two streams are read as one, as a terminal shows them.
 */
const HAS_SCRIPT = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

export function makeRunner(defaultConfigHome: string) {
  const stack = inject("stack");
  return function graycast(args: string[], options: RunOptions = {}): Promise<Run> {
    const env: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TERM: "xterm-256color",
      XDG_CONFIG_HOME: options.configHome ?? defaultConfigHome,
      GRAYCAST_API_URL: stack.adminUrl,
      ...options.env,
    };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const pty = options.tty === true && HAS_SCRIPT;
    const merged = options.tty === true && !HAS_SCRIPT;
    if (merged) env.GRAYCAST_FORCE_TTY = "1";
    const [command, argv] = pty
      ? [
          "script",
          ["-q", "-e", "-c", [process.execPath, stack.bundle, ...args].map(quote).join(" "), "/dev/null"],
        ]
      : [process.execPath, [stack.bundle, ...args]];
    return new Promise((resolve, reject) => {
      const child = spawn(command as string, argv as string[], {
        cwd: options.cwd,
        env: env as NodeJS.ProcessEnv,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += String(d)));
      child.stderr.on("data", (d) => {
        if (merged) stdout += String(d);
        else stderr += String(d);
      });
      child.on("error", reject);
      child.on("close", (code) =>
        resolve({
          code: code ?? -1,
          output: `exit ${code}\nstdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`,
          stdout,
          stderr,
          json() {
            try {
              return JSON.parse(stdout);
            } catch {
              throw new Error(`stdout is not JSON (exit ${code}):\n${stdout}\nstderr:\n${stderr}`);
            }
          },
          errorJson() {
            return JSON.parse(stderr);
          },
        }),
      );
      if (options.input !== undefined) child.stdin.end(options.input);
      else child.stdin.end();
    });
  };
}

type Runner = ReturnType<typeof makeRunner>;

/** Signs each `[profile, email, password]` in, as a user does (`graycast login --password-stdin`). */
export async function signIn(
  graycast: Runner,
  accounts: readonly (readonly [profile: string, email: string, password: string])[],
): Promise<void> {
  for (const [profile, email, password] of accounts) {
    const r = await graycast(["login", "--profile", profile, "--email", email, "--password-stdin"], {
      input: `${password}\n`,
    });
    expect(r.code, r.output).toBe(0);
  }
}

/**
 * A new mini program made by the default profile, bound to `hostApp` and approved there by the
 * profile `mgr` (the host app's manager); returns its App ID.
 */
export async function boundApp(graycast: Runner, name: string, hostApp: string): Promise<string> {
  const made = await graycast(["apps", "create", "--name", name, "--json"]);
  expect(made.code, made.output).toBe(0);
  const appId: string = made.json().appId;
  expect((await graycast(["bind", "--app", appId, "--host-app", hostApp])).code).toBe(0);
  expect((await graycast(["bindings", "approve", appId, "--profile", "mgr"])).code).toBe(0);
  return appId;
}
