import { describe, expect, it } from "vitest";
import type { TaskAction, TaskFacts, TaskStatus } from "../core/grayscale/lifecycle";
import {
  applyAction,
  checkTaskDefinition,
  checkTaskEdit,
  compileTask,
  editableFields,
  effectiveStatus,
} from "../core/grayscale/lifecycle";
import { evaluateTask } from "../core/grayscale/rules";
import type { EndReason, TaskDefinition, TaskState, WhitelistRef } from "../core/grayscale/types";
import type { Refusal } from "../core/lifecycle";

const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;
const START = NOW + HOUR;
const END = NOW + 48 * HOUR;
const PKG = { sha256: "b".repeat(64), size: 2048 };

function definition(overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    name: "Spring beta",
    version: "1.3.0",
    startAt: START,
    endAt: END,
    userCap: 1000,
    percentageBp: null,
    hostApps: { host1: { min: "8.0", max: "9.1.2" }, host2: {} },
    platforms: { android: { min: "10" }, ios: {} },
    targets: { guid: ["G-2", "G-1"], account: [" alice "] },
    networks: ["wifi", "5g"],
    brands: { include: ["Xiaomi", " HUAWEI "] },
    countries: { exclude: ["US"] },
    ...overrides,
  };
}

const facts: TaskFacts = {
  versionStatus: "approved",
  versionEverReleased: false,
  onlineVersion: "1.2.0",
  boundHostApps: ["host1", "host2", "host3"],
  listed: true,
};

const ruleOf = (r: Refusal | null) => r?.rule ?? null;

