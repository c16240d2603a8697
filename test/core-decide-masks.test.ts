/**
 * core `decide` walks only the tasks its plan's rule masks leave (core/grayscale/rule-masks.ts,
 * issue 17): a property test over many random plans and clients. Every rule dimension is drawn
 * at random (phase, time windows around now, host apps and version ranges, platforms and OS
 * ranges, networks, brand / model / country / region / city include and exclude lists, verified
 * only, percentages, caps, inline targets and uploaded whitelists, audit scope), as are the
 * clients (missing, empty, mixed-case and malformed values) and the ports (tickets, leases,
 * counters, lists). The reference is the explaining form: `rankTasks` / `evaluateTask` (every
 * condition of every task) and the walk's precedence spelled out step by step. For each case:
 * - each mask bit equals the conjunction of the task's conditions but target and percentage;
 * - `decide` with a trace (every task visited) gives the reference Decision, trace and port calls;
 * - `decide` without a trace (only the tasks the masks leave) gives the same Decision and calls.
 * Plans of up to 70 tasks cover masks of several 32-bit words.
 */
import { describe, expect, it } from "vitest";
import {
  type ClientContext,
  DecidePlan,
  type DecidePorts,
  type Decision,
  decide,
  type Network,
  type TaskOutcome,
  ticketExpiry,
} from "../core/decide";
import { RuleMemo, taskUserKey } from "../core/grayscale/rules";
import { rankTasks } from "../core/grayscale/select";
import type { CompiledTask, Geo, IncludeExclude, WhitelistRef } from "../core/grayscale/types";
import { compareVersions } from "../core/semver";
import { compileSnapshot, releaseFor, type Snapshot, type SnapshotRelease } from "../core/snapshot";
import { seededRandom } from "./support/random";

const NOW = 1_800_000_000_000;
const DAY = 86_400_000;

type Range = [number[] | null, number[] | null];
const RANGES: Range[] = [
  [null, null],
  [[9, 5], null],
  [null, [7]],
  [[8], [9, 5]],
  [[1], [0]],
  [[9, 5, 0], null],
  [
    [7, 0],
    [7, 0],
  ],
  [[14], null],
  [null, [10]],
  [[17, 0], null],
];
const APP_VERSIONS = [
  "8.0",
  "8.0.0",
  "9.5",
  "9.5.0",
  "9.5.1",
  "10",
  "7",
  "7.0",
  "6.9.9",
  "abc",
  "",
  "1.2.3.4.5.6",
];
const OS_VERSIONS = ["10", "12", "14", "14.1", "16.7", "17.0", "17.4", "18.1", "x", "9.999999999"];
const NETWORKS: Network[] = ["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"];
const HOST_APPS = ["H", "H2", "X", "constructor"];
const BRANDS = ["apple", "huawei", "xiaomi", "samsung", "Apple"];
const PLACES = ["cn", "us", "gb", "guangdong", "beijing", "shenzhen", "hangzhou", "CN"];
const CLIENT_BRANDS = [undefined, "", "Apple", "apple", "HUAWEI", "xiaomi", "Samsung", "nokia"];
const CLIENT_PLACES = [
  undefined,
  "",
  "CN",
  "us",
  "GB",
  "Guangdong",
  "beijing",
  "Shenzhen",
  "Hangzhou",
  "paris",
];
const TIMES = [NOW - DAY, NOW - 1, NOW, NOW + 1, NOW + DAY];
const VERSIONS = ["1.1.0", "1.2.0", "2.0.0", "2.1.0", "3.0.0"];
const IDS = [undefined, "", "u1", "u2", "u3", "u4"];
const LISTS: WhitelistRef[] = (["guid", "account", "deviceId"] as const).map((kind, i) => ({
  id: `wl${i}`,
  kind,
  count: 2,
  seed: i,
  bloomBits: 64,
  bloomHashes: 2,
  shards: 1,
}));

