/**
 * Time- and cap-driven grayscale transitions applied by the admin Worker's cron (the exported
 * `scheduled` handler, run as the cron trigger runs it), and task progress (PRODUCT.md G2-G4).
 * Time passing is simulated by moving a task's stored times into the past.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog, grayscaleTasks } from "../control-plane/src/db/schema";
import { testEnv } from "./env";
import {
  admitUsers,
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeWorld,
  moveTaskTimes,
  runCron,
  storedSnapshot,
  taskAction,
  tasksPath,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const HOUR = 3_600_000;
const db = () => createDb(testEnv.DB);

/** The state as persisted in D1 (the API shows the effective state even before the cron ran). */
async function stored(taskId: string) {
  const row = await db()
    .select({ state: grayscaleTasks.state, endReason: grayscaleTasks.endReason })
    .from(grayscaleTasks)
    .where(eq(grayscaleTasks.id, taskId))
    .get();
  return row!;
}

const progress = (appId: string, taskId: string, token = world.viewerA.token) =>
  callAdmin("GET", tasksPath(appId, `/${taskId}/progress`), { token });
const ios = { hostAppId: "", platform: "ios" as const };

describe("cron: time", () => {
  it("a pending task past its start time becomes delivering, and the snapshot is republished", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    expect(await stored(task.id)).toEqual({ state: "pending", endReason: null });
    await moveTaskTimes(task.id, { startAt: Date.now() - 1000 });
    const before = (await storedSnapshot(appId)).revision;
    await runCron();
    expect(await stored(task.id)).toEqual({ state: "delivering", endReason: null });
    const snap = await storedSnapshot(appId);
    expect(snap.revision).toBeGreaterThan(before);
    expect(snap.tasks[0]).toMatchObject({ id: task.id, phase: "admitting" });
    const entries = await db().select().from(changeLog).where(eq(changeLog.targetId, task.id)).all();
    expect(entries.map((e) => [e.action, e.actorId])).toContainEqual(["grayscale_task.start", "system:cron"]);
  });

  it("seed: 'Once one of the conditions is reached, the grayscale version will no longer be released' — past the end time a task ends (end_time) and turns sticky", async () => {
    const appId = await appWithVersions(world);
    const delivering = await createTask(world, appId, "1.1.0");
    const suspended = await createTask(world, appId, "1.1.0");
    await expectJson(taskAction(world, appId, suspended.id, "suspend"), 200);
    for (const t of [delivering, suspended])
      await moveTaskTimes(t.id, { startAt: Date.now() - 2 * HOUR, endAt: Date.now() - 1000 });
    await runCron();
    for (const t of [delivering, suspended])
      expect(await stored(t.id)).toEqual({ state: "ended", endReason: "end_time" });
    const snap = await storedSnapshot(appId);
    expect(snap.tasks.map((t: any) => t.phase)).toEqual(["sticky", "sticky"]);
  });

  it("a second run with nothing due changes and republishes nothing", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    await runCron();
    const revision = (await storedSnapshot(appId)).revision;
    await runCron();
    expect((await storedSnapshot(appId)).revision).toBe(revision);
    expect(await stored(task.id)).toEqual({ state: "pending", endReason: null });
  });

  it("evaluates the run at its scheduled time when that is later than the clock", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
    await runCron(Date.now() + 2 * HOUR);
    expect(await stored(task.id)).toEqual({ state: "delivering", endReason: null });
  });
});

describe("cron: cap", () => {
  it("a capped task whose counter reached the cap ends (cap_reached); below the cap it keeps delivering", async () => {
    const appId = await appWithVersions(world);
    const full = await createTask(world, appId, "1.1.0", { userCap: 3 });
    const partly = await createTask(world, appId, "1.1.0", { userCap: 3 });
    const meta = { ...ios, hostAppId: world.host1 };
    await admitUsers(
      full.id,
      3,
      ["g:1", "g:2", "g:3"].map((key) => ({ key, meta })),
    );
    await admitUsers(
      partly.id,
      3,
      ["g:1", "g:2"].map((key) => ({ key, meta })),
    );
    await runCron();
    expect(await stored(full.id)).toEqual({ state: "ended", endReason: "cap_reached" });
    expect(await stored(partly.id)).toEqual({ state: "delivering", endReason: null });
    const snap = await storedSnapshot(appId);
    expect(Object.fromEntries(snap.tasks.map((t: any) => [t.id, t.phase]))).toEqual({
      [full.id]: "sticky",
      [partly.id]: "admitting",
    });
    const shown = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${full.id}`), { token: world.viewerA.token }),
      200,
    );
    expect(shown).toMatchObject({ state: "ended", endReason: "cap_reached" });
  });
});

describe("progress (G4)", () => {
  it("admitted users against the cap, by host app, platform and hour", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 10 });
    const hourStart = Math.floor(Date.now() / HOUR) * HOUR;
    await admitUsers(task.id, 10, [
      { key: "g:a", meta: { hostAppId: world.host1, platform: "ios" } },
      { key: "g:b", meta: { hostAppId: world.host1, platform: "android" } },
      { key: "g:c", meta: { hostAppId: world.host2, platform: "android" } },
      { key: "g:a", meta: { hostAppId: world.host2, platform: "android" } }, // counted once
    ]);
    const p = await expectJson<any>(progress(appId, task.id), 200);
    expect(p).toMatchObject({
      taskId: task.id,
      state: "delivering",
      userCap: 10,
      tracked: true,
      admitted: 3,
      remaining: 7,
      note: null,
    });
    expect(p.byHostApp).toEqual([
      { hostAppId: world.host1, admitted: 2 },
      { hostAppId: world.host2, admitted: 1 },
    ]);
    expect(p.byPlatform).toEqual([
      { platform: "android", admitted: 2 },
      { platform: "ios", admitted: 1 },
    ]);
    expect(p.byHour).toHaveLength(1);
    expect(p.byHour[0].admitted).toBe(3);
    expect(p.byHour[0].hour).toBeGreaterThanOrEqual(hourStart);
  });

  it("says when the cap is reached", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 1 });
    await admitUsers(task.id, 1, [{ key: "d:x", meta: { hostAppId: world.host1, platform: "ios" } }]);
    const p = await expectJson<any>(progress(appId, task.id), 200);
    expect(p).toMatchObject({ admitted: 1, remaining: 0 });
    expect(p.note).toMatch(/cap is reached/);
  });

  it("uncapped tasks are not counted by the edge, and the answer says so", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    const p = await expectJson<any>(progress(appId, task.id), 200);
    expect(p).toMatchObject({
      tracked: false,
      admitted: null,
      remaining: null,
      userCap: null,
      byHostApp: [],
      byPlatform: [],
      byHour: [],
    });
    expect(p.note).toMatch(/not counted/);
  });

  it("viewers read it, other teams get 404", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 5 });
    await expectError(progress(appId, task.id, world.devB.token), 404, "not_found");
    await expectError(progress(appId, "gt_nosuchtask000", world.devA.token), 404, "not_found");
  });
});
