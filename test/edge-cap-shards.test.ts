/**
 * Cap shards (docs/scale.md 5b, issue 17): a capped task split into K GrayscaleCounter shards
 * under one coordinator, with the real objects. Exactness through POST /v1/check at K = 1, 4 and
 * 16 (exactly `cap` admitted, nobody over, each user counted once, sticky re-checks), a small
 * cap over many shards filling exactly with nothing stranded, a cap lowered while shards hold
 * slots, and the coordinator's rules (totals, lost answers, a fixed shard count).
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  type CounterNamespace,
  counterHasAdmitted,
  counterProgress,
  reclaimShardSlots,
} from "../control-plane/src/services/grayscale-counter";
import {
  capShardsOf,
  checkTaskDefinition,
  checkTaskEdit,
  compileTask,
  MAX_CAP_SHARDS,
  type TaskFacts,
} from "../core/grayscale/lifecycle";
import { capShardName, capShardOf, rolloutBucket } from "../core/grayscale/rules";
import type { CompiledTask, TaskDefinition } from "../core/grayscale/types";
import {
  type AdmitMeta,
  type GrayscaleCounter,
  MAX_SHARD_GRANT,
  type ShardRef,
} from "../durable-objects/grayscale-counter";
import {
  check,
  client,
  compiledTask,
  edgeEnv,
  newAppId,
  newTaskId,
  online,
  packageRef,
  putSnapshot,
} from "./support/edge";

const ONLINE = "2.0.0";
const GRAY = "2.1.0";
const META: AdmitMeta = { hostAppId: "ha_shards", platform: "android" };
const NOW = 1_800_000_000_000;
const PKG = { sha256: "b".repeat(64), size: 2048 };

const namespace = () => edgeEnv.GRAYSCALE_COUNTER as unknown as CounterNamespace;
const counter = (name: string) =>
  (edgeEnv.GRAYSCALE_COUNTER as DurableObjectNamespace<GrayscaleCounter>).getByName(name);

/** Admits `userKey` as the edge does: through the user's shard when the task is sharded. */
function admit(taskId: string, shards: number, userKey: string, cap: number) {
  const shard = capShardOf(taskId, userKey, shards);
  const stub = counter(capShardName(taskId, shards, shard));
  return shards <= 1
    ? stub.admit(userKey, cap, META)
    : stub.admit(userKey, cap, META, { taskId, shard, shards });
}

/** Per shard: admitted users and the slots it holds free. */
async function shardFigures(taskId: string, shards: number) {
  return Promise.all(
    Array.from({ length: shards }, async (_, i) => {
      const p = await counter(capShardName(taskId, shards, i)).progress();
      return { admitted: p.admitted, reserved: p.reserved, free: p.free ?? 0 };
    }),
  );
}

describe("capShards in the task definition", () => {
  const def = (extra: Partial<TaskDefinition>): TaskDefinition => ({
    name: "Launch",
    version: "1.3.0",
    startAt: NOW,
    endAt: NOW + 86_400_000,
    userCap: 1000,
    percentageBp: null,
    hostApps: { host1: {} },
    platforms: { android: {} },
    targets: {},
    ...extra,
  });
  const facts: TaskFacts = {
    versionStatus: "approved",
    versionEverReleased: false,
    onlineVersion: "1.2.0",
    boundHostApps: ["host1"],
    listed: true,
  };
  const compiled = (d: TaskDefinition) =>
    compileTask(
      {
        id: "gt_x",
        definition: d,
        status: { state: "pending", endReason: null },
        package: PKG,
        whitelists: [],
      },
      NOW,
    );

  it("is 1..64, compiled only above 1 on a capped task, and fixed once the task starts", () => {
    for (const capShards of [1, 16, MAX_CAP_SHARDS, undefined])
      expect(checkTaskDefinition(def({ capShards }), facts, NOW)).toBeNull();
    for (const capShards of [0, 65, 1.5, -1])
      expect(checkTaskDefinition(def({ capShards }), facts, NOW)?.rule).toBe("task_cap_shards_invalid");
    expect(compiled(def({ capShards: 16 }))?.capShards).toBe(16);
    expect(compiled(def({ capShards: 1 }))).not.toHaveProperty("capShards");
    expect(compiled(def({}))).not.toHaveProperty("capShards");
    expect(compiled(def({ capShards: 16, userCap: null }))).not.toHaveProperty("capShards");
    expect(capShardsOf(def({ capShards: 16, userCap: null }))).toBe(1);
    const before = def({ capShards: 4 });
    expect(checkTaskEdit(before, { ...before, capShards: 8 }, "pending", NOW, 0)).toBeNull();
    expect(checkTaskEdit(before, { ...before, capShards: 8 }, "delivering", NOW, 0)?.rule).toBe(
      "task_field_locked",
    );
  });
});

