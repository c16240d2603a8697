/**
 * The `graycast` CLI (issue 16) driven as a subprocess against a real local stack (one for the
 * whole project: support/stack.ts): every command's success and a refusal, exit codes (0 ok,
 * 1 refused with the server's message as sent, 2 usage, 3 network), --json outputs that parse,
 * progress on a pseudo-terminal and as plain lines, prompts and --yes, colours, completion.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeRunner, newConfigHome, removeConfigHomes } from "./support/run";

const stack = inject("stack");
const home = newConfigHome();
const graycast = makeRunner(home);
const work = mkdtempSync(join(tmpdir(), "graycast-cli-work-"));
const HOST_APP = "ha_demo_superapp";
const TEAM = "team_demo_acme";
const ESC = "\u001b[";
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** A small mini program folder; `marker` changes one file so each version differs. */
function miniProgram(name: string, marker: string, extraBytes = 0): string {
  const dir = join(work, name);
  mkdirSync(join(dir, "pages", "index"), { recursive: true });
  writeFileSync(join(dir, "app.json"), JSON.stringify({ pages: ["pages/index/index"] }));
  writeFileSync(join(dir, "app.js"), "App({});\n");
  writeFileSync(
    join(dir, "pages", "index", "index.js"),
    `Page({ data: { marker: ${JSON.stringify(marker)} } });\n`,
  );
  // Incompressible bytes so uploads take several progress steps.
  if (extraBytes) writeFileSync(join(dir, "pages", "index", "data.bin"), randomBytes(extraBytes));
  return dir;
}

let appId: string;

const loginAs = (profile: string, email: string, password: string) =>
  graycast(["login", "--profile", profile, "--email", email, "--password-stdin"], { input: `${password}\n` });

beforeAll(async () => {
  for (const [profile, email, password] of [
    ["mgr", "manager@superapp.local", "manager-pass"],
    ["aud", "auditor@superapp.local", "auditor-pass"],
    ["lead", "lead@acme.local", "team-admin-pass"],
  ] as const)
    expect((await loginAs(profile, email, password)).code).toBe(0);
});

describe("help and usage", () => {
  it("--help lists every command group with the exit codes; a command's help has options and examples", async () => {
    const top = await graycast(["--help"]);
    expect(top.code, top.output).toBe(0);
    for (const c of [
      "login",
      "apps create",
      "upload",
      "gray whitelist upload",
      "offline download",
      "completion",
      "log",
    ])
      expect(top.stdout).toContain(c);
    expect(top.stdout).toContain("1 refused by the server");
    for (const c of [
      "domains add",
      "switches set",
      "privacy publish",
      "host-app applications approve",
      "config",
    ])
      expect(top.stdout).toContain(c);
    expect(top.stdout).not.toContain("Not yet available");
    const upload = await graycast(["upload", "--help"]);
    expect(upload.code, upload.output).toBe(0);
    expect(upload.stdout).toContain("--sign-key");
    expect(upload.stdout).toContain("Examples:");
    const group = await graycast(["gray", "--help"]);
    expect(group.stdout).toContain("gray progress");
    // docs/cli.md shows the current `graycast --help` (npm run cli:docs).
    const docs = readFileSync(join(ROOT, "docs", "cli.md"), "utf8");
    expect(docs).toContain((await graycast(["--help"], { env: { NO_COLOR: "1" } })).stdout.trimEnd());
  });

  it("the bin runs the bundle (rebuilding it when a source is newer): npx graycast from the checkout", async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, "cli", "bin", "graycast.mjs"), "--version"], {
        env: { PATH: process.env.PATH },
      });
      let out = "";
      child.stdout.on("data", (d) => (out += String(d)));
      child.on("close", (code) => resolve({ code, out }));
    });
    expect(r).toEqual({ code: 0, out: "0.1.0\n" });
    expect(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).bin).toEqual({
      graycast: "cli/bin/graycast.mjs",
    });
  });

  it("a wrong command line exits 2 and names the problem", async () => {
    expect((await graycast(["frobnicate"])).code).toBe(2);
    const bad = await graycast(["apps", "list", "--bogus"]);
    expect(bad.code, bad.output).toBe(2);
    expect(bad.stderr).toMatch(/bogus/);
    const missing = await graycast(["apps", "create", "--json"]);
    expect(missing.code, missing.output).toBe(2);
    expect(missing.errorJson().error).toMatchObject({ kind: "usage", message: "--name is required" });
  });

  it("colours only on a terminal and never with NO_COLOR", async () => {
    expect((await graycast(["--help"])).stdout).not.toContain(ESC);
    expect((await graycast(["--help"], { env: { GRAYCAST_FORCE_TTY: "1" } })).stdout).toContain(`${ESC}1m`);
    expect((await graycast(["--help"], { tty: true })).stdout).toContain(`${ESC}1m`);
    expect((await graycast(["--help"], { tty: true, env: { NO_COLOR: "1" } })).stdout).not.toContain(ESC);
  });
});