describe("checkTaskDefinition", () => {
  it("accepts a complete, valid task", () => {
    expect(checkTaskDefinition(definition(), facts, NOW)).toBeNull();
  });

  it("accepts a minimal task: no cap, no targets, no network or advanced rules, nothing online yet", () => {
    const def: TaskDefinition = {
      name: "t",
      version: "0.1.0",
      startAt: NOW - HOUR,
      endAt: NOW,
      userCap: null,
      percentageBp: null,
      hostApps: { host1: {} },
      platforms: { ios: {} },
      targets: {},
    };
    expect(checkTaskDefinition(def, { ...facts, onlineVersion: null }, NOW)).toBeNull();
  });

  it('refuses on a delisted mini program (ARCHITECTURE: delisted -> "no version can be published or grayscaled")', () => {
    const refusal = checkTaskDefinition(definition(), { ...facts, listed: false }, NOW);
    expect(refusal?.rule).toBe("task_delisted");
    expect(refusal?.message).toMatch(/off the shelf/);
  });

  describe('seed: "The version released in grayscale must have passed the mini program audit, has not been online yet, and has a higher version number than the online version."', () => {
    it.each(["development", "in_audit", "rejected", "discarded"])(
      "refuses a version whose status is %s (not approved)",
      (status) => {
        expect(ruleOf(checkTaskDefinition(definition(), { ...facts, versionStatus: status }, NOW))).toBe(
          "task_version_not_approved",
        );
      },
    );

    it("refuses a version that has been online before", () => {
      expect(ruleOf(checkTaskDefinition(definition(), { ...facts, versionEverReleased: true }, NOW))).toBe(
        "task_version_was_online",
      );
      expect(ruleOf(checkTaskDefinition(definition(), { ...facts, versionStatus: "released" }, NOW))).toBe(
        "task_version_was_online",
      );
    });

    it.each(["1.2.0", "1.1.9", "0.9.0"])("refuses version %s, not higher than online 1.2.0", (version) => {
      expect(ruleOf(checkTaskDefinition(definition({ version }), facts, NOW))).toBe(
        "task_version_not_higher",
      );
    });

    it.each(["1.3", "v1.3.0", "01.3.0", ""])("refuses a malformed version %j", (version) => {
      expect(ruleOf(checkTaskDefinition(definition({ version }), facts, NOW))).toBe("task_version_invalid");
    });
  });

  describe('seed: "Fill in the grayscale task name to distinguish it, no more than 20 words."', () => {
    it.each(["x".repeat(20), "灰度发布测试任务一二三四五六七八九十一二", "😀".repeat(20), "a"])(
      "accepts %j (counted in characters)",
      (name) => {
        expect(checkTaskDefinition(definition({ name }), facts, NOW)).toBeNull();
      },
    );

    it.each(["x".repeat(21), "灰".repeat(21), "😀".repeat(21), "", "   ", "bad\nname"])(
      "refuses %j",
      (name) => {
        expect(ruleOf(checkTaskDefinition(definition({ name }), facts, NOW))).toBe("task_name_invalid");
      },
    );
  });

  describe('seed: "The end time of grayscale cannot be earlier than the time point when the creation is confirmed."', () => {
    it("refuses an end time before now", () => {
      expect(
        ruleOf(checkTaskDefinition(definition({ startAt: NOW - 2 * HOUR, endAt: NOW - 1 }), facts, NOW)),
      ).toBe("task_end_in_past");
    });

    it("accepts an end time exactly now, and a start time in the past", () => {
      expect(checkTaskDefinition(definition({ startAt: NOW - HOUR, endAt: NOW }), facts, NOW)).toBeNull();
    });

    it.each([
      [END, END],
      [END, START],
      [Number.NaN, END],
      [START, Number.POSITIVE_INFINITY],
    ])("refuses start %d not before end %d", (startAt, endAt) => {
      expect(ruleOf(checkTaskDefinition(definition({ startAt, endAt }), facts, NOW))).toBe(
        "task_time_invalid",
      );
    });
  });

  describe('seed: "Set the limit on the total number of grayscale users."', () => {
    it.each([null, 1, 100_000_000])("accepts cap %j", (userCap) => {
      expect(checkTaskDefinition(definition({ userCap }), facts, NOW)).toBeNull();
    });
    it.each([0, -1, 1.5, 100_000_001, Number.NaN])("refuses cap %j", (userCap) => {
      expect(ruleOf(checkTaskDefinition(definition({ userCap }), facts, NOW))).toBe("task_cap_invalid");
    });
  });

  describe("percentage (beyond the seeds)", () => {
    it.each([null, 1, 5000, 10_000])("accepts %j basis points", (percentageBp) => {
      expect(checkTaskDefinition(definition({ percentageBp }), facts, NOW)).toBeNull();
    });
    it.each([0, -5, 10_001, 2.5])("refuses %j basis points", (percentageBp) => {
      expect(ruleOf(checkTaskDefinition(definition({ percentageBp }), facts, NOW))).toBe(
        "task_percentage_invalid",
      );
    });
  });

  describe('seed: "Select from all the associated applications of the current applet ... (there is no limit if the version number range is empty)."', () => {
    it("refuses a task without host apps", () => {
      expect(ruleOf(checkTaskDefinition(definition({ hostApps: {} }), facts, NOW))).toBe("task_no_host_app");
    });
    it("refuses a host app the mini program is not associated with", () => {
      expect(
        ruleOf(checkTaskDefinition(definition({ hostApps: { host1: {}, other: {} } }), facts, NOW)),
      ).toBe("task_host_app_not_bound");
    });
    it.each([
      [{ min: "9.0", max: "8.0" }, "task_range_invalid"],
      [{ min: "8.x" }, "task_range_invalid"],
      [{ max: "1.2.3.4.5.6" }, "task_range_invalid"],
      [{ min: "8.0", max: "8" }, null], // equal ends: one version
      [{ min: "", max: "" }, null], // empty = no limit
      [{ max: "10.0" }, null],
    ])("app range %j -> %s", (range, rule) => {
      expect(ruleOf(checkTaskDefinition(definition({ hostApps: { host1: range } }), facts, NOW))).toBe(rule);
    });
  });

  describe('seed: "Select from Android and iOS platforms. After checking, you can fill in the initial and final version number of the corresponding operating system."', () => {
    it("refuses a task without platforms", () => {
      expect(ruleOf(checkTaskDefinition(definition({ platforms: {} }), facts, NOW))).toBe("task_no_platform");
    });
    it("refuses an unknown platform", () => {
      const platforms = { harmony: {} } as unknown as TaskDefinition["platforms"];
      expect(ruleOf(checkTaskDefinition(definition({ platforms }), facts, NOW))).toBe(
        "task_platform_invalid",
      );
    });
    it("refuses an inverted OS range", () => {
      expect(
        ruleOf(
          checkTaskDefinition(definition({ platforms: { ios: { min: "17", max: "16.9" } } }), facts, NOW),
        ),
      ).toBe("task_range_invalid");
    });
  });

  describe('seed: "Currently, three conditions are supported: GUID, custom device identification, and user account. Developers can manually enter push object information"', () => {
    it("accepts up to 1000 typed values per kind", () => {
      const many = Array.from({ length: 1000 }, (_, i) => `g${i}`);
      expect(
        checkTaskDefinition(
          definition({ targets: { guid: many, deviceId: many, account: many } }),
          facts,
          NOW,
        ),
      ).toBeNull();
    });
    it("refuses 1001 typed values of one kind (upload a whitelist instead)", () => {
      const many = Array.from({ length: 1001 }, (_, i) => `g${i}`);
      expect(ruleOf(checkTaskDefinition(definition({ targets: { deviceId: many } }), facts, NOW))).toBe(
        "task_too_many_targets",
      );
    });
    it.each([["has space"], [""], ["x".repeat(129)], ["tab\there"]])(
      "refuses the typed value %j",
      (value) => {
        expect(
          ruleOf(checkTaskDefinition(definition({ targets: { account: ["ok", value] } }), facts, NOW)),
        ).toBe("task_target_invalid");
      },
    );
    it("refuses an unknown target kind", () => {
      const targets = { phone: ["123"] } as unknown as TaskDefinition["targets"];
      expect(ruleOf(checkTaskDefinition(definition({ targets }), facts, NOW))).toBe("task_target_invalid");
    });
  });

  describe('seed: "Choose whether to pull down the grayscale version under a specific network environment."', () => {
    it("refuses a network type outside the enum", () => {
      const networks = ["wifi", "6g"] as unknown as TaskDefinition["networks"];
      expect(ruleOf(checkTaskDefinition(definition({ networks }), facts, NOW))).toBe("task_network_invalid");
    });
    it("accepts an empty network list (any network)", () => {
      expect(checkTaskDefinition(definition({ networks: [] }), facts, NOW)).toBeNull();
    });
  });

  describe('mPaaS: "you can also use advanced rules to define a more precise whitelist population. For example, you can send it only to users of Xiaomi phones."', () => {
    it.each([
      ["brands", { include: Array.from({ length: 201 }, (_, i) => `b${i}`) }],
      ["models", { exclude: [""] }],
      ["cities", { include: ["x".repeat(65)] }],
      ["regions", { include: ["  "] }],
    ])("refuses an oversized or empty entry in %s", (field, rule) => {
      expect(ruleOf(checkTaskDefinition(definition({ [field]: rule }), facts, NOW))).toBe(
        "task_rule_list_invalid",
      );
    });
    it("accepts 200 entries of 64 characters", () => {
      const list = Array.from({ length: 200 }, (_, i) => `${i}`.padEnd(64, "x"));
      expect(
        checkTaskDefinition(definition({ models: { include: list, exclude: list } }), facts, NOW),
      ).toBeNull();
    });
  });
});

