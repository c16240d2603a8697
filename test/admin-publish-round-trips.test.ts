/**
 * D1 round trips per publish (issue 17, "Control plane speed": at most 3 per publish).
 *
 * The admin Worker runs with its D1 binding wrapped in a counting proxy: every call that goes to
 * D1 (a statement's `run`, `all`, `first`, `raw`, a `batch`, an `exec`) is one round trip and is
 * counted; the statements still run on the real D1. The figure is a count, not a time, so it does
 * not depend on the machine.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import adminApp from "../control-plane/src/index";
import { testEnv } from "./env";
import {
  adminEnv,
  approveVersion,
  callAdmin,
  createTask,
  expectJson,
  makeMiniProgram,
  makeWorld,
  publish,
  storedSnapshot,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

/** Authentication and the session (middleware) round trips every admin request pays. */
const REQUEST_OVERHEAD_MAX = 1;
/** The publish itself: reads in one batch, writes in one batch, the publish of the snapshot's revision. */
const PUBLISH_MAX = 3;

interface Counter {
  d1: D1Database;
  calls: string[];
}

/** The real D1 binding, counting every call that reaches D1. */
function countingD1(real: D1Database): Counter {
  const calls: string[] = [];
  const statement = (s: D1PreparedStatement, sql: string): D1PreparedStatement =>
    new Proxy(s, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (prop === "bind")
          return (...args: unknown[]) =>
            statement((value as D1PreparedStatement["bind"]).apply(target, args), sql);
        if (prop === "run" || prop === "all" || prop === "first" || prop === "raw")
          return (...args: unknown[]) => {
            calls.push(`${String(prop)}: ${sql.slice(0, 80)}`);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const d1 = new Proxy(real, {
    get(target, prop) {
      if (prop === "prepare")
        return (sql: string) => {
          const wrapped = statement(target.prepare(sql), sql);
          return wrapped;
        };
      if (prop === "batch")
        return (statements: D1PreparedStatement[]) => {
          calls.push(`batch of ${statements.length}`);
          return target.batch(statements.map((s) => unwrap.get(s) ?? s));
        };
      if (prop === "exec")
        return (sql: string) => {
          calls.push(`exec: ${sql.slice(0, 80)}`);
          return target.exec(sql);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { d1, calls };
}

async function counted(method: string, path: string, token: string) {
  const counter = countingD1(testEnv.DB);
  const ctx = createExecutionContext();
  const res = await adminApp.fetch(
    new Request(`https://admin.test${path}`, { method, headers: { authorization: `Bearer ${token}` } }),
    { ...adminEnv(), DB: counter.d1 },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { res, calls: counter.calls };
}

/**
 * The round trips every authenticated request pays before its route runs (the session lookup):
 * a request that passes authentication and is then refused by the route's parameter validation.
 */
async function requestOverhead(): Promise<number> {
  const { res, calls } = await counted(
    "POST",
    "/v1/mini-programs/not%20an%20id/versions/1.0.0/publish",
    world.devA.token,
  );
  expect(res.status).toBe(400);
  return calls.length;
}

describe("publish: D1 round trips", () => {
  it("a publish that replaces an online version and ends a grayscale task makes at most 3 round trips of its own", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await approveVersion(world, appId, "1.0.0", [world.host1, world.host2]);
    await publish(world, appId, "1.0.0");
    await approveVersion(world, appId, "1.1.0", [world.host1, world.host2]);
    // A running grayscale task of 1.1.0: the publish ends it (grayscale-hooks.ts) in its own batch.
    await createTask(world, appId, "1.1.0");
    const overhead = await requestOverhead();
    expect(overhead).toBeLessThanOrEqual(REQUEST_OVERHEAD_MAX);

    const { res, calls } = await counted(
      "POST",
      `/v1/mini-programs/${appId}/versions/1.1.0/publish`,
      world.devA.token,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: "1.1.0", status: "released", online: true });
    const own = calls.length - overhead;
    expect(own, calls.join("\n")).toBeLessThanOrEqual(PUBLISH_MAX);
    // It did all it does: the task ended, the snapshot at the new revision is in R2.
    const tasks = await expectJson<{ tasks: { state: string; endReason: string | null }[] }>(
      callAdmin("GET", `/v1/mini-programs/${appId}/grayscale-tasks`, { token: world.devA.token }),
      200,
    );
    expect(tasks.tasks[0]).toMatchObject({ state: "ended", endReason: "released" });
    const snapshot = await storedSnapshot(appId);
    expect(snapshot?.online?.version).toBe("1.1.0");
    expect(snapshot?.tasks ?? []).toEqual([]);
  });
});