const pkg = (version: string) => ({ sha256: version.replace(/\./g, "").padEnd(64, "0"), size: 10 });
const release = (version: string): SnapshotRelease => ({
  version,
  package: pkg(version),
  releasedAt: NOW - DAY,
  via: "publish",
});

class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = seededRandom(seed);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.r() * list.length)] as T;
  }
  subset<T>(list: readonly T[], p = 0.4): T[] {
    return list.filter(() => this.chance(p));
  }
  rule(values: readonly string[]): IncludeExclude | null {
    if (this.chance(0.6)) return null;
    const out: IncludeExclude = {};
    if (this.chance(0.6)) out.include = this.subset(values);
    if (this.chance(0.5)) out.exclude = this.subset(values);
    return out;
  }
  /** typed-in values: sorted as `compileTask` sorts them, or now and then not (a hand-made snapshot) */
  inline(values: readonly string[]): string[] {
    const list = this.subset(values, 0.6).sort();
    return this.chance(0.2) ? list.reverse() : list;
  }
  ranges<K extends string>(keys: readonly K[], p: number): Partial<Record<K, Range>> {
    const out: Partial<Record<K, Range>> = {};
    for (const k of keys) if (this.chance(p)) out[k] = this.pick(RANGES);
    return out;
  }
  task(i: number, hostApps: readonly string[]): CompiledTask {
    const targets = this.chance(0.35)
      ? {
          inline: {
            ...(this.chance(0.5) ? { guid: this.inline(["u1", "u2", "u3"]) } : {}),
            ...(this.chance(0.3) ? { account: this.inline(["u2", "u4"]) } : {}),
          },
          whitelists: this.subset(LISTS),
        }
      : null;
    const unreviewed = this.chance(0.15)
      ? this.subset(
          hostApps.filter((h) => h !== "constructor"),
          0.5,
        )
      : [];
    const hosts = this.ranges(
      HOST_APPS.filter((h) => !unreviewed.includes(h) && h !== "constructor"),
      0.6,
    );
    const start = this.pick(TIMES);
    return {
      id: `t${String(i).padStart(2, "0")}`,
      version: this.pick(VERSIONS),
      package: pkg("1.0.0"),
      phase: this.chance(0.85) ? "admitting" : "sticky",
      startAt: this.chance(0.8) ? Math.min(start, NOW) : start,
      endAt: this.chance(0.8) ? NOW + DAY : this.pick(TIMES),
      userCap: this.chance(0.3) ? 100 : null,
      percentageBp: this.chance(0.3) ? this.pick([0, 1, 5000, 9999, 10000]) : null,
      hostApps: hosts as Record<string, Range>,
      platforms: this.ranges(["android", "ios"] as const, 0.8),
      targets,
      networks: this.chance(0.3) ? this.subset(NETWORKS, 0.5) : null,
      brands: this.rule(BRANDS),
      models: this.rule(["mate60", "p60", "s24"]),
      countries: this.rule(PLACES),
      regions: this.rule(PLACES),
      cities: this.rule(PLACES),
      ...(unreviewed.length > 0 ? { unreviewedHostApps: unreviewed } : {}),
      ...(this.chance(0.2) ? { verifiedOnly: true as const } : {}),
    };
  }
  client(): ClientContext {
    const c: ClientContext = {
      appId: "gcapp",
      hostAppId: this.pick([...HOST_APPS, "Y"]),
      hostAppVersion: this.pick(APP_VERSIONS),
      platform: this.pick(["android", "ios"] as const),
      osVersion: this.pick(OS_VERSIONS),
      verifiedAccount: this.chance(0.5),
      installedVersion: this.pick([undefined, "1.0.0", "2.0.0", "2.1.0", "3.0.0"]),
    };
    const set = <K extends keyof ClientContext>(k: K, v: ClientContext[K] | undefined) => {
      if (v !== undefined) c[k] = v;
    };
    set("guid", this.pick(IDS));
    set("deviceId", this.pick(IDS));
    set("account", this.pick(IDS));
    set("network", this.chance(0.2) ? undefined : this.pick(NETWORKS));
    set("brand", this.pick(CLIENT_BRANDS));
    set("model", this.pick([undefined, "Mate60", "P60", "iPhone15,2", "S24"]));
    return c;
  }
  geo(): Geo {
    const g: Geo = {};
    const country = this.pick(CLIENT_PLACES);
    const region = this.pick(CLIENT_PLACES);
    const city = this.pick(CLIENT_PLACES);
    if (country !== undefined) g.country = country;
    if (region !== undefined) g.region = region;
    if (city !== undefined) g.city = city;
    return g;
  }
}

