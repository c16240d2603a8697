/**
 * The check orchestration (edge-worker/src/grayscale.ts) called directly, to see what the route
 * cannot show: which counter calls happen, what a hanging or failing Durable Object does, and
 * how the whitelist cache reads R2. Counters are the real GrayscaleCounter behind a counting
 * wrapper; the only hand-made stubs are the hanging and failing ones (a real Durable Object
 * cannot be made to hang).
 */
import { describe, expect, it } from "vitest";
import type { ClientContext } from "../core/decide";
import type { CompiledTask, Geo } from "../core/grayscale/types";
import { shardOf } from "../core/grayscale/whitelist";
import { compileSnapshot, type Snapshot, whitelistShardKey } from "../core/snapshot";
import {
  COUNTER_TIMEOUT_MS,
  type CounterNamespace,
  type CounterStub,
  chooseGrayscale,
  type GrayscaleDeps,
} from "../edge-worker/src/grayscale";
import { issueTicket, loadTicketKey, TICKET_GRACE_MS } from "../edge-worker/src/tickets";
import { ByteLru, WhitelistCache } from "../edge-worker/src/whitelist-cache";
import {
  compiledTask,
  counterOf,
  edgeEnv,
  HOST_APP,
  newAppId,
  online,
  packageRef,
  putWhitelist,
} from "./support/edge";

const ONLINE = "3.0.0";

function snapshotWith(tasks: CompiledTask[]): Snapshot {
  return compileSnapshot(
    {
      appId: newAppId(),
      revision: 1,
      listed: true,
      hostApps: [HOST_APP],
      online: online(ONLINE, packageRef("0")),
      trial: null,
      tasks,
    },
    Date.now(),
  );
}

function clientOf(fields: Partial<ClientContext> = {}): ClientContext {
  return {
    appId: "gcx",
    hostAppId: HOST_APP,
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
    ...fields,
  };
}

/** The real counters, recording every call made through them. */
function countingCounters() {
  const calls: string[] = [];
  const real = edgeEnv.GRAYSCALE_COUNTER;
  const counters: CounterNamespace = {
    getByName(name) {
      const stub = real.getByName(name);
      return {
        admit: (...args) => (calls.push(`admit ${name}`), stub.admit(...args)),
        isAdmitted: (userKey) => (calls.push(`isAdmitted ${name}`), stub.isAdmitted(userKey)),
      };
    },
  };
  return { calls, counters };
}

function deps(counters: CounterNamespace, extra: Partial<GrayscaleDeps> = {}): GrayscaleDeps {
  return { bucket: edgeEnv.PACKAGES, counters, ticketSecret: edgeEnv.ADMISSION_TICKET_SECRET, ...extra };
}

const NO_GEO: Geo = {};

/** A counter that never answers, or one that fails: what an unreachable Durable Object looks like. */
const hanging: CounterStub = { admit: () => new Promise(() => {}), isAdmitted: () => new Promise(() => {}) };
const failing: CounterStub = {
  admit: () => Promise.reject(new Error("Durable Object overloaded")),
  isAdmitted: () => {
    throw new Error("Network connection lost");
  },
};

/** Routes the named tasks to `stub`, every other task to the real counters. */
function brokenFor(taskIds: string[], stub: CounterStub): CounterNamespace {
  const real = edgeEnv.GRAYSCALE_COUNTER;
  return { getByName: (name) => (taskIds.includes(name) ? stub : real.getByName(name)) };
}

