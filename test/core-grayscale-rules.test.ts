import { describe, expect, it } from "vitest";
import type { ClientContext } from "../core/decide";
import { isLooseVersion, versionInRange } from "../core/grayscale/match";
import {
  evaluateTask,
  isTaskEligible,
  ROLLOUT_BUCKETS,
  rolloutBucket,
  taskUserKey,
  userKeyOf,
} from "../core/grayscale/rules";
import type {
  CompiledTask,
  ConditionName,
  Geo,
  IncludeExclude,
  TaskVerdict,
  WhitelistRef,
} from "../core/grayscale/types";
import { compareLoose, parseLooseVersion } from "../core/semver";

const START = 1_000_000;
const END = 2_000_000;
const NOW = 1_500_000;

function task(overrides: Partial<CompiledTask> = {}): CompiledTask {
  return {
    id: "task-1",
    version: "1.3.0",
    package: { sha256: "a".repeat(64), size: 100 },
    phase: "admitting",
    startAt: START,
    endAt: END,
    userCap: null,
    percentageBp: null,
    hostApps: { host1: [null, null] },
    platforms: { android: [null, null], ios: [null, null] },
    targets: null,
    networks: null,
    brands: null,
    models: null,
    countries: null,
    regions: null,
    cities: null,
    ...overrides,
  };
}

function client(overrides: Partial<ClientContext> = {}): ClientContext {
  return {
    appId: "app",
    hostAppId: "host1",
    hostAppVersion: "8.0.0",
    platform: "android",
    osVersion: "14",
    guid: "G-1",
    ...overrides,
  };
}

const NO_WHITELIST = () => false;

function verdict(
  t: CompiledTask,
  c: ClientContext = client(),
  geo: Geo = {},
  now = NOW,
  wl: (ref: WhitelistRef) => boolean = NO_WHITELIST,
): TaskVerdict {
  const v = evaluateTask(t, c, geo, now, wl);
  // the hot-path form must always give the same answer
  expect(isTaskEligible(t, c, geo, now, wl)).toBe(v.eligible);
  return v;
}

function passOf(v: TaskVerdict, name: ConditionName): boolean {
  const found = v.conditions.find((c) => c.condition === name);
  if (!found) throw new Error(`no ${name} condition`);
  return found.pass;
}

/** The failing conditions of a verdict, in order. */
const failing = (v: TaskVerdict) => v.conditions.filter((c) => !c.pass).map((c) => c.condition);