describe("effectiveStatus", () => {
  const S = (state: TaskState, endReason: EndReason | null = null): TaskStatus => ({ state, endReason });
  it.each([
    [S("pending"), NOW, S("pending")],
    [S("pending"), START, S("delivering")], // start inclusive
    [S("pending"), END, S("ended", "end_time")],
    [S("delivering"), END - 1, S("delivering")],
    [S("delivering"), END, S("ended", "end_time")],
    [S("suspended"), START + 1, S("suspended")],
    [S("suspended"), END + 1, S("ended", "end_time")],
    [S("ended", "manual"), NOW, S("ended", "manual")],
    [S("ended", "cap_reached"), END + 1, S("ended", "cap_reached")],
    [S("ended", "reverted"), END + 1, S("ended", "reverted")],
  ])("%o at %d -> %o", (status, now, expected) => {
    expect(effectiveStatus(status, START, END, now)).toEqual(expected);
  });
});

describe("applyAction: every (state, action) pair", () => {
  const S = (state: TaskState, endReason: EndReason | null = null): TaskStatus => ({ state, endReason });
  type Row = [string, TaskStatus, number, TaskAction, TaskStatus | string];
  const rows: Row[] = [
    ["pending", S("pending"), NOW, "suspend", S("suspended")],
    ["pending", S("pending"), NOW, "resume", "task_not_suspended"],
    ["pending", S("pending"), NOW, "end", S("ended", "manual")],
    ["pending", S("pending"), NOW, "end_and_revert", S("ended", "reverted")],
    ["delivering", S("delivering"), START + 1, "suspend", S("suspended")],
    ["delivering", S("delivering"), START + 1, "resume", "task_not_suspended"],
    ["delivering", S("delivering"), START + 1, "end", S("ended", "manual")],
    ["delivering", S("delivering"), START + 1, "end_and_revert", S("ended", "reverted")],
    ["pending past its start (delivering)", S("pending"), START, "resume", "task_not_suspended"],
    ["pending past its start (delivering)", S("pending"), START, "suspend", S("suspended")],
    ["suspended", S("suspended"), START + 1, "suspend", "task_already_suspended"],
    ["suspended", S("suspended"), START + 1, "resume", S("delivering")],
    ["suspended before the start", S("suspended"), NOW, "resume", S("pending")],
    ["suspended", S("suspended"), START + 1, "end", S("ended", "manual")],
    ["suspended", S("suspended"), START + 1, "end_and_revert", S("ended", "reverted")],
    ["suspended past its end (ended)", S("suspended"), END, "resume", "task_ended"],
    ["delivering past its end (ended)", S("delivering"), END, "suspend", "task_ended"],
    ["delivering past its end (ended)", S("delivering"), END, "end", "task_ended"],
    [
      "delivering past its end (ended, sticky)",
      S("delivering"),
      END,
      "end_and_revert",
      S("ended", "reverted"),
    ],
  ];
  for (const reason of ["manual", "end_time", "cap_reached"] as const) {
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "suspend", "task_ended"]);
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "resume", "task_ended"]);
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "end", "task_ended"]);
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "end_and_revert", S("ended", "reverted")]);
  }
  for (const reason of ["released", "reverted", "delisted"] as const) {
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "suspend", "task_ended"]);
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "resume", "task_ended"]);
    rows.push([`ended(${reason})`, S("ended", reason), START + 1, "end", "task_ended"]);
    rows.push([
      `ended(${reason})`,
      S("ended", reason),
      START + 1,
      "end_and_revert",
      "task_already_withdrawn",
    ]);
  }

  it.each(rows)("%s + %s", (_label, status, now, action, expected) => {
    const result = applyAction(status, action, START, END, now);
    if (typeof expected === "string")
      expect(result).toMatchObject({ rule: expected, message: expect.any(String) });
    else expect(result).toEqual(expected);
  });
});