describe("counter calls on the hot path", () => {
  it("none for uncapped tasks, ticket holders, sticky tasks without a running version, or ineligible clients", async () => {
    const uncapped = compiledTask("3.2.0", packageRef("2"));
    const capped = compiledTask("3.1.0", packageRef("1"), { userCap: 10 });
    const { calls, counters } = countingCounters();
    const now = Date.now();

    const free = await chooseGrayscale(
      snapshotWith([uncapped, capped]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      now,
      deps(counters),
    );
    expect(free.choice).toMatchObject({ taskId: uncapped.id, version: "3.2.0" });
    expect(calls).toEqual([]);

    const first = await chooseGrayscale(
      snapshotWith([capped]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      now,
      deps(counters),
    );
    expect(first.choice).toMatchObject({ taskId: capped.id });
    expect(calls).toEqual([`admit ${capped.id}`]);

    const held = await chooseGrayscale(
      snapshotWith([capped]),
      clientOf({ guid: "u" }),
      NO_GEO,
      first.tickets,
      now,
      deps(counters),
    );
    expect(held).toEqual({ choice: first.choice, tickets: first.tickets });

    const sticky = { ...capped, phase: "sticky" as const };
    const gone = await chooseGrayscale(
      snapshotWith([sticky]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      now,
      deps(counters),
    );
    expect(gone.choice).toBeNull();

    const androidOnly = { ...capped, platforms: { android: [null, null] as [null, null] } };
    const refusedByRule = await chooseGrayscale(
      snapshotWith([androidOnly]),
      clientOf({ guid: "w", platform: "ios" }),
      NO_GEO,
      [],
      now,
      deps(counters),
    );
    expect(refusedByRule.choice).toBeNull();
    expect(calls).toEqual([`admit ${capped.id}`]);

    // A sticky task asks only about a client that runs its version.
    const kept = await chooseGrayscale(
      snapshotWith([sticky]),
      clientOf({ guid: "u", installedVersion: "3.1.0" }),
      NO_GEO,
      [],
      now,
      deps(counters),
    );
    expect(kept.choice).toMatchObject({ taskId: capped.id });
    expect(calls.at(-1)).toBe(`isAdmitted ${capped.id}`);
  });

  it("30 days after its end a sticky task keeps nobody: neither tickets nor the counter count any more", async () => {
    const endAt = Date.now() - TICKET_GRACE_MS - 1;
    const task = compiledTask("3.1.0", packageRef("1"), {
      userCap: 10,
      phase: "sticky",
      startAt: endAt - 3_600_000,
      endAt,
    });
    await counterOf(task.id).admit("g:u", 10, { hostAppId: HOST_APP, platform: "android" });
    const key = await loadTicketKey(edgeEnv.ADMISSION_TICKET_SECRET);
    // Even a ticket issued with a later expiry (before the end time was moved earlier).
    const ticket = await issueTicket(key, {
      t: task.id,
      u: "g:u",
      v: "3.1.0",
      exp: Math.floor(Date.now() / 1000) + 3600,
    });
    const { calls, counters } = countingCounters();
    const outcome = await chooseGrayscale(
      snapshotWith([task]),
      clientOf({ guid: "u", installedVersion: "3.1.0" }),
      NO_GEO,
      [ticket],
      Date.now(),
      deps(counters),
    );
    expect(outcome).toEqual({ choice: null, tickets: [] });
    expect(calls).toEqual([]);
    // One day earlier, the same client is kept.
    const kept = await chooseGrayscale(
      snapshotWith([{ ...task, endAt: endAt + 86_400_000 }]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [ticket],
      Date.now(),
      deps(counters),
    );
    expect(kept.choice).toMatchObject({ taskId: task.id });
  });

  it.each([2, 1] as const)(
    "none for whitelist non-members, and the Bloom filter spares them any shard read (storage format %d)",
    async (format) => {
      const members = Array.from({ length: 20_000 }, (_, i) => `dev-${i}`);
      const { ref, bloomSays } = await putWhitelist("deviceId", members, 99, format);
      const task = compiledTask("3.1.0", packageRef("1"), {
        userCap: 100,
        targets: { inline: {}, whitelists: [ref] },
      });
      const whitelists = new WhitelistCache();
      const { calls, counters } = countingCounters();
      const strangers = Array.from({ length: 500 }, (_, i) => `nobody-${i}`).filter((v) => !bloomSays(v));
      expect(strangers.length).toBeGreaterThan(450);

      for (const deviceId of strangers) {
        const outcome = await chooseGrayscale(
          snapshotWith([task]),
          clientOf({ deviceId }),
          NO_GEO,
          [],
          Date.now(),
          deps(counters, { whitelists }),
        );
        expect(outcome.choice).toBeNull();
      }
      expect(calls).toEqual([]);
      expect(whitelists.stats).toEqual({ bloomReads: 1, shardReads: 0 });

      // A client failing another rule is not even looked up.
      const wifiOnly = { ...task, networks: ["wifi" as const] };
      const offRule = await chooseGrayscale(
        snapshotWith([wifiOnly]),
        clientOf({ deviceId: "dev-1", network: "4g" }),
        NO_GEO,
        [],
        Date.now(),
        deps(counters, { whitelists }),
      );
      expect(offRule.choice).toBeNull();
      expect(whitelists.stats.shardReads).toBe(0);

      const member = await chooseGrayscale(
        snapshotWith([task]),
        clientOf({ deviceId: "dev-7" }),
        NO_GEO,
        [],
        Date.now(),
        deps(counters, { whitelists }),
      );
      expect(member.choice).toMatchObject({ taskId: task.id });
      expect(calls).toEqual([`admit ${task.id}`]);
      expect(whitelists.stats).toEqual({ bloomReads: 1, shardReads: 1 });
      // Another member of the same shard is answered from the cache.
      const sameShard = members.find(
        (m) => m !== "dev-7" && shardOf(ref, m) === shardOf(ref, "dev-7"),
      ) as string;
      await chooseGrayscale(
        snapshotWith([task]),
        clientOf({ deviceId: sameShard }),
        NO_GEO,
        [],
        Date.now(),
        deps(counters, { whitelists }),
      );
      expect(whitelists.stats).toEqual({ bloomReads: 1, shardReads: 1 });
      expect(await counterOf(task.id).progress()).toMatchObject({ admitted: 2 });
    },
  );

  it.each([
    [1, { bloomBits: 96, bloomHashes: 7 }],
    [2, { bloomBits: 256, bloomHashes: 8, format: 2 as const }],
  ])(
    "a whitelist missing from R2 admits nobody instead of failing the check (storage format %d)",
    async (_, sizing) => {
      const task = compiledTask("3.1.0", packageRef("1"), {
        targets: {
          inline: {},
          whitelists: [{ id: `wl_missing${_}`, kind: "guid", count: 10, seed: 1, shards: 1, ...sizing }],
        },
      });
      const whitelists = new WhitelistCache();
      for (const guid of ["g1", "g2", "g3"]) {
        const outcome = await chooseGrayscale(
          snapshotWith([task]),
          clientOf({ guid }),
          NO_GEO,
          [],
          Date.now(),
          deps(countingCounters().counters, { whitelists }),
        );
        expect(outcome.choice).toBeNull();
      }
      // Known missing: not asked for again on every check.
      expect(whitelists.stats.bloomReads).toBe(1);
    },
  );

  it("a format-2 list whose shard is corrupt or whose filter does not match its ref admits nobody from it, and is not read again at once", async () => {
    const members = Array.from({ length: 10_000 }, (_, i) => `dev-${i}`);
    const { ref } = await putWhitelist("deviceId", members, 5);
    expect(ref.format).toBe(2);
    const task = compiledTask("3.1.0", packageRef("1"), { targets: { inline: {}, whitelists: [ref] } });
    const whitelists = new WhitelistCache();
    const choose = (deviceId: string, snapshot = snapshotWith([task])) =>
      chooseGrayscale(
        snapshot,
        clientOf({ deviceId }),
        NO_GEO,
        [],
        Date.now(),
        deps(countingCounters().counters, { whitelists }),
      );
    // dev-1's shard is cut short (a table's header without its slots); others still work.
    const broken = shardOf(ref, "dev-1");
    const key = whitelistShardKey(ref.id, broken);
    const bytes = new Uint8Array(await (await edgeEnv.PACKAGES.get(key))!.arrayBuffer());
    await edgeEnv.PACKAGES.put(key, bytes.slice(0, 12));
    expect((await choose("dev-1")).choice).toBeNull();
    expect((await choose("dev-1")).choice).toBeNull();
    expect(whitelists.stats.shardReads).toBe(1);
    const fine = members.find((m) => shardOf(ref, m) !== broken)!;
    expect((await choose(fine)).choice).toMatchObject({ taskId: task.id });

    // A ref whose bloomBits do not match the stored filter: the filter is unreadable (a shorter
    // filter than the ref says would read missing bits as 0, a false negative).
    const wrongRef = { ...ref, bloomBits: ref.bloomBits + 256 };
    const other = compiledTask("3.2.0", packageRef("2"), { targets: { inline: {}, whitelists: [wrongRef] } });
    const fresh = new WhitelistCache();
    const outcome = await chooseGrayscale(
      snapshotWith([other]),
      clientOf({ deviceId: fine }),
      NO_GEO,
      [],
      Date.now(),
      deps(countingCounters().counters, { whitelists: fresh }),
    );
    expect(outcome.choice).toBeNull();
    expect(fresh.stats).toEqual({ bloomReads: 1, shardReads: 0 });
  });
});

describe("an unreachable counter", () => {
  it("a hanging counter gives up after the timeout: the online version, no error, no ticket", async () => {
    const task = compiledTask("3.1.0", packageRef("1"), { userCap: 10 });
    const started = Date.now();
    const outcome = await chooseGrayscale(
      snapshotWith([task]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      Date.now(),
      deps(brokenFor([task.id], hanging), { counterTimeoutMs: 50 }),
    );
    expect(outcome).toEqual({ choice: null, tickets: [] });
    expect(Date.now() - started).toBeLessThan(COUNTER_TIMEOUT_MS);
  });

  it("the default timeout is about one second", async () => {
    const task = compiledTask("3.1.0", packageRef("1"), { userCap: 10 });
    const started = Date.now();
    const outcome = await chooseGrayscale(
      snapshotWith([task]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      Date.now(),
      deps(brokenFor([task.id], hanging)),
    );
    expect(outcome.choice).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(COUNTER_TIMEOUT_MS - 50);
    expect(Date.now() - started).toBeLessThan(COUNTER_TIMEOUT_MS + 1_500);
  });

  it("a failing or hanging counter moves on to the next task", async () => {
    const broken = compiledTask("3.3.0", packageRef("3"), { userCap: 10 });
    const slow = compiledTask("3.2.0", packageRef("2"), { userCap: 10 });
    const fallback = compiledTask("3.1.0", packageRef("1"), { userCap: 10 });
    const counters: CounterNamespace = {
      getByName: (name) =>
        name === broken.id ? failing : name === slow.id ? hanging : edgeEnv.GRAYSCALE_COUNTER.getByName(name),
    };
    const outcome = await chooseGrayscale(
      snapshotWith([broken, slow, fallback]),
      clientOf({ guid: "u" }),
      NO_GEO,
      [],
      Date.now(),
      deps(counters, { counterTimeoutMs: 50 }),
    );
    expect(outcome.choice).toMatchObject({ taskId: fallback.id, version: "3.1.0" });
    expect(outcome.tickets).toHaveLength(1);
    expect(await counterOf(fallback.id).progress()).toMatchObject({ admitted: 1 });
  });

  it("a sticky task whose counter throws keeps ticketless users on online", async () => {
    const task = compiledTask("3.1.0", packageRef("1"), { userCap: 10, phase: "sticky" });
    const outcome = await chooseGrayscale(
      snapshotWith([task]),
      clientOf({ guid: "u", installedVersion: "3.1.0" }),
      NO_GEO,
      [],
      Date.now(),
      deps(brokenFor([task.id], failing)),
    );
    expect(outcome).toEqual({ choice: null, tickets: [] });
  });
});

describe("ByteLru", () => {
  it("evicts the least recently used entries once over its byte budget", () => {
    const lru = new ByteLru<string>(100);
    lru.set("a", "A", 40);
    lru.set("b", "B", 40);
    expect(lru.get("a")).toBe("A"); // a is now the most recent
    lru.set("c", "C", 40);
    expect([lru.get("a"), lru.get("b"), lru.get("c")]).toEqual(["A", undefined, "C"]);
    expect(lru.bytes).toBe(80);
    lru.set("huge", "H", 101);
    expect(lru.get("huge")).toBeUndefined();
    expect(lru.size).toBe(2);
  });
});