/** Deterministic PRNG (mulberry32) so invariant tests are reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("userKeyOf", () => {
  it.each([
    [{ guid: "G", deviceId: "D", account: "A" }, "g:G"],
    [{ guid: undefined, deviceId: "D", account: "A" }, "d:D"],
    [{ guid: undefined, deviceId: undefined, account: "A" }, "a:A"],
    [{ guid: "", deviceId: "", account: "A" }, "a:A"],
    [{ guid: undefined, deviceId: undefined, account: undefined }, undefined],
  ])("%o -> %s (GUID, else device id, else account)", (ids, expected) => {
    expect(userKeyOf(client(ids))).toBe(expected);
  });
});

describe("evaluateTask: shape", () => {
  it("reports one result per condition, in a fixed order", () => {
    const v = verdict(task());
    expect(v.conditions.map((c) => c.condition)).toEqual([
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
    expect(v).toMatchObject({ taskId: "task-1", version: "1.3.0", eligible: true, stickyOnly: false });
    for (const c of v.conditions) expect(c.detail.length).toBeGreaterThan(0);
  });

  it("is stable: the same input gives the same verdict", () => {
    const t = task({ percentageBp: 5000, brands: { include: ["xiaomi"] }, hostApps: { host1: [[8], [9]] } });
    const c = client({ brand: "Xiaomi" });
    expect(verdict(t, c)).toEqual(verdict(t, c));
  });
});

describe("evaluateTask: phase", () => {
  it("a sticky task is reported stickyOnly and is not eligible for new users, though every rule holds", () => {
    const v = verdict(task({ phase: "sticky" }));
    expect(v.stickyOnly).toBe(true);
    expect(v.eligible).toBe(false);
    expect(failing(v)).toEqual(["phase"]);
  });
});

describe("evaluateTask: time_window (startAt inclusive, endAt exclusive)", () => {
  it.each([
    [START - 1, false],
    [START, true],
    [END - 1, true],
    [END, false],
    [END + 86_400_000, false],
  ])("now = %d -> %s, even while the control plane still says admitting", (now, pass) => {
    const v = verdict(task(), client(), {}, now);
    expect(passOf(v, "time_window")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });
});

describe("evaluateTask: host_app and host_app_version", () => {
  it("a host app the task does not name fails both host app conditions", () => {
    const v = verdict(task(), client({ hostAppId: "host2" }));
    expect(failing(v)).toEqual(["host_app", "host_app_version"]);
  });

  it.each(["__proto__", "constructor", "toString"])(
    "an inherited property name %s is not a targeted host app",
    (id) => {
      expect(verdict(task(), client({ hostAppId: id })).eligible).toBe(false);
    },
  );

  const R = (min: string | null, max: string | null): [number[] | null, number[] | null] => [
    min === null ? null : (parseLooseVersion(min) as number[]),
    max === null ? null : (parseLooseVersion(max) as number[]),
  ];
  it.each([
    // [min, max, client version, pass]
    ["8.0", "9.0", "8.0", true], // min inclusive
    ["8.0", "9.0", "8", true], // missing parts count as 0
    ["8.0", "9.0", "8.0.0.0.0", true],
    ["8.0", "9.0", "9.0", true], // max inclusive
    ["8.0", "9.0", "9.0.0.1", false],
    ["8.0", "9.0", "7.99.99", false],
    ["8.0", "9.0", "8.5.3", true],
    ["8.1", null, "8.0.1", false],
    ["8.1", null, "100", true],
    [null, "8.1", "8.1.0", true],
    [null, "8.1", "8.10", false], // numeric, not string order
    ["8.0", "9.0", "08.1", true], // digits, as parseLooseVersion reads them
    ["8.0", null, "8.x", false], // malformed fails a bounded range
    [null, "9.0", "", false],
    ["8.0", "9.0", "8.0.0.0.0.0", false], // six parts: malformed
    ["8.0", "9.0", "1234567890", false], // ten digits: malformed
    ["8.0", "9.0", "8..0", false],
    ["8.0", "9.0", "8.0.", false],
    ["8.0", "9.0", " 8.0", false],
    [null, null, "8.x", true], // an unbounded range accepts a malformed version
    [null, null, "", true],
  ])("app range [%s, %s], client %j -> %s", (min, max, version, pass) => {
    const v = verdict(task({ hostApps: { host1: R(min, max) } }), client({ hostAppVersion: version }));
    expect(passOf(v, "host_app")).toBe(true);
    expect(passOf(v, "host_app_version")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });

  it("each host app has its own range", () => {
    const t = task({ hostApps: { host1: R("8.0", null), host2: R(null, "3.0") } });
    expect(verdict(t, client({ hostAppId: "host1", hostAppVersion: "5.0" })).eligible).toBe(false);
    expect(verdict(t, client({ hostAppId: "host2", hostAppVersion: "5.0" })).eligible).toBe(false);
    expect(verdict(t, client({ hostAppId: "host2", hostAppVersion: "2.9" })).eligible).toBe(true);
  });
});

describe("evaluateTask: platform and os_version", () => {
  it("a platform the task does not name fails both platform conditions", () => {
    const v = verdict(task({ platforms: { android: [null, null] } }), client({ platform: "ios" }));
    expect(failing(v)).toEqual(["platform", "os_version"]);
  });

  it.each([
    ["13", true],
    ["13.0.0", true],
    ["12.9", false],
    ["17.4.1", true],
    ["17.4.2", false],
    ["17.4.1.1", false],
    ["14-beta", false],
  ])("iOS range [13, 17.4.1], client %s -> %s", (os, pass) => {
    const t = task({ platforms: { ios: [[13], [17, 4, 1]], android: [[10], null] } });
    const v = verdict(t, client({ platform: "ios", osVersion: os }));
    expect(passOf(v, "os_version")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });

  it("the Android range does not apply to iOS clients", () => {
    const t = task({ platforms: { ios: [null, null], android: [[10], null] } });
    expect(verdict(t, client({ platform: "ios", osVersion: "9" })).eligible).toBe(true);
    expect(verdict(t, client({ platform: "android", osVersion: "9" })).eligible).toBe(false);
  });
});

describe("evaluateTask: target (GUID, device id and account name one user)", () => {
  const listed = task({
    targets: { inline: { guid: ["G-1", "G-2"], deviceId: ["D-1"], account: ["alice"] }, whitelists: [] },
  });

  it.each([
    [{ guid: "G-2" }, true],
    [{ guid: "G-9", deviceId: "D-1" }, true], // any of the user's names
    [{ guid: "G-9", deviceId: "D-9", account: "alice", verifiedAccount: true }, true],
    [{ guid: undefined, account: "alice", verifiedAccount: true }, true],
    [{ guid: undefined, account: "alice" }, false], // issue 10: an account the host app did not vouch for names nobody
    [{ guid: "G-9", account: "alice", verifiedAccount: false }, false],
    [{ guid: "g-1" }, false], // values are exact: case-sensitive
    [{ guid: "G-9", deviceId: "D-9", account: "bob" }, false],
    [{ guid: undefined }, false], // no identity at all
    [{ guid: "D-1" }, false], // a device id listed is not a GUID
  ])("%o -> %s", (ids, pass) => {
    const v = verdict(listed, client(ids));
    expect(passOf(v, "target")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });

  it("null targets: every user passes, even one without any id", () => {
    expect(passOf(verdict(task(), client({ guid: undefined })), "target")).toBe(true);
  });

  const wlAccounts: WhitelistRef = {
    id: "wl-acc",
    kind: "account",
    count: 3,
    seed: 1,
    bloomBits: 64,
    bloomHashes: 3,
    shards: 1,
  };
  const wlGuids: WhitelistRef = { ...wlAccounts, id: "wl-guid", kind: "guid" };
  const withWhitelists = task({ targets: { inline: {}, whitelists: [wlGuids, wlAccounts] } });

  it("asks an uploaded whitelist only about the kind the client sent, and passes on membership", () => {
    const asked: string[] = [];
    const member = (ref: WhitelistRef) => {
      asked.push(ref.id);
      return ref.id === "wl-acc";
    };
    expect(
      passOf(
        verdict(
          withWhitelists,
          client({ guid: "G-1", account: "alice", verifiedAccount: true }),
          {},
          NOW,
          member,
        ),
        "target",
      ),
    ).toBe(true);
    expect(asked).toContain("wl-guid");
    expect(asked).toContain("wl-acc");

    // An unverified account is never looked up in an account whitelist.
    asked.length = 0;
    expect(
      passOf(
        verdict(withWhitelists, client({ guid: undefined, account: "alice" }), {}, NOW, member),
        "target",
      ),
    ).toBe(false);
    expect(asked).toEqual([]);

    asked.length = 0;
    expect(
      passOf(
        verdict(withWhitelists, client({ guid: undefined, deviceId: "D-1" }), {}, NOW, member),
        "target",
      ),
    ).toBe(false);
    expect(asked).toEqual([]);
  });

  it("a client in no whitelist fails", () => {
    expect(
      passOf(
        verdict(withWhitelists, client({ account: "bob" }), {}, NOW, () => false),
        "target",
      ),
    ).toBe(false);
  });

  it("the detail names the whitelist that matched", () => {
    const v = verdict(
      withWhitelists,
      client({ guid: undefined, account: "alice", verifiedAccount: true }),
      {},
      NOW,
      (ref) => ref.id === "wl-acc",
    );
    expect(v.conditions.find((c) => c.condition === "target")?.detail).toContain("wl-acc");
  });
});

describe("evaluateTask: network", () => {
  it.each([
    [null, undefined, true],
    [null, "2g", true],
    [["wifi", "5g"], "wifi", true],
    [["wifi", "5g"], "4g", false],
    [["wifi", "5g"], undefined, false], // unknown network fails a non-null list
  ] as const)("task %j, client %s -> %s", (networks, network, pass) => {
    const v = verdict(task({ networks: networks === null ? null : [...networks] }), client({ network }));
    expect(passOf(v, "network")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });
});

describe("evaluateTask: advanced include/exclude rules (case-insensitive)", () => {
  const rules: [IncludeExclude, string | undefined, boolean][] = [
    // [rule, value, pass]
    [{ include: ["xiaomi", "huawei"] }, "Xiaomi", true],
    [{ include: ["xiaomi", "huawei"] }, "XIAOMI", true],
    [{ include: ["xiaomi", "huawei"] }, "Apple", false],
    [{ include: ["xiaomi", "huawei"] }, undefined, false], // include needs a value
    [{ include: ["xiaomi", "huawei"] }, "", false],
    [{ exclude: ["xiaomi"] }, "XiaoMi", false],
    [{ exclude: ["xiaomi"] }, "Oppo", true],
    [{ exclude: ["xiaomi"] }, undefined, true], // missing value passes an exclude-only rule
    [{ include: ["xiaomi", "huawei"], exclude: ["huawei"] }, "Huawei", false], // both: exclude wins
    [{ include: ["xiaomi", "huawei"], exclude: ["huawei"] }, "xiaomi", true],
    [{ include: ["xiaomi"], exclude: ["huawei"] }, "oppo", false],
    [{ include: [], exclude: [] }, undefined, true],
  ];

  it.each(rules)("brand rule %j, client brand %j -> %s", (rule, value, pass) => {
    const v = verdict(task({ brands: rule }), client({ brand: value }));
    expect(passOf(v, "brand")).toBe(pass);
    expect(v.eligible).toBe(pass);
  });

  it("model rules read the client's model", () => {
    const t = task({ models: { include: ["mi 14"] } });
    expect(verdict(t, client({ model: "MI 14" })).eligible).toBe(true);
    expect(verdict(t, client({ model: "MI 13" })).eligible).toBe(false);
  });

  const geoRules: [ConditionName, Partial<CompiledTask>, Geo, Geo][] = [
    ["country", { countries: { include: ["cn", "sg"] } }, { country: "SG" }, { country: "US" }],
    ["region", { regions: { exclude: ["california"] } }, { region: "Oregon" }, { region: "California" }],
    ["city", { cities: { include: ["shenzhen"] } }, { city: "Shenzhen" }, {}],
  ];
  it.each(geoRules)("%s rules read the edge's geolocation", (name, rule, good, bad) => {
    const t = task(rule);
    expect(verdict(t, client(), good).eligible).toBe(true);
    const v = verdict(t, client(), bad);
    expect(failing(v)).toEqual([name]);
  });
});

describe("evaluateTask: percentage and user_id", () => {
  it("no percentage and no cap: a client without any id is eligible", () => {
    const v = verdict(task(), client({ guid: undefined }));
    expect(v.eligible).toBe(true);
  });

  it.each([
    [{ userCap: 10 }, ["user_id"]],
    [{ percentageBp: 10_000 }, ["percentage", "user_id"]],
  ])("%o: a client without a GUID, device id or account cannot be counted", (overrides, failed) => {
    const v = verdict(task(overrides), client({ guid: undefined }));
    expect(failing(v)).toEqual(failed);
  });

  it("admits exactly the users whose bucket is below the percentage", () => {
    const t = task({ percentageBp: 3000 });
    for (let i = 0; i < 500; i++) {
      const c = client({ guid: `user-${i}` });
      const bucket = rolloutBucket(t.id, userKeyOf(c) as string);
      const v = verdict(t, c);
      expect(passOf(v, "percentage")).toBe(bucket < 3000);
    }
  });

  it("the boundary is exclusive: a user in bucket b is out at b basis points and in at b + 1", () => {
    let guid = "";
    for (let i = 0; guid === ""; i++)
      if (rolloutBucket("task-1", `g:probe-${i}`) === 4321) guid = `probe-${i}`;
    expect(verdict(task({ percentageBp: 4321 }), client({ guid })).eligible).toBe(false);
    expect(verdict(task({ percentageBp: 4322 }), client({ guid })).eligible).toBe(true);
  });

  it("100% admits everyone with an id", () => {
    for (let i = 0; i < 200; i++)
      expect(verdict(task({ percentageBp: 10_000 }), client({ guid: `u${i}` })).eligible).toBe(true);
  });
});

describe('evaluateTask: all conditions intersect (seed: "The intersection between multiple grayscale conditions is taken.")', () => {
  const full = task({
    userCap: 100,
    percentageBp: 10_000,
    hostApps: { host1: [[8], [9]] },
    platforms: { android: [[13], null] },
    targets: { inline: { guid: ["G-1"] }, whitelists: [] },
    networks: ["wifi"],
    brands: { include: ["xiaomi"] },
    models: { exclude: ["mi 5"] },
    countries: { include: ["cn"] },
    regions: { include: ["guangdong"] },
    cities: { include: ["shenzhen"] },
  });
  const good = client({ network: "wifi", brand: "Xiaomi", model: "Mi 14" });
  const geo: Geo = { country: "CN", region: "Guangdong", city: "Shenzhen" };

  it("passes when every condition holds", () => {
    expect(verdict(full, good, geo).eligible).toBe(true);
  });

  it.each([
    ["phase", { ...full, phase: "sticky" }, good, geo, NOW],
    ["time_window", full, good, geo, END],
    ["host_app_version", full, { ...good, hostAppVersion: "9.1" }, geo, NOW],
    ["os_version", full, { ...good, osVersion: "12" }, geo, NOW],
    ["target", full, { ...good, guid: "G-2" }, geo, NOW],
    ["network", full, { ...good, network: "4g" }, geo, NOW],
    ["brand", full, { ...good, brand: "Oppo" }, geo, NOW],
    ["model", full, { ...good, model: "MI 5" }, geo, NOW],
    ["country", full, good, { ...geo, country: "SG" }, NOW],
    ["region", full, good, { ...geo, region: "Beijing" }, NOW],
    ["city", full, good, { ...geo, city: "Guangzhou" }, NOW],
  ] as const)("one failing condition (%s) makes the task ineligible", (name, t, c, g, now) => {
    const v = verdict(t as CompiledTask, c as ClientContext, g, now);
    expect(v.eligible).toBe(false);
    expect(failing(v)).toEqual([name]);
  });
});

describe("isTaskEligible agrees with evaluateTask", () => {
  it("over random tasks and clients", () => {
    const r = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const ranges: [number[] | null, number[] | null][] = [
      [null, null],
      [[8], null],
      [null, [9, 1]],
      [
        [8, 0, 5],
        [8, 9],
      ],
    ];
    const lists = [null, { include: ["a"] }, { exclude: ["b"] }, { include: ["a", "b"], exclude: ["b"] }];
    let eligibleCount = 0;
    for (let i = 0; i < 20_000; i++) {
      const t = task({
        phase: r() < 0.9 ? "admitting" : "sticky",
        userCap: pick([null, 5]),
        percentageBp: pick([null, 5000, 10_000]),
        hostApps: { host1: pick(ranges) },
        platforms: pick([{ android: pick(ranges) }, { android: pick(ranges), ios: pick(ranges) }]),
        targets: pick([null, { inline: { guid: ["g1"], account: ["a1"] }, whitelists: [] }]),
        networks: pick([null, ["wifi" as const]]),
        brands: pick(lists),
        cities: pick(lists),
        ...(r() < 0.3 ? { verifiedOnly: true as const } : {}),
      });
      const c = client({
        hostAppId: pick(["host1", "host2"]),
        hostAppVersion: pick(["8", "8.0.5", "8.9.1", "9.1", "x"]),
        platform: pick(["android", "ios"] as const),
        osVersion: pick(["8", "9.1", "bad"]),
        guid: pick([undefined, "g1", "g2"]),
        account: pick([undefined, "a1"]),
        verifiedAccount: pick([undefined, true, false]),
        network: pick([undefined, "wifi", "4g"] as const),
        brand: pick([undefined, "A", "B", "c"]),
      });
      const geo = { city: pick([undefined, "a", "B"]) };
      const now = pick([START - 1, START, NOW, END]);
      if (verdict(t, c, geo, now).eligible) eligibleCount++;
    }
    // the sample must exercise both answers
    expect(eligibleCount).toBeGreaterThan(100);
    expect(eligibleCount).toBeLessThan(19_900);
  });
});

describe("verified-only tasks (issue 10)", () => {
  const capped = task({ userCap: 10, verifiedOnly: true });

  it.each([
    [{ guid: "G-1" }, false, "no account at all"],
    [{ guid: "G-1", account: "alice" }, false, "an account nobody vouched for"],
    [{ guid: "G-1", account: "alice", verifiedAccount: false }, false, "explicitly unverified"],
    [{ guid: undefined, account: "alice", verifiedAccount: true }, true, "a verified account"],
    [{ guid: "G-1", account: "alice", verifiedAccount: true }, true, "a verified account, with a GUID"],
  ])("%o -> %s (%s)", (ids, pass, _why) => {
    const v = verdict(capped, client(ids));
    expect(passOf(v, "verified_user")).toBe(pass);
    expect(v.eligible).toBe(pass);
    expect(isTaskEligible(capped, client(ids), {}, NOW, () => false)).toBe(pass);
  });

  it("counts and hashes a verified user by the account, whatever GUID the device sends", () => {
    const a = client({ guid: "phone", account: "alice", verifiedAccount: true });
    const b = client({ guid: "tablet", account: "alice", verifiedAccount: true });
    expect(taskUserKey(capped, a)).toBe("a:alice");
    expect(taskUserKey(capped, b)).toBe("a:alice");
    expect(taskUserKey(capped, client({ guid: "phone", account: "alice" }))).toBeUndefined();
    // A task that is not verified-only keeps the GUID first.
    expect(taskUserKey(task({ userCap: 10 }), a)).toBe("g:phone");
    const rollout = task({ percentageBp: 5000, verifiedOnly: true });
    expect(passOf(verdict(rollout, a), "percentage")).toBe(passOf(verdict(rollout, b), "percentage"));
  });

  it("explains the refusal: the account is not verified", () => {
    const v = verdict(capped, client({ guid: "G-1", account: "alice" }));
    expect(v.conditions.find((c) => c.condition === "verified_user")?.detail).toMatch(
      /alice is not verified/,
    );
    expect(passOf(v, "user_id")).toBe(false);
  });
});

describe("loose version range check", () => {
  it("reads exactly the grammar of parseLooseVersion and orders like compareLoose", () => {
    const r = rng(11);
    const alphabet = "0123456789..x ";
    for (let i = 0; i < 20_000; i++) {
      const len = Math.floor(r() * 14);
      let text = "";
      for (let j = 0; j < len; j++) text += alphabet[Math.floor(r() * alphabet.length)];
      const parsed = parseLooseVersion(text);
      expect(isLooseVersion(text)).toBe(parsed !== undefined);
      // bounds of 1..5 parts (shorter and longer than the text), either end sometimes open
      const bound = (base: number) =>
        r() < 0.15
          ? null
          : Array.from(
              { length: 1 + Math.floor(r() * 5) },
              (_, k) => (k === 0 ? base : 0) + Math.floor(r() * 3),
            );
      const min = bound(Math.floor(r() * 10));
      const max = bound(Math.floor(r() * 10) + 5);
      const expected =
        (min === null && max === null) ||
        (parsed !== undefined &&
          (min === null || compareLoose(parsed, min) >= 0) &&
          (max === null || compareLoose(parsed, max) <= 0));
      expect(versionInRange(text, [min, max])).toBe(expected);
    }
  });
});

describe("rollout buckets: invariants", () => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `g:user-${i}-${(i * 2654435761) >>> 0}`);

  it("are stable and in 0..9999", () => {
    for (const k of keys.slice(0, 1000)) {
      const b = rolloutBucket("task-x", k);
      expect(b).toBe(rolloutBucket("task-x", k));
      expect(Number.isInteger(b) && b >= 0 && b < ROLLOUT_BUCKETS).toBe(true);
    }
  });

  it("depend on the task: the same users land elsewhere in another task", () => {
    const same = keys
      .slice(0, 1000)
      .filter((k) => rolloutBucket("task-a", k) === rolloutBucket("task-b", k)).length;
    expect(same).toBeLessThan(5);
  });

  it("widening the percentage never drops a user", () => {
    const steps = [0, 1, 10, 100, 500, 1000, 2500, 5000, 7500, 9999, 10_000];
    const admitted = (bp: number) => {
      const t = task({ percentageBp: bp, id: "task-widen" });
      return new Set(
        keys.filter((k) => isTaskEligible(t, client({ guid: k.slice(2) }), {}, NOW, NO_WHITELIST)),
      );
    };
    let previous = admitted(steps[0] as number);
    for (const bp of steps.slice(1)) {
      const next = admitted(bp);
      for (const k of previous) expect(next.has(k)).toBe(true);
      expect(next.size).toBeGreaterThanOrEqual(previous.size);
      previous = next;
    }
    expect(previous.size).toBe(keys.length);
  });

  it("are roughly uniform (chi-square over 100 bins, and the admitted share matches the percentage)", () => {
    const bins = new Array<number>(100).fill(0);
    const many = 100_000;
    let below2500 = 0;
    for (let i = 0; i < many; i++) {
      const b = rolloutBucket("task-uniform", `g:${i}`);
      bins[Math.floor(b / 100)]! += 1;
      if (b < 2500) below2500++;
    }
    const expected = many / 100;
    const chi2 = bins.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 99 degrees of freedom: p = 0.001 at about 148.2
    expect(chi2).toBeLessThan(148);
    expect(Math.abs(below2500 / many - 0.25)).toBeLessThan(0.01);
  });
});