/** What the ports know, drawn per case. */
interface World {
  tickets: Set<string>;
  presented: number;
  admission: boolean;
  reach: boolean;
  leased: Set<string>;
  full: Set<string>;
  admittedBefore: Set<string>;
  members: Set<string>;
}

/** Synchronous in-memory ports recording every call but `member` (the trace only when asked). */
function portsOf(world: World, traced: boolean) {
  const calls: string[] = [];
  const trail: [string, TaskOutcome][] = [];
  const ports: DecidePorts = {
    member: (ref) => world.members.has(ref.id),
    tickets: {
      presented: world.presented,
      valid: (task, key) => {
        calls.push(`valid ${task.id} ${key}`);
        return world.tickets.has(`${task.id}/${key}`);
      },
      issue: (task, key) => {
        calls.push(`issue ${task.id} ${key}`);
      },
    },
  };
  if (world.admission)
    ports.admission = {
      ...(world.reach ? { reach: (task: CompiledTask) => void calls.push(`reach ${task.id}`) } : {}),
      lease: (task, key) => {
        calls.push(`lease ${task.id} ${key}`);
        return world.leased.has(task.id);
      },
      admit: (task, key) => {
        calls.push(`admit ${task.id} ${key}`);
        return !world.full.has(task.id);
      },
      isAdmitted: (task, key) => {
        calls.push(`isAdmitted ${task.id} ${key}`);
        return world.admittedBefore.has(`${task.id}/${key}`);
      },
    };
  if (traced) ports.trace = (task, outcome) => void trail.push([task.id, outcome]);
  return { ports, calls, trail };
}

/**
 * The walk and the precedence spelled out from the explaining form: each task's verdict from
 * `rankTasks` (every condition evaluated), then what the walk does with it, in order.
 */
