/**
 * Grayscale tasks in the control plane (PRODUCT.md G1-G3, M4, V3): creation rules with the seed
 * sentences they enforce, listing, editing, the manual actions, what publishing, rolling back
 * and delisting do to tasks, and the compiled task in the snapshot the edge reads.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  admitUsers,
  approveVersion,
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  publish,
  storedSnapshot,
  taskAction,
  taskBody,
  tasksPath,
  upload,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const HOUR = 3_600_000;

/** Expects a 409 refusal naming `rule` (the one error shape, with its typed `rule` field). */
async function expectRule(res: Response | Promise<Response>, rule: string) {
  const body = await expectJson<any>(res, 409);
  expect(body.error.code).toBe("conflict");
  expect(body.error.rule).toBe(rule);
  expect(body.error.issues).toBeUndefined();
  return body.error.message as string;
}

/** Expects a 400 for a request past a seed limit the schema documents, naming the seed `rule`. */
async function expectLimit(res: Response | Promise<Response>, rule: string, path: string) {
  const body = await expectJson<any>(res, 400);
  expect(body.error).toMatchObject({ code: "bad_request", rule });
  expect(body.error.issues.map((i: { path: string }) => i.path)).toContain(path);
}

const post = (appId: string, json: unknown, token = world.devA.token) =>
  callAdmin("POST", tasksPath(appId), { token, json });
const patch = (appId: string, taskId: string, json: unknown) =>
  callAdmin("PATCH", tasksPath(appId, `/${taskId}`), { token: world.devA.token, json });
const getTask = (appId: string, taskId: string) =>
  expectJson<any>(callAdmin("GET", tasksPath(appId, `/${taskId}`), { token: world.viewerA.token }), 200);