describe("editableFields", () => {
  it("pending: every field; delivering and suspended: name, end time, cap, percentage; ended: none", () => {
    expect([...editableFields("pending")].sort()).toEqual(
      Object.keys(
        definition({ networks: [], models: {}, regions: {}, cities: {}, verifiedOnly: true, capShards: 4 }),
      ).sort(),
    );
    expect(editableFields("delivering")).toEqual(["name", "endAt", "userCap", "percentageBp"]);
    expect(editableFields("suspended")).toEqual(["name", "endAt", "userCap", "percentageBp"]);
    expect(editableFields("ended")).toEqual([]);
  });
});

describe("checkTaskEdit", () => {
  const before = definition({ percentageBp: 2000, startAt: NOW - HOUR });
  const edit = (patch: Partial<TaskDefinition>, state: TaskState = "delivering", admitted = 100) =>
    ruleOf(checkTaskEdit(before, { ...before, ...patch }, state, NOW, admitted));

  it.each([
    [{ name: "Renamed" }, null],
    [{ endAt: END + HOUR }, null],
    [{ endAt: NOW }, null],
    [{ userCap: 5000 }, null],
    [{ userCap: null }, null],
    [{ userCap: 100 }, null], // equal to the admitted count
    [{ percentageBp: 3000 }, null],
    [{ percentageBp: null }, null], // everyone: a raise
    [{ hostApps: { host1: {} } }, "task_field_locked"],
    [{ targets: { guid: ["G-3"] } }, "task_field_locked"],
    [{ version: "1.4.0" }, "task_field_locked"],
    [{ startAt: NOW }, "task_field_locked"],
    [{ brands: undefined }, "task_field_locked"],
    [{ name: "x".repeat(21) }, "task_name_invalid"],
    [{ endAt: NOW - 1 }, "task_end_in_past"],
    [{ userCap: 99 }, "task_cap_below_admitted"],
    [{ userCap: 0 }, "task_cap_invalid"],
    [{ percentageBp: 1999 }, "task_percentage_lowered"],
    [{ percentageBp: 0 }, "task_percentage_invalid"],
  ] as const)("delivering, 100 admitted: %o -> %s", (patch, rule) => {
    expect(edit(patch as Partial<TaskDefinition>)).toBe(rule);
  });

  it("an unchanged copy (other key order, undefined as absent) is not an edit of locked fields", () => {
    const copy = JSON.parse(
      JSON.stringify({ ...before, hostApps: { host2: {}, host1: { max: "9.1.2", min: "8.0" } } }),
    ) as TaskDefinition;
    expect(
      checkTaskEdit(before, { ...copy, networks: before.networks, models: undefined }, "suspended", NOW, 0),
    ).toBeNull();
  });

  it("a suspended task also never lowers its percentage", () => {
    expect(edit({ percentageBp: 1000 }, "suspended")).toBe("task_percentage_lowered");
  });

  it("setting a percentage on a running task that had none lowers it", () => {
    const open = definition({ percentageBp: null, startAt: NOW - HOUR });
    expect(ruleOf(checkTaskEdit(open, { ...open, percentageBp: 9000 }, "delivering", NOW, 0))).toBe(
      "task_percentage_lowered",
    );
  });

  it("a pending task may change every field, and may lower its percentage", () => {
    expect(
      edit(
        {
          hostApps: { host1: {} },
          targets: {},
          version: "1.4.0",
          startAt: NOW + 2 * HOUR,
          percentageBp: 1000,
        },
        "pending",
        0,
      ),
    ).toBeNull();
  });

  it("an ended task cannot be edited", () => {
    expect(edit({ name: "x" }, "ended")).toBe("task_ended");
  });
});

