/**
 * core/decide.ts `decide`: the one decision the edge and explain share (issue 11). Table tests
 * with in-memory ports: the precedence (delisted, not bound, trial, the grayscale walk, the host
 * app's release), the walk (ticket, sticky, eligible, admit; audit scope before any ticket;
 * only tasks above the online version), which ports are asked and when, and that synchronous
 * ports give the Decision itself while promise-returning ports give the same answer later.
 */
import { describe, expect, it } from "vitest";
import {
  CLOSED_PORTS,
  type ClientContext,
  DecidePlan,
  type DecidePorts,
  type Decision,
  decide,
  type TaskOutcome,
  TICKET_GRACE_MS,
} from "../core/decide";
import type { CompiledTask, WhitelistRef } from "../core/grayscale/types";
import { compileSnapshot, type Snapshot, type SnapshotRelease } from "../core/snapshot";

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;
const pkg = (version: string) => ({ sha256: version.replace(/\./g, "").padEnd(64, "0"), size: 10 });
const rel = (version: string): SnapshotRelease => ({
  version,
  package: pkg(version),
  releasedAt: NOW - DAY,
  via: "publish",
});
const LIST: WhitelistRef = {
  id: "wl1",
  kind: "guid",
  count: 2,
  seed: 1,
  bloomBits: 64,
  bloomHashes: 2,
  shards: 1,
};

function task(id: string, version: string, over: Partial<CompiledTask> = {}): CompiledTask {
  return {
    id,
    version,
    package: pkg(version),
    phase: "admitting",
    startAt: NOW - DAY,
    endAt: NOW + DAY,
    userCap: null,
    percentageBp: null,
    hostApps: { H: [null, null] },
    platforms: { android: [null, null], ios: [null, null] },
    targets: null,
    networks: null,
    brands: null,
    models: null,
    countries: null,
    regions: null,
    cities: null,
    ...over,
  };
}

function snap(tasks: CompiledTask[], over: Partial<Parameters<typeof compileSnapshot>[0]> = {}): Snapshot {
  return compileSnapshot(
    {
      appId: "gcapp",
      revision: 1,
      listed: true,
      hostApps: ["H", "H2"],
      online: rel("1.0.0"),
      trial: null,
      tasks,
      ...over,
    },
    NOW,
  );
}

const client = (over: Partial<ClientContext> = {}): ClientContext => ({
  appId: "gcapp",
  hostAppId: "H",
  hostAppVersion: "8.0",
  platform: "android",
  osVersion: "14",
  guid: "u1",
  ...over,
});

/** In-memory ports: tickets, counters and lists as plain data; every call recorded. */
class MemoryPorts implements DecidePorts {
  readonly calls: string[] = [];
  readonly trail: [string, TaskOutcome][] = [];
  readonly issued: string[] = [];
  presented = 0;
  constructor(
    readonly state: {
      tickets?: string[];
      admitted?: string[];
      full?: string[];
      members?: string[];
      leased?: string[];
      async?: boolean;
    } = {},
  ) {
    this.presented = state.tickets?.length ?? 0;
  }
  readonly tickets = this;
  readonly admission = this;
  #answer<T>(value: T): T | Promise<T> {
    return this.state.async ? Promise.resolve(value) : value;
  }
  member(ref: WhitelistRef, value: string) {
    this.calls.push(`member ${ref.id} ${value}`);
    return this.#answer(this.state.members?.includes(value) ?? false);
  }
  valid(task: CompiledTask, userKey: string) {
    this.calls.push(`valid ${task.id} ${userKey}`);
    return this.#answer(this.state.tickets?.includes(`${task.id}/${userKey}`) ?? false);
  }
  issue(task: CompiledTask, userKey: string) {
    this.issued.push(`${task.id}/${userKey}`);
    return this.state.async ? Promise.resolve() : undefined;
  }
  lease(task: CompiledTask, userKey: string) {
    this.calls.push(`lease ${task.id} ${userKey}`);
    return this.state.leased?.includes(task.id) ?? false;
  }
  admit(task: CompiledTask, userKey: string) {
    this.calls.push(`admit ${task.id} ${userKey}`);
    return this.#answer(
      !(this.state.full?.includes(task.id) ?? false) ||
        (this.state.admitted?.includes(`${task.id}/${userKey}`) ?? false),
    );
  }
  isAdmitted(task: CompiledTask, userKey: string) {
    this.calls.push(`isAdmitted ${task.id} ${userKey}`);
    return this.#answer(this.state.admitted?.includes(`${task.id}/${userKey}`) ?? false);
  }
  trace(task: CompiledTask, outcome: TaskOutcome) {
    this.trail.push([task.id, outcome]);
  }
}