describe("the cap shard of a user", () => {
  it("is stable, covers every shard, and says nothing of the user's rollout bucket", () => {
    const taskId = "gt_shardhash0001";
    const users = Array.from({ length: 4000 }, (_, i) => `g:user-${i}`);
    const counts = new Array<number>(16).fill(0);
    for (const u of users) {
      const s = capShardOf(taskId, u, 16);
      expect(capShardOf(taskId, u, 16)).toBe(s);
      counts[s] = (counts[s] as number) + 1;
    }
    for (const n of counts) expect(n).toBeGreaterThan(150); // 250 expected per shard
    // Users of the lowest 1% of buckets (a 1% rollout) are not all on one shard.
    const front = users.filter((u) => rolloutBucket(taskId, u) < 100);
    expect(new Set(front.map((u) => capShardOf(taskId, u, 16))).size).toBeGreaterThan(8);
    expect(capShardOf(taskId, "g:x", 1)).toBe(0);
    expect(capShardName(taskId, 1, 0)).toBe(taskId);
    expect(capShardName(taskId, 4, 3)).toBe(`${taskId}#3`);
  });
});

describe("capped tasks split into shards, through /v1/check", () => {
  async function appWithTask(extra: Partial<CompiledTask>) {
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"), extra);
    await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
    return {
      task,
      check: (guid: string, tickets?: string[]) =>
        check(client(appId, { guid, ...(tickets ? { tickets } : {}) }), undefined, { verify: false }),
    };
  }

  it.each([1, 4, 16])(
    "K = %i: thousands of concurrent first admissions admit exactly `cap` users, each once, sticky",
    async (shards) => {
      const cap = 37;
      const users = 500;
      const app = await appWithTask({ userCap: cap, ...(shards > 1 ? { capShards: shards } : {}) });
      const order = Array.from({ length: 2000 }, (_, i) => `user-${(i * 7) % users}`);
      const answers = await Promise.all(order.map(async (guid) => ({ guid, ...(await app.check(guid)) })));

      const winners = new Map<string, string>();
      for (const { guid, claims, tickets } of answers) {
        if (claims.version !== GRAY) {
          expect(claims.version).toBe(ONLINE);
          continue;
        }
        expect(tickets).toHaveLength(1);
        winners.set(guid, tickets[0] as string);
      }
      // Exactly the cap, nobody over it.
      expect(winners.size).toBe(cap);
      // Each user counted once: the shards' counts add up to the distinct winners, and each
      // winner is known to its own shard.
      const progress = await counterProgress(namespace(), app.task.id, shards);
      expect(progress.admitted).toBe(cap);
      expect(progress.admitted + progress.reserved + progress.stranded).toBe(cap);
      if (shards > 1) {
        const perShard = await shardFigures(app.task.id, shards);
        expect(perShard.reduce((n, s) => n + s.admitted, 0)).toBe(cap);
        expect(perShard.filter((s) => s.admitted > 0).length).toBeGreaterThan(1);
        expect((await counter(app.task.id).progress()).admitted).toBe(0); // the coordinator admits nobody
      }
      for (const guid of winners.keys())
        expect(await counterHasAdmitted(namespace(), app.task.id, `g:${guid}`, shards)).toBe(true);

      // Sticky: each winner re-checking with its ticket or without keeps the version; nobody else gets it.
      for (const [guid, ticket] of winners)
        expect((await app.check(guid, [ticket])).claims.version).toBe(GRAY);
      const recheck = await Promise.all(Array.from({ length: users }, (_, i) => app.check(`user-${i}`)));
      const again = recheck.flatMap((r, i) => (r.claims.version === GRAY ? [`user-${i}`] : []));
      expect(new Set(again)).toEqual(new Set(winners.keys()));
      expect((await counterProgress(namespace(), app.task.id, shards)).admitted).toBe(cap);
    },
    120_000,
  );
});