describe("login, whoami, logout, profiles", () => {
  it("a wrong password is refused with the server's message and exit 1; nothing is stored", async () => {
    const cfg = newConfigHome();
    const r = await graycast(["login", "--email", "dev@acme.local", "--password-stdin"], {
      input: "nope\n",
      configHome: cfg,
    });
    expect(r.code, r.output).toBe(1);
    expect(r.stderr).toMatch(/refused: .+/);
    expect(r.stderr).toContain("HTTP 401");
    expect(() => statSync(join(cfg, "graycast", "credentials.json"))).toThrow();
  });

  it("logs in, stores the session 0600 in XDG_CONFIG_HOME/graycast, never prints it; whoami --json parses", async () => {
    const r = await graycast(["login", "--email", "dev@acme.local", "--json"], {
      env: { GRAYCAST_PASSWORD: "developer-pass" },
    });
    expect(r.code, r.output).toBe(0);
    expect(r.json()).toMatchObject({ profile: "default", email: "dev@acme.local", kind: "session" });
    const file = join(home, "graycast", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "graycast")).mode & 0o777).toBe(0o700);
    const token = JSON.parse(readFileSync(file, "utf8")).profiles.default.token as string;
    expect(token.length).toBeGreaterThan(20);
    expect(r.stdout + r.stderr).not.toContain(token);
    const me = await graycast(["whoami", "--json"]);
    expect(me.code, me.output).toBe(0);
    expect(me.json()).toMatchObject({ email: "dev@acme.local", teams: [{ id: TEAM, role: "developer" }] });
    expect(me.stdout).not.toContain(token);
  });

  it("profiles: add with a server URL, list, use, remove (asks first); GRAYCAST_API_URL overrides", async () => {
    const cfg = newConfigHome();
    expect(
      (await graycast(["profiles", "add", "staging", "--url", "http://127.0.0.1:9/"], { configHome: cfg }))
        .code,
    ).toBe(0);
    expect(
      (await graycast(["profiles", "add", "staging", "--url", "ftp://x"], { configHome: cfg })).code,
    ).toBe(2);
    const list = await graycast(["profiles", "list", "--json"], { configHome: cfg });
    expect(list.json().profiles).toContainEqual({
      name: "staging",
      apiUrl: "http://127.0.0.1:9",
      loggedIn: false,
      email: null,
    });
    expect((await graycast(["profiles", "use", "staging"], { configHome: cfg })).code).toBe(0);
    expect((await graycast(["profiles", "list", "--json"], { configHome: cfg })).json().current).toBe(
      "staging",
    );
    // The profile's own server is unreachable: without the override that is a network error (3).
    // Other accounts than the developer's: the sign-in limiter allows one address 5 attempts per
    // account a minute, and the CLI test files sign in as the developer several times.
    const net = await graycast(["login", "--email", "lead@acme.local", "--password-stdin"], {
      configHome: cfg,
      input: "team-admin-pass\n",
      env: { GRAYCAST_API_URL: undefined },
    });
    expect(net.code, net.output).toBe(3);
    expect(net.stderr).toContain("cannot reach http://127.0.0.1:9");
    // GRAYCAST_API_URL (the test stack) wins over the profile's URL.
    expect(
      (
        await graycast(["login", "--email", "lead@acme.local", "--password-stdin"], {
          configHome: cfg,
          input: "team-admin-pass\n",
        })
      ).code,
    ).toBe(0);
    expect((await graycast(["profiles", "remove", "staging"], { configHome: cfg })).code).toBe(2);
    expect((await graycast(["profiles", "remove", "staging", "--yes"], { configHome: cfg })).code).toBe(0);
    expect((await graycast(["whoami"], { configHome: cfg })).code).toBe(2);
  });

  it("logout ends the session on the server; the old token is refused afterwards", async () => {
    const cfg = newConfigHome();
    await graycast(["login", "--email", "lead@acme.local", "--password-stdin"], {
      configHome: cfg,
      input: "team-admin-pass\n",
    });
    const token = JSON.parse(readFileSync(join(cfg, "graycast", "credentials.json"), "utf8")).profiles.default
      .token;
    const out = await graycast(["logout", "--json"], { configHome: cfg });
    expect(out.json()).toEqual({ profile: "default", loggedOut: true });
    const notLoggedIn = await graycast(["whoami"], { configHome: cfg });
    expect(notLoggedIn.code, notLoggedIn.output).toBe(2);
    expect(notLoggedIn.stderr).toContain("graycast login");
    const stale = await graycast(["whoami", "--json"], { configHome: cfg, env: { GRAYCAST_TOKEN: token } });
    expect(stale.code, stale.output).toBe(1);
    expect(stale.errorJson().error).toMatchObject({ kind: "refused", status: 401 });
  });
});

