import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { GrayscaleCounter, type AdmitMeta } from "../durable-objects/grayscale-counter";
import { edgeEnv } from "./support/edge";

/** The generated binding type does not name the class; the Worker exports it. */
function counter(name: string) {
  return (edgeEnv.GRAYSCALE_COUNTER as DurableObjectNamespace<GrayscaleCounter>).getByName(name);
}

const ANDROID: AdmitMeta = { hostAppId: "ha_one", platform: "android" };
const IOS: AdmitMeta = { hostAppId: "ha_two", platform: "ios" };
const HOUR = 3_600_000;

describe("GrayscaleCounter.admit", () => {
  it("admits new users only while under the cap", async () => {
    const task = counter("task-cap");
    expect(await task.admit("u1", 2, ANDROID)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("u2", 2, ANDROID)).toEqual({ admitted: true, count: 2 });
    expect(await task.admit("u3", 2, ANDROID)).toEqual({ admitted: false, count: 2 });
  });

  it("is idempotent and sticky: an admitted user stays admitted, even under a lower cap", async () => {
    const task = counter("task-sticky");
    expect(await task.admit("alice", 1, ANDROID)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("alice", 1, ANDROID)).toEqual({ admitted: true, count: 1 });
    expect(await task.admit("bob", 1, ANDROID)).toEqual({ admitted: false, count: 1 });
    expect(await task.admit("alice", 0, ANDROID)).toEqual({ admitted: true, count: 1 });
  });

  it("admits more users when the cap is raised", async () => {
    const task = counter("task-raise");
    await task.admit("a", 1, ANDROID);
    expect(await task.admit("b", 1, ANDROID)).toMatchObject({ admitted: false });
    expect(await task.admit("b", 2, ANDROID)).toEqual({ admitted: true, count: 2 });
  });

  it("admits exactly `cap` of many concurrent distinct users", async () => {
    const task = counter("task-concurrent");
    const cap = 7;
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap, ANDROID)));
    expect(results.filter((r) => r.admitted)).toHaveLength(cap);
    expect(Math.max(...results.map((r) => r.count))).toBe(cap);
    // Retries of the same users change nothing.
    const again = await Promise.all(Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap, ANDROID)));
    expect(again.map((r) => r.admitted)).toEqual(results.map((r) => r.admitted));
    expect(await task.admit("late", cap, ANDROID)).toEqual({ admitted: false, count: cap });
    expect((await task.progress()).admitted).toBe(cap);
  });

  it("keeps tasks apart: each object counts its own users", async () => {
    expect(await counter("task-x").admit("same-user", 1, ANDROID)).toEqual({ admitted: true, count: 1 });
    expect(await counter("task-y").admit("same-user", 1, ANDROID)).toEqual({ admitted: true, count: 1 });
  });

  it("refuses malformed arguments", async () => {
    // Called inside the object: a rejecting RPC through a stub leaks an unhandled rejection in
    // the vitest plugin (workers-sdk issue #14736) even when the test handles it.
    await runInDurableObject(counter("task-args"), async (instance: GrayscaleCounter) => {
      await expect(instance.admit("", 1, ANDROID)).rejects.toThrow(/userKey/);
      await expect(instance.admit("u".repeat(257), 1, ANDROID)).rejects.toThrow(/userKey/);
      await expect(instance.admit("u", -1, ANDROID)).rejects.toThrow(/cap/);
      await expect(instance.admit("u", 1.5, ANDROID)).rejects.toThrow(/cap/);
      await expect(instance.admit("u", 1, { hostAppId: "", platform: "ios" })).rejects.toThrow(/hostAppId/);
      await expect(instance.admit("u", 1, { hostAppId: "ha", platform: "windows" as "ios" })).rejects.toThrow(/platform/);
      await expect(instance.isAdmitted("")).rejects.toThrow(/userKey/);
    });
    expect(await counter("task-args").admit("u", 1, ANDROID)).toEqual({ admitted: true, count: 1 });
  });

  it("stores one row per admitted user with its host app and platform, and the count beside them", async () => {
    const task = counter("task-storage");
    await task.admit("p", 5, ANDROID);
    await task.admit("q", 5, IOS);
    // A second admission of p from another app keeps p's first host app and platform.
    await task.admit("p", 5, IOS);
    const rows = await runInDurableObject(task, (_instance: GrayscaleCounter, state) => ({
      users: state.storage.sql
        .exec<{ user_key: string; host_app_id: string; platform: string }>("SELECT user_key, host_app_id, platform FROM admitted ORDER BY user_key")
        .toArray(),
      counter: state.storage.sql.exec<{ admitted: number }>("SELECT admitted FROM counter").one().admitted,
      version: state.storage.sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version,
    }));
    expect(rows).toEqual({
      users: [
        { user_key: "p", host_app_id: "ha_one", platform: "android" },
        { user_key: "q", host_app_id: "ha_two", platform: "ios" },
      ],
      counter: 2,
      version: 3,
    });
  });
});

