/**
 * Switch configuration (PRODUCT.md D5, issue 12): typed values, scopes (every host app or one,
 * every user or one grayscale task), the most specific row wins in the runtime config, every
 * refusal, the change log, and the preview route.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { switches } from "../control-plane/src/db/schema";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  storedSnapshot,
  taskAction,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
let taskId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
  taskId = (await createTask(world, appId, "1.1.0")).id;
});

const put = (token: string, key: string, json: unknown, id = appId) =>
  callAdmin("PUT", `/v1/mini-programs/${id}/switches/${key}`, { token, json });
const preview = (query: string, token = world.viewerA.token) =>
  expectJson<any>(callAdmin("GET", `/v1/mini-programs/${appId}/runtime-config?${query}`, { token }), 200);

describe("switches", () => {
  it("sets typed values per scope; the most specific row wins; a task's value only for that task", async () => {
    const base = await expectJson<any>(
      put(world.devA.token, "newCheckout", { type: "boolean", value: false }),
      200,
    );
    expect(base).toMatchObject({
      key: "newCheckout",
      type: "boolean",
      value: false,
      hostAppId: null,
      taskId: null,
    });
    expect(base.updatedBy).toBe(world.devA.id);
    await expectJson(put(world.devA.token, "newCheckout", { type: "boolean", value: true, taskId }), 200);
    await expectJson(put(world.adminA.token, "banner", { type: "string", value: "Hello" }), 200);
    await expectJson(
      put(world.devA.token, "banner", { type: "string", value: "Host one", hostAppId: world.host1 }),
      200,
    );
    await expectJson(put(world.devA.token, "maxItems", { type: "number", value: 12.5 }), 200);
    await expectJson(
      put(world.devA.token, "theme", { type: "json", value: { color: "#fff", sizes: [1, 2] } }),
      200,
    );

    const plain = await preview(`hostAppId=${world.host1}`);
    expect(plain.switches).toEqual({
      banner: { type: "string", value: "Host one" },
      maxItems: { type: "number", value: 12.5 },
      newCheckout: { type: "boolean", value: false },
      theme: { type: "json", value: { color: "#fff", sizes: [1, 2] } },
    });
    expect(plain.taskId).toBeUndefined();
    const inTask = await preview(`hostAppId=${world.host1}&taskId=${taskId}`);
    expect(inTask.switches.newCheckout).toEqual({ type: "boolean", value: true });
    expect(inTask.taskId).toBe(taskId);

    const snap = await storedSnapshot(appId);
    expect(snap.config.switches).toEqual(
      expect.arrayContaining([
        { key: "newCheckout", type: "boolean", value: true, taskId },
        { key: "banner", type: "string", value: "Host one", hostAppId: world.host1 },
      ]),
    );
    const listed = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/switches`, { token: world.viewerA.token }),
      200,
    );
    expect(listed.switches).toHaveLength(6);
    expect(listed.limit).toBe(500);

    // Replacing keeps one row per scope and bumps the config revision.
    const before = snap.config.revision;
    await expectJson(put(world.devA.token, "maxItems", { type: "number", value: 20 }), 200);
    const after = await storedSnapshot(appId);
    expect(after.config.revision).toBe(before + 1);
    expect(after.config.switches.filter((s: any) => s.key === "maxItems")).toEqual([
      { key: "maxItems", type: "number", value: 20 },
    ]);
  });

  it("refuses a value of the wrong type, a bad key, oversized values and a type change (400 / 409)", async () => {
    await expectError(put(world.devA.token, "flag", { type: "boolean", value: "yes" }), 400, "bad_request");
    await expectError(put(world.devA.token, "num", { type: "number", value: "1" }), 400, "bad_request");
    await expectError(put(world.devA.token, "str", { type: "string", value: 1 }), 400, "bad_request");
    await expectError(
      put(world.devA.token, "str", { type: "string", value: "x".repeat(1025) }),
      400,
      "bad_request",
    );
    await expectError(
      put(world.devA.token, "big", { type: "json", value: { a: "x".repeat(5000) } }),
      400,
      "bad_request",
    );
    await expectError(put(world.devA.token, "j", { type: "json" }), 400, "bad_request");
    await expectError(put(world.devA.token, "x", { type: "date", value: 1 }), 400, "bad_request");
    await expectError(put(world.devA.token, "1bad", { type: "number", value: 1 }), 400, "bad_request");
    await expectError(
      put(world.devA.token, "ok", { type: "number", value: 1, extra: true }),
      400,
      "bad_request",
    );
    const message = await expectError(
      put(world.devA.token, "banner", { type: "number", value: 1, hostAppId: world.host1 }),
      409,
      "conflict",
    );
    expect(message).toMatch(/string switch/);
  });

  it("refuses an unbound host app (409), another app's or an unknown task (404), an ended task (409)", async () => {
    await expectError(
      put(world.devA.token, "s", { type: "number", value: 1, hostAppId: world.host2 }),
      409,
      "conflict",
    );
    await expectError(
      put(world.devA.token, "s", { type: "number", value: 1, taskId: "gt_nope" }),
      404,
      "not_found",
    );
    const other = await appWithVersions(world, "1.0.0", ["1.2.0"]);
    const otherTask = (await createTask(world, other, "1.2.0")).id;
    await expectError(
      put(world.devA.token, "s", { type: "number", value: 1, taskId: otherTask }),
      404,
      "not_found",
    );
    await expectJson(put(world.devA.token, "s", { type: "number", value: 1, taskId: otherTask }, other), 200);
    await expectJson(taskAction(world, other, otherTask, "end"), 200);
    await expectError(
      put(world.devA.token, "s", { type: "number", value: 2, taskId: otherTask }, other),
      409,
      "conflict",
    );
    // An ended task keeps its users on its version (sticky), so they keep its switch values...
    expect((await storedSnapshot(other)).config.switches).toEqual([
      { key: "s", type: "number", value: 1, taskId: otherTask },
    ]);
    // ...until it is reverted: then its rows no longer reach clients.
    await expectJson(taskAction(world, other, otherTask, "end-and-revert"), 200);
    expect((await storedSnapshot(other)).config.switches).toEqual([]);
  });

  it("refuses viewers (403), other teams (404), no token (401); deletes by scope (404 when absent)", async () => {
    await expectError(put(world.viewerA.token, "v", { type: "number", value: 1 }), 403, "forbidden");
    await expectError(put(world.devB.token, "v", { type: "number", value: 1 }), 404, "not_found");
    await expectError(put("", "v", { type: "number", value: 1 }), 401, "unauthenticated");
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/switches`, { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/runtime-config?hostAppId=${world.host1}`, {
        token: world.devB.token,
      }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/runtime-config`, { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/runtime-config?hostAppId=${world.host2}`, {
        token: world.devA.token,
      }),
      404,
      "not_found",
    );
    const del = (token: string, query = "") =>
      callAdmin("DELETE", `/v1/mini-programs/${appId}/switches/newCheckout${query}`, { token });
    await expectError(del(world.viewerA.token, `?taskId=${taskId}`), 403, "forbidden");
    await expectError(del(world.devA.token, `?hostAppId=${world.host1}`), 404, "not_found");
    await expectJson(del(world.devA.token, `?taskId=${taskId}`), 200);
    const inTask = await preview(`hostAppId=${world.host1}&taskId=${taskId}`);
    expect(inTask.switches.newCheckout).toEqual({ type: "boolean", value: false });
    expect(inTask.taskId).toBeUndefined();
    await expectError(del(world.devA.token, `?taskId=${taskId}`), 404, "not_found");
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
      200,
    );
    const actions = log.entries.filter((e: any) => e.targetId === appId).map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["switch.set", "switch.delete"]));
  });

  it("refuses the 501st row with 409 but still replaces existing rows", async () => {
    const full = await makeMiniProgram(world);
    const db = createDb(testEnv.DB);
    const rows = Array.from({ length: 500 }, (_, i) => ({
      id: `sw_fill_${full}_${i}`,
      miniProgramId: full,
      key: `k${i}`,
      type: "number" as const,
      value: "0",
      updatedBy: world.devA.id,
      updatedAt: Date.now(),
    }));
    for (let i = 0; i < rows.length; i += 10)
      await db
        .insert(switches)
        .values(rows.slice(i, i + 10))
        .run();
    const message = await expectError(
      put(world.devA.token, "another", { type: "number", value: 1 }, full),
      409,
      "conflict",
    );
    expect(message).toMatch(/at most 500/);
    const replaced = await expectJson<any>(
      put(world.devA.token, "k7", { type: "number", value: 7 }, full),
      200,
    );
    expect(replaced.value).toBe(7);
  });
});
