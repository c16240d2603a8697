/**
 * Health-gated grayscale (PRODUCT.md G7, issue 15): log batches reach `recordHealth` as the log
 * queue's consumer hands them over; the task's counter object counts sessions, error sessions and
 * crash reports per version, and a tripped guardrail suspends the task (cause `guardrail`) through
 * the suspend path: state, change log and snapshot revision together, then the snapshot is
 * published with the task sticky (no new users, admitted users keep it).
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog, grayscaleTasks, miniPrograms } from "../control-plane/src/db/schema";
import { recordHealth } from "../control-plane/src/services/health";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectJson,
  makeWorld,
  storedSnapshot,
  taskAction,
  tasksPath,
  type World,
} from "./support/admin";
import { edgeFetch, verifyManifest } from "./support/edge";
import { logMessage, sessions } from "./support/health-logs";
import { deliverLogs } from "./support/logs";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const db = () => createDb(testEnv.DB);
const ERROR_RATE = { errorRate: { maxPointsAboveOnline: 10, minSessions: 20 } };

async function setup(guardrails: unknown = ERROR_RATE) {
  const appId = await appWithVersions(world);
  const task = await createTask(world, appId, "1.1.0", { guardrails });
  // One receive time for the whole test: every batch lands in the same 10-minute bucket.
  const base = { appId, hostAppId: world.host1, receivedAt: Date.now() };
  return { appId, task, gray: { ...base, version: "1.1.0" }, online: { ...base, version: "1.0.0" } };
}

const getTask = (appId: string, taskId: string) =>
  expectJson<any>(callAdmin("GET", tasksPath(appId, `/${taskId}`), { token: world.viewerA.token }), 200);
const progress = (appId: string, taskId: string) =>
  expectJson<any>(
    callAdmin("GET", tasksPath(appId, `/${taskId}/progress`), { token: world.viewerA.token }),
    200,
  );

async function guardrailEntries(taskId: string) {
  return db()
    .select()
    .from(changeLog)
    .where(and(eq(changeLog.targetId, taskId), eq(changeLog.actorId, "system:guardrail")))
    .all();
}

describe("the log queue's consumer feeds the guardrails", () => {
  it("batches delivered to the admin Worker's queue handler are stored and counted: the task suspends itself", async () => {
    const { appId, task, gray, online } = await setup();
    const result = await deliverLogs([...sessions(online, "on", 25, 0), ...sessions(gray, "gr", 25, 20)]);
    expect(result.explicitAcks.length + (result.ackAll ? 1 : 0)).toBeGreaterThan(0);
    const t = await getTask(appId, task.id);
    expect(t.suspendCause).toBe("guardrail");
    expect(t.guardrailTrip).toMatchObject({
      gray: { sessions: 25, errorSessions: 20 },
      online: { sessions: 25 },
    });
  });
});

describe("error-rate guardrail", () => {
  it("trips on a bad gray version: suspended (cause guardrail) with the figures, change log, snapshot sticky at a new revision", async () => {
    const { appId, task, gray, online } = await setup();
    const before = (await storedSnapshot(appId)).revision;
    await recordHealth(testEnv, [...sessions(online, "on", 30, 1), ...sessions(gray, "gr", 30, 15)]);

    const t = await getTask(appId, task.id);
    expect(t.state).toBe("suspended");
    expect(t.suspendCause).toBe("guardrail");
    expect(t.guardrailTrip).toMatchObject({
      guardrail: "error_rate",
      window: { minutes: 10 },
      gray: { version: "1.1.0", sessions: 30, errorSessions: 15, errorRate: 50 },
      online: { version: "1.0.0", sessions: 30, errorSessions: 1, errorRate: 3.33 },
      limit: { maxPointsAboveOnline: 10, minSessions: 20, windowMinutes: 10 },
    });
    expect(t.guardrailTrip.summary).toContain("50%");

    const snap = await storedSnapshot(appId);
    expect(snap.revision).toBeGreaterThan(before);
    expect(snap.tasks.find((x: any) => x.id === task.id)).toMatchObject({ phase: "sticky" });

    const entries = await guardrailEntries(task.id);
    expect(entries.map((e) => e.action)).toEqual(["grayscale_task.suspend"]);
    expect(JSON.parse(entries[0]!.detail)).toMatchObject({
      cause: "guardrail",
      to: "suspended",
      figures: { gray: { sessions: 30, errorSessions: 15 }, online: { sessions: 30, errorSessions: 1 } },
    });
  });

  it("does not trip on too few sessions of the gray version, however bad they are", async () => {
    const { appId, task, gray, online } = await setup();
    await recordHealth(testEnv, [...sessions(online, "on", 30, 0), ...sessions(gray, "gr", 19, 19)]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    // The same GUIDs again are the same sessions: still 19.
    await recordHealth(testEnv, sessions(gray, "gr", 19, 19));
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    // The 20th session makes the window count.
    await recordHealth(testEnv, [logMessage({ ...gray, guid: "gr-19", errors: 1 })]);
    expect((await getTask(appId, task.id)).suspendCause).toBe("guardrail");
  });

  it("does not trip on too few sessions of the online version (no baseline to compare with)", async () => {
    const { appId, task, gray, online } = await setup();
    await recordHealth(testEnv, [...sessions(online, "on", 5, 0), ...sessions(gray, "gr", 40, 40)]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
  });

  it("does not trip when the gray version is as healthy as the online one (within the allowed points)", async () => {
    const { appId, task, gray, online } = await setup();
    // 3.33% online against 13.33%: exactly 10 points above is allowed ("more than X points" trips).
    await recordHealth(testEnv, [...sessions(online, "on", 30, 1), ...sessions(gray, "gr", 30, 4)]);
    const t = await getTask(appId, task.id);
    expect(t.state).toBe("delivering");
    expect(t.suspendCause).toBeNull();
    expect(await guardrailEntries(task.id)).toEqual([]);
  });

  it("a task without guardrails is counted (progress) but never suspended", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    const base = { appId, hostAppId: world.host1, receivedAt: Date.now() };
    await recordHealth(testEnv, [
      ...sessions({ ...base, version: "1.0.0" }, "on", 30, 0),
      ...sessions({ ...base, version: "1.1.0" }, "gr", 30, 30),
    ]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    const p = await progress(appId, task.id);
    expect(p.health.guardrails).toBeNull();
    expect(p.health.buckets).toEqual([
      {
        bucket: expect.any(Number),
        gray: { sessions: 30, errorSessions: 30, errorRate: 100, crashes: 0 },
        online: { sessions: 30, errorSessions: 0, errorRate: 0, crashes: 0 },
      },
    ]);
  });

  it("consumers that see the same trip at once suspend the task once", async () => {
    const { appId, task, gray, online } = await setup();
    await recordHealth(testEnv, [...sessions(online, "on", 30, 0), ...sessions(gray, "gr", 19, 19)]);
    const revision = async () =>
      (
        await db()
          .select({ r: miniPrograms.snapshotRevision })
          .from(miniPrograms)
          .where(eq(miniPrograms.id, appId))
          .get()
      )?.r;
    const before = await revision();
    await Promise.all([
      recordHealth(testEnv, [logMessage({ ...gray, guid: "gr-a", errors: 1 })]),
      recordHealth(testEnv, [logMessage({ ...gray, guid: "gr-b", errors: 1 })]),
    ]);
    expect((await getTask(appId, task.id)).suspendCause).toBe("guardrail");
    expect(await guardrailEntries(task.id)).toHaveLength(1);
    // The consumer that lost the race bumped nothing.
    expect(await revision()).toBe((before as number) + 1);
  });
});

/** POST /v1/check on the real edge Worker: the verified version and reason, and admission tickets. */
async function check(appId: string, guid: string, tickets: string[] = []) {
  const body = {
    appId,
    hostAppId: world.host1,
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
    guid,
    tickets,
  };
  const res = await edgeFetch("/v1/check", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  const { manifest, tickets: issued = [] } = await res.json<{ manifest: string; tickets?: string[] }>();
  const { payload } = await verifyManifest(manifest);
  return { version: payload.version, reason: payload.reason, tickets: issued };
}

describe("what clients get after a trip", () => {
  it("new users get the online version at once; users admitted before keep the gray one (suspend semantics)", async () => {
    const { appId, gray, online } = await setup();
    const early = await check(appId, "early-user");
    expect(early).toMatchObject({ version: "1.1.0", reason: "grayscale" });
    await recordHealth(testEnv, [...sessions(online, "on", 30, 0), ...sessions(gray, "gr", 30, 30)]);
    expect(await check(appId, "late-user")).toMatchObject({ version: "1.0.0", reason: "online" });
    expect(await check(appId, "early-user", early.tickets)).toMatchObject({ version: "1.1.0" });
  });
});

describe("crash guardrail", () => {
  it("trips on more than K crash reports; a batch delivered twice counts once", async () => {
    const { appId, task, gray } = await setup({ crashes: { max: 2, windowMinutes: 30 } });
    const crash = (guid: string) =>
      logMessage({ ...gray, guid, errors: 1, crashes: 1, time: gray.receivedAt - 5000 });
    await recordHealth(testEnv, [crash("c-1"), crash("c-2")]);
    // The queue redelivers both batches: the same GUID and entry time are the same report.
    await recordHealth(testEnv, [crash("c-1"), crash("c-2")]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    await recordHealth(testEnv, [crash("c-3")]);
    const t = await getTask(appId, task.id);
    expect(t.suspendCause).toBe("guardrail");
    expect(t.guardrailTrip).toMatchObject({
      guardrail: "crashes",
      window: { minutes: 30 },
      gray: { version: "1.1.0", crashes: 3 },
      limit: { max: 2, windowMinutes: 30 },
    });
    expect(t.guardrailTrip.summary).toContain("3 crash reports");
  });
});

describe("what is counted", () => {
  it("the crash window spans buckets; other versions and unknown mini programs are ignored", async () => {
    const { appId, task, gray } = await setup({ crashes: { max: 2, windowMinutes: 20 } });
    const earlier = { ...gray, receivedAt: gray.receivedAt - 600_000 };
    // The task has been running for half an hour (logs from before a task's creation do not count).
    await db()
      .update(grayscaleTasks)
      .set({ healthSince: gray.receivedAt - 1_800_000 })
      .where(eq(grayscaleTasks.id, task.id))
      .run();
    await recordHealth(testEnv, [
      logMessage({ ...earlier, guid: "c-1", errors: 1, crashes: 1 }),
      logMessage({ ...earlier, guid: "c-2", errors: 1, crashes: 1 }),
      // Not the task's version, not the online one; and a mini program nobody has.
      logMessage({ ...gray, version: "1.2.0", guid: "c-3", errors: 1, crashes: 1 }),
      logMessage({ ...gray, appId: "gcaaaabbbbccccddddeeee22", guid: "c-4", errors: 1, crashes: 1 }),
    ]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    // One more in the current bucket: three in the 20-minute window.
    await recordHealth(testEnv, [logMessage({ ...gray, guid: "c-5", errors: 1, crashes: 1 })]);
    const t = await getTask(appId, task.id);
    expect(t.guardrailTrip).toMatchObject({
      guardrail: "crashes",
      gray: { crashes: 3 },
      window: { minutes: 20 },
    });
    const p = await progress(appId, task.id);
    expect(p.health.buckets.map((b: any) => b.gray.crashes)).toEqual([2, 1]);
  });
});

describe("figures in progress and explain", () => {
  it("progress shows both versions per 10-minute bucket next to admitted users, with the trip", async () => {
    const { appId, task, gray, online } = await setup({
      ...ERROR_RATE,
      crashes: { max: 100, windowMinutes: 60 },
    });
    await recordHealth(testEnv, [
      ...sessions(online, "on", 25, 0),
      ...sessions(gray, "gr", 25, 20),
      logMessage({ ...gray, guid: "gr-0", errors: 1, crashes: 1 }),
    ]);
    const p = await progress(appId, task.id);
    expect(p.state).toBe("suspended");
    expect(p.health).toMatchObject({
      guardrails: {
        errorRate: { maxPointsAboveOnline: 10, minSessions: 20, windowMinutes: 10 },
        crashes: { max: 100 },
      },
      suspendedByGuardrail: true,
      bucketMinutes: 10,
      trip: { guardrail: "error_rate", gray: { sessions: 25, errorSessions: 20, errorRate: 80 } },
    });
    expect(p.health.buckets).toEqual([
      {
        bucket: Math.floor(gray.receivedAt / 600_000) * 600_000,
        gray: { sessions: 25, errorSessions: 20, errorRate: 80, crashes: 1 },
        online: { sessions: 25, errorSessions: 0, errorRate: 0, crashes: 0 },
      },
    ]);
    // Admitted users stay where they were (uncapped task: not counted).
    expect(p).toHaveProperty("admitted");
  });

  it("explain says the task is suspended by a guardrail, with the figures", async () => {
    const { appId, task, gray, online } = await setup();
    await recordHealth(testEnv, [...sessions(online, "on", 30, 0), ...sessions(gray, "gr", 30, 30)]);
    const e = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
        token: world.viewerA.token,
        json: {
          client: {
            hostAppId: world.host1,
            hostAppVersion: "8.0.1",
            platform: "ios",
            osVersion: "17.4",
            guid: "new-user",
          },
        },
      }),
      200,
    );
    expect(e.decision.version).toBe("1.0.0");
    const t = e.tasks.find((x: any) => x.taskId === task.id);
    expect(t.why).toMatch(/^suspended by a health guardrail \(error rate of version 1\.1\.0 was 100%/);
    expect(t.guardrailTrip).toMatchObject({
      guardrail: "error_rate",
      gray: { sessions: 30, errorRate: 100 },
    });
  });
});

describe("resume by hand", () => {
  it("the resume route restarts the window: old figures do not trip again, new ones do", async () => {
    const { appId, task, gray, online } = await setup();
    await recordHealth(testEnv, [...sessions(online, "on", 30, 0), ...sessions(gray, "gr", 30, 30)]);
    expect((await getTask(appId, task.id)).suspendCause).toBe("guardrail");

    const resumed = await expectJson<any>(taskAction(world, appId, task.id, "resume"), 200);
    expect(resumed).toMatchObject({ state: "delivering", suspendCause: null });
    // The trip stays on record.
    expect(resumed.guardrailTrip).toMatchObject({ guardrail: "error_rate" });
    const row = await db().select().from(grayscaleTasks).where(eq(grayscaleTasks.id, task.id)).get();
    expect(row!.healthSince).toBeGreaterThanOrEqual(gray.receivedAt);

    // Logs after the resume: one more failing session would trip at once on the old figures (31 of 31).
    const after = Date.now();
    await recordHealth(testEnv, [logMessage({ ...gray, guid: "gr-new", errors: 1, receivedAt: after })]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");
    // A late batch received before the resume does not count either.
    await recordHealth(testEnv, [logMessage({ ...gray, guid: "gr-late", errors: 1 })]);
    expect((await getTask(appId, task.id)).state).toBe("delivering");

    // Enough new figures trip it again.
    await recordHealth(testEnv, [
      ...sessions({ ...online, receivedAt: after }, "on", 20, 0),
      ...sessions({ ...gray, receivedAt: after }, "gr", 20, 20),
    ]);
    const t = await getTask(appId, task.id);
    expect(t.suspendCause).toBe("guardrail");
    expect(t.guardrailTrip.gray).toMatchObject({ sessions: 21, errorSessions: 21 });
    expect(await guardrailEntries(task.id)).toHaveLength(2);
  });

  it("a manual suspend is not a guardrail's", async () => {
    const { appId, task } = await setup();
    const t = await expectJson<any>(taskAction(world, appId, task.id, "suspend"), 200);
    expect(t.suspendCause).toBe("manual");
  });
});
