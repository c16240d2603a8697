/**
 * "Why does this client get this version" (PRODUCT.md G7): the decision for a client context,
 * compiled from D1 without publishing, with every task's every condition, whitelists resolved
 * from R2 and counters read but never written.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  admitUsers,
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeWorld,
  storedSnapshot,
  taskAction,
  tasksPath,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const client = (extra: Record<string, unknown> = {}) => ({
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  guid: "guid-1",
  ...extra,
});
const explain = (appId: string, json: unknown, token = world.viewerA.token) =>
  callAdmin("POST", `/v1/mini-programs/${appId}/explain`, { token, json });
const explained = (appId: string, json: unknown) => expectJson<any>(explain(appId, json), 200);
const failed = (task: any) => task.conditions.filter((c: any) => !c.pass).map((c: any) => c.condition);

describe("POST /v1/mini-programs/{appId}/explain", () => {
  it("a client matching a delivering task gets its version; every condition is reported", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", {
      name: "wave",
      platforms: [{ platform: "ios", minOsVersion: "16" }],
    });
    const e = await explained(appId, { client: client() });
    expect(e).toMatchObject({ appId, listed: true, onlineVersion: "1.0.0", userKey: "g:guid-1" });
    expect(e.decision).toEqual({
      status: "ok",
      reason: "grayscale",
      version: "1.1.0",
      rollback: false,
      taskId: task.id,
    });
    expect(e.tasks).toHaveLength(1);
    expect(e.tasks[0]).toMatchObject({
      taskId: task.id,
      name: "wave",
      version: "1.1.0",
      phase: "admitting",
      eligible: true,
      outcome: "chosen",
      counter: null,
    });
    expect(e.tasks[0].conditions.map((c: any) => c.condition)).toEqual([
      "phase",
      "time_window",
      "host_app",
      "host_app_version",
      "platform",
      "os_version",
      "target",
      "verified_user",
      "network",
      "brand",
      "model",
      "country",
      "region",
      "city",
      "percentage",
      "user_id",
    ]);
    expect(failed(e.tasks[0])).toEqual([]);
  });

  it("names the conditions that fail, including the geo rules, and falls back to the online version", async () => {
    const appId = await appWithVersions(world);
    await createTask(world, appId, "1.1.0", {
      platforms: [{ platform: "ios", minOsVersion: "18" }],
      countries: { include: ["CN"] },
      cities: { exclude: ["Shenzhen"] },
    });
    const e = await explained(appId, {
      client: client({ installedVersion: "1.0.0" }),
      geo: { country: "US", city: "Shenzhen" },
    });
    expect(e.decision).toMatchObject({ status: "ok", reason: "up_to_date", version: "1.0.0", taskId: null });
    expect(e.tasks[0]).toMatchObject({ eligible: false, outcome: "not_eligible" });
    expect(failed(e.tasks[0])).toEqual(["os_version", "country", "city"]);
    const inChina = await explained(appId, {
      client: client({ osVersion: "18.0" }),
      geo: { country: "cn", city: "Beijing" },
    });
    expect(inChina.decision.version).toBe("1.1.0");
  });

  it("several matching tasks: the highest version wins (G6), the others are not considered", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    const low = await createTask(world, appId, "1.1.0");
    const high = await createTask(world, appId, "1.2.0");
    const e = await explained(appId, { client: client() });
    expect(e.decision).toMatchObject({ version: "1.2.0", taskId: high.id });
    expect(e.tasks.map((t: any) => [t.taskId, t.outcome])).toEqual([
      [high.id, "chosen"],
      [low.id, "not_considered"],
    ]);
  });

  it("capped tasks: reads the counter without admitting anyone; a full cap turns new users away, admitted users keep the version", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 2 });
    await admitUsers(task.id, 2, [{ key: "g:admitted", meta: { hostAppId: world.host1, platform: "ios" } }]);
    const fresh = await explained(appId, { client: client({ guid: "newcomer" }) });
    expect(fresh.tasks[0]).toMatchObject({
      outcome: "chosen",
      counter: { userCap: 2, admitted: 1, admittedBefore: false },
    });
    expect(fresh.decision.version).toBe("1.1.0");
    // explaining did not take the free slot
    expect(
      (
        await expectJson<any>(
          callAdmin("GET", tasksPath(appId, `/${task.id}/progress`), { token: world.devA.token }),
          200,
        )
      ).admitted,
    ).toBe(1);

    await admitUsers(task.id, 2, [{ key: "g:second", meta: { hostAppId: world.host1, platform: "ios" } }]);
    const turnedAway = await explained(appId, { client: client({ guid: "newcomer" }) });
    expect(turnedAway.tasks[0]).toMatchObject({
      eligible: true,
      outcome: "cap_reached",
      counter: { admitted: 2, admittedBefore: false },
    });
    expect(turnedAway.decision).toMatchObject({ reason: "online", version: "1.0.0" });
    const kept = await explained(appId, {
      client: client({ guid: "admitted", platform: "android", osVersion: "14" }),
    });
    expect(kept.tasks[0]).toMatchObject({ outcome: "kept", counter: { admittedBefore: true } });
    expect(kept.decision).toMatchObject({ reason: "grayscale", version: "1.1.0" });
  });

  it("uploaded whitelists are resolved from R2: members pass the target condition, others do not", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { targets: { accounts: ["typed-in"] } });
    await expectJson(taskAction(world, appId, task.id, "suspend"), 200);
    const list = Array.from({ length: 5000 }, (_, i) => `dev-${i}`).join("\n");
    await expectJson(
      callAdmin("PUT", tasksPath(appId, `/${task.id}/whitelists/deviceId`), {
        token: world.devA.token,
        body: list,
        headers: { "content-type": "text/plain" },
      }),
      200,
    );
    await expectJson(taskAction(world, appId, task.id, "resume"), 200);
    const member = await explained(appId, { client: client({ guid: undefined, deviceId: "dev-4321" }) });
    expect(member.tasks[0].conditions.find((c: any) => c.condition === "target")).toMatchObject({
      pass: true,
    });
    expect(member.decision.version).toBe("1.1.0");
    const outsider = await explained(appId, { client: client({ guid: undefined, deviceId: "dev-5000" }) });
    expect(failed(outsider.tasks[0])).toEqual(["target"]);
    // issue 10: an account target matches only an account the host app vouched for.
    const unverified = await explained(appId, { client: client({ guid: undefined, account: "typed-in" }) });
    expect(unverified.decision.version).toBe("1.0.0");
    expect(unverified.tasks[0].conditions.find((c: any) => c.condition === "target").detail).toContain(
      "not verified",
    );
    const typed = await explained(appId, {
      client: client({ guid: undefined, account: "typed-in" }),
      verifiedAccount: true,
    });
    expect(typed.decision.version).toBe("1.1.0");
  });

  it("after end-and-revert, clients on the task version are sent back to the online version with a rollback", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    await expectJson(taskAction(world, appId, task.id, "end-and-revert"), 200);
    const e = await explained(appId, { client: client({ installedVersion: "1.1.0" }) });
    expect(e.tasks).toEqual([]);
    expect(e.decision).toEqual({
      status: "ok",
      reason: "rollback",
      version: "1.0.0",
      rollback: true,
      taskId: null,
    });
  });

  it("a delisted mini program serves nobody", async () => {
    const appId = await appWithVersions(world);
    await createTask(world, appId, "1.1.0");
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: false },
      }),
      200,
    );
    const e = await explained(appId, { client: client() });
    expect(e).toMatchObject({
      listed: false,
      decision: { status: "delisted", reason: "delisted", version: null },
    });
    expect(e.tasks[0]).toMatchObject({ phase: "sticky", outcome: "sticky_unknown" });
  });

  it("compiles from D1 without publishing a snapshot", async () => {
    const appId = await appWithVersions(world);
    await createTask(world, appId, "1.1.0");
    const before = await storedSnapshot(appId);
    const e = await explained(appId, { client: client() });
    expect(e.revision).toBe(before.revision);
    expect((await storedSnapshot(appId)).compiledAt).toBe(before.compiledAt);
  });

  it("validates the client context like check does; viewers may explain, other teams may not", async () => {
    const appId = await appWithVersions(world);
    await expectError(explain(appId, { client: client({ platform: "windows" }) }), 400, "bad_request");
    await expectError(explain(appId, { client: client({ installedVersoin: "1.0.0" }) }), 400, "bad_request");
    await expectError(
      explain(appId, { client: client({ appId: "gcaaaabbbbccccddddeeeeff" }) }),
      400,
      "bad_request",
    );
    await expectError(explain(appId, { client: client(), geo: { planet: "mars" } }), 400, "bad_request");
    await expectError(explain(appId, { client: client() }, world.devB.token), 404, "not_found");
    expect((await explained(appId, { client: client({ appId }) })).decision.version).toBe("1.0.0");
  });
});