describe("apps and bindings", () => {
  it("create, list, show, edit; a name the server refuses exits 1 with its message", async () => {
    const made = await graycast(["apps", "create", "--name", "CLI walkthrough", "--json"]);
    expect(made.code, made.output).toBe(0);
    appId = made.json().appId;
    expect(appId).toMatch(/^gc[a-z2-7]+$/);
    const list = await graycast(["apps", "list", "--team", TEAM, "--json"]);
    expect(list.json().miniPrograms.map((m: { id?: string; appId?: string }) => m.appId ?? m.id)).toContain(
      appId,
    );
    expect((await graycast(["apps", "list"])).stdout).toContain("CLI walkthrough");
    expect((await graycast(["apps", "edit", appId, "--name", "CLI walk", "--json"])).json().name).toBe(
      "CLI walk",
    );
    const shown = await graycast(["apps", "show", "--json"], { env: { GRAYCAST_APP: appId } });
    expect(shown.json()).toMatchObject({ appId, name: "CLI walk", listed: true });
    const refused = await graycast(["apps", "create", "--name", "x".repeat(61), "--json"]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.errorJson().error).toMatchObject({ kind: "refused", status: 400 });
    expect((await graycast(["apps", "show", "not-an-app"])).code).toBe(2);
  });

  it("delist asks first (refused without a terminal, exit 2), --yes delists; relist", async () => {
    const asked = await graycast(["apps", "delist", appId]);
    expect(asked.code, asked.output).toBe(2);
    expect(asked.stderr).toContain("--yes");
    expect((await graycast(["apps", "show", appId, "--json"])).json().listed).toBe(true);
    // On a terminal the question is asked; "n" leaves it listed.
    const no = await graycast(["apps", "delist", appId], { tty: true, input: "n\n" });
    expect(no.stdout).toContain("[y/N]");
    expect((await graycast(["apps", "show", appId, "--json"])).json().listed).toBe(true);
    expect((await graycast(["apps", "delist", appId, "--yes", "--json"])).json().listed).toBe(false);
    expect((await graycast(["apps", "relist", appId, "--json"])).json().listed).toBe(true);
  });

  it("bind, the manager's bindings and approval, the app's bindings; binding twice is refused", async () => {
    expect((await graycast(["bind", "--app", appId, "--host-app", HOST_APP, "--json"])).json().status).toBe(
      "pending",
    );
    const pending = await graycast([
      "bindings",
      "--host-app",
      HOST_APP,
      "--status",
      "pending",
      "--json",
      "--profile",
      "mgr",
    ]);
    expect(pending.json().bindings.map((b: { appId: string }) => b.appId)).toContain(appId);
    expect((await graycast(["bindings", "approve", appId, "--profile", "mgr", "--json"])).json().status).toBe(
      "approved",
    );
    const mine = await graycast(["bindings", "--app", appId, "--json"]);
    expect(mine.json().bindings).toEqual([
      expect.objectContaining({ hostAppId: HOST_APP, status: "approved" }),
    ]);
    const again = await graycast(["bind", "--app", appId, "--host-app", HOST_APP]);
    expect(again.code, again.output).toBe(1);
    expect(again.stderr).toMatch(/refused: /);
  });
});