describe("create (G1)", () => {
  it("stores the definition, answers with the effective state, and publishes the compiled task to the snapshot", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", {
      name: "Beta wave 1",
      userCap: 500,
      percentage: 12.5,
      hostApps: [{ hostAppId: world.host1, minVersion: "8.0", maxVersion: "9.1.2" }],
      platforms: [{ platform: "ios", minOsVersion: "15" }, { platform: "android" }],
      targets: { guids: ["g-2", "g-1", "g-2"], accounts: ["alice"] },
      networks: ["wifi", "5g"],
      brands: { include: ["Apple", "HUAWEI"] },
      countries: { exclude: ["US"] },
    });
    expect(task).toMatchObject({
      appId,
      version: "1.1.0",
      name: "Beta wave 1",
      state: "delivering",
      endReason: null,
      userCap: 500,
      percentage: 12.5,
      hostApps: [{ hostAppId: world.host1, minVersion: "8.0", maxVersion: "9.1.2" }],
      targets: { guids: ["g-2", "g-1"], deviceIds: [], accounts: ["alice"] },
      networks: ["wifi", "5g"],
      editableFields: ["name", "endAt", "userCap", "percentage", "guardrails"],
      createdBy: world.devA.id,
    });
    const versions = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/versions/1.1.0`, { token: world.devA.token }),
      200,
    );
    const snap = await storedSnapshot(appId);
    expect(snap.tasks).toHaveLength(1);
    expect(snap.tasks[0]).toMatchObject({
      id: task.id,
      version: "1.1.0",
      package: { sha256: versions.package.sha256, size: versions.package.size },
      phase: "admitting",
      userCap: 500,
      percentageBp: 1250,
      hostApps: {
        [world.host1]: [
          [8, 0],
          [9, 1, 2],
        ],
      },
      platforms: { ios: [[15], null], android: [null, null] },
      targets: { inline: { guid: ["g-1", "g-2"], account: ["alice"] }, whitelists: [] },
      networks: ["wifi", "5g"],
      brands: { include: ["apple", "huawei"] },
      countries: { exclude: ["us"] },
    });
  });

  it("accepts ISO 8601 times and starts pending when the start is in the future", async () => {
    const appId = await appWithVersions(world);
    const start = new Date(Date.now() + 2 * HOUR);
    const end = new Date(Date.now() + 48 * HOUR);
    const task = await createTask(world, appId, "1.1.0", {
      startAt: start.toISOString(),
      endAt: end.toISOString(),
    });
    expect(task).toMatchObject({ state: "pending", startAt: start.getTime(), endAt: end.getTime() });
    expect(task.editableFields).toContain("platforms");
  });

  it("seed: 'Fill in the grayscale task name to distinguish it, no more than 20 words'", async () => {
    const appId = await appWithVersions(world);
    const twenty = "灰度发布第一批用户测试任务一二三四五六七";
    expect([...twenty]).toHaveLength(20);
    expect((await createTask(world, appId, "1.1.0", { name: twenty })).name).toBe(twenty);
    // A limit on the request itself: 400 naming the seed rule (the schema documents maxLength 20).
    await expectLimit(
      post(appId, taskBody(world, "1.1.0", { name: `${twenty}九` })),
      "task_name_invalid",
      "name",
    );
    await expectLimit(
      post(appId, taskBody(world, "1.1.0", { name: "a".repeat(21) })),
      "task_name_invalid",
      "name",
    );
    await expectLimit(post(appId, taskBody(world, "1.1.0", { name: "" })), "task_name_invalid", "name");
    await expectLimit(post(appId, taskBody(world, "1.1.0", { name: "   " })), "task_name_invalid", "name");
  });

  it("seed: 'The end time of grayscale cannot be earlier than the time point when the creation is confirmed'", async () => {
    const appId = await appWithVersions(world);
    const now = Date.now();
    expect(
      await expectRule(
        post(appId, taskBody(world, "1.1.0", { startAt: now - 2 * HOUR, endAt: now - HOUR })),
        "task_end_in_past",
      ),
    ).toMatch(/cannot be earlier/);
    await expectRule(
      post(appId, taskBody(world, "1.1.0", { startAt: now + 2 * HOUR, endAt: now + HOUR })),
      "task_time_invalid",
    );
    await expectError(post(appId, taskBody(world, "1.1.0", { endAt: "tomorrow" })), 400, "bad_request");
    const list = await expectJson<any>(callAdmin("GET", tasksPath(appId), { token: world.devA.token }), 200);
    expect(list.tasks).toEqual([]);
  });

  it("seed: the version 'must have passed the mini program audit, has not been online yet, and has a higher version number than the online version'", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    await publish(world, appId, "1.2.0");
    // 1.1.0 passed the audit but is lower than the online 1.2.0
    await expectRule(post(appId, taskBody(world, "1.1.0")), "task_version_not_higher");
    // 1.0.0 has been online
    await expectRule(post(appId, taskBody(world, "1.0.0")), "task_version_was_online");
    // 1.3.0 has not passed the audit (development, then in audit)
    await expectJson(upload(world.devA.token, appId, "1.3.0"), 201);
    await expectRule(post(appId, taskBody(world, "1.3.0")), "task_version_not_approved");
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.3.0/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    await expectRule(post(appId, taskBody(world, "1.3.0")), "task_version_not_approved");
    await expectError(post(appId, taskBody(world, "9.9.9")), 404, "not_found");
  });

  it("host apps come from the mini program's approved bindings; at least one host app and one platform", async () => {
    const appId = await appWithVersions(world);
    await expectRule(
      post(appId, taskBody(world, "1.1.0", { hostApps: [{ hostAppId: world.host2 }] })),
      "task_host_app_not_bound",
    );
    await expectRule(post(appId, taskBody(world, "1.1.0", { hostApps: [] })), "task_no_host_app");
    await expectRule(post(appId, taskBody(world, "1.1.0", { platforms: [] })), "task_no_platform");
    await expectRule(
      post(
        appId,
        taskBody(world, "1.1.0", {
          hostApps: [{ hostAppId: world.host1, minVersion: "9", maxVersion: "8" }],
        }),
      ),
      "task_range_invalid",
    );
    // Seed limits on the request itself: 400 naming the rule (documented as maxItems / maximum).
    await expectLimit(
      post(
        appId,
        taskBody(world, "1.1.0", { targets: { guids: Array.from({ length: 1001 }, (_, i) => `g${i}`) } }),
      ),
      "task_too_many_targets",
      "targets.guids",
    );
    await expectLimit(
      post(appId, taskBody(world, "1.1.0", { userCap: 100_000_001 })),
      "task_cap_invalid",
      "userCap",
    );
    expect(
      (
        await createTask(world, appId, "1.1.0", {
          userCap: 100_000_000,
          targets: { guids: Array.from({ length: 1000 }, (_, i) => `g${i}`) },
        })
      ).userCap,
    ).toBe(100_000_000);
  });

  it("refuses malformed bodies with 400: duplicates, unknown fields, out-of-range percentage, bad targets and networks", async () => {
    const appId = await appWithVersions(world);
    for (const extra of [
      { hostApps: [{ hostAppId: world.host1 }, { hostAppId: world.host1 }] },
      { platforms: [{ platform: "ios" }, { platform: "ios" }] },
      { platforms: [{ platform: "windows" }] },
      { percentage: 0 },
      { percentage: 100.5 },
      { userCap: 0 },
      { targets: { guids: ["has space"] } },
      { targets: { emails: ["x@y"] } },
      { networks: ["6g"] },
      { colour: "blue" },
    ]) {
      await expectError(post(appId, taskBody(world, "1.1.0", extra)), 400, "bad_request");
    }
    await expectError(
      callAdmin("POST", tasksPath(appId), {
        token: world.devA.token,
        body: "{}",
        headers: { "content-type": "text/plain" },
      }),
      415,
      "unsupported_media_type",
    );
  });

  it("team admins and developers create, viewers read, other teams see nothing", async () => {
    const appId = await appWithVersions(world);
    await expectError(post(appId, taskBody(world, "1.1.0"), world.viewerA.token), 403, "forbidden");
    await expectError(post(appId, taskBody(world, "1.1.0"), world.devB.token), 404, "not_found");
    const task = await expectJson<any>(post(appId, taskBody(world, "1.1.0"), world.adminA.token), 201);
    expect((await getTask(appId, task.id)).id).toBe(task.id);
    await expectError(callAdmin("GET", tasksPath(appId), { token: world.devB.token }), 404, "not_found");
    await expectError(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(callAdmin("GET", tasksPath(appId), {}), 401, "unauthenticated");
    // a task id of another mini program is not found under this one
    const other = await appWithVersions(world);
    await expectError(
      callAdmin("GET", tasksPath(other, `/${task.id}`), { token: world.devA.token }),
      404,
      "not_found",
    );
  });

  it("writes the audit trail", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
      200,
    );
    expect(log.entries.find((e: any) => e.targetId === task.id)).toMatchObject({
      action: "grayscale_task.create",
      actorId: world.devA.id,
      targetType: "grayscale_task",
      detail: { appId, version: "1.1.0" },
    });
  });
});

describe("list (G3)", () => {
  it("seed: 'multiple grayscale tasks in the list will be sorted from late to early according to the creation time'", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    const first = await createTask(world, appId, "1.2.0", { name: "first" });
    const second = await createTask(world, appId, "1.1.0", { name: "second" });
    const third = await createTask(world, appId, "1.2.0", { name: "third", startAt: Date.now() + HOUR });
    const list = await expectJson<any>(
      callAdmin("GET", tasksPath(appId), { token: world.viewerA.token }),
      200,
    );
    expect(list.tasks.map((t: any) => t.id)).toEqual([third.id, second.id, first.id]);
    expect(list.tasks.map((t: any) => t.state)).toEqual(["pending", "delivering", "delivering"]);
  });
});

describe("edit", () => {
  it("a pending task can change everything, checked again by the creation rules", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    const edited = await expectJson<any>(
      patch(appId, task.id, {
        version: "1.2.0",
        platforms: [{ platform: "android", minOsVersion: "10" }],
        targets: { deviceIds: ["dev-9"] },
      }),
      200,
    );
    expect(edited).toMatchObject({
      version: "1.2.0",
      state: "pending",
      platforms: [{ platform: "android", minOsVersion: "10" }],
      targets: { deviceIds: ["dev-9"] },
    });
    expect((await storedSnapshot(appId)).tasks[0]).toMatchObject({
      version: "1.2.0",
      platforms: { android: [[10], null] },
      targets: { inline: { deviceId: ["dev-9"] } },
    });
    await expectRule(
      patch(appId, task.id, { hostApps: [{ hostAppId: world.host2 }] }),
      "task_host_app_not_bound",
    );
    await expectLimit(patch(appId, task.id, { name: "x".repeat(21) }), "task_name_invalid", "name");
    await expectError(patch(appId, task.id, {}), 400, "bad_request");
    // moving the start into the past starts it at once
    expect((await expectJson<any>(patch(appId, task.id, { startAt: Date.now() - 1000 }), 200)).state).toBe(
      "delivering",
    );
    expect((await storedSnapshot(appId)).tasks[0].phase).toBe("admitting");
  });

  it("once started only the name, end time, cap and percentage change; the percentage never goes down and the cap never below admitted users", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { percentage: 50, userCap: 10 });
    const endAt = Date.now() + 72 * HOUR;
    const edited = await expectJson<any>(
      patch(appId, task.id, { name: "renamed", endAt, percentage: 60 }),
      200,
    );
    expect(edited).toMatchObject({ name: "renamed", endAt, percentage: 60, state: "delivering" });
    expect((await storedSnapshot(appId)).tasks[0]).toMatchObject({ endAt, percentageBp: 6000 });
    // sending the unchanged form back is not an edit of locked fields
    await expectJson(
      patch(appId, task.id, {
        platforms: edited.platforms,
        hostApps: edited.hostApps,
        name: "renamed again",
      }),
      200,
    );
    expect(
      await expectRule(patch(appId, task.id, { platforms: [{ platform: "ios" }] }), "task_field_locked"),
    ).toMatch(/only its name, end time, user cap and percentage/);
    await expectRule(patch(appId, task.id, { percentage: 40 }), "task_percentage_lowered");
    await admitUsers(
      task.id,
      10,
      ["g:a", "g:b", "g:c"].map((key) => ({
        key,
        meta: { hostAppId: world.host1, platform: "ios" as const },
      })),
    );
    await expectRule(patch(appId, task.id, { userCap: 2 }), "task_cap_below_admitted");
    expect((await expectJson<any>(patch(appId, task.id, { userCap: 3 }), 200)).userCap).toBe(3);
    await expectRule(patch(appId, task.id, { endAt: Date.now() - 1000 }), "task_end_in_past");
  });

  it("nothing changes once ended, and viewers cannot edit", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    await expectError(
      callAdmin("PATCH", tasksPath(appId, `/${task.id}`), {
        token: world.viewerA.token,
        json: { name: "x" },
      }),
      403,
      "forbidden",
    );
    await expectJson(taskAction(world, appId, task.id, "end"), 200);
    expect((await getTask(appId, task.id)).editableFields).toEqual([]);
    await expectRule(patch(appId, task.id, { name: "again" }), "task_ended");
  });
});

describe("actions (G3)", () => {
  it("suspend stops new admissions, resume continues, end keeps admitted users, end-and-revert withdraws the version", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");

    expect(await expectJson<any>(taskAction(world, appId, task.id, "suspend"), 200)).toMatchObject({
      state: "suspended",
      suspendedByDelisting: false,
    });
    expect((await storedSnapshot(appId)).tasks[0]).toMatchObject({ id: task.id, phase: "sticky" });
    await expectRule(taskAction(world, appId, task.id, "suspend"), "task_already_suspended");

    expect((await expectJson<any>(taskAction(world, appId, task.id, "resume"), 200)).state).toBe(
      "delivering",
    );
    expect((await storedSnapshot(appId)).tasks[0].phase).toBe("admitting");
    await expectRule(taskAction(world, appId, task.id, "resume"), "task_not_suspended");

    expect(await expectJson<any>(taskAction(world, appId, task.id, "end"), 200)).toMatchObject({
      state: "ended",
      endReason: "manual",
    });
    expect((await storedSnapshot(appId)).tasks[0]).toMatchObject({ id: task.id, phase: "sticky" });
    await expectRule(taskAction(world, appId, task.id, "end"), "task_ended");
    await expectRule(taskAction(world, appId, task.id, "resume"), "task_ended");

    expect(await expectJson<any>(taskAction(world, appId, task.id, "end-and-revert"), 200)).toMatchObject({
      state: "ended",
      endReason: "reverted",
    });
    expect((await storedSnapshot(appId)).tasks).toEqual([]);
    await expectRule(taskAction(world, appId, task.id, "end-and-revert"), "task_already_withdrawn");
  });

  it("resuming a task suspended before its start makes it pending again", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    await expectJson(taskAction(world, appId, task.id, "suspend"), 200);
    expect((await expectJson<any>(taskAction(world, appId, task.id, "resume"), 200)).state).toBe("pending");
  });

  it("viewers cannot act, unknown actions are refused", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    await expectError(
      callAdmin("POST", tasksPath(appId, `/${task.id}/end`), { token: world.viewerA.token }),
      403,
      "forbidden",
    );
    await expectError(taskAction(world, appId, task.id, "restart"), 400, "bad_request");
    await expectError(taskAction(world, appId, "gt_doesnotexist", "end"), 404, "not_found");
    expect((await getTask(appId, task.id)).state).toBe("delivering");
  });
});

describe("publishing, rolling back and delisting (V3, V4, M4)", () => {
  it("seed: 'grayscale tasks with the same version number or smaller version numbers will automatically end' when a version is published", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0", "1.3.0"]);
    const lower = await createTask(world, appId, "1.1.0");
    const lowerEnded = await createTask(world, appId, "1.1.0");
    await expectJson(taskAction(world, appId, lowerEnded.id, "end"), 200);
    const same = await createTask(world, appId, "1.2.0", { startAt: Date.now() + HOUR });
    const higher = await createTask(world, appId, "1.3.0");
    await publish(world, appId, "1.2.0");
    for (const t of [lower, lowerEnded, same])
      expect(await getTask(appId, t.id)).toMatchObject({ state: "ended", endReason: "released" });
    expect((await getTask(appId, higher.id)).state).toBe("delivering");
    const snap = await storedSnapshot(appId);
    expect(snap.online.version).toBe("1.2.0");
    expect(snap.tasks.map((t: any) => t.id)).toEqual([higher.id]);
  });

  it("a rollback does not touch tasks", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0"]);
    await publish(world, appId, "1.1.0");
    const task = await createTask(world, appId, "1.2.0");
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    expect((await storedSnapshot(appId)).tasks.map((t: any) => t.id)).toEqual([task.id]);
  });

  it("delisting suspends pending and delivering tasks; relisting leaves them suspended; resume is refused while delisted", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const delivering = await createTask(world, appId, "1.1.0");
    const pending = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    const ended = await createTask(world, appId, "1.1.0");
    await expectJson(taskAction(world, appId, ended.id, "end"), 200);
    const shelf = (listed: boolean) =>
      expectJson(
        callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, { token: world.devA.token, json: { listed } }),
        200,
      );

    await shelf(false);
    for (const t of [delivering, pending])
      expect(await getTask(appId, t.id)).toMatchObject({ state: "suspended", suspendedByDelisting: true });
    expect(await getTask(appId, ended.id)).toMatchObject({ state: "ended", endReason: "manual" });
    expect((await storedSnapshot(appId)).tasks.every((t: any) => t.phase === "sticky")).toBe(true);
    expect(await expectRule(taskAction(world, appId, delivering.id, "resume"), "task_delisted")).toMatch(
      /off the shelf/,
    );
    await expectRule(post(appId, taskBody(world, "1.1.0")), "task_delisted");

    await shelf(true);
    expect(await getTask(appId, delivering.id)).toMatchObject({
      state: "suspended",
      suspendedByDelisting: true,
    });
    expect(await expectJson<any>(taskAction(world, appId, delivering.id, "resume"), 200)).toMatchObject({
      state: "delivering",
      suspendedByDelisting: false,
    });
    expect((await expectJson<any>(taskAction(world, appId, pending.id, "resume"), 200)).state).toBe(
      "pending",
    );
  });

  it("a task needs an approved binding's host app even on a mini program bound to several", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await approveVersion(world, appId, "1.0.0", [world.host1, world.host2]);
    const task = await createTask(world, appId, "1.0.0", {
      hostApps: [{ hostAppId: world.host1 }, { hostAppId: world.host2, minVersion: "3.2" }],
    });
    expect((await storedSnapshot(appId)).tasks[0].hostApps).toEqual({
      [world.host1]: [null, null],
      [world.host2]: [[3, 2], null],
    });
    expect(task.state).toBe("delivering");
  });
});

describe("OpenAPI", () => {
  it("describes every grayscale route", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const expected: Record<string, string[]> = {
      "/v1/mini-programs/{appId}/grayscale-tasks": ["get", "post"],
      "/v1/mini-programs/{appId}/grayscale-tasks/{taskId}": ["get", "patch"],
      "/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/{action}": ["post"],
      "/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/whitelists/{kind}": ["put", "delete"],
      "/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/progress": ["get"],
      "/v1/mini-programs/{appId}/explain": ["post"],
    };
    for (const [path, methods] of Object.entries(expected))
      for (const m of methods) expect(doc.paths[path]?.[m], `${m} ${path}`).toBeDefined();
    expect(doc.paths["/v1/mini-programs/{appId}/grayscale-tasks"].post.requestBody.required).toBe(true);
    expect(Object.keys(doc.components.schemas.CreateGrayscaleTask.properties)).toEqual(
      expect.arrayContaining([
        "version",
        "name",
        "startAt",
        "endAt",
        "userCap",
        "percentage",
        "hostApps",
        "platforms",
        "targets",
        "networks",
        "brands",
      ]),
    );
  });
});
