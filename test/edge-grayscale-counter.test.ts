import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  type AdmitMeta,
  type CounterProgress,
  GrayscaleCounter,
  LEASE_TTL_MS,
  type LeasedAdmission,
  MAX_LEASE,
  MAX_LEASE_TTL_MS,
  MAX_SETTLE_BATCH,
  MIN_LEASE_TTL_MS,
  STRANDED_AFTER_MS,
} from "../durable-objects/grayscale-counter";
import { edgeEnv } from "./support/edge";
import { seededRandom } from "./support/random";

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
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap, ANDROID)),
    );
    expect(results.filter((r) => r.admitted)).toHaveLength(cap);
    expect(Math.max(...results.map((r) => r.count))).toBe(cap);
    // Retries of the same users change nothing.
    const again = await Promise.all(
      Array.from({ length: 60 }, (_, i) => task.admit(`user-${i}`, cap, ANDROID)),
    );
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
      await expect(instance.admit("u", 1, { hostAppId: "ha", platform: "windows" as "ios" })).rejects.toThrow(
        /platform/,
      );
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
        .exec<{ user_key: string; host_app_id: string; platform: string }>(
          "SELECT user_key, host_app_id, platform FROM admitted ORDER BY user_key",
        )
        .toArray(),
      counter: state.storage.sql.exec<{ admitted: number }>("SELECT admitted FROM counter").one().admitted,
      version: state.storage.sql.exec<{ version: number }>("SELECT version FROM schema_version").one()
        .version,
    }));
    expect(rows).toEqual({
      users: [
        { user_key: "p", host_app_id: "ha_one", platform: "android" },
        { user_key: "q", host_app_id: "ha_two", platform: "ios" },
      ],
      counter: 2,
      version: 6,
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
    expect(await counter("task-empty").progress()).toEqual({
      admitted: 0,
      reserved: 0,
      stranded: 0,
      byHostApp: {},
      byPlatform: {},
      byHour: [],
    });
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
    expect(progress).toMatchObject({
      admitted: 3,
      byHostApp: { ha_one: 2, ha_two: 1 },
      byPlatform: { android: 2, ios: 1 },
    });
    const hours = [...new Set([before, after].map((t) => Math.floor(t / HOUR) * HOUR))];
    expect(progress.byHour.map((h) => h.hour).every((h) => hours.includes(h))).toBe(true);
    expect(progress.byHour.reduce((n, h) => n + h.admitted, 0)).toBe(3);
  });

  it("keeps its tallies equal to the admitted users under concurrent admissions", async () => {
    const task = counter("task-tallies");
    const metas = [ANDROID, IOS, { hostAppId: "ha_three", platform: "android" as const }];
    await Promise.all(
      Array.from({ length: 90 }, (_, i) => task.admit(`user-${i % 45}`, 40, metas[i % 3] as AdmitMeta)),
    );
    const progress = await task.progress();
    const rows = await runInDurableObject(task, (_instance: GrayscaleCounter, state) =>
      state.storage.sql
        .exec<{ host_app_id: string; platform: string }>("SELECT host_app_id, platform FROM admitted")
        .toArray(),
    );
    expect(progress.admitted).toBe(40);
    expect(rows).toHaveLength(40);
    const tally = (key: "host_app_id" | "platform") =>
      rows.reduce<Record<string, number>>((acc, r) => {
        acc[r[key]] = (acc[r[key]] ?? 0) + 1;
        return acc;
      }, {});
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
      for (const table of [
        "admitted",
        "by_host_app",
        "by_platform",
        "by_hour",
        "leases",
        "counter",
        "health_seen",
        "health_bucket",
        "health_crash",
        "shard_config",
        "shard_grants",
        "shard_self",
      ])
        sql.exec(`DROP TABLE ${table}`);
      sql.exec(
        "CREATE TABLE admitted (user_key TEXT PRIMARY KEY, admitted_at INTEGER NOT NULL) WITHOUT ROWID",
      );
      sql.exec("CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), admitted INTEGER NOT NULL)");
      sql.exec(
        "INSERT INTO admitted VALUES ('old-1', ?), ('old-2', ?), ('old-3', ?)",
        now - 5 * HOUR,
        now - 5 * HOUR,
        now - 2 * HOUR,
      );
      sql.exec("INSERT INTO counter (id, admitted) VALUES (1, 3)");
      sql.exec("UPDATE schema_version SET version = 1");
      // A new instance on the same storage runs the missing step in its constructor, as after a deploy.
      new GrayscaleCounter(state, edgeEnv);
      await state.blockConcurrencyWhile(async () => {});
      const columns = sql
        .exec<{ name: string }>("SELECT name FROM pragma_table_info('admitted') ORDER BY cid")
        .toArray();
      expect(columns.map((c) => c.name)).toEqual(["user_key", "admitted_at", "host_app_id", "platform"]);
      expect(sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version).toBe(6);
      expect(sql.exec<{ reserved: number }>("SELECT reserved FROM counter").one().reserved).toBe(0);
    });
    expect(await task.isAdmitted("old-1")).toBe(true);
    expect(await task.admit("old-1", 1, IOS)).toEqual({ admitted: true, count: 3 });
    expect(await task.admit("new-user", 4, IOS)).toEqual({ admitted: true, count: 4 });
    expect(await task.progress()).toEqual({
      admitted: 4,
      reserved: 0,
      stranded: 0,
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

describe("GrayscaleCounter leases", () => {
  /** Fixed admission times two hours apart, so the hourly tallies are exact. */
  const AT = Date.UTC(2026, 0, 5, 10, 30);
  const LATER = AT + 2 * HOUR;
  const THREE: AdmitMeta = { hostAppId: "ha_three", platform: "android" };

  function admission(userKey: string, meta: AdmitMeta = ANDROID, at = AT): LeasedAdmission {
    return { userKey, hostAppId: meta.hostAppId, platform: meta.platform, at };
  }

  /** The object's rows, counter and leases as stored (plain objects, ordered). */
  function stored(task: ReturnType<typeof counter>) {
    return runInDurableObject(task, (_instance: GrayscaleCounter, state) => {
      const sql = state.storage.sql;
      return {
        users: sql
          .exec<{ user_key: string; admitted_at: number; host_app_id: string; platform: string }>(
            "SELECT user_key, admitted_at, host_app_id, platform FROM admitted ORDER BY user_key",
          )
          .toArray()
          .map((r) => ({ ...r })),
        counter: {
          ...sql.exec<{ admitted: number; reserved: number }>("SELECT admitted, reserved FROM counter").one(),
        },
        leases: sql
          .exec<{ id: string; granted: number; settled: number; next_batch: number; open: number }>(
            "SELECT id, granted, settled, next_batch, open FROM leases ORDER BY id",
          )
          .toArray()
          .map((r) => ({ ...r })),
      };
    });
  }

  describe("lease", () => {
    it("grants at most `want` and at most a quarter of the free slots, and counts them as reserved", async () => {
      const task = counter("lease-grant");
      const before = Date.now();
      const first = await task.lease(100, 10);
      const after = Date.now();
      expect(first).toMatchObject({ granted: 10 });
      expect(first!.id).toEqual(expect.any(String));
      // The default length: LEASE_TTL_MS from the call.
      expect(first!.expiresAt).toBeGreaterThanOrEqual(before + LEASE_TTL_MS);
      expect(first!.expiresAt).toBeLessThanOrEqual(after + LEASE_TTL_MS);
      expect((await task.progress()).reserved).toBe(10);

      // free = 100 - 10 = 90: a quarter is 22, under the 1,000 asked for.
      const second = await task.lease(100, 1000);
      expect(second).toMatchObject({ granted: 22 });
      expect(second!.id).not.toBe(first!.id);
      // free = 68: 17.
      expect(await task.lease(100, 1000)).toMatchObject({ granted: 17 });
      // Admitted users are not free either: 2 more users leave 100 - 2 - 49 = 49 free, a quarter 12.
      await task.admit("direct-1", 100, ANDROID);
      await task.admit("direct-2", 100, IOS);
      expect(await task.lease(100, 1000)).toMatchObject({ granted: 12 });
      expect(await task.progress()).toMatchObject({ admitted: 2, reserved: 10 + 22 + 17 + 12 });

      const ttlBefore = Date.now();
      const ttl = await task.lease(100, 1, MIN_LEASE_TTL_MS);
      const ttlAfter = Date.now();
      expect(ttl).toMatchObject({ granted: 1 });
      expect(ttl!.expiresAt).toBeGreaterThanOrEqual(ttlBefore + MIN_LEASE_TTL_MS);
      expect(ttl!.expiresAt).toBeLessThanOrEqual(ttlAfter + MIN_LEASE_TTL_MS);
      expect((await stored(task)).leases).toHaveLength(5);
    });

    it("grants nothing when under four slots are free, and reserves nothing then", async () => {
      const task = counter("lease-none");
      expect(await task.lease(3, 1)).toBeNull();
      expect(await task.lease(0, 1)).toBeNull();
      expect(await task.progress()).toMatchObject({ admitted: 0, reserved: 0 });
      // Four free slots grant one.
      expect(await task.lease(4, 100)).toMatchObject({ granted: 1 });
      // 4 - 1 reserved = 3 free: nothing.
      expect(await task.lease(4, 100)).toBeNull();
      // Under a cap of 7 with 4 users admitted and the lease of 1: 2 free, nothing.
      for (const u of ["a", "b", "c", "d"])
        expect(await task.admit(u, 7, ANDROID)).toMatchObject({ admitted: true });
      expect(await task.lease(7, 100)).toBeNull();
      expect(await task.progress()).toMatchObject({ admitted: 4, reserved: 1 });
      expect((await stored(task)).leases).toHaveLength(1);
    });

    it("makes `admit` refuse a new user once admitted + reserved reach the cap, and admit again once `done` frees the slots", async () => {
      const task = counter("lease-admit");
      const lease = await task.lease(8, 2);
      expect(lease).toMatchObject({ granted: 2 });
      for (let i = 1; i <= 6; i++)
        expect(await task.admit(`u${i}`, 8, ANDROID)).toEqual({ admitted: true, count: i });
      // 6 admitted + 2 reserved = 8.
      expect(await task.admit("u7", 8, ANDROID)).toEqual({ admitted: false, count: 6 });
      // An admitted user stays admitted.
      expect(await task.admit("u1", 8, IOS)).toEqual({ admitted: true, count: 6 });
      // One user from the lease, and `done` gives back the other slot.
      expect(await task.settle(lease!.id, 0, [admission("leased-1")], true)).toEqual({
        admitted: 1,
        duplicates: 0,
        count: 7,
      });
      expect(await task.progress()).toMatchObject({ admitted: 7, reserved: 0 });
      expect(await task.admit("u7", 8, ANDROID)).toEqual({ admitted: true, count: 8 });
      expect(await task.admit("u8", 8, ANDROID)).toEqual({ admitted: false, count: 8 });
    });
  });

  describe("settle", () => {
    it("records new users as admitted rows with their tallies, and takes their slots out of `reserved`", async () => {
      const task = counter("settle-new");
      const lease = await task.lease(100, 8);
      expect(lease).toMatchObject({ granted: 8 });
      const batch0 = [
        admission("n1", ANDROID, AT),
        admission("n2", IOS, LATER),
        admission("n3", THREE, LATER + 1),
      ];
      expect(await task.settle(lease!.id, 0, batch0, false)).toEqual({
        admitted: 3,
        duplicates: 0,
        count: 3,
      });
      expect(await task.progress()).toEqual({
        admitted: 3,
        reserved: 5,
        stranded: 0,
        byHostApp: { ha_one: 1, ha_two: 1, ha_three: 1 },
        byPlatform: { android: 2, ios: 1 },
        byHour: [
          { hour: Date.UTC(2026, 0, 5, 10), admitted: 1 },
          { hour: Date.UTC(2026, 0, 5, 12), admitted: 2 },
        ],
      });
      expect(await task.settle(lease!.id, 1, [admission("n4", IOS, AT + 5)], false)).toEqual({
        admitted: 1,
        duplicates: 0,
        count: 4,
      });
      const state = await stored(task);
      expect(state.users).toEqual([
        { user_key: "n1", admitted_at: AT, host_app_id: "ha_one", platform: "android" },
        { user_key: "n2", admitted_at: LATER, host_app_id: "ha_two", platform: "ios" },
        { user_key: "n3", admitted_at: LATER + 1, host_app_id: "ha_three", platform: "android" },
        { user_key: "n4", admitted_at: AT + 5, host_app_id: "ha_two", platform: "ios" },
      ]);
      expect(state.counter).toEqual({ admitted: 4, reserved: 4 });
      expect(state.leases).toEqual([{ id: lease!.id, granted: 8, settled: 4, next_batch: 2, open: 1 }]);
      expect(await task.isAdmitted("n4")).toBe(true);
      // A settled user is admitted like any other: a direct call is a repeat, not a new slot.
      expect(await task.admit("n1", 100, IOS)).toEqual({ admitted: true, count: 4 });
      expect((await task.progress()).byHour).toEqual([
        { hour: Date.UTC(2026, 0, 5, 10), admitted: 2 },
        { hour: Date.UTC(2026, 0, 5, 12), admitted: 2 },
      ]);
    });

    it("counts a user already admitted once: its slot goes back to the free pool, and a later direct admission fits", async () => {
      const task = counter("settle-duplicate");
      expect(await task.admit("dup", 8, ANDROID)).toEqual({ admitted: true, count: 1 });
      // free = 7: one slot.
      const lease = await task.lease(8, 4);
      expect(lease).toMatchObject({ granted: 1 });
      for (let i = 1; i <= 6; i++)
        expect(await task.admit(`x${i}`, 8, ANDROID)).toMatchObject({ admitted: true });
      expect(await task.admit("x7", 8, ANDROID)).toEqual({ admitted: false, count: 7 });
      // The isolate admitted `dup` too (from another host app): a duplicate, counted under its first admission.
      expect(await task.settle(lease!.id, 0, [admission("dup", IOS, LATER)], false)).toEqual({
        admitted: 0,
        duplicates: 1,
        count: 7,
      });
      expect(await task.progress()).toMatchObject({
        admitted: 7,
        reserved: 0,
        byHostApp: { ha_one: 7 },
        byPlatform: { android: 7 },
      });
      expect(await task.admit("x7", 8, ANDROID)).toEqual({ admitted: true, count: 8 });
      expect(await task.admit("x8", 8, ANDROID)).toEqual({ admitted: false, count: 8 });
      expect((await stored(task)).users.find((u) => u.user_key === "dup")).toEqual({
        user_key: "dup",
        admitted_at: expect.any(Number),
        host_app_id: "ha_one",
        platform: "android",
      });
    });

    it("counts a user reported twice in one batch, or by two leases, once", async () => {
      const task = counter("settle-duplicate-leases");
      const one = await task.lease(100, 4);
      const two = await task.lease(100, 4);
      expect(
        await task.settle(
          one!.id,
          0,
          [admission("twice"), admission("twice", IOS), admission("solo")],
          false,
        ),
      ).toEqual({ admitted: 2, duplicates: 1, count: 2 });
      expect(await task.settle(two!.id, 0, [admission("twice", IOS), admission("other")], true)).toEqual({
        admitted: 1,
        duplicates: 1,
        count: 3,
      });
      expect(await task.settle(one!.id, 1, [], true)).toEqual({ admitted: 0, duplicates: 0, count: 3 });
      const state = await stored(task);
      expect(state.users.map((u) => u.user_key)).toEqual(["other", "solo", "twice"]);
      expect(state.counter).toEqual({ admitted: 3, reserved: 0 });
      expect(await task.progress()).toMatchObject({ byPlatform: { android: 3 } });
    });

    it("applies a batch number once: a replay changes nothing, and the last batch resent with other content is refused", async () => {
      const task = counter("settle-replay");
      const lease = await task.lease(100, 6);
      expect(await task.settle(lease!.id, 0, [admission("r1"), admission("r2")], false)).toEqual({
        admitted: 2,
        duplicates: 0,
        count: 2,
      });
      const before = { progress: await task.progress(), state: await stored(task) };
      expect(await task.settle(lease!.id, 0, [admission("r1"), admission("r2")], false)).toEqual({
        admitted: 0,
        duplicates: 0,
        count: 2,
      });
      // A holder must resend its last batch unchanged: another size, or `done` added, is a bug to refuse.
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(
          instance.settle(lease!.id, 0, [admission("r1"), admission("r2"), admission("r3")], false),
        ).rejects.toThrow(/batch 0 was applied with other content/);
        await expect(instance.settle(lease!.id, 0, [admission("r1"), admission("r2")], true)).rejects.toThrow(
          /batch 0 was applied with other content/,
        );
      });
      expect({ progress: await task.progress(), state: await stored(task) }).toEqual(before);
      expect(await task.isAdmitted("r3")).toBe(false);
      // The next batch number is still 1.
      expect(await task.settle(lease!.id, 1, [admission("r3")], false)).toEqual({
        admitted: 1,
        duplicates: 0,
        count: 3,
      });
      expect(await task.progress()).toMatchObject({ admitted: 3, reserved: 3 });
    });

    it("refuses a skipped batch, more admissions than the lease has left, an unknown lease and malformed admissions, changing nothing", async () => {
      const task = counter("settle-refusals");
      const lease = await task.lease(100, 4);
      expect(lease).toMatchObject({ granted: 4 });
      const id = lease!.id;
      expect(await task.settle(id, 0, [admission("s1")], false)).toMatchObject({ admitted: 1 });
      const before = { progress: await task.progress(), state: await stored(task) };
      expect(before.state.counter).toEqual({ admitted: 1, reserved: 3 });

      // Rejections are awaited inside the object (see "refuses malformed arguments" above).
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(instance.settle(id, 2, [admission("s2")], false)).rejects.toThrow(/expected batch 1/);
        await expect(instance.settle(id, 2, [], true)).rejects.toThrow(/expected batch 1/);
        // 3 left.
        await expect(
          instance.settle(
            id,
            1,
            ["s2", "s3", "s4", "s5"].map((u) => admission(u)),
            false,
          ),
        ).rejects.toThrow(/more admissions/);
        await expect(
          instance.settle(
            id,
            1,
            ["s2", "s3", "s4", "s5"].map((u) => admission(u)),
            true,
          ),
        ).rejects.toThrow(/more admissions/);
        await expect(instance.settle("no-such-lease", 0, [admission("s2")], false)).rejects.toThrow(
          /no such lease/,
        );
        await expect(instance.settle("no-such-lease", 1, [], true)).rejects.toThrow(/no such lease/);
        // One malformed entry refuses the whole batch, the good users in it included.
        await expect(instance.settle(id, 1, [admission("s2"), admission("")], false)).rejects.toThrow(
          /userKey/,
        );
        await expect(
          instance.settle(id, 1, [admission("s2"), { ...admission("s3"), platform: "web" as "ios" }], false),
        ).rejects.toThrow(/admissions\[1\]\.platform/);
        await expect(
          instance.settle(id, 1, [admission("s2"), { ...admission("s3"), at: -1 }], false),
        ).rejects.toThrow(/admissions\[1\]\.at/);
      });
      expect({ progress: await task.progress(), state: await stored(task) }).toEqual(before);
      expect(await task.isAdmitted("s2")).toBe(false);
      // Still batch 1 next, with its 3 slots.
      expect(
        await task.settle(
          id,
          1,
          ["s2", "s3", "s4"].map((u) => admission(u)),
          false,
        ),
      ).toEqual({ admitted: 3, duplicates: 0, count: 4 });
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(instance.settle(id, 2, [admission("s5")], false)).rejects.toThrow(/more admissions/);
      });
      expect(await task.progress()).toMatchObject({ admitted: 4, reserved: 0 });
      expect(await task.isAdmitted("s5")).toBe(false);
    });

    it("refuses admissions to a closed lease, changing nothing", async () => {
      const task = counter("settle-closed");
      const lease = await task.lease(100, 8);
      const id = lease!.id;
      expect(await task.settle(id, 0, [admission("c1")], true)).toEqual({
        admitted: 1,
        duplicates: 0,
        count: 1,
      });
      const before = { progress: await task.progress(), state: await stored(task) };
      expect(before.state.counter).toEqual({ admitted: 1, reserved: 0 });
      expect(before.state.leases).toEqual([{ id, granted: 8, settled: 1, next_batch: 1, open: 0 }]);
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(instance.settle(id, 1, [admission("c2")], false)).rejects.toThrow(/closed/);
        await expect(instance.settle(id, 1, [admission("c2")], true)).rejects.toThrow(/closed/);
      });
      expect({ progress: await task.progress(), state: await stored(task) }).toEqual(before);
      expect(await task.isAdmitted("c2")).toBe(false);
    });
  });

  describe("done", () => {
    it("frees the slots a lease did not use; a second `done` frees nothing more", async () => {
      const task = counter("done-frees");
      const lease = await task.lease(40, 8);
      expect(lease).toMatchObject({ granted: 8 });
      const id = lease!.id;
      expect(
        await task.settle(
          id,
          0,
          ["d1", "d2", "d3"].map((u) => admission(u)),
          false,
        ),
      ).toMatchObject({ admitted: 3 });
      expect(await task.progress()).toMatchObject({ admitted: 3, reserved: 5 });
      expect(await task.settle(id, 1, [admission("d4")], true)).toEqual({
        admitted: 1,
        duplicates: 0,
        count: 4,
      });
      expect(await task.progress()).toMatchObject({ admitted: 4, reserved: 0 });
      // The answer was lost and the isolate retries `done` as is: nothing happens.
      expect(await task.settle(id, 1, [admission("d4")], true)).toEqual({
        admitted: 0,
        duplicates: 0,
        count: 4,
      });
      expect(await task.settle(id, 0, [], true)).toEqual({ admitted: 0, duplicates: 0, count: 4 });
      // A `done` under a new batch number is refused, and frees nothing either.
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(instance.settle(id, 2, [], true)).rejects.toThrow(/closed/);
      });
      const state = await stored(task);
      expect(state.counter).toEqual({ admitted: 4, reserved: 0 });
      expect(state.leases).toEqual([{ id, granted: 8, settled: 4, next_batch: 2, open: 0 }]);
      // The free slots are exactly cap - admitted = 36: a quarter is 9, not more.
      expect(await task.lease(40, 1000)).toMatchObject({ granted: 9 });
    });

    it("gives a whole unused lease back", async () => {
      const task = counter("done-unused");
      const lease = await task.lease(20, 5);
      expect(lease).toMatchObject({ granted: 5 });
      expect(await task.progress()).toMatchObject({ admitted: 0, reserved: 5 });
      expect(await task.settle(lease!.id, 0, [], true)).toEqual({ admitted: 0, duplicates: 0, count: 0 });
      expect(await task.progress()).toEqual({
        admitted: 0,
        reserved: 0,
        stranded: 0,
        byHostApp: {},
        byPlatform: {},
        byHour: [],
      });
      expect(await task.lease(20, 1000)).toMatchObject({ granted: 5 });
    });
  });

  describe("under concurrency", () => {
    /**
     * Isolates lease, admit from their leases in memory (a user twice in one lease takes one slot,
     * as edge-worker/src/admission-leases.ts does), settle in numbered batches (sometimes retrying
     * a batch whose answer was "lost") and end with `done`; near the cap, and in parallel, users are
     * admitted directly. Users come from a shared pool, so isolates and direct admissions overlap.
     * Progress is sampled throughout. Then every user of the pool checks again (clients retry),
     * which fills the cap: admitted = min(cap, users).
     */
    async function simulate(name: string, cap: number, poolSize: number, seed: number) {
      const task = counter(name);
      const pool = Array.from({ length: poolSize }, (_, i) => `${name}-user-${i}`);
      const metas: AdmitMeta[] = [ANDROID, IOS, THREE];
      /** users told they got the version (a ticket), by a lease or by the object */
      const told = new Set<string>();
      const seen = {
        samples: 0,
        maxTaken: 0,
        minReserved: Infinity,
        leases: 0,
        refusedLeases: 0,
        duplicates: 0,
        replays: 0,
      };
      const sample = (p: CounterProgress) => {
        seen.samples++;
        seen.maxTaken = Math.max(seen.maxTaken, p.admitted + p.reserved);
        seen.minReserved = Math.min(seen.minReserved, p.reserved);
      };

      async function isolate(index: number) {
        const random = seededRandom(seed * 1000 + index);
        const pick = () => pool[Math.floor(random() * pool.length)] as string;
        const metaOf = () => metas[Math.floor(random() * metas.length)] as AdmitMeta;
        for (let round = 0; round < 5; round++) {
          const lease = await task.lease(cap, 1 + Math.floor(random() * 12));
          sample(await task.progress());
          if (lease === null) {
            seen.refusedLeases++;
            for (let i = 0; i < 3; i++) {
              const user = pick();
              if ((await task.admit(user, cap, metaOf())).admitted) told.add(user);
            }
            continue;
          }
          seen.leases++;
          const users = new Set<string>();
          let left = lease.granted;
          let batch = 0;
          let pending: LeasedAdmission[] = [];
          // Sometimes fewer checks than slots: `done` gives the rest back.
          const checks = Math.floor(random() * lease.granted * 2);
          for (let i = 0; i < checks && left > 0; i++) {
            const user = pick();
            if (!users.has(user)) {
              users.add(user);
              left--;
              pending.push(admission(user, metaOf(), AT + Math.floor(random() * 3) * HOUR));
            }
            told.add(user);
            if (random() < 0.35) {
              const result = await task.settle(lease.id, batch, pending, false);
              expect(result.admitted + result.duplicates).toBe(pending.length);
              seen.duplicates += result.duplicates;
              if (random() < 0.3) {
                seen.replays++;
                expect(await task.settle(lease.id, batch, pending, false)).toMatchObject({
                  admitted: 0,
                  duplicates: 0,
                });
              }
              batch++;
              pending = [];
              sample(await task.progress());
            }
          }
          const last = await task.settle(lease.id, batch, pending, true);
          expect(last.admitted + last.duplicates).toBe(pending.length);
          seen.duplicates += last.duplicates;
          sample(await task.progress());
        }
      }

      async function direct(index: number) {
        const random = seededRandom(seed * 1000 + 500 + index);
        for (let i = 0; i < 40; i++) {
          const user = pool[Math.floor(random() * pool.length)] as string;
          if ((await task.admit(user, cap, metas[i % 3] as AdmitMeta)).admitted) told.add(user);
        }
      }

      let running = true;
      const sampler = (async () => {
        while (running) sample(await task.progress());
      })();
      try {
        await Promise.all([
          ...Array.from({ length: 6 }, (_, i) => isolate(i)),
          ...Array.from({ length: 3 }, (_, i) => direct(i)),
        ]);
      } finally {
        running = false;
        await sampler;
      }

      // Every lease is closed: nothing stays reserved, and every user told "admitted" is counted once.
      const settled = await stored(task);
      expect(settled.leases.length).toBe(seen.leases);
      expect(settled.leases.every((l) => l.open === 0 && l.settled <= l.granted)).toBe(true);
      expect(settled.counter.reserved).toBe(0);
      expect(settled.users).toHaveLength(settled.counter.admitted);
      const rows = new Set(settled.users.map((u) => u.user_key));
      expect([...told].filter((u) => !rows.has(u))).toEqual([]);
      expect([...rows].filter((u) => !told.has(u))).toEqual([]);
      expect(settled.counter.admitted).toBeLessThanOrEqual(cap);

      // Clients check again: the cap fills exactly.
      const again = await Promise.all(
        pool.map((user, i) => task.admit(user, cap, metas[i % 3] as AdmitMeta)),
      );
      const progress = await task.progress();
      sample(progress);
      expect(progress.admitted).toBe(Math.min(cap, poolSize));
      expect(progress.reserved).toBe(0);
      expect(again.filter((r) => r.admitted)).toHaveLength(progress.admitted);
      const final = await stored(task);
      expect(final.users).toHaveLength(progress.admitted);
      expect(final.counter).toEqual({ admitted: progress.admitted, reserved: 0 });
      expect(new Set(final.users.map((u) => u.user_key))).toEqual(
        new Set(pool.filter((_, i) => again[i]!.admitted)),
      );
      const sum = (tally: Record<string, number>) => Object.values(tally).reduce((n, v) => n + v, 0);
      expect(sum(progress.byHostApp)).toBe(progress.admitted);
      expect(sum(progress.byPlatform)).toBe(progress.admitted);
      expect(progress.byHour.reduce((n, h) => n + h.admitted, 0)).toBe(progress.admitted);

      expect(seen.maxTaken).toBeLessThanOrEqual(cap);
      expect(seen.minReserved).toBeGreaterThanOrEqual(0);
      return seen;
    }

    it("never lets admitted + reserved pass the cap, and fills it exactly, with more users than the cap", async () => {
      const seen = await simulate("leases-busy", 50, 120, 7);
      // The run exercised what it claims to: leases granted and refused, duplicates, replays, many samples.
      expect(seen.leases).toBeGreaterThan(3);
      expect(seen.refusedLeases).toBeGreaterThan(0);
      expect(seen.duplicates).toBeGreaterThan(0);
      expect(seen.replays).toBeGreaterThan(0);
      expect(seen.samples).toBeGreaterThan(20);
    });

    it("admits every user when there are fewer users than the cap", async () => {
      const seen = await simulate("leases-few", 50, 35, 11);
      expect(seen.leases).toBeGreaterThan(3);
      expect(seen.duplicates).toBeGreaterThan(0);
    });
  });

  describe("arguments", () => {
    it("refuses a malformed lease request, reserving nothing", async () => {
      const task = counter("lease-args");
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        await expect(instance.lease(-1, 1)).rejects.toThrow(/cap/);
        await expect(instance.lease(1.5, 1)).rejects.toThrow(/cap/);
        await expect(instance.lease("100" as unknown as number, 1)).rejects.toThrow(/cap/);
        await expect(instance.lease(100_000, 0)).rejects.toThrow(/want/);
        await expect(instance.lease(100_000, -3)).rejects.toThrow(/want/);
        await expect(instance.lease(100_000, 2.5)).rejects.toThrow(/want/);
        await expect(instance.lease(100_000, MAX_LEASE + 1)).rejects.toThrow(/want/);
        await expect(instance.lease(100_000, 1, MIN_LEASE_TTL_MS - 1)).rejects.toThrow(/ttlMs/);
        await expect(instance.lease(100_000, 1, MAX_LEASE_TTL_MS + 1)).rejects.toThrow(/ttlMs/);
        await expect(instance.lease(100_000, 1, 1500.5)).rejects.toThrow(/ttlMs/);
        await expect(instance.lease(100_000, 1, 0)).rejects.toThrow(/ttlMs/);
      });
      expect((await stored(task)).leases).toEqual([]);
      expect(await task.progress()).toMatchObject({ admitted: 0, reserved: 0 });
      // The bounds themselves are accepted.
      expect(await task.lease(100_000, MAX_LEASE, MAX_LEASE_TTL_MS)).toMatchObject({ granted: MAX_LEASE });
      expect(await task.lease(100_000, 1, MIN_LEASE_TTL_MS)).toMatchObject({ granted: 1 });
      expect(await task.progress()).toMatchObject({ reserved: MAX_LEASE + 1 });
    });

    it("refuses a malformed settle, changing nothing", async () => {
      const task = counter("settle-args");
      // More slots than one batch may carry, so a batch too large is refused for its size alone.
      const lease = await task.lease(8 * MAX_SETTLE_BATCH, 2 * MAX_SETTLE_BATCH);
      expect(lease).toMatchObject({ granted: 2 * MAX_SETTLE_BATCH });
      const id = lease!.id;
      const good = admission("ok");
      const before = { progress: await task.progress(), state: await stored(task) };
      await runInDurableObject(task, async (instance: GrayscaleCounter) => {
        const bad = (a: unknown) => instance.settle(id, 0, [good, a as LeasedAdmission], false);
        await expect(instance.settle("", 0, [good], false)).rejects.toThrow(/leaseId/);
        await expect(instance.settle("x".repeat(65), 0, [good], false)).rejects.toThrow(/leaseId/);
        await expect(instance.settle(id, -1, [good], false)).rejects.toThrow(/batch/);
        await expect(instance.settle(id, 0.5, [good], false)).rejects.toThrow(/batch/);
        await expect(instance.settle(id, 0, "ok" as unknown as LeasedAdmission[], false)).rejects.toThrow(
          /admissions must be an array/,
        );
        await expect(
          instance.settle(id, 0, { 0: good, length: 1 } as unknown as LeasedAdmission[], false),
        ).rejects.toThrow(/admissions must be an array/);
        await expect(instance.settle(id, 0, null as unknown as LeasedAdmission[], false)).rejects.toThrow(
          /admissions must be an array/,
        );
        const tooMany = Array.from({ length: MAX_SETTLE_BATCH + 1 }, (_, i) => admission(`many-${i}`));
        await expect(instance.settle(id, 0, tooMany, false)).rejects.toThrow(
          new RegExp(`at most ${MAX_SETTLE_BATCH}`),
        );
        await expect(bad(null)).rejects.toThrow(/userKey/);
        await expect(bad({ ...good, userKey: "" })).rejects.toThrow(/userKey/);
        await expect(bad({ ...good, userKey: "u".repeat(257) })).rejects.toThrow(/userKey/);
        await expect(bad({ ...good, userKey: 42 })).rejects.toThrow(/userKey/);
        await expect(bad({ ...good, userKey: "b", hostAppId: "" })).rejects.toThrow(
          /admissions\[1\]\.hostAppId/,
        );
        await expect(bad({ ...good, userKey: "b", hostAppId: "h".repeat(65) })).rejects.toThrow(
          /admissions\[1\]\.hostAppId/,
        );
        await expect(bad({ ...good, userKey: "b", platform: "windows" })).rejects.toThrow(
          /admissions\[1\]\.platform/,
        );
        await expect(bad({ userKey: "b", hostAppId: "ha_one", at: AT })).rejects.toThrow(
          /admissions\[1\]\.platform/,
        );
        await expect(bad({ ...good, userKey: "b", at: -1 })).rejects.toThrow(/admissions\[1\]\.at/);
        await expect(bad({ ...good, userKey: "b", at: AT + 0.5 })).rejects.toThrow(/admissions\[1\]\.at/);
        await expect(bad({ ...good, userKey: "b", at: String(AT) })).rejects.toThrow(/admissions\[1\]\.at/);
        await expect(bad({ ...good, userKey: "b", at: Number.NaN })).rejects.toThrow(/admissions\[1\]\.at/);
        await expect(bad({ ...good, userKey: "b", at: undefined })).rejects.toThrow(/admissions\[1\]\.at/);
      });
      expect({ progress: await task.progress(), state: await stored(task) }).toEqual(before);
      // The largest batch is accepted, as batch 0: none of the refusals used up a batch number.
      const full = Array.from({ length: MAX_SETTLE_BATCH }, (_, i) => admission(`full-${i}`));
      expect(await task.settle(id, 0, full, true)).toEqual({
        admitted: MAX_SETTLE_BATCH,
        duplicates: 0,
        count: MAX_SETTLE_BATCH,
      });
      expect(await task.progress()).toMatchObject({ admitted: MAX_SETTLE_BATCH, reserved: 0 });
    });
  });

  it("lease: asked again with the same id (its answer was lost), returns the same lease and reserves nothing more", async () => {
    const task = counter("lease-retry");
    const first = await task.lease(400, 10, 5_000, "isolate-lease-1");
    expect(first).toMatchObject({ id: "isolate-lease-1", granted: 10 });
    expect(await task.lease(400, 50, 5_000, "isolate-lease-1")).toEqual(first);
    expect(await task.progress()).toMatchObject({ admitted: 0, reserved: 10 });
    const other = await task.lease(400, 10, 5_000, "isolate-lease-2");
    expect(other).toMatchObject({ id: "isolate-lease-2", granted: 10 });
    expect(await task.progress()).toMatchObject({ reserved: 20 });
    await runInDurableObject(task, async (instance: GrayscaleCounter) => {
      await expect(instance.lease(400, 10, 5_000, "not an id!")).rejects.toThrow(/id must be/);
      await expect(instance.lease(400, 10, 25_001)).rejects.toThrow(/ttlMs/);
    });
  });

  describe("stranded leases", () => {
    /** Moves a lease's end into the past, as if its holder had gone quiet that long ago. */
    const endedAgo = (task: ReturnType<typeof counter>, id: string, ms: number) =>
      runInDurableObject(task, (_i: GrayscaleCounter, state) => {
        state.storage.sql.exec("UPDATE leases SET expires_at = ? WHERE id = ?", Date.now() - ms, id);
      });

    it("the alarm closes a lease left open past its end: its unsettled slots count as used, never as free", async () => {
      const task = counter("stranded-alarm");
      const lease = await task.lease(40, 8, 5_000, "holder-died");
      expect(await task.settle(lease!.id, 0, [admission("s1")], false)).toMatchObject({ admitted: 1 });
      // Not late enough yet: the alarm leaves it open.
      await endedAgo(task, lease!.id, STRANDED_AFTER_MS - 30_000);
      expect(await runDurableObjectAlarm(task)).toBe(true);
      expect(await task.progress()).toMatchObject({ admitted: 1, reserved: 7, stranded: 0 });
      await endedAgo(task, lease!.id, STRANDED_AFTER_MS + 1);
      expect(await runDurableObjectAlarm(task)).toBe(true);
      expect(await task.progress()).toMatchObject({ admitted: 1, reserved: 0, stranded: 7 });
      // 40 - 1 admitted - 7 stranded = 32 free: a new lease gets a quarter of that, direct admits the rest.
      expect(await task.lease(40, 100)).toMatchObject({ granted: 8 });
      for (let i = 0; i < 24; i++)
        expect(await task.admit(`d${i}`, 40, ANDROID)).toMatchObject({ admitted: true });
      expect(await task.admit("one-too-many", 40, ANDROID)).toMatchObject({ admitted: false });
    });

    it("a holder that reports after all is recorded, and what it did not use comes back", async () => {
      const task = counter("stranded-late");
      const lease = await task.lease(40, 8, 5_000, "holder-late");
      await endedAgo(task, lease!.id, STRANDED_AFTER_MS + 1);
      await runDurableObjectAlarm(task);
      expect(await task.progress()).toMatchObject({ reserved: 0, stranded: 8 });
      // Its users were real: recorded; a duplicate and the unused slots go back to the free pool.
      await task.admit("known", 40, IOS);
      expect(await task.settle(lease!.id, 0, [admission("late-1"), admission("known")], false)).toEqual({
        admitted: 1,
        duplicates: 1,
        count: 2,
      });
      expect(await task.progress()).toMatchObject({ admitted: 2, reserved: 0, stranded: 6 });
      expect(await task.settle(lease!.id, 1, [], true)).toMatchObject({ admitted: 0 });
      expect(await task.progress()).toMatchObject({ admitted: 2, reserved: 0, stranded: 0 });
      expect(await task.isAdmitted("late-1")).toBe(true);
    });

    it("keeps the alarm set while any lease is open", async () => {
      const task = counter("stranded-next");
      const first = await task.lease(400, 8, 1_000);
      const second = await task.lease(400, 8, 15_000);
      await endedAgo(task, first!.id, STRANDED_AFTER_MS + 1);
      await runDurableObjectAlarm(task);
      expect(await task.progress()).toMatchObject({ reserved: 8, stranded: 8 });
      const alarm = await runInDurableObject(task, (_i: GrayscaleCounter, state) => state.storage.getAlarm());
      expect(alarm).toBe(second!.expiresAt + STRANDED_AFTER_MS);
    });
  });

  it("the end of a lease whose grant never reached its holder may come first: the id stays ended, a late grant under it is refused", async () => {
    const task = counter("lease-tombstone");
    expect(await task.settle("ghost-1", 0, [], true)).toEqual({ admitted: 0, duplicates: 0, count: 0 });
    // Replayed: the same answer.
    expect(await task.settle("ghost-1", 0, [], true)).toEqual({ admitted: 0, duplicates: 0, count: 0 });
    expect(await task.lease(400, 8, 5_000, "ghost-1")).toBeNull();
    expect(await task.progress()).toMatchObject({ reserved: 0, stranded: 0 });
    // Granted first and ended after: the ordinary way, slots back.
    const lease = await task.lease(400, 8, 5_000, "ghost-2");
    expect(lease).toMatchObject({ granted: 8 });
    expect(await task.settle("ghost-2", 0, [], true)).toMatchObject({ admitted: 0 });
    expect(await task.progress()).toMatchObject({ reserved: 0 });
  });

  it("an object at schema step 3 (leases without stranded slots) gains the column and keeps its open leases", async () => {
    const task = counter("schema-3");
    const lease = await task.lease(100, 8);
    await runInDurableObject(task, async (_instance: GrayscaleCounter, state) => {
      const sql = state.storage.sql;
      sql.exec("DROP INDEX leases_by_state");
      for (const table of [
        "health_seen",
        "health_bucket",
        "health_crash",
        "shard_config",
        "shard_grants",
        "shard_self",
      ])
        sql.exec(`DROP TABLE ${table}`);
      sql.exec("CREATE TABLE counter_old AS SELECT id, admitted, reserved FROM counter");
      sql.exec("DROP TABLE counter");
      sql.exec(
        "CREATE TABLE counter (id INTEGER PRIMARY KEY CHECK (id = 1), admitted INTEGER NOT NULL, reserved INTEGER NOT NULL DEFAULT 0)",
      );
      sql.exec("INSERT INTO counter SELECT * FROM counter_old");
      sql.exec("DROP TABLE counter_old");
      sql.exec("UPDATE schema_version SET version = 3");
      new GrayscaleCounter(state, edgeEnv);
      await state.blockConcurrencyWhile(async () => {});
      expect(sql.exec<{ version: number }>("SELECT version FROM schema_version").one().version).toBe(6);
    });
    expect(await task.progress()).toMatchObject({ admitted: 0, reserved: 8, stranded: 0 });
    expect(await task.settle(lease!.id, 0, [admission("after-upgrade")], true)).toMatchObject({
      admitted: 1,
    });
    expect(await task.progress()).toMatchObject({ admitted: 1, reserved: 0, stranded: 0 });
  });
});