describe("upload", () => {
  it("zips a folder deterministically: the same files give the same sha256 whatever their times", async () => {
    const dir = miniProgram("det", "a");
    const first = await graycast([
      "upload",
      dir,
      "--app",
      appId,
      "--version",
      "1.0.0",
      "--dry-run",
      "--json",
      "--zip-out",
      join(work, "a.zip"),
    ]);
    expect(first.code, first.output).toBe(0);
    utimesSync(join(dir, "app.js"), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const second = await graycast([
      "upload",
      dir,
      "--app",
      appId,
      "--version",
      "1.0.0",
      "--dry-run",
      "--json",
    ]);
    expect(second.json().sha256).toBe(first.json().sha256);
    // The zip lists its entries sorted, with the zip epoch as every time stamp.
    const zip = readFileSync(join(work, "a.zip"));
    const names: string[] = [];
    for (let at = zip.indexOf("PK\u0001\u0002"); at >= 0; at = zip.indexOf("PK\u0001\u0002", at + 4)) {
      expect(zip.readUInt16LE(at + 12)).toBe(0); // DOS time 00:00
      expect(zip.readUInt16LE(at + 14)).toBe(0x21); // DOS date 1980-01-01
      names.push(zip.subarray(at + 46, at + 46 + zip.readUInt16LE(at + 28)).toString());
    }
    expect(names).toEqual(["app.js", "app.json", "pages/index/index.js"]);
    // A zip is uploaded as it is: the one written above has the folder's sha256.
    const asZip = await graycast([
      "upload",
      join(work, "a.zip"),
      "--app",
      appId,
      "--version",
      "1.0.0",
      "--dry-run",
      "--json",
    ]);
    expect(asZip.json().sha256).toBe(first.json().sha256);
  });

  it("refuses what the server would refuse before sending anything (exit 2, even with no server)", async () => {
    const empty = join(work, "empty");
    mkdirSync(empty, { recursive: true });
    const dead = { GRAYCAST_API_URL: "http://127.0.0.1:9" };
    expect(
      (await graycast(["upload", empty, "--app", appId, "--version", "1.0.0"], { env: dead })).code,
    ).toBe(2);
    const many = join(work, "many");
    mkdirSync(many, { recursive: true });
    for (let i = 0; i < 5001; i++) writeFileSync(join(many, `f${i}.js`), "");
    const tooMany = await graycast(["upload", many, "--app", appId, "--version", "1.0.0"], { env: dead });
    expect(tooMany.code, tooMany.output).toBe(2);
    expect(tooMany.stderr).toMatch(/5000/);
    const notZip = join(work, "not.zip");
    writeFileSync(notZip, "hello");
    expect(
      (await graycast(["upload", notZip, "--app", appId, "--version", "1.0.0"], { env: dead })).code,
    ).toBe(2);
    expect((await graycast(["upload", empty, "--app", appId, "--version", "1.0"], { env: dead })).code).toBe(
      2,
    );
  });

  it("without a terminal: plain progress lines on stderr, the version as JSON on stdout", async () => {
    const r = await graycast([
      "upload",
      miniProgram("v100", "1.0.0", 600_000),
      "--app",
      appId,
      "--version",
      "1.0.0",
      "--description",
      "first",
      "--json",
    ]);
    expect(r.code, r.output).toBe(0);
    expect(r.json()).toMatchObject({ version: "1.0.0", status: "development" });
    expect(r.stderr).toMatch(/^Uploading 1\.0\.0: \d+% \(.+ of .+\)$/m);
    expect(r.stderr).toMatch(/^Uploading 1\.0\.0: 100% .+ sent in [\d.]+ s \(.+\/s\)$/m);
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain(ESC);
  });

  it("on a terminal: a redrawn bar with bytes, rate and time left", async () => {
    const r = await graycast(
      ["upload", miniProgram("v100b", "1.0.0b", 600_000), "--app", appId, "--version", "1.0.0"],
      { tty: true },
    );
    expect(r.code, r.output).toBe(0);
    expect(r.stdout).toMatch(
      /\r\u001b\[2KUploading 1\.0\.0 [█░]{24} +\d+% [\d.]+ (B|KiB|MiB)\/[\d.]+ (KiB|MiB) [\d.]+ (B|KiB|MiB)\/s ETA \d\d:\d\d/,
    );
    expect(r.stdout).toContain("Uploaded");
  });

  it("a connection that breaks mid-upload is retried and the upload completes", async () => {
    // A relay in front of the admin Worker that cuts the first connection after 100 KiB.
    const target = new URL(stack.adminUrl);
    let connections = 0;
    const relay: Server = createServer((client: Socket) => {
      const n = ++connections;
      const upstream = connect(Number(target.port), target.hostname);
      let seen = 0;
      client.on("data", (d: Buffer) => {
        seen += d.length;
        if (n === 1 && seen > 100 * 1024) {
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(d);
      });
      upstream.pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    try {
      const port = (relay.address() as { port: number }).port;
      const r = await graycast(
        ["upload", miniProgram("v100c", "1.0.0", 600_000), "--app", appId, "--version", "1.0.0", "--json"],
        {
          env: { GRAYCAST_API_URL: `http://127.0.0.1:${port}` },
        },
      );
      expect(r.stderr).toMatch(/connection lost .*retrying in \d+ ms \(attempt 2 of 4\)/);
      expect(r.code, r.output).toBe(0);
      expect(r.json().version).toBe("1.0.0");
      expect(connections).toBeGreaterThanOrEqual(2);
    } finally {
      relay.close();
    }
  });
});

describe("audit and release", () => {
  it("submit; the auditor's queue; reject with a reason makes `wait` exit 1 with it", async () => {
    const sub = await graycast(["submit", "--app", appId, "--version", "1.0.0", "--note", "first", "--json"]);
    expect(sub.code, sub.output).toBe(0);
    expect(sub.json()).toMatchObject({ version: "1.0.0", hostApps: [HOST_APP] });
    const mine = await graycast(["audits", "--app", appId, "--json"]);
    expect(mine.json().audits[0]).toMatchObject({ id: sub.json().auditId, version: "1.0.0" });
    const queue = await graycast(["audits", "--profile", "aud", "--json"]);
    expect(queue.json().audits.map((a: { id: string }) => a.id)).toContain(sub.json().auditId);
    expect((await graycast(["reject", sub.json().auditId, "--profile", "aud"])).code).toBe(2); // no --reason
    const rejected = await graycast([
      "reject",
      sub.json().auditId,
      "--profile",
      "aud",
      "--reason",
      "the cart crashes",
      "--json",
    ]);
    expect(rejected.code, rejected.output).toBe(0);
    const waited = await graycast(["wait", "--app", appId, "--version", "1.0.0", "--interval", "1"]);
    expect(waited.code, waited.output).toBe(1);
    expect(waited.stderr).toContain("the cart crashes");
  });

  it("publishing an unapproved version is refused with the server's rule; approve, wait, publish", async () => {
    await graycast(["upload", miniProgram("v101", "1.0.1"), "--app", appId, "--version", "1.0.1"]);
    const early = await graycast(["publish", "--app", appId, "--version", "1.0.1"]);
    expect(early.code, early.output).toBe(1);
    expect(early.stderr).toContain("refused: only a version that passed the audit can be published");
    const audit = (await graycast(["submit", "--app", appId, "--version", "1.0.1", "--json"])).json().auditId;
    const approved = await graycast(["approve", audit, "--profile", "aud", "--json"]);
    expect(approved.code, approved.output).toBe(0);
    expect(
      (await graycast(["wait", "--app", appId, "--version", "1.0.1", "--interval", "1", "--json"])).json()
        .status,
    ).toBe("approved");
    const pub = await graycast(["publish", "--app", appId, "--version", "1.0.1", "--json"]);
    expect(pub.json()).toMatchObject({ version: "1.0.1", online: true });
    const versions = await graycast(["versions", "--app", appId, "--json"]);
    expect(versions.json().versions.find((v: { online: boolean }) => v.online).version).toBe("1.0.1");
    const one = await graycast(["versions", "show", "--app", appId, "--version", "1.0.1", "--json"]);
    expect(one.json().files.map((f: { path: string }) => f.path)).toContain("app.json");
    // Nothing earlier to go back to.
    const nothing = await graycast(["rollback", "--app", appId, "--yes"]);
    expect(nothing.code, nothing.output).toBe(2);
  });

  it("a second release, then rollback: asks first, --yes rolls back to the previous one; again is refused", async () => {
    await graycast(["upload", miniProgram("v110", "1.1.0"), "--app", appId, "--version", "1.1.0"]);
    const audit = (await graycast(["submit", "--app", appId, "--version", "1.1.0", "--json"])).json().auditId;
    await graycast(["approve", audit, "--profile", "aud"]);
    expect((await graycast(["publish", "--app", appId, "--version", "1.1.0"])).code).toBe(0);
    expect((await graycast(["rollback", "--app", appId])).code).toBe(2);
    const back = await graycast(["rollback", "--app", appId, "--yes", "--json"]);
    expect(back.code, back.output).toBe(0);
    expect(back.json().version).toBe("1.0.1");
    const again = await graycast(["rollback", "--app", appId, "--to", "1.0.1", "--yes", "--json"]);
    expect(again.code, again.output).toBe(1);
    expect(again.errorJson().error).toMatchObject({ kind: "refused", status: 409 });
  });

  it("trial: set the page and testers, show them; a page is required to set testers", async () => {
    await graycast(["upload", miniProgram("v120", "1.2.0"), "--app", appId, "--version", "1.2.0"]);
    const set = await graycast([
      "trial",
      "--app",
      appId,
      "--page",
      "pages/index/index",
      "--tester",
      "t-1",
      "--tester",
      "t-2",
      "--json",
    ]);
    expect(set.code, set.output).toBe(0);
    const shown = await graycast(["trial", "--app", appId, "--json"]);
    expect(shown.json()).toMatchObject({
      pagePath: "pages/index/index",
      testers: ["t-1", "t-2"],
      version: "1.2.0",
    });
    expect((await graycast(["trial", "--app", appId, "--tester", "t-3"])).code).toBe(2);
  });

  it("withdraw takes a version out of audit; withdrawing it again is refused", async () => {
    await graycast(["submit", "--app", appId, "--version", "1.2.0"]);
    expect((await graycast(["withdraw", "--app", appId, "--version", "1.2.0", "--json"])).json().status).toBe(
      "development",
    );
    expect((await graycast(["withdraw", "--app", appId, "--version", "1.2.0"])).code).toBe(1);
  });
});

describe("grayscale", () => {
  let taskId: string;

  it("gray create from a YAML file with flags laid over it; a task the server refuses exits 1", async () => {
    await graycast(["upload", miniProgram("v120b", "1.2.0b"), "--app", appId, "--version", "1.2.0"]);
    const audit = (await graycast(["submit", "--app", appId, "--version", "1.2.0", "--json"])).json().auditId;
    await graycast(["approve", audit, "--profile", "aud"]);
    const file = join(work, "task.yaml");
    writeFileSync(
      file,
      [
        "version: 1.2.0",
        "name: YAML beta",
        "endAt: +2h",
        "hostApps:",
        `  - hostAppId: ${HOST_APP}`,
        '    minVersion: "8.0"',
        "platforms:",
        "  - platform: android",
        '    minOsVersion: "12"',
        "networks: [wifi]",
        "countries: { include: [CN] }",
      ].join("\n"),
    );
    const made = await graycast([
      "gray",
      "create",
      "--app",
      appId,
      "--file",
      file,
      "--cap",
      "3",
      "--guid",
      "dev-1",
      "--exclude-city",
      "Lhasa",
      "--json",
    ]);
    expect(made.code, made.output).toBe(0);
    taskId = made.json().id;
    expect(made.json()).toMatchObject({
      version: "1.2.0",
      name: "YAML beta",
      userCap: 3,
      state: "delivering",
      hostApps: [{ hostAppId: HOST_APP, minVersion: "8.0" }],
      platforms: [{ platform: "android", minOsVersion: "12" }],
      networks: ["wifi"],
      targets: { guids: ["dev-1"] },
      countries: { include: ["CN"] },
      cities: { exclude: ["Lhasa"] },
    });
    const refused = await graycast([
      "gray",
      "create",
      "--app",
      appId,
      "--version",
      "9.9.9",
      "--name",
      "nope",
      "--end",
      "+1h",
      "--host-app",
      HOST_APP,
      "--platform",
      "ios",
    ]);
    expect(refused.code, refused.output).toBe(1);
    expect(refused.stderr).toMatch(/^refused: /m);
    expect((await graycast(["gray", "create", "--app", appId, "--platform", "windows"])).code).toBe(2);
    expect((await graycast(["gray", "create", "--app", appId, "--end", "tomorrow-ish"])).code).toBe(2);
  });

  it("every condition from flags alone", async () => {
    const r = await graycast([
      "gray",
      "create",
      "--app",
      appId,
      "--version",
      "1.2.0",
      "--name",
      "flags",
      "--start",
      "+1h",
      "--end",
      "+2h",
      "--percentage",
      "12.5",
      "--host-app",
      `${HOST_APP}:8.0:9.0`,
      "--platform",
      "android:12:14",
      "--platform",
      "ios:16",
      "--network",
      "wifi",
      "--network",
      "5g",
      "--guid",
      "g-1",
      "--device-id",
      "d-1",
      "--account",
      "a-1",
      "--brand",
      "huawei",
      "--exclude-brand",
      "acme",
      "--model",
      "p60",
      "--exclude-model",
      "x1",
      "--country",
      "CN",
      "--exclude-country",
      "US",
      "--region",
      "GD",
      "--exclude-region",
      "XZ",
      "--city",
      "Shenzhen",
      "--exclude-city",
      "Lhasa",
      "--verified-only",
      "--cap-shards",
      "4",
      "--json",
    ]);
    expect(r.code, r.output).toBe(0);
    expect(r.json()).toMatchObject({
      state: "pending",
      percentage: 12.5,
      hostApps: [{ hostAppId: HOST_APP, minVersion: "8.0", maxVersion: "9.0" }],
      platforms: [
        { platform: "android", minOsVersion: "12", maxOsVersion: "14" },
        { platform: "ios", minOsVersion: "16" },
      ],
      networks: ["wifi", "5g"],
      targets: { guids: ["g-1"], deviceIds: ["d-1"], accounts: ["a-1"] },
      brands: { include: ["huawei"], exclude: ["acme"] },
      models: { include: ["p60"], exclude: ["x1"] },
      countries: { include: ["CN"], exclude: ["US"] },
      regions: { include: ["GD"], exclude: ["XZ"] },
      cities: { include: ["Shenzhen"], exclude: ["Lhasa"] },
      verifiedOnly: true,
      capShards: 4,
    });
    const edited = await graycast([
      "gray",
      "edit",
      r.json().id,
      "--app",
      appId,
      "--name",
      "flags edited",
      "--cap",
      "7",
      "--json",
    ]);
    expect(edited.json()).toMatchObject({ name: "flags edited", userCap: 7, percentage: 12.5 });
    expect((await graycast(["gray", "edit", r.json().id, "--app", appId])).code).toBe(2);
    const badEdit = await graycast(["gray", "edit", r.json().id, "--app", appId, "--name", "x".repeat(201)]);
    expect(badEdit.code, badEdit.output).toBe(1);
    const ended = await graycast(["gray", "end", r.json().id, "--app", appId, "--yes", "--json"]);
    expect(ended.json()).toMatchObject({ state: "ended", endReason: "manual" });
  });

  it("list, show, progress, explain", async () => {
    const list = await graycast(["gray", "list", "--app", appId, "--json"]);
    expect(list.json().tasks.map((t: { id: string }) => t.id)).toContain(taskId);
    expect((await graycast(["gray", "show", taskId, "--app", appId])).stdout).toMatch(/countries\s+only CN/);
    const progress = await graycast(["gray", "progress", taskId, "--app", appId, "--json"]);
    expect(progress.json()).toMatchObject({ taskId, state: "delivering", userCap: 3 });
    const why = await graycast([
      "gray",
      "explain",
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "--host-app-version",
      "8.2.0",
      "--platform",
      "android",
      "--os-version",
      "14",
      "--guid",
      "dev-1",
      "--network",
      "wifi",
      "--country",
      "CN",
      "--json",
    ]);
    expect(why.code, why.output).toBe(0);
    expect(why.json().decision).toMatchObject({ version: "1.2.0", taskId });
    const text = await graycast([
      "gray",
      "explain",
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "--host-app-version",
      "8.2.0",
      "--platform",
      "android",
      "--os-version",
      "14",
      "--guid",
      "dev-2",
      "--network",
      "wifi",
      "--country",
      "CN",
    ]);
    expect(text.stdout).toMatch(/✗ target/);
    expect((await graycast(["gray", "show", "gt_nosuchtask", "--app", appId])).code).toBe(1);
  });

  it("whitelists: refused while delivering, as the server words it; 1,000,000 lines pass the checks, one more does not; suspended, an upload with a bar", async () => {
    const small = join(work, "few.txt");
    writeFileSync(small, "guid-1\nguid-2\n");
    const early = await graycast(["gray", "whitelist", "upload", small, "--app", appId, "--task", taskId]);
    expect(early.code, early.output).toBe(1);
    expect(early.stderr).toContain("refused: suspend the grayscale task before changing its whitelists");
    const guids = (n: number) =>
      Array.from({ length: n }, (_, i) => `guid-${String(i).padStart(8, "0")}`).join("\n");
    const million = join(work, "guids-1m.txt");
    writeFileSync(million, `${guids(1_000_000)}\n`);
    const checked = await graycast([
      "gray",
      "whitelist",
      "upload",
      million,
      "--app",
      appId,
      "--task",
      taskId,
      "--dry-run",
      "--json",
    ]);
    expect(checked.json()).toMatchObject({ lines: 1_000_000, dryRun: true });
    const tooLong = join(work, "too-long.txt");
    writeFileSync(tooLong, `${guids(1_000_000)}\nextra\n`);
    const over = await graycast(["gray", "whitelist", "upload", tooLong, "--app", appId, "--task", taskId]);
    expect(over.code, over.output).toBe(2);
    expect(over.stderr).toContain("1,000,001 lines");
    expect((await graycast(["gray", "suspend", taskId, "--app", appId, "--json"])).json().state).toBe(
      "suspended",
    );
    // 200,000 lines (2.8 MB) on a pseudo-terminal: the bar, then what the server stored. (The full
    // 1,000,000 also uploads; on a loaded machine the local workerd was seen to abort on it once,
    // so the run's own stack is not asked to hold that many.)
    const file = join(work, "guids.txt");
    writeFileSync(file, `${guids(200_000)}\n`);
    const up = await graycast(
      ["gray", "whitelist", "upload", file, "--app", appId, "--task", taskId, "--kind", "guid"],
      { tty: true },
    );
    expect(up.code, up.output).toBe(0);
    expect(up.stdout).toContain("200,000 lines");
    expect(up.stdout).toMatch(/\r\u001b\[2KUploading guid whitelist [█░]{24} +\d+% .+ ETA \d\d:\d\d/);
    expect(up.stdout).toMatch(/Stored guid whitelist wl_\w+: 200000 values from 200000 lines/);
    const removed = await graycast([
      "gray",
      "whitelist",
      "remove",
      "--app",
      appId,
      "--task",
      taskId,
      "--yes",
      "--json",
    ]);
    expect(removed.json()).toMatchObject({ removed: true });
  });

  it("resume, then revert asks first and --yes ends it; progress --watch stops at the end", async () => {
    expect((await graycast(["gray", "resume", taskId, "--app", appId, "--json"])).json().state).toBe(
      "delivering",
    );
    expect((await graycast(["gray", "revert", taskId, "--app", appId])).code).toBe(2);
    const reverted = await graycast(["gray", "revert", taskId, "--app", appId, "--yes", "--json"]);
    expect(reverted.json()).toMatchObject({ state: "ended", endReason: "reverted" });
    const watch = await graycast(["gray", "progress", taskId, "--app", appId, "--watch", "--json"]);
    expect(watch.code, watch.output).toBe(0);
    expect(
      watch.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).state),
    ).toEqual(["ended"]);
    expect((await graycast(["gray", "resume", taskId, "--app", appId])).code).toBe(1);
  });
});

describe("increments, offline packages, signing keys, tokens, change log", () => {
  it("increments are listed; retrying an unknown one is refused", async () => {
    const r = await graycast(["increments", "--app", appId, "--json"]);
    expect(r.code, r.output).toBe(0);
    expect(Array.isArray(r.json().increments)).toBe(true);
    expect((await graycast(["increments", "retry", "inc_nosuch", "--app", appId])).code).toBe(1);
  });

  it("offline download writes the .apkg; a host app without a binding is refused", async () => {
    const out = join(work, "app.apkg");
    const r = await graycast([
      "offline",
      "download",
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "-o",
      out,
      "--json",
    ]);
    expect(r.code, r.output).toBe(0);
    expect(r.json()).toMatchObject({ file: out });
    expect(readFileSync(out).subarray(0, 2).toString()).toBe("PK");
    expect(
      (await graycast(["offline", "download", "--app", appId, "--host-app", HOST_APP, "-o", out])).code,
    ).toBe(2); // exists
    expect(
      (
        await graycast([
          "offline",
          "download",
          "--app",
          appId,
          "--host-app",
          "ha_nosuch",
          "-o",
          join(work, "x.apkg"),
        ])
      ).code,
    ).toBe(1);
  });

  it("keys: generate (0600), a developer may not register, the team admin does; signed uploads pass, unsigned are refused; revoke", async () => {
    const keyFile = join(work, "dev-key.json");
    const gen = await graycast(["keys", "generate", "--out", keyFile, "--json"]);
    expect(gen.code, gen.output).toBe(0);
    expect(gen.json().public).not.toHaveProperty("d");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect((await graycast(["keys", "generate", "--out", keyFile])).code).toBe(2);
    expect((await graycast(["keys", "add", "--name", "ci", "--key", keyFile])).code).toBe(1);
    const added = await graycast([
      "keys",
      "add",
      "--name",
      "ci",
      "--key",
      keyFile,
      "--profile",
      "lead",
      "--json",
    ]);
    expect(added.code, added.output).toBe(0);
    const kid = added.json().id as string;
    try {
      const unsigned = await graycast([
        "upload",
        miniProgram("v130", "1.3.0"),
        "--app",
        appId,
        "--version",
        "1.3.0",
      ]);
      expect(unsigned.code, unsigned.output).toBe(1);
      expect(unsigned.stderr).toContain("HTTP 422 bad_signature");
      const signed = await graycast([
        "upload",
        join(work, "v130"),
        "--app",
        appId,
        "--version",
        "1.3.0",
        "--sign-key",
        keyFile,
        "--key-id",
        kid,
        "--json",
      ]);
      expect(signed.code, signed.output).toBe(0);
      expect(signed.json().signature).toEqual({ kid, alg: "EdDSA" });
      expect(
        (await graycast(["keys", "list", "--json"])).json().keys.map((k: { id: string }) => k.id),
      ).toContain(kid);
      // A P-256 key signs too (ES256, raw r||s as in JWS).
      const p256 = join(work, "dev-key-p256.json");
      expect((await graycast(["keys", "generate", "--out", p256, "--alg", "ES256"])).code).toBe(0);
      const es = await graycast([
        "keys",
        "add",
        "--name",
        "ci-p256",
        "--key",
        p256,
        "--profile",
        "lead",
        "--json",
      ]);
      const esKid = es.json().id as string;
      const esSigned = await graycast([
        "upload",
        join(work, "v130"),
        "--app",
        appId,
        "--version",
        "1.3.0",
        "--sign-key",
        p256,
        "--key-id",
        esKid,
        "--json",
      ]);
      expect(esSigned.code, esSigned.output).toBe(0);
      expect(esSigned.json().signature).toEqual({ kid: esKid, alg: "ES256" });
      expect((await graycast(["keys", "revoke", esKid, "--profile", "lead", "--yes"])).code).toBe(0);
    } finally {
      const revoked = await graycast(["keys", "revoke", kid, "--profile", "lead", "--yes", "--json"]);
      expect(revoked.json().status).toBe("revoked");
    }
  });

  it("secret: the team admin generates it (printed once, alone on stdout), show never prints it, freeze asks, reset replaces it; a developer is refused", async () => {
    const refused = await graycast(["secret", "generate", "--app", appId]);
    expect(refused.code, refused.output).toBe(1);
    const made = await graycast(["secret", "generate", "--app", appId, "--profile", "lead"]);
    expect(made.code, made.output).toBe(0);
    const secret = made.stdout.trim();
    expect(secret).toMatch(/^\S{16,}$/);
    expect(made.stderr).toContain("shown once");
    const shown = await graycast(["secret", "show", "--app", appId, "--profile", "lead", "--json"]);
    expect(shown.json()).toMatchObject({ appId, exists: true, frozen: false, generation: 1 });
    expect(shown.stdout).not.toContain(secret);
    expect((await graycast(["secret", "generate", "--app", appId, "--profile", "lead"])).code).toBe(1);
    expect((await graycast(["secret", "freeze", "--app", appId, "--profile", "lead"])).code).toBe(2);
    expect(
      (await graycast(["secret", "freeze", "--app", appId, "--profile", "lead", "--yes", "--json"])).json()
        .frozen,
    ).toBe(true);
    expect(
      (await graycast(["secret", "unfreeze", "--app", appId, "--profile", "lead", "--json"])).json().frozen,
    ).toBe(false);
    const reset = await graycast(["secret", "reset", "--app", appId, "--profile", "lead", "--yes", "--json"]);
    expect(reset.json().generation).toBe(2);
    expect(reset.json().secret).not.toBe(secret);
  });

  it("tokens: create prints the secret once, GRAYCAST_TOKEN logs CI in, revoke ends it", async () => {
    const made = await graycast([
      "tokens",
      "create",
      "--name",
      "ci",
      "--scope",
      "read",
      "--scope",
      "write",
      "--scope",
      "publish",
      "--json",
    ]);
    expect(made.code, made.output).toBe(0);
    const { id, token } = made.json();
    expect(token).toMatch(/^gct_/);
    expect((await graycast(["tokens", "create", "--name", "x", "--scope", "root"])).code).toBe(2);
    const ci = await graycast(["whoami", "--json"], {
      configHome: newConfigHome(),
      env: { GRAYCAST_TOKEN: token },
    });
    expect(ci.json().email).toBe("dev@acme.local");
    // Stored for a profile from stdin (checked with the server first), then used like a session.
    const cfg = newConfigHome();
    const stored = await graycast(["login", "--token-stdin", "--profile", "ci", "--json"], {
      configHome: cfg,
      input: `${token}\n`,
    });
    expect(stored.json()).toMatchObject({ profile: "ci", kind: "api-token", email: "dev@acme.local" });
    expect(stored.stdout).not.toContain(token);
    expect((await graycast(["whoami", "--profile", "ci", "--json"], { configHome: cfg })).json().email).toBe(
      "dev@acme.local",
    );
    expect((await graycast(["login", "--token-stdin"], { configHome: cfg, input: "gct_wrong\n" })).code).toBe(
      1,
    );
    const list = await graycast(["tokens", "list", "--json"]);
    expect(list.json().tokens.find((t: { id: string }) => t.id === id)).not.toHaveProperty("token");
    expect(list.stdout).not.toContain(token);
    expect((await graycast(["tokens", "revoke", id, "--yes"])).code).toBe(0);
    expect(
      (await graycast(["whoami"], { configHome: newConfigHome(), env: { GRAYCAST_TOKEN: token } })).code,
    ).toBe(1);
  });

  it("log shows the team's changes as JSON; a team you are not in is refused", async () => {
    const r = await graycast(["log", "--limit", "50", "--json"]);
    expect(r.code, r.output).toBe(0);
    expect(r.json().entries.some((e: { targetId: string }) => e.targetId === appId)).toBe(true);
    expect((await graycast(["log", "--team", "team_nosuch"])).code).toBe(1);
  });
});

describe("unbinding and a rejected binding", () => {
  it("unbind asks first, needs a team admin, --yes removes the binding; the manager rejects a new request", async () => {
    expect((await graycast(["unbind", "--app", appId, "--host-app", HOST_APP])).code).toBe(2);
    const developer = await graycast(["unbind", "--app", appId, "--host-app", HOST_APP, "--yes", "--json"]);
    expect(developer.errorJson().error).toMatchObject({
      kind: "refused",
      status: 403,
      message: "this needs one of the team roles: admin",
    });
    const unbound = await graycast([
      "unbind",
      "--app",
      appId,
      "--host-app",
      HOST_APP,
      "--yes",
      "--json",
      "--profile",
      "lead",
    ]);
    expect(unbound.json()).toMatchObject({ unbound: true });
    expect((await graycast(["bindings", "--app", appId, "--json"])).json().bindings).toEqual([]);
    expect((await graycast(["bind", "--app", appId, "--host-app", HOST_APP])).code).toBe(0);
    const rejected = await graycast(["bindings", "reject", appId, "--profile", "mgr", "--json"]);
    expect(rejected.json()).toMatchObject({ appId, status: "rejected" });
    expect((await graycast(["bindings", "reject", appId, "--profile", "mgr"])).code).toBe(1);
  });
});

describe("shell completion and the bin", () => {
  it("bash and zsh scripts; completions come from the command registry", async () => {
    const bash = await graycast(["completion", "bash"]);
    expect(bash.stdout).toContain("complete -o default -F _graycast_complete graycast");
    const zsh = await graycast(["completion", "zsh"]);
    expect(zsh.stdout).toContain("compdef _graycast graycast");
    expect((await graycast(["completion", "fish"])).code).toBe(2);
    expect((await graycast(["__complete", "gr"])).stdout.trim()).toBe("gray");
    expect((await graycast(["__complete", "", "gray"])).stdout.split("\n")).toEqual(
      expect.arrayContaining(["create", "whitelist", "progress", "revert"]),
    );
    expect((await graycast(["__complete", "w", "gray"])).stdout.trim()).toBe("whitelist");
    expect((await graycast(["__complete", "--sig", "upload"])).stdout.trim()).toBe("--sign-key");
  });
});

afterAll(() => {
  // The sessions stored here belong to the throwaway stack, which is gone; nothing is left behind.
  removeConfigHomes();
  rmSync(work, { recursive: true, force: true });
});
