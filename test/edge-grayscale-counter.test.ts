import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { GrayscaleCounter } from "../durable-objects/grayscale-counter";
import { edgeEnv } from "./support/edge";

/** The generated binding type does not name the class; the Worker exports it. */
function counter(name: string) {
  return (edgeEnv.GRAYSCALE_COUNTER as DurableObjectNamespace<GrayscaleCounter>).getByName(name);
}

describe("GrayscaleCounter.admit", () => {
  it("admits new users only while under the cap", async () => {
    const task = counter("task-cap");
    expect(await task.admit("u1", 2)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("u2", 2)).toEqual({ admitted: true, count: 2 });
    expect(await task.admit("u3", 2)).toEqual({ admitted: false, count: 2 });
  });

  it("is idempotent and sticky: an admitted user stays admitted, even under a lower cap", async () => {
    const task = counter("task-sticky");
    expect(await task.admit("alice", 1)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("alice", 1)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("bob", 1)).toEqual({ admitted: false, count: 1 });
    expect(await task.admit("alice", 0)).toEqual({ admitted: true, count: 1 });
  });

  it("admits more users when the cap is raised", async () => {
    const task = counter("task-raise");
    await task.admit("a", 1);
    expect(await task.admit("b", 1)).toMatchObject({ admitted: false });
    expect(await task.admit("b", 2)).toEqual({ admitted: true, count: 2 });
  });

  it("admits exactly `cap` of many concurrent distinct users", async () => {
    const task = counter("task-concurrent");
    const cap = 7;
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap)));
    expect(results.filter((r) => r.admitted)).toHaveLength(cap);
    expect(Math.max(...results.map((r) => r.count))).toBe(cap);
    // Retries of the same users change nothing.
    const again = await Promise.all(Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap)));
    expect(again.map((r) => r.admitted)).toEqual(results.map((r) => r.admitted));
    expect(await task.admit("late", cap)).toEqual({ admitted: false, count: cap });
  });

  it("keeps tasks apart: each object counts its own users", async () => {
    expect(await counter("task-x").admit("same-user", 1)).toEqual({ admitted: true, count: 1 });
    expect(await counter("task-y").admit("same-user", 1)).toEqual({ admitted: true, count: 1 });
  });

  it("refuses malformed arguments", async () => {
    // Called inside the object: a rejecting RPC through a stub leaks an unhandled rejection in
    // the vitest plugin (workers-sdk issue #14736) even when the test handles it.
    await runInDurableObject(counter("task-args"), async (instance: GrayscaleCounter) => {
      await expect(instance.admit("", 1)).rejects.toThrow(/userKey/);
      await expect(instance.admit("u".repeat(257), 1)).rejects.toThrow(/userKey/);
      await expect(instance.admit("u", -1)).rejects.toThrow(/cap/);
      await expect(instance.admit("u", 1.5)).rejects.toThrow(/cap/);
    });
    expect(await counter("task-args").admit("u", 1)).toEqual({ admitted: true, count: 1 });
  });

  it("stores one row per admitted user and the count beside them", async () => {
    const task = counter("task-storage");
    await task.admit("p", 5);
    await task.admit("q", 5);
    await task.admit("p", 5);
    const rows = await runInDurableObject(task, (_instance: GrayscaleCounter, state) => ({
      users: state.storage.sql.exec<{ user_key: string }>("SELECT user_key FROM admitted ORDER BY user_key").toArray(),
      counter: state.storage.sql.exec<{ admitted: number }>("SELECT admitted FROM counter").one().admitted,
      version: state.storage.sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version,
    }));
    expect(rows).toEqual({ users: [{ user_key: "p" }, { user_key: "q" }], counter: 2, version: 1 });
  });
});