/** The decision, which synchronous ports must give at once (no promise). */
function now(s: Snapshot, c: ClientContext, ports: DecidePorts = CLOSED_PORTS): Decision {
  const d = decide(s, c, NOW, ports);
  if (d instanceof Promise) throw new Error("synchronous ports gave a promise");
  return d;
}

describe("decide: the precedence", () => {
  const gray = task("t1", "1.1.0");
  it.each([
    [
      "delisted, before everything",
      snap([gray], { listed: false }),
      client(),
      { status: "delisted", reason: "delisted" },
    ],
    [
      "a host app not bound",
      snap([gray]),
      client({ hostAppId: "X" }),
      { status: "not_bound", reason: "not_bound" },
    ],
    [
      "nothing released, no task",
      snap([], { online: null }),
      client(),
      { status: "no_release", reason: "no_release" },
    ],
    ["the online release", snap([]), client(), { reason: "online", version: "1.0.0", rollback: false }],
    [
      "up to date",
      snap([]),
      client({ installedVersion: "1.0.0" }),
      { reason: "up_to_date", version: "1.0.0" },
    ],
    [
      "a rollback",
      snap([]),
      client({ installedVersion: "1.2.0" }),
      { reason: "rollback", version: "1.0.0", rollback: true },
    ],
    [
      "a host app's own release (audit scope)",
      snap([], { hostAppReleases: { H2: rel("0.9.0") } }),
      client({ hostAppId: "H2" }),
      { reason: "online", version: "0.9.0" },
    ],
    [
      "released, but not to this host app",
      snap([], { hostAppReleases: { H2: null } }),
      client({ hostAppId: "H2" }),
      { status: "not_bound", reason: "not_bound" },
    ],
    [
      "the grayscale task above online",
      snap([gray]),
      client(),
      { reason: "grayscale", version: "1.1.0", taskId: "t1", rollback: false },
    ],
    [
      "a grayscale task for a host app that approved no release",
      snap([task("t1", "1.1.0", { hostApps: { H2: [null, null] } })], { hostAppReleases: { H2: null } }),
      client({ hostAppId: "H2" }),
      { reason: "grayscale", version: "1.1.0" },
    ],
  ] as const)("%s", (_name, s, c, expected) => {
    const ports = new MemoryPorts();
    expect(now(s, c, ports)).toMatchObject(expected);
  });

  const trial = { version: "1.5.0", package: pkg("1.5.0"), pagePath: "pages/t", testers: ["tess"] };
  it("trial: a verified tester asking for it gets it, and the walk never runs (no cap slot spent)", () => {
    const ports = new MemoryPorts();
    const tester = client({ trial: true, account: "tess", verifiedAccount: true });
    expect(now(snap([task("t1", "1.1.0", { userCap: 5 })], { trial }), tester, ports)).toMatchObject({
      reason: "trial",
      version: "1.5.0",
      pagePath: "pages/t",
    });
    expect(ports.calls).toEqual([]);
    expect(ports.trail).toEqual([]);
    // an unverified account is no tester: the walk runs and admits
    const claimed = new MemoryPorts();
    expect(
      now(
        snap([task("t1", "1.1.0", { userCap: 5 })], { trial }),
        client({ trial: true, account: "tess" }),
        claimed,
      ),
    ).toMatchObject({ reason: "grayscale", version: "1.1.0" });
    expect(claimed.calls).toEqual(["lease t1 g:u1", "admit t1 g:u1"]);
  });

  it("delisted and not bound walk nothing, whatever the tickets", () => {
    for (const [s, c] of [
      [snap([task("t1", "1.1.0")], { listed: false }), client()],
      [snap([task("t1", "1.1.0")]), client({ hostAppId: "X" })],
    ] as const) {
      const ports = new MemoryPorts({ tickets: ["t1/g:u1"] });
      now(s, c, ports);
      expect([ports.calls, ports.trail]).toEqual([[], []]);
    }
  });
});