describe("faults, per shard", () => {
  it("a coordinator that refuses its shards' asks grants nothing: every new user gets the online version, never an error", async () => {
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"), { userCap: 100, capShards: 4 });
    await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
    // The coordinator already coordinates another shard count: each shard's ask is refused.
    await counter(task.id).grantShard(100, { taskId: task.id, shard: 0, shards: 8 }, 0, 0);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        check(client(appId, { guid: `fault-${i}` }), undefined, { verify: false }),
      ),
    );
    expect(answers.map((a) => a.claims.version)).toEqual(new Array(20).fill(ONLINE));
    expect(answers.every((a) => a.tickets.length === 0)).toBe(true);
    const perShard = await shardFigures(task.id, 4);
    expect(perShard.reduce((n, s) => n + s.admitted, 0)).toBe(0);
  });
});

describe("shards and their coordinator", () => {
  it("a cap of 10 over 16 shards fills exactly, with nothing stranded in the shards", async () => {
    const taskId = newTaskId();
    const shards = 16;
    const cap = 10;
    const users = Array.from({ length: 400 }, (_, i) => `g:small-${i}`);
    const results = await Promise.all(users.map((u) => admit(taskId, shards, u, cap)));
    const admitted = users.filter((_, i) => results[i]?.admitted);
    expect(admitted).toHaveLength(cap);

    const perShard = await shardFigures(taskId, shards);
    expect(perShard.reduce((n, s) => n + s.admitted, 0)).toBe(cap);
    // Every slot granted was used: no shard holds one a user could still need.
    expect(perShard.map((s) => s.free)).toEqual(new Array(shards).fill(0));
    expect((await counter(taskId).progress()).leased).toBe(cap);
    const progress = await counterProgress(namespace(), taskId, shards);
    expect(progress).toMatchObject({ admitted: cap, reserved: 0, stranded: 0 });
    // Full: another user is refused, an admitted one is still admitted.
    expect((await admit(taskId, shards, "g:late", cap)).admitted).toBe(false);
    expect((await admit(taskId, shards, admitted[0] as string, cap)).admitted).toBe(true);
    // Once full, new users of one shard, one after another, are refused by the shard without a
    // call to the coordinator each: after "nothing left" it does not ask again under the same cap
    // for a second (20 asks without that; a second holds them all unless the machine stalls).
    const asksBefore = (await counter(taskId).progress()).asks ?? 0;
    const late = Array.from({ length: 2000 }, (_, i) => `g:late-${i}`)
      .filter((u) => capShardOf(taskId, u, shards) === 3)
      .slice(0, 20);
    expect(late).toHaveLength(20);
    for (const u of late) expect((await admit(taskId, shards, u, cap)).admitted).toBe(false);
    expect((await counter(taskId).progress()).asks ?? 0).toBeLessThanOrEqual(asksBefore + 5);
  });

  it("a cap lowered while shards hold slots: they give them back, and the new cap is exact", async () => {
    const taskId = newTaskId();
    const shards = 4;
    const first = Array.from({ length: 40 }, (_, i) => `g:first-${i}`);
    for (const u of first) expect((await admit(taskId, shards, u, 1000)).admitted).toBe(true);
    const held = await counterProgress(namespace(), taskId, shards);
    expect(held.admitted).toBe(40);
    // The shards hold slots beyond their users (granted ahead of demand).
    expect(held.reserved).toBeGreaterThan(0);

    // What an edit of the cap does first: every free slot comes back to the coordinator.
    const { returned, failed } = await reclaimShardSlots(namespace(), taskId, shards);
    expect(failed).toBe(0);
    // (a grant still on its way when progress was read lands before the shard gives back)
    expect(returned).toBeGreaterThanOrEqual(held.reserved);
    const after = await counterProgress(namespace(), taskId, shards);
    expect(after).toMatchObject({ admitted: 40, reserved: 0, stranded: 0 });
    expect((await shardFigures(taskId, shards)).map((s) => s.free)).toEqual([0, 0, 0, 0]);

    // The lowered cap (50) applies exactly, whatever the concurrency: 10 more users.
    const next = Array.from({ length: 200 }, (_, i) => `g:next-${i}`);
    const results = await Promise.all(next.map((u) => admit(taskId, shards, u, 50)));
    expect(results.filter((r) => r.admitted)).toHaveLength(10);
    expect((await counterProgress(namespace(), taskId, shards)).admitted).toBe(50);
    // Admitted users stay admitted under any cap.
    for (const u of first.slice(0, 5)) expect((await admit(taskId, shards, u, 1)).admitted).toBe(true);
  });

  it("a shard that saw a lower cap gives back the slots it was granted under the old one", async () => {
    const taskId = newTaskId();
    const shards = 2;
    // Fill shard slots under a large cap, through one user per shard.
    const users = Array.from({ length: 20 }, (_, i) => `g:low-${i}`);
    for (const u of users.slice(0, 4)) expect((await admit(taskId, shards, u, 10_000)).admitted).toBe(true);
    // The cap drops to 4 (already reached): no shard may admit from what it still holds.
    const results = await Promise.all(users.slice(4).map((u) => admit(taskId, shards, u, 4)));
    expect(results.filter((r) => r.admitted)).toHaveLength(0);
    expect((await counterProgress(namespace(), taskId, shards)).admitted).toBe(4);
  });

  it("grants shrink with what remains, travel as totals, and a lost answer is answered again", async () => {
    const taskId = newTaskId();
    const coordinator = counter(taskId);
    const ref = (shard: number): ShardRef => ({ taskId, shard, shards: 4 });
    // min(L, ceil(remaining / 2K)): 100 remaining over 4 shards -> 13.
    expect(await coordinator.grantShard(100, ref(0), 0, 0)).toEqual({ granted: 13, remaining: 87 });
    // The shard never heard of it (its total is still 0): the same total again, nothing more.
    expect(await coordinator.grantShard(100, ref(0), 0, 0)).toEqual({ granted: 13, remaining: 87 });
    expect(await coordinator.grantShard(100, ref(0), 13, 0)).toEqual({ granted: 24, remaining: 76 });
    // Slots given back are granted again; never more than was granted is taken as returned.
    expect(await coordinator.grantShard(100, ref(1), 0, 5)).toEqual({ granted: 10, remaining: 66 });
    expect(await coordinator.grantShard(100, ref(0), 24, 24)).toEqual({ granted: 36, remaining: 78 });
    // The largest grant is L.
    const big = await coordinator.grantShard(100_000_000, ref(2), 0, 0);
    expect(big.granted).toBe(MAX_SHARD_GRANT);
    // Nothing is left under a cap already given out.
    expect(await coordinator.grantShard(10, ref(3), 0, 0)).toMatchObject({ granted: 0, remaining: 0 });
    // The shard count is fixed by the first ask; a shard knows who it is (refusals inside the
    // objects, where a rejected call is the test's to handle).
    await runInDurableObject(coordinator, async (instance: GrayscaleCounter) => {
      await expect(instance.grantShard(100, { taskId, shard: 0, shards: 8 }, 0, 0)).rejects.toThrow(
        /coordinates 4 shards/,
      );
      await expect(instance.grantShard(100, ref(0), 1000, 0)).rejects.toThrow(/more than was granted/);
    });
    const shard = counter(capShardName(taskId, 4, 1));
    expect(await shard.admit("g:someone", 100, META, ref(1))).toMatchObject({ admitted: true });
    await runInDurableObject(shard, async (instance: GrayscaleCounter) => {
      await expect(instance.admit("g:other", 100, META, ref(2))).rejects.toThrow(/shard 1 of 4/);
      await expect(instance.admit("g:other", 100, META, { taskId, shard: 4, shards: 4 })).rejects.toThrow(
        /0..shards-1/,
      );
    });
  });

  it("an unsharded task keeps today's counter: no coordinator state, nothing to reclaim", async () => {
    const taskId = newTaskId();
    expect((await admit(taskId, 1, "g:solo", 1)).admitted).toBe(true);
    expect((await admit(taskId, 1, "g:second", 1)).admitted).toBe(false);
    const p = await counter(taskId).progress();
    expect(p.leased).toBeUndefined();
    expect(p.free).toBeUndefined();
    expect(await reclaimShardSlots(namespace(), taskId, 1)).toEqual({ returned: 0, failed: 0 });
  });
});