function reference(snapshot: Snapshot, client: ClientContext, geo: Geo, now: number, world: World) {
  const calls: string[] = [];
  const trail: [string, TaskOutcome][] = [];
  const done = (decision: Decision) => ({ decision, calls, trail });
  if (!snapshot.listed) return done({ status: "delisted", reason: "delisted" });
  if (!snapshot.hostApps.includes(client.hostAppId))
    return done({ status: "not_bound", reason: "not_bound" });
  const online = snapshot.online?.version;
  const candidates = snapshot.tasks
    .filter((t) => online === undefined || compareVersions(t.version, online) > 0)
    .sort((a, b) => compareVersions(b.version, a.version) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const verdicts = rankTasks(
    candidates,
    client,
    geo,
    now,
    (ref) => world.members.has(ref.id),
    new RuleMemo(),
  );
  let chosen: CompiledTask | null = null;
  const give = (task: CompiledTask, key: string | undefined, outcome: TaskOutcome) => {
    trail.push([task.id, outcome]);
    if (key !== undefined) calls.push(`issue ${task.id} ${key}`);
    chosen = task;
  };
  for (const [i, task] of candidates.entries()) {
    const verdict = verdicts[i];
    expect(verdict?.taskId).toBe(task.id);
    if (task.unreviewedHostApps?.includes(client.hostAppId) === true) {
      trail.push([task.id, "not_reviewed"]);
      continue;
    }
    const capped = task.userCap !== null;
    if (capped && world.admission && world.reach) calls.push(`reach ${task.id}`);
    const key = taskUserKey(task, client);
    if (world.presented > 0 && key !== undefined) {
      calls.push(`valid ${task.id} ${key}`);
      if (world.tickets.has(`${task.id}/${key}`)) {
        give(task, key, "ticket");
        break;
      }
    }
    if (task.phase === "sticky") {
      if (
        key === undefined ||
        !capped ||
        client.installedVersion !== task.version ||
        ticketExpiry(task.endAt) * 1000 <= now
      )
        trail.push([task.id, "sticky_closed"]);
      else if (!world.admission) trail.push([task.id, "sticky_not_admitted"]);
      else {
        calls.push(`isAdmitted ${task.id} ${key}`);
        if (world.admittedBefore.has(`${task.id}/${key}`)) {
          give(task, key, "sticky_admitted");
          break;
        }
        trail.push([task.id, "sticky_not_admitted"]);
      }
      continue;
    }
    if (verdict?.eligible !== true) {
      trail.push([task.id, "not_eligible"]);
      continue;
    }
    if (key === undefined) {
      if (capped) {
        trail.push([task.id, "not_eligible"]);
        continue;
      }
      give(task, undefined, "admitted");
      break;
    }
    if (!capped) {
      give(task, key, "admitted");
      break;
    }
    if (!world.admission) {
      trail.push([task.id, "refused"]);
      continue;
    }
    calls.push(`lease ${task.id} ${key}`);
    if (world.leased.has(task.id)) {
      give(task, key, "admitted");
      break;
    }
    calls.push(`admit ${task.id} ${key}`);
    if (!world.full.has(task.id)) {
      give(task, key, "admitted");
      break;
    }
    trail.push([task.id, "refused"]);
  }
  const picked = chosen as CompiledTask | null;
  const hostRelease = releaseFor(snapshot, client.hostAppId);
  const installed = client.installedVersion;
  if (picked !== null && (hostRelease === null || compareVersions(picked.version, hostRelease.version) > 0))
    return done({
      status: "ok",
      reason: "grayscale",
      version: picked.version,
      package: picked.package,
      rollback: installed !== undefined && compareVersions(picked.version, installed) < 0,
      taskId: picked.id,
    });
  if (hostRelease === null)
    return done(
      snapshot.online
        ? { status: "not_bound", reason: "not_bound" }
        : { status: "no_release", reason: "no_release" },
    );
  const order = installed === undefined ? 1 : compareVersions(hostRelease.version, installed);
  return done({
    status: "ok",
    reason: order === 0 ? "up_to_date" : order < 0 ? "rollback" : "online",
    version: hostRelease.version,
    package: hostRelease.package,
    rollback: order < 0,
  });
}

function sync(d: ReturnType<typeof decide>): Decision {
  if (d instanceof Promise) throw new Error("synchronous ports gave a promise");
  return d;
}

/** Conditions a mask bit stands for: all but the target objects and the percentage bucket. */
const MASKED = new Set([
  "phase",
  "time_window",
  "host_app",
  "host_app_version",
  "platform",
  "os_version",
  "verified_user",
  "network",
  "brand",
  "model",
  "country",
  "region",
  "city",
  "user_id",
]);

function runCases(seed: number, plans: number, clientsPerPlan: number) {
  const g = new Gen(seed);
  const memo = new RuleMemo();
  const stats = { decisions: 0, grayscale: 0, skipped: 0, words: new Set<number>() };
  for (let p = 0; p < plans; p++) {
    const n = g.chance(0.25) ? 33 + Math.floor(g.r() * 38) : 1 + Math.floor(g.r() * 32);
    const hostApps = g.subset(HOST_APPS, 0.8);
    const tasks = Array.from({ length: n }, (_, i) => g.task(i, hostApps));
    const onlineVersion = g.pick([null, "1.0.0", "1.0.0", "2.0.0"]);
    const snapshot = compileSnapshot(
      {
        appId: "gcapp",
        revision: 1,
        listed: g.chance(0.97),
        hostApps: [...hostApps, "Y"],
        online: onlineVersion === null ? null : release(onlineVersion),
        ...(g.chance(0.15) ? { hostAppReleases: { H2: g.chance(0.5) ? null : release("1.0.0") } } : {}),
        trial: null,
        tasks,
      },
      NOW,
    );
    const plan = new DecidePlan(snapshot);
    const plans = new WeakMap([[snapshot, plan]]);
    stats.words.add(plan.masks.words);
    for (let c = 0; c < clientsPerPlan; c++) {
      const client = g.client();
      const geo = g.geo();
      const now = g.chance(0.8) ? NOW : g.pick([...TIMES, NOW + 40 * DAY, Number.NaN]);
      const keyed = plan.tasks.map((t) => `${t.id}/${taskUserKey(t, client)}`);
      const world: World = {
        tickets: new Set(g.chance(0.2) ? g.subset(keyed, 0.2) : []),
        presented: g.chance(0.2) ? 1 + Math.floor(g.r() * 3) : 0,
        admission: g.chance(0.9),
        reach: g.chance(0.5),
        leased: new Set(
          g.subset(
            plan.tasks.map((t) => t.id),
            0.3,
          ),
        ),
        full: new Set(
          g.subset(
            plan.tasks.map((t) => t.id),
            0.4,
          ),
        ),
        admittedBefore: new Set(g.subset(keyed, 0.3)),
        members: new Set(
          g.subset(
            LISTS.map((l) => l.id),
            0.5,
          ),
        ),
      };
      const label = `seed ${seed}, plan ${p}, client ${c}: ${JSON.stringify({ client, geo, now })}`;

      // Each bit: the conjunction of the conditions it stands for, as `evaluateTask` reports them.
      const verdicts = rankTasks(plan.tasks, client, geo, now, () => false);
      plan.tasks.forEach((task, i) => {
        const verdict = verdicts[i];
        const want = verdict?.conditions.every((cond) => !MASKED.has(cond.condition) || cond.pass) === true;
        const bit = ((plan.masks.word(client, geo, now, memo, i >>> 5) >>> (i & 31)) & 1) === 1;
        if (bit !== want)
          throw new Error(
            `${label}: mask bit of ${task.id} is ${bit}, conditions say ${want}: ${JSON.stringify(task)} ${JSON.stringify(verdict?.conditions)}`,
          );
        if (!bit) stats.skipped++;
      });

      const expected = reference(snapshot, client, geo, now, world);
      const traced = portsOf(world, true);
      const quiet = portsOf(world, false);
      const withTrace = sync(decide(snapshot, client, now, { ...traced.ports, plans, memo }, geo));
      const withoutTrace = sync(decide(snapshot, client, now, { ...quiet.ports, plans, memo }, geo));
      expect(withTrace, label).toEqual(expected.decision);
      expect(traced.trail, label).toEqual(expected.trail);
      expect(traced.calls, label).toEqual(expected.calls);
      expect(withoutTrace, label).toEqual(expected.decision);
      expect(quiet.calls, label).toEqual(expected.calls);
      stats.decisions++;
      if (expected.decision.status === "ok" && expected.decision.taskId !== undefined) stats.grayscale++;
    }
  }
  return stats;
}

describe("decide: rule masks against the explaining form", () => {
  it.each([1, 2, 3, 4])("random plans and clients, seed %i", (seed) => {
    const stats = runCases(seed, 150, 25);
    // the cases reach every kind of answer: grayscale versions, and tasks skipped by their masks
    expect(stats.decisions).toBe(150 * 25);
    expect(stats.grayscale).toBeGreaterThan(stats.decisions / 20);
    expect(stats.grayscale).toBeLessThan(stats.decisions);
    expect(stats.skipped).toBeGreaterThan(0);
    for (const words of [1, 2, 3]) expect(stats.words).toContain(words);
  });
});