describe("decide: the walk", () => {
  it("tasks not above the online version are never walked: no trace, no cap slot", () => {
    const ports = new MemoryPorts();
    const s = snap([task("same", "1.0.0", { userCap: 9 }), task("low", "0.9.0", { userCap: 9 })]);
    expect(now(s, client(), ports)).toMatchObject({ reason: "online" });
    expect([ports.calls, ports.trail]).toEqual([[], []]);
  });

  it("highest version first; the first task that gives the version ends the walk and hands its ticket", () => {
    const ports = new MemoryPorts();
    const s = snap([task("a", "1.1.0"), task("b", "1.3.0", { networks: ["wifi"] }), task("c", "1.2.0")]);
    expect(now(s, client({ network: "4g" }), ports)).toMatchObject({ version: "1.2.0", taskId: "c" });
    expect(ports.trail).toEqual([
      ["b", "not_eligible"],
      ["c", "admitted"],
    ]);
    expect(ports.issued).toEqual(["c/g:u1"]);
  });

  it("a user without any id gets an uncapped task without a ticket", () => {
    const ports = new MemoryPorts();
    expect(now(snap([task("a", "1.1.0")]), client({ guid: undefined }), ports)).toMatchObject({
      taskId: "a",
    });
    expect(ports.issued).toEqual([]);
  });

  it("audit scope: a host app that has not approved the version skips the task before any ticket", () => {
    const ports = new MemoryPorts({ tickets: ["t1/g:u1"] });
    const s = snap([task("t1", "1.1.0", { hostApps: {}, unreviewedHostApps: ["H"] })]);
    expect(now(s, client(), ports)).toMatchObject({ reason: "online" });
    expect(ports.calls).toEqual([]);
    expect(ports.trail).toEqual([["t1", "not_reviewed"]]);
  });

  it("a valid ticket keeps the version whatever the rules and the phase say now; without presented tickets none is asked", () => {
    const s = snap([task("t1", "1.1.0", { phase: "sticky", platforms: { ios: [null, null] } })]);
    const holder = new MemoryPorts({ tickets: ["t1/g:u1"] });
    expect(now(s, client(), holder)).toMatchObject({ taskId: "t1" });
    expect(holder.trail).toEqual([["t1", "ticket"]]);
    expect(holder.issued).toEqual(["t1/g:u1"]);
    const none = new MemoryPorts();
    expect(now(s, client(), none)).toMatchObject({ reason: "online" });
    expect(none.calls).toEqual([]);
  });

  it("sticky: only a capped task's user already running the version, while tickets could be valid, is looked up", () => {
    const sticky = (over: Partial<CompiledTask> = {}) =>
      snap([task("t1", "1.1.0", { phase: "sticky", userCap: 10, ...over })]);
    const running = client({ installedVersion: "1.1.0" });
    const cases: [string, Snapshot, ClientContext, string[], TaskOutcome, string | undefined][] = [
      ["admitted before: kept", sticky(), running, ["t1/g:u1"], "sticky_admitted", "t1"],
      ["never admitted", sticky(), running, [], "sticky_not_admitted", undefined],
      ["not running the version", sticky(), client(), ["t1/g:u1"], "sticky_closed", undefined],
      [
        "uncapped: no counter remembers",
        sticky({ userCap: null }),
        running,
        ["t1/g:u1"],
        "sticky_closed",
        undefined,
      ],
      [
        "past the tickets' lifetime",
        sticky({ endAt: NOW - TICKET_GRACE_MS }),
        running,
        ["t1/g:u1"],
        "sticky_closed",
        undefined,
      ],
    ];
    for (const [name, s, c, admitted, outcome, taskId] of cases) {
      const ports = new MemoryPorts({ admitted });
      const d = now(s, c, ports);
      expect([name, ports.trail, d.status === "ok" ? d.taskId : undefined]).toEqual([
        name,
        [["t1", outcome]],
        taskId,
      ]);
      expect([name, ports.calls.filter((x) => x.startsWith("admit"))]).toEqual([name, []]);
    }
  });

  it("capped: a lease admits without the counter; a refusal moves on to the next task", () => {
    const s = snap([task("hi", "1.3.0", { userCap: 1 }), task("lo", "1.2.0", { userCap: 5 })]);
    const leased = new MemoryPorts({ leased: ["hi"] });
    expect(now(s, client(), leased)).toMatchObject({ taskId: "hi" });
    expect(leased.calls).toEqual(["lease hi g:u1"]);
    const full = new MemoryPorts({ full: ["hi"] });
    expect(now(s, client(), full)).toMatchObject({ taskId: "lo" });
    expect(full.calls).toEqual(["lease hi g:u1", "admit hi g:u1", "lease lo g:u1", "admit lo g:u1"]);
    expect(full.trail).toEqual([
      ["hi", "refused"],
      ["lo", "admitted"],
    ]);
  });

  it("a verified-only task counts the verified account, never the GUID", () => {
    const s = snap([task("v", "1.1.0", { verifiedOnly: true, userCap: 5 })]);
    const unverified = new MemoryPorts();
    expect(now(s, client({ account: "acc" }), unverified)).toMatchObject({ reason: "online" });
    expect(unverified.calls).toEqual([]);
    const verified = new MemoryPorts();
    expect(now(s, client({ account: "acc", verifiedAccount: true }), verified)).toMatchObject({
      taskId: "v",
    });
    expect(verified.calls).toEqual(["lease v a:acc", "admit v a:acc"]);
  });

  it("whitelists are asked only when every other rule holds and no inline value names the client, once per list and decision", () => {
    const listed = (id: string, over: Partial<CompiledTask> = {}) =>
      task(id, "1.1.0", { targets: { inline: { guid: ["inline-1"] }, whitelists: [LIST] }, ...over });
    const s = snap([
      listed("a", { networks: ["wifi"] }),
      listed("b", { platforms: { ios: [null, null] } }),
      listed("c", { percentageBp: 0 }),
    ]);
    const member = new MemoryPorts({ members: ["u1"] });
    expect(now(s, client({ network: "wifi" }), member)).toMatchObject({ taskId: "a" });
    expect(member.calls).toEqual(["member wl1 u1"]);
    // not a member: asked once for both tasks that get that far; the ios-only task never asks
    const outsider = new MemoryPorts();
    const twice = snap([
      listed("a"),
      listed("b", { platforms: { ios: [null, null] } }),
      task("c", "1.0.5", { targets: { inline: {}, whitelists: [LIST] } }),
    ]);
    expect(now(twice, client({ guid: "u9" }), outsider)).toMatchObject({ reason: "online" });
    expect(outsider.calls).toEqual(["member wl1 u9"]);
    const inline = new MemoryPorts();
    expect(now(s, client({ guid: "inline-1", network: "wifi" }), inline)).toMatchObject({ taskId: "a" });
    expect(inline.calls).toEqual([]);
  });

  it("ports answering with promises give the same decisions and traces as synchronous ones", async () => {
    const s = snap([
      task("wl", "1.4.0", { targets: { inline: {}, whitelists: [LIST] } }),
      task("st", "1.3.0", { phase: "sticky", userCap: 3 }),
      task("cap", "1.2.0", { userCap: 3 }),
      task("free", "1.1.0"),
    ]);
    const states = [
      {},
      { members: ["u1"] },
      { admitted: ["st/g:u1"] },
      { full: ["cap"] },
      { tickets: ["cap/g:u1"], full: ["cap"] },
    ];
    for (const state of states) {
      for (const c of [client(), client({ installedVersion: "1.3.0" })]) {
        const sync = new MemoryPorts(state);
        const later = new MemoryPorts({ ...state, async: true });
        const pending = decide(s, c, NOW, later);
        expect(pending).toBeInstanceOf(Promise);
        expect(await pending).toEqual(now(s, c, sync));
        expect([later.trail, later.issued]).toEqual([sync.trail, sync.issued]);
      }
    }
  });

  it("plans: the caller's cache of walkable tasks is filled once per snapshot object and used", () => {
    const s = snap([task("a", "1.1.0"), task("old", "0.5.0")]);
    const plans = new WeakMap<Snapshot, DecidePlan>();
    const ports = Object.assign(new MemoryPorts(), { plans });
    expect(now(s, client(), ports)).toMatchObject({ reason: "grayscale", taskId: "a" });
    const plan = plans.get(s);
    expect(plan?.tasks.map((t) => t.id)).toEqual(["a"]);
    now(s, client(), ports);
    expect(plans.get(s)).toBe(plan);
    // the kept plan is what the walk uses: a plan of the same snapshot without its tasks walks nothing
    plans.set(s, new DecidePlan({ ...s, tasks: [] }));
    expect(now(s, client(), ports)).toMatchObject({ reason: "online" });
  });

  it("optional ports: without tickets and admission, a capped task admits nobody and keeps no sticky user", () => {
    const s = snap([
      task("cap", "1.2.0", { userCap: 10 }),
      task("sticky", "1.1.5", { phase: "sticky", userCap: 10 }),
      task("open", "1.1.0"),
    ]);
    const bare: DecidePorts = { member: () => false, trace: (t, o) => trail.push([t.id, o]) };
    const trail: [string, TaskOutcome][] = [];
    expect(now(s, client({ installedVersion: "1.1.5" }), bare)).toMatchObject({ taskId: "open" });
    expect(trail).toEqual([
      ["cap", "refused"],
      ["sticky", "sticky_not_admitted"],
      ["open", "admitted"],
    ]);
    // the same answers as ports that say no to everything
    const closed = new MemoryPorts({ full: ["cap"] });
    expect(now(s, client({ installedVersion: "1.1.5" }), closed)).toMatchObject({ taskId: "open" });
    expect(closed.trail).toEqual(trail);
    expect(now(s, client(), CLOSED_PORTS)).toMatchObject({ taskId: "open" });
  });
});
