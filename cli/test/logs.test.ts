/**
 * `graycast logs` and the grayscale guardrail flags (issue 15) against the real local stack: log
 * batches go to the edge's `POST /v1/logs` as a client's logger sends them, the local queue's
 * consumer stores them, and the CLI queries them with every one of the seed's filters ("time, log
 * level dimensions (all, info and above, warn and above, error and above), system type, Guid, page
 * link, filterMsg content, basic library version, and client version"), by cursor, and tails them
 * with --follow. Then a task with guardrails that a crash report suspends, as show and progress
 * print it.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { boundApp, makeRunner, newConfigHome, removeConfigHomes, signIn } from "./support/run";

const stack = inject("stack");
const home = newConfigHome();
const graycast = makeRunner(home);
const work = mkdtempSync(join(tmpdir(), "graycast-cli-logs-"));
const HOST_APP = "ha_demo_superapp";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let appId: string;

interface Entry {
  time: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  page: string;
  filterMsg?: string[];
  crash?: boolean;
}

interface Device {
  guid: string;
  platform: "android" | "ios";
  osVersion: string;
  clientVersion: string;
  baseLibraryVersion: string;
}

/** Sends one batch to the edge as the reference client's logger does; waits out a 429. */
async function sendLogs(device: Device, entries: Entry[]): Promise<void> {
  const batch = { appId, hostAppId: HOST_APP, hostAppVersion: "8.2.0", ...device, entries };
  for (let attempt = 0; attempt < 10; attempt++) {
    const r = await fetch(`${stack.edgeUrl}/v1/logs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(batch),
    });
    if (r.status === 429) {
      await sleep(Number(r.headers.get("retry-after") ?? "1") * 1000);
      continue;
    }
    expect(r.status, await r.text()).toBe(202);
    return;
  }
  throw new Error("POST /v1/logs: still rate limited after 10 tries");
}

/** `graycast logs ... --json` until its page holds `count` entries (the queue delivers in batches). */
async function logsOnceStored(args: string[], count: number): Promise<{ entries: Record<string, any>[] }> {
  for (;;) {
    const r = await graycast(["logs", "--app", appId, "--limit", "200", ...args, "--json"]);
    expect(r.code, r.output).toBe(0);
    const page = r.json();
    if (page.entries.length >= count) return page;
    await sleep(500);
  }
}

const messages = (page: { entries: { message: string }[] }) => page.entries.map((e) => e.message);

async function query(...args: string[]): Promise<string[]> {
  const r = await graycast(["logs", "--app", appId, "--limit", "200", ...args, "--json"]);
  expect(r.code, r.output).toBe(0);
  return messages(r.json());
}

// The data set: entries of three devices, times relative to T0 (ten minutes ago) and one 3 hours old.
const T0 = Date.now() - 10 * 60_000;
const OLD = Date.now() - 3 * 3_600_000;
const A: Device = {
  guid: "dev-a",
  platform: "android",
  osVersion: "14",
  clientVersion: "1.0.0",
  baseLibraryVersion: "2.30.0",
};
const B: Device = {
  guid: "dev-b",
  platform: "ios",
  osVersion: "17.1",
  clientVersion: "1.1.0",
  baseLibraryVersion: "3.0.1",
};
const C: Device = { ...A, guid: "dev-c", baseLibraryVersion: "2.29.0" };

beforeAll(async () => {
  await signIn(graycast, [
    ["default", "dev@acme.local", "developer-pass"],
    ["mgr", "manager@superapp.local", "manager-pass"],
    ["aud", "auditor@superapp.local", "auditor-pass"],
  ]);
  appId = await boundApp(graycast, "CLI logs", HOST_APP);

  await sendLogs(A, [
    { time: T0, level: "debug", message: "a boot", page: "pages/index/index" },
    {
      time: T0 + 1000,
      level: "info",
      message: "a order shown",
      page: "pages/order/detail",
      filterMsg: ["checkout", "cart"],
    },
    { time: T0 + 2000, level: "warn", message: "a slow", page: "pages/order/detail" },
    {
      time: T0 + 3000,
      level: "error",
      message: "a boom",
      page: "pages/order/detail",
      filterMsg: ["checkout-v2"],
      crash: true,
    },
  ]);
  await sendLogs(B, [
    { time: T0 + 500, level: "info", message: "b hello", page: "pages/index/index", filterMsg: ["login"] },
    { time: T0 + 1500, level: "error", message: "b fail", page: "pages/pay/index" },
    { time: T0 + 2500, level: "debug", message: "b trace", page: "pages/pay/index" },
  ]);
  await sendLogs(C, [{ time: OLD, level: "info", message: "c old", page: "pages/index/index" }]);
  await logsOnceStored([], 8);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  removeConfigHomes();
});

describe("graycast logs: the seed's filters", () => {
  it("level: all (debug included), info, warn and error each mean that level and above; newest first", async () => {
    expect(await query()).toEqual([
      "a boom",
      "b trace",
      "a slow",
      "b fail",
      "a order shown",
      "b hello",
      "a boot",
      "c old",
    ]);
    expect(await query("--level", "all")).toHaveLength(8);
    expect(await query("--level", "info")).toEqual([
      "a boom",
      "a slow",
      "b fail",
      "a order shown",
      "b hello",
      "c old",
    ]);
    expect(await query("--level", "warn")).toEqual(["a boom", "a slow", "b fail"]);
    expect(await query("--level", "error")).toEqual(["a boom", "b fail"]);
  });

  it("time range: --since, --from/--to as ms or ISO 8601 (both ends inclusive)", async () => {
    expect(await query("--since", "1h")).toHaveLength(7);
    expect(await query("--since", "4h")).toHaveLength(8);
    const inRange = ["a slow", "b fail", "a order shown"];
    expect(await query("--from", String(T0 + 1000), "--to", String(T0 + 2000))).toEqual(inRange);
    expect(
      await query("--from", new Date(T0 + 1000).toISOString(), "--to", new Date(T0 + 2000).toISOString()),
    ).toEqual(inRange);
    expect(await query("--to", String(OLD))).toEqual(["c old"]);
  });

  it("platform, GUID, page link, filterMsg content, base library and client version; combined", async () => {
    expect(await query("--platform", "ios")).toEqual(["b trace", "b fail", "b hello"]);
    expect(await query("--platform", "android")).toHaveLength(5);
    expect(await query("--guid", "dev-a")).toEqual(["a boom", "a slow", "a order shown", "a boot"]);
    expect(await query("--guid", "dev-nobody")).toEqual([]);
    expect(await query("--page", "pages/pay/index")).toEqual(["b trace", "b fail"]);
    // Text within a tag: "checkout" is in "checkout" and in "checkout-v2".
    expect(await query("--filter", "checkout")).toEqual(["a boom", "a order shown"]);
    expect(await query("--filter", "cart")).toEqual(["a order shown"]);
    expect(await query("--filter", "Checkout")).toEqual([]);
    expect(await query("--base-library", "3.0.1")).toEqual(["b trace", "b fail", "b hello"]);
    expect(await query("--base-library", "2.29.0")).toEqual(["c old"]);
    expect(await query("--client-version", "1.0.0")).toEqual([
      "a boom",
      "a slow",
      "a order shown",
      "a boot",
      "c old",
    ]);
    expect(await query("--client-version", "1.1.0")).toEqual(["b trace", "b fail", "b hello"]);
    expect(
      await query(
        "--platform",
        "android",
        "--level",
        "warn",
        "--page",
        "pages/order/detail",
        "--client-version",
        "1.0.0",
        "--base-library",
        "2.30.0",
        "--guid",
        "dev-a",
        "--since",
        "1h",
      ),
    ).toEqual(["a boom", "a slow"]);
  });

  it("pages by cursor: --limit, then --cursor with the same filters to the last page; the text output names the next cursor", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await graycast([
        "logs",
        "--app",
        appId,
        "--level",
        "info",
        "--limit",
        "4",
        ...(cursor ? ["--cursor", cursor] : []),
        "--json",
      ]);
      expect(r.code, r.output).toBe(0);
      const page = r.json();
      expect(page.entries.length).toBeLessThanOrEqual(4);
      seen.push(...messages(page));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual(await query("--level", "info"));

    const text = await graycast(["logs", "--app", appId, "--limit", "2"]);
    expect(text.code, text.output).toBe(0);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain("a boom");
    expect(lines[0]).toContain("CRASH");
    expect(lines[0]).toContain("[checkout-v2]");
    expect(lines[0]).toContain(new Date(T0 + 3000).toISOString());
    expect(lines[0]).toContain("dev-a");
    expect(lines[1]).toContain("b trace");
    expect(lines[2]).toMatch(/^more: --cursor [A-Za-z0-9_-]+$/);
    const next = lines[2]!.split(" ").at(-1)!;
    const second = await graycast(["logs", "--app", appId, "--limit", "2", "--cursor", next]);
    expect(second.stdout).toContain("a slow");
    expect(second.stdout).toContain("b fail");
    expect((await graycast(["logs", "--app", appId, "--guid", "dev-nobody"])).stdout).toContain(
      "(no entries)",
    );
  });

  it("refuses what cannot be a query: usage errors exit 2, a cursor the server did not give exits 1", async () => {
    for (const args of [
      ["--level", "debug"],
      ["--platform", "harmony"],
      ["--from", "yesterday"],
      ["--since", "1h", "--from", "0"],
      ["--since", "soon"],
      ["--limit", "many"],
      ["--follow", "--to", "0"],
      ["--for", "5"],
    ]) {
      const r = await graycast(["logs", "--app", appId, ...args]);
      expect(r.code, `${args.join(" ")}\n${r.output}`).toBe(2);
    }
    const bad = await graycast(["logs", "--app", appId, "--cursor", "bm9wZQ", "--json"]);
    expect(bad.code, bad.output).toBe(1);
    expect(bad.errorJson().error).toMatchObject({ kind: "refused", status: 400 });
    const tooMany = await graycast(["logs", "--app", appId, "--limit", "201"]);
    expect(tooMany.code, tooMany.output).toBe(1);
  });
});

describe("graycast logs --follow", () => {
  it("prints the newest page, then each entry once as it arrives (a late batch too), only those matching; stops after --for", async () => {
    const F: Device = { ...A, guid: "dev-follow" };
    const now = Date.now();
    await sendLogs(F, [{ time: now, level: "info", message: "f1", page: "pages/index/index" }]);
    await logsOnceStored(["--guid", "dev-follow"], 1);

    const following = graycast([
      "logs",
      "--app",
      appId,
      "--guid",
      "dev-follow",
      "--follow",
      "--interval",
      "1",
      "--for",
      "40",
      "--json",
    ]);
    await sleep(1500);
    await sendLogs(F, [
      { time: Date.now(), level: "warn", message: "f2", page: "pages/index/index" },
      { time: Date.now() + 1, level: "error", message: "f3", page: "pages/index/index" },
      // Logged a minute ago, arriving now: older than f1, printed after it all the same.
      { time: now - 60_000, level: "info", message: "f0 late", page: "pages/index/index" },
    ]);
    // Another device's entries are not this query's.
    await sendLogs({ ...A, guid: "dev-other" }, [
      { time: Date.now(), level: "error", message: "other", page: "pages/index/index" },
    ]);
    await logsOnceStored(["--guid", "dev-follow"], 4);

    const r = await following;
    expect(r.code, r.output).toBe(0);
    const printed = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { message: string; guid: string });
    // NDJSON, every entry exactly once although each query read f1 again.
    expect(printed.map((e) => e.message)).toEqual(["f1", "f0 late", "f2", "f3"]);
    expect(new Set(printed.map((e) => e.guid))).toEqual(new Set(["dev-follow"]));
  });

  it("without --json one line per entry, oldest first", async () => {
    const r = await graycast([
      "logs",
      "--app",
      appId,
      "--guid",
      "dev-a",
      "--follow",
      "--interval",
      "1",
      "--for",
      "2",
    ]);
    expect(r.code, r.output).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const expected = ["a boot", "a order shown", "a slow", "a boom"];
    expect(lines, r.output).toHaveLength(expected.length);
    for (const [i, m] of expected.entries()) expect(lines[i]).toContain(m);
  });
});

describe("grayscale guardrails in the CLI", () => {
  let taskId: string;

  /** Upload, submit and approve a version (a task needs an approved version). */
  async function approvedVersion(version: string) {
    const dir = join(work, version);
    mkdirSync(join(dir, "pages", "index"), { recursive: true });
    writeFileSync(join(dir, "app.json"), JSON.stringify({ pages: ["pages/index/index"] }));
    writeFileSync(join(dir, "app.js"), "App({});\n");
    writeFileSync(join(dir, "pages", "index", "index.js"), `Page({ data: { v: "${version}" } });\n`);
    const up = await graycast(["upload", dir, "--app", appId, "--version", version]);
    expect(up.code, up.output).toBe(0);
    const sub = await graycast(["submit", "--app", appId, "--version", version, "--json"]);
    expect(sub.code, sub.output).toBe(0);
    const ok = await graycast(["approve", sub.json().auditId, "--profile", "aud"]);
    expect(ok.code, ok.output).toBe(0);
  }

  const task = async () => (await graycast(["gray", "show", taskId, "--app", appId, "--json"])).json();

  it("create with error-rate and crash guardrails; flags a guardrail cannot do without exit 2; a bad window exits 1", async () => {
    await approvedVersion("2.0.0");
    const base = [
      "gray",
      "create",
      "--app",
      appId,
      "--version",
      "2.0.0",
      "--name",
      "guarded",
      "--end",
      "+2h",
      "--host-app",
      HOST_APP,
      "--platform",
      "android",
    ];
    expect((await graycast([...base, "--error-rate-points", "5"])).code).toBe(2);
    expect((await graycast([...base, "--crash-window", "20"])).code).toBe(2);
    expect((await graycast([...base, "--crash-max", "two"])).code).toBe(2);
    const badWindow = await graycast([...base, "--crash-max", "1", "--crash-window", "15"]);
    expect(badWindow.code, badWindow.output).toBe(1);
    expect(badWindow.stderr).toContain("windowMinutes");

    const made = await graycast([
      ...base,
      "--error-rate-points",
      "5.5",
      "--error-rate-min-sessions",
      "20",
      "--crash-max",
      "3",
      "--crash-window",
      "30",
      "--json",
    ]);
    expect(made.code, made.output).toBe(0);
    taskId = made.json().id;
    expect(made.json()).toMatchObject({
      state: "delivering",
      suspendCause: null,
      guardrailTrip: null,
      guardrails: {
        errorRate: { maxPointsAboveOnline: 5.5, minSessions: 20, windowMinutes: 10 },
        crashes: { max: 3, windowMinutes: 30 },
      },
    });
    const shown = await graycast(["gray", "show", taskId, "--app", appId]);
    expect(shown.stdout).toContain(
      "error rate at most +5.5 points over online (20+ sessions each, 10 min); at most 3 crash reports in 30 min",
    );
  });

  it("edit changes one figure and keeps the rest; --clear-guardrails removes them, or replaces them with the flags given", async () => {
    const one = await graycast(["gray", "edit", taskId, "--app", appId, "--crash-max", "1", "--json"]);
    expect(one.code, one.output).toBe(0);
    expect(one.json().guardrails).toEqual({
      errorRate: { maxPointsAboveOnline: 5.5, minSessions: 20, windowMinutes: 10 },
      crashes: { max: 1, windowMinutes: 30 },
    });
    const replaced = await graycast([
      "gray",
      "edit",
      taskId,
      "--app",
      appId,
      "--clear-guardrails",
      "--crash-max",
      "0",
      "--json",
    ]);
    expect(replaced.json().guardrails).toEqual({ crashes: { max: 0, windowMinutes: 60 } });
    const cleared = await graycast(["gray", "edit", taskId, "--app", appId, "--clear-guardrails", "--json"]);
    expect(cleared.json().guardrails).toBeNull();
    expect((await graycast(["gray", "show", taskId, "--app", appId])).stdout).toMatch(/guardrails\s+none/);
    // Only the minimum sessions with no error-rate guardrail on the task: the points are missing.
    expect(
      (await graycast(["gray", "edit", taskId, "--app", appId, "--error-rate-min-sessions", "5"])).code,
    ).toBe(2);
    const again = await graycast([
      "gray",
      "edit",
      taskId,
      "--app",
      appId,
      "--crash-max",
      "0",
      "--crash-window",
      "10",
      "--json",
    ]);
    expect(again.json().guardrails).toEqual({ crashes: { max: 0, windowMinutes: 10 } });
  });

  it("a crash report of the gray version trips it: show, list and progress print the cause and the figures; resume keeps the last trip", async () => {
    await sendLogs({ ...A, guid: "gray-crasher", clientVersion: "2.0.0" }, [
      { time: Date.now(), level: "info", message: "opened", page: "pages/index/index" },
      { time: Date.now() + 1, level: "error", message: "fatal", page: "pages/index/index", crash: true },
    ]);
    let t = await task();
    while (t.suspendCause !== "guardrail") {
      await sleep(500);
      t = await task();
    }
    expect(t).toMatchObject({
      state: "suspended",
      guardrailTrip: {
        guardrail: "crashes",
        gray: { version: "2.0.0", sessions: 1, errorSessions: 1, crashes: 1 },
      },
    });

    const shown = await graycast(["gray", "show", taskId, "--app", appId]);
    expect(shown.code, shown.output).toBe(0);
    expect(shown.stdout).toMatch(/state\s+suspended \(guardrail\)/);
    expect(shown.stdout).toMatch(/last trip\s+crashes at /);
    expect(shown.stdout).toContain(t.guardrailTrip.summary);
    expect(shown.stdout).toContain("gray 2.0.0: 1 sessions, 1 with errors (100%), 1 crashes");
    expect(shown.stdout).toContain("online (none): 0 sessions");

    const list = await graycast(["gray", "list", "--app", appId]);
    expect(list.stdout).toMatch(new RegExp(`${taskId}.*suspended \\(guardrail\\)`));

    const progress = await graycast(["gray", "progress", taskId, "--app", appId]);
    expect(progress.code, progress.output).toBe(0);
    expect(progress.stdout).toContain(`${taskId}  suspended (guardrail)`);
    expect(progress.stdout).toContain("guardrails: at most 0 crash reports in 10 min");
    expect(progress.stdout).toContain("suspended by a guardrail");
    expect(progress.stdout).toContain("last trip: crashes at ");
    expect(progress.stdout).toMatch(
      /health per 10 min \(gray \| online\):\n {2}\S+ {2}1 sessions, 1 with errors \(100%\), 1 crashes \| 0 sessions/,
    );
    const pj = await graycast(["gray", "progress", taskId, "--app", appId, "--json"]);
    expect(pj.json().health).toMatchObject({ suspendedByGuardrail: true, trip: { guardrail: "crashes" } });

    const resumed = await graycast(["gray", "resume", taskId, "--app", appId]);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.stdout).toContain(`${taskId}: delivering`);
    const after = await graycast(["gray", "show", taskId, "--app", appId]);
    expect(after.stdout).toMatch(/state\s+delivering/);
    expect(after.stdout).toMatch(/last trip\s+crashes at /);
  });
});