describe("compileTask", () => {
  const wl: WhitelistRef = {
    id: "wl-1",
    kind: "deviceId",
    count: 5000,
    seed: 9,
    bloomBits: 47928,
    bloomHashes: 7,
    shards: 2,
  };
  const compile = (
    status: TaskStatus,
    now = START + 1,
    def = definition(),
    whitelists: WhitelistRef[] = [],
  ) => compileTask({ id: "t-1", definition: def, status, package: PKG, whitelists }, now);

  it.each([
    ["pending", null, "admitting"],
    ["delivering", null, "admitting"],
    ["suspended", null, "sticky"],
    ["ended", "manual", "sticky"],
    ["ended", "end_time", "sticky"],
    ["ended", "cap_reached", "sticky"],
    ["ended", "released", null],
    ["ended", "reverted", null],
    ["ended", "delisted", null],
  ] as const)("%s (%s) -> %s", (state, endReason, phase) => {
    const compiled = compile({ state, endReason });
    if (phase === null) expect(compiled).toBeNull();
    else expect(compiled?.phase).toBe(phase);
  });

  it("a delivering task past its end time compiles sticky even if the timer has not run", () => {
    expect(compile({ state: "delivering", endReason: null }, END)?.phase).toBe("sticky");
  });

  it("a pending task before its start compiles admitting; the edge's time window keeps it closed", () => {
    const compiled = compile({ state: "pending", endReason: null }, NOW);
    expect(compiled?.phase).toBe("admitting");
    const client = {
      appId: "a",
      hostAppId: "host1",
      hostAppVersion: "8.5",
      platform: "ios" as const,
      osVersion: "17",
      guid: "G-1",
      network: "wifi" as const,
      brand: "Xiaomi",
    };
    expect(evaluateTask(compiled!, client, {}, NOW, () => false).eligible).toBe(false);
    expect(evaluateTask(compiled!, client, {}, START, () => false).eligible).toBe(true);
  });

  it("parses ranges, lower-cases rule lists, sorts and trims inline targets", () => {
    expect(compile({ state: "delivering", endReason: null })).toEqual({
      id: "t-1",
      version: "1.3.0",
      package: PKG,
      phase: "admitting",
      startAt: START,
      endAt: END,
      userCap: 1000,
      percentageBp: null,
      hostApps: {
        host1: [
          [8, 0],
          [9, 1, 2],
        ],
        host2: [null, null],
      },
      platforms: { android: [[10], null], ios: [null, null] },
      targets: { inline: { guid: ["G-1", "G-2"], account: ["alice"] }, whitelists: [] },
      networks: ["wifi", "5g"],
      brands: { include: ["huawei", "xiaomi"] },
      models: null,
      countries: { exclude: ["us"] },
      regions: null,
      cities: null,
    });
  });

  it("targets are null only when there are neither typed values nor whitelists", () => {
    const bare = definition({ targets: {} });
    expect(compile({ state: "delivering", endReason: null }, START, bare)?.targets).toBeNull();
    expect(compile({ state: "delivering", endReason: null }, START, bare, [wl])?.targets).toEqual({
      inline: {},
      whitelists: [wl],
    });
  });

  it("empty lists compile to null (any value)", () => {
    const def = definition({ networks: [], brands: { include: [], exclude: [] }, countries: {} });
    const compiled = compile({ state: "delivering", endReason: null }, START, def);
    expect(compiled).toMatchObject({ networks: null, brands: null, countries: null });
  });

  it("a malformed range compiles to one that admits nobody (fail closed)", () => {
    const def = definition({ hostApps: { host1: { min: "eight" } } });
    const compiled = compile({ state: "delivering", endReason: null }, START, def)!;
    const client = {
      appId: "a",
      hostAppId: "host1",
      hostAppVersion: "8.5",
      platform: "ios" as const,
      osVersion: "17",
      guid: "G-1",
      network: "wifi" as const,
      brand: "Xiaomi",
    };
    const v = evaluateTask(compiled, client, {}, START, () => false);
    expect(v.conditions.find((c) => c.condition === "host_app_version")?.pass).toBe(false);
    expect(evaluateTask(compiled, { ...client, hostAppVersion: "0" }, {}, START, () => false).eligible).toBe(
      false,
    );
  });
});
