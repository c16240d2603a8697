/**
 * The guardrail fields of the grayscale task API (PRODUCT.md G7): create and edit accept them,
 * zod refuses bad values with 400 and the project's error shape (never 5xx), writers set them,
 * viewers read them, other teams see nothing, and an ended task's guardrails are locked.
 */
import { and, eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog } from "../control-plane/src/db/schema";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeWorld,
  taskAction,
  taskBody,
  tasksPath,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await appWithVersions(world);
});

const GOOD = {
  errorRate: { maxPointsAboveOnline: 5, minSessions: 50 },
  crashes: { max: 10, windowMinutes: 30 },
};

const patch = (taskId: string, json: unknown, token = world.devA.token) =>
  callAdmin("PATCH", tasksPath(appId, `/${taskId}`), { token, json });

describe("guardrail fields", () => {
  it("create stores them with their defaults and the task shows them", async () => {
    const task = await createTask(world, appId, "1.1.0", {
      guardrails: { errorRate: { maxPointsAboveOnline: 2.5, minSessions: 100 }, crashes: { max: 0 } },
    });
    expect(task.guardrails).toEqual({
      errorRate: { maxPointsAboveOnline: 2.5, minSessions: 100, windowMinutes: 10 },
      crashes: { max: 0, windowMinutes: 60 },
    });
    expect(task).toMatchObject({ suspendCause: null, guardrailTrip: null });
    expect(task.editableFields).toContain("guardrails");
    const read = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.viewerA.token }),
      200,
    );
    expect(read.guardrails).toEqual(task.guardrails);
  });

  it("they are in the OpenAPI document: the create and edit bodies, the task and progress", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const schemas = doc.components.schemas;
    expect(Object.keys(schemas.GrayscaleGuardrails.properties)).toEqual(["errorRate", "crashes"]);
    for (const name of ["CreateGrayscaleTask", "EditGrayscaleTask", "GrayscaleTask"])
      expect(JSON.stringify(schemas[name].properties.guardrails), name).toContain("GrayscaleGuardrails");
    expect(schemas.GrayscaleTask.properties.suspendCause).toBeDefined();
    expect(JSON.stringify(schemas.GrayscaleProgress.properties.health)).toContain("GrayscaleHealth");
  });

  it("a task without them shows null", async () => {
    const task = await createTask(world, appId, "1.1.0");
    expect(task.guardrails).toBeNull();
  });

  it("edit sets, changes and clears them (null), with a change-log entry", async () => {
    const task = await createTask(world, appId, "1.1.0");
    const set = await expectJson<any>(patch(task.id, { guardrails: GOOD }), 200);
    expect(set.guardrails).toEqual({ ...GOOD, errorRate: { ...GOOD.errorRate, windowMinutes: 10 } });
    const changed = await expectJson<any>(patch(task.id, { guardrails: { crashes: { max: 3 } } }), 200);
    expect(changed.guardrails).toEqual({ crashes: { max: 3, windowMinutes: 60 } });
    const cleared = await expectJson<any>(patch(task.id, { guardrails: null }), 200);
    expect(cleared.guardrails).toBeNull();
    const entries = await createDb(testEnv.DB)
      .select()
      .from(changeLog)
      .where(and(eq(changeLog.targetId, task.id), eq(changeLog.action, "grayscale_task.edit")))
      .all();
    expect(entries).toHaveLength(3);
    expect(entries.map((e) => JSON.parse(e.detail).changed)).toEqual([
      ["guardrails"],
      ["guardrails"],
      ["guardrails"],
    ]);
  });

  it("bad values are refused with 400 naming the field, on create and on edit, never 5xx", async () => {
    const task = await createTask(world, appId, "1.1.0");
    const bad: unknown[] = [
      {},
      { errorRate: { maxPointsAboveOnline: -1, minSessions: 10 } },
      { errorRate: { maxPointsAboveOnline: 101, minSessions: 10 } },
      { errorRate: { maxPointsAboveOnline: "5", minSessions: 10 } },
      { errorRate: { maxPointsAboveOnline: 5, minSessions: 0 } },
      { errorRate: { maxPointsAboveOnline: 5, minSessions: 1.5 } },
      { errorRate: { maxPointsAboveOnline: 5, minSessions: 2_000_000 } },
      { errorRate: { maxPointsAboveOnline: 5 } },
      { errorRate: { maxPointsAboveOnline: 5, minSessions: 10, windowMinutes: 5 } },
      { errorRate: { maxPointsAboveOnline: 5, minSessions: 10, extra: 1 } },
      { crashes: { max: -1 } },
      { crashes: { max: 1.5 } },
      { crashes: { max: 1, windowMinutes: 15 } },
      { crashes: { max: 1, windowMinutes: 0 } },
      { crashes: { max: 1, windowMinutes: 1450 } },
      { crashes: null },
      { latency: { max: 1 } },
      [GOOD],
      "on",
    ];
    for (const guardrails of bad) {
      const created = await callAdmin("POST", tasksPath(appId), {
        token: world.devA.token,
        json: taskBody(world, "1.1.0", { guardrails }),
      });
      expect(created.status, JSON.stringify(guardrails)).toBe(400);
      const body = (await created.json()) as any;
      expect(body.error.code).toBe("bad_request");
      expect(JSON.stringify(body)).toContain("guardrails");
      const edited = await patch(task.id, { guardrails });
      expect(edited.status, JSON.stringify(guardrails)).toBe(400);
    }
  });

  it("viewers may not set them (403), other teams do not see the task (404)", async () => {
    const task = await createTask(world, appId, "1.1.0");
    await expectError(patch(task.id, { guardrails: GOOD }, world.viewerA.token), 403, "forbidden");
    await expectError(patch(task.id, { guardrails: GOOD }, world.devB.token), 404, "not_found");
    await expectError(
      callAdmin("POST", tasksPath(appId), {
        token: world.viewerA.token,
        json: taskBody(world, "1.1.0", { guardrails: GOOD }),
      }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("GET", tasksPath(appId, `/${task.id}/progress`), { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("PATCH", tasksPath(appId, `/${task.id}`), { json: { guardrails: GOOD } }),
      401,
      "unauthenticated",
    );
  });

  it("an ended task's guardrails are locked (409)", async () => {
    const task = await createTask(world, appId, "1.1.0");
    await expectJson(taskAction(world, appId, task.id, "end"), 200);
    const res = await expectJson<any>(patch(task.id, { guardrails: GOOD }), 409);
    expect(res.error).toMatchObject({ code: "conflict", rule: "task_ended" });
  });
});