describe("GrayscaleCounter.isAdmitted", () => {
  it("says whether a user was admitted, without admitting anyone", async () => {
    const task = counter("task-is-admitted");
    expect(await task.isAdmitted("carol")).toBe(false);
    await task.admit("carol", 1, ANDROID);
    expect(await task.isAdmitted("carol")).toBe(true);
    expect(await task.isAdmitted("dave")).toBe(false);
    // Asking did not take a slot: the cap of 2 still has room for dave.
    expect(await task.admit("dave", 2, IOS)).toEqual({ admitted: true, count: 2 });
  });
});

describe("GrayscaleCounter.progress", () => {
  it("is empty for a task nobody joined", async () => {
    expect(await counter("task-empty").progress()).toEqual({ admitted: 0, reserved: 0, byHostApp: {}, byPlatform: {}, byHour: [] });
  });

  it("counts admitted users by host app, platform and hour of admission", async () => {
    const task = counter("task-progress");
    const before = Date.now();
    await task.admit("a", 10, ANDROID);
    await task.admit("b", 10, ANDROID);
    await task.admit("c", 10, IOS);
    await task.admit("a", 10, IOS); // repeat: counted once, under its first admission
    expect(await task.admit("d", 3, IOS)).toMatchObject({ admitted: false }); // refused: not counted
    const after = Date.now();

    const progress = await task.progress();
    expect(progress).toMatchObject({ admitted: 3, byHostApp: { ha_one: 2, ha_two: 1 }, byPlatform: { android: 2, ios: 1 } });
    const hours = [...new Set([before, after].map((t) => Math.floor(t / HOUR) * HOUR))];
    expect(progress.byHour.map((h) => h.hour).every((h) => hours.includes(h))).toBe(true);
    expect(progress.byHour.reduce((n, h) => n + h.admitted, 0)).toBe(3);
  });

  it("keeps its tallies equal to the admitted users under concurrent admissions", async () => {
    const task = counter("task-tallies");
    const metas = [ANDROID, IOS, { hostAppId: "ha_three", platform: "android" as const }];
    await Promise.all(Array.from({ length: 90 }, (_, i) => task.admit(`user-${i % 45}`, 40, metas[i % 3] as AdmitMeta)));
    const progress = await task.progress();
    const rows = await runInDurableObject(task, (_instance: GrayscaleCounter, state) =>
      state.storage.sql.exec<{ host_app_id: string; platform: string }>("SELECT host_app_id, platform FROM admitted").toArray(),
    );
    expect(progress.admitted).toBe(40);
    expect(rows).toHaveLength(40);
    const tally = (key: "host_app_id" | "platform") => rows.reduce<Record<string, number>>((acc, r) => ({ ...acc, [r[key]]: (acc[r[key]] ?? 0) + 1 }), {});
    expect(progress.byHostApp).toEqual(tally("host_app_id"));
    expect(progress.byPlatform).toEqual(tally("platform"));
    expect(progress.byHour.reduce((n, h) => n + h.admitted, 0)).toBe(40);
  });
});

describe("GrayscaleCounter schema", () => {
  it("migrates an object created with the first schema: its users stay admitted and are tallied", async () => {
    const task = counter("task-migrate");
    const now = Date.now();
    const hourOf = (t: number) => Math.floor(t / HOUR) * HOUR;
    await runInDurableObject(task, async (_instance: GrayscaleCounter, state) => {
      const sql = state.storage.sql;
      // Put the object back into the first schema, with three users admitted in two earlier hours.
      for (const table of ["admitted", "by_host_app", "by_platform", "by_hour", "leases", "counter"]) sql.exec(`DROP TABLE ${table}`);
      sql.exec("CREATE TABLE admitted (user_key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL) WITHOUT ROWID");
      sql.exec("CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), admitted INTEGER NOT NULL)");
      sql.exec("INSERT INTO admitted VALUES ('old-1', ?), ('old-2', ?), ('old-3', ?)", now - 5 * HOUR, now - 5 * HOUR, now - 2 * HOUR);
      sql.exec("INSERT INTO counter (id, admitted) VALUES (1, 3)");
      sql.exec("UPDATE schema_version SET version = 1");
      // A new instance on the same storage runs the missing step in its constructor, as after a deploy.
      new GrayscaleCounter(state, edgeEnv);
      await state.blockConcurrencyWhile(async () => {});
      const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('admitted') ORDER BY cid").toArray();
      expect(columns.map((c) => c.name)).toEqual(["user_key", "admitted_at", "host_app_id", "platform"]);
      expect(sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version).toBe(3);
      expect(sql.exec<{ reserved: number }>("SELECT reserved FROM counter").one().reserved).toBe(0);
    });
    expect(await task.isAdmitted("old-1")).toBe(true);
    expect(await task.admit("old-1", 1, IOS)).toEqual({ admitted: true, count: 3 });
    expect(await task.admit("new-user", 4, IOS)).toEqual({ admitted: true, count: 4 });
    expect(await task.progress()).toEqual({
      admitted: 4,
      reserved: 0,
      byHostApp: { unknown: 3, ha_two: 1 },
      byPlatform: { unknown: 3, ios: 1 },
      byHour: [
        { hour: hourOf(now - 5 * HOUR), admitted: 2 },
        { hour: hourOf(now - 2 * HOUR), admitted: 1 },
        { hour: hourOf(Date.now()), admitted: 1 },
      ],
    });
  });
});
