import { describe, expect, it } from "vitest";
import type { ClientContext } from "../core/decide";
import { explainTasks, rankTasks } from "../core/grayscale/select";
import type { CompiledTask } from "../core/grayscale/types";

const NOW = 1_500;

function task(id: string, version: string, overrides: Partial<CompiledTask> = {}): CompiledTask {
  return {
    id,
    version,
    package: { sha256: id.padEnd(64, "0"), size: 1 },
    phase: "admitting",
    startAt: 1_000,
    endAt: 2_000,
    userCap: null,
    percentageBp: null,
    hostApps: { host1: [null, null] },
    platforms: { android: [null, null] },
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

const client: ClientContext = {
  appId: "app",
  hostAppId: "host1",
  hostAppVersion: "8.0",
  platform: "android",
  osVersion: "14",
  guid: "G-1",
};

describe("rankTasks (PRODUCT.md G6: a client matching several gets the highest version)", () => {
  const tasks = [
    task("t-low", "1.3.0"),
    task("t-high", "1.10.0"),
    task("t-mid", "1.4.0", { networks: ["wifi"] }),
    task("t-b", "1.5.0"),
    task("t-a", "1.5.0"),
  ];

  it("returns a verdict for every task, highest semantic version first, ties by task id", () => {
    const ranked = rankTasks(tasks, client, {}, NOW, () => false);
    expect(ranked.map((v) => v.taskId)).toEqual(["t-high", "t-a", "t-b", "t-mid", "t-low"]);
  });

  it("the first eligible verdict is the highest version the client matches", () => {
    const ranked = rankTasks(tasks, client, {}, NOW, () => false);
    expect(ranked.find((v) => v.eligible)?.version).toBe("1.10.0");
    const only = rankTasks(
      [task("a", "1.3.0"), task("b", "2.0.0", { platforms: { ios: [null, null] } })],
      client,
      {},
      NOW,
      () => false,
    );
    expect(only.map((v) => [v.version, v.eligible])).toEqual([
      ["2.0.0", false],
      ["1.3.0", true],
    ]);
  });

  it("keeps an already ordered list as it is, and an empty one empty", () => {
    const ordered = [task("x", "3.0.0"), task("y", "2.0.0"), task("z", "1.0.0")];
    expect(rankTasks(ordered, client, {}, NOW, () => false).map((v) => v.taskId)).toEqual(["x", "y", "z"]);
    expect(rankTasks([], client, {}, NOW, () => false)).toEqual([]);
  });
});

describe("explainTasks", () => {
  it("names the failing conditions with their details", () => {
    const ranked = rankTasks(
      [task("t1", "1.3.0", { networks: ["wifi"], phase: "sticky" }), task("t2", "1.2.0")],
      client,
      {},
      NOW,
      () => false,
    );
    const [first, second] = explainTasks(ranked);
    expect(first).toMatchObject({
      taskId: "t1",
      eligible: false,
      stickyOnly: true,
      failed: ["phase", "network"],
    });
    expect(first?.summary).toMatch(
      /^1\.3\.0 \(t1\): not eligible: phase \(.+\); network \(network unknown; task needs wifi\)$/,
    );
    expect(second).toEqual({
      taskId: "t2",
      version: "1.2.0",
      eligible: true,
      stickyOnly: false,
      failed: [],
      summary: "1.2.0 (t2): eligible",
    });
  });
});
