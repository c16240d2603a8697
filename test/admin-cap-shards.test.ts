/**
 * Cap shards in the control plane (docs/scale.md 5b, issue 17): the `capShards` field of a task
 * (validated, documented with its real limit, compiled into the snapshot, fixed once the task
 * starts), progress summed over the shards, and a cap lowered while shards hold unused slots.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { capShardName, capShardOf } from "../core/grayscale/rules";
import type { AdmitMeta, GrayscaleCounter } from "../durable-objects/grayscale-counter";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectJson,
  makeWorld,
  storedSnapshot,
  taskAction,
  taskBody,
  tasksPath,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const patch = (appId: string, taskId: string, json: unknown) =>
  callAdmin("PATCH", tasksPath(appId, `/${taskId}`), { token: world.devA.token, json });
const progress = (appId: string, taskId: string) =>
  expectJson<any>(
    callAdmin("GET", tasksPath(appId, `/${taskId}/progress`), { token: world.viewerA.token }),
    200,
  );

/** Admits users as the edge does for a task split into `shards`: each through its own shard. */
async function admitThroughShards(taskId: string, shards: number, cap: number, keys: string[]) {
  const ns = testEnv.GRAYSCALE_COUNTER as unknown as DurableObjectNamespace<GrayscaleCounter>;
  const meta: AdmitMeta = { hostAppId: world.host1, platform: "ios" };
  for (const key of keys) {
    const shard = capShardOf(taskId, key, shards);
    const r = await ns
      .getByName(capShardName(taskId, shards, shard))
      .admit(key, cap, meta, { taskId, shard, shards });
    expect(r.admitted).toBe(true);
  }
}

describe("capShards on a grayscale task", () => {
  it("is 1 by default, compiled only when above 1 and capped, and refused outside 1..64", async () => {
    const appId = await appWithVersions(world);
    const plain = await createTask(world, appId, "1.1.0", { userCap: 100 });
    expect(plain.capShards).toBe(1);
    expect((await storedSnapshot(appId)).tasks[0].capShards).toBeUndefined();

    for (const capShards of [0, 65, 2.5, "4"]) {
      const res = await callAdmin("POST", tasksPath(appId), {
        token: world.devA.token,
        json: taskBody(world, "1.1.0", { userCap: 100, capShards }),
      });
      const body = await expectJson<any>(res, 400);
      expect(body.error.code).toBe("bad_request");
      expect(body.error.issues.map((i: { path: string }) => i.path)).toContain("capShards");
    }

    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    expect(doc.components.schemas.CreateGrayscaleTask.properties.capShards).toMatchObject({
      type: "integer",
      minimum: 1,
      maximum: 64,
    });
  });

  it("progress sums the shards; the count is fixed once the task runs; a lowered cap takes back unused slots", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const task = await createTask(world, appId, "1.1.0", { userCap: 1000, capShards: 4 });
    expect(task).toMatchObject({ capShards: 4, state: "delivering" });
    expect((await storedSnapshot(appId)).tasks[0]).toMatchObject({
      id: task.id,
      userCap: 1000,
      capShards: 4,
    });

    const keys = Array.from({ length: 20 }, (_, i) => `g:shard-user-${i}`);
    await admitThroughShards(task.id, 4, 1000, keys);
    const before = await progress(appId, task.id);
    expect(before).toMatchObject({ tracked: true, admitted: 20 });
    // The shards hold slots granted ahead of their users: counted as leased, not free to others.
    expect(before.leased).toBeGreaterThan(0);
    expect(before.remaining).toBe(1000 - 20 - before.leased);
    expect(before.byPlatform).toEqual([{ platform: "ios", admitted: 20 }]);

    // K is fixed once the task admits (a user's shard depends on it).
    const locked = await expectJson<any>(patch(appId, task.id, { capShards: 8 }), 409);
    expect(locked.error.rule).toBe("task_field_locked");
    // Never below the users admitted...
    const below = await expectJson<any>(patch(appId, task.id, { userCap: 19 }), 409);
    expect(below.error.rule).toBe("task_cap_below_admitted");
    // ...but the slots shards hold unused do not hold a lowered cap up: they are taken back.
    const lowered = await expectJson<any>(patch(appId, task.id, { userCap: 20 + 1 }), 200);
    expect(lowered.userCap).toBe(21);
    const after = await progress(appId, task.id);
    expect(after).toMatchObject({ admitted: 20, leased: 0, remaining: 1 });
  });

  it("suspending a sharded task takes back the slots its shards hold unused", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const task = await createTask(world, appId, "1.1.0", { userCap: 500, capShards: 2 });
    await admitThroughShards(
      task.id,
      2,
      500,
      Array.from({ length: 6 }, (_, i) => `g:suspend-${i}`),
    );
    expect((await progress(appId, task.id)).leased).toBeGreaterThan(0);
    await expectJson(taskAction(world, appId, task.id, "suspend"), 200);
    expect(await progress(appId, task.id)).toMatchObject({
      state: "suspended",
      admitted: 6,
      leased: 0,
      remaining: 494,
    });
  });

  it("a pending task may change its shard count", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const startAt = Date.now() + 3_600_000;
    const task = await createTask(world, appId, "1.1.0", { userCap: 50, capShards: 2, startAt });
    expect(task.state).toBe("pending");
    const edited = await expectJson<any>(patch(appId, task.id, { capShards: 16 }), 200);
    expect(edited.capShards).toBe(16);
    expect(edited.editableFields).toContain("capShards");
    const back = await expectJson<any>(patch(appId, task.id, { capShards: 1 }), 200);
    expect(back.capShards).toBe(1);
  });
});
