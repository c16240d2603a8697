/**
 * Audit scope rules (core/audit-scope.ts, issue 10): a version reaches the clients of a host app
 * only when that host app's auditor approved it. Table tests of the pure pieces: the host app
 * release exceptions, the decision that reads them, the binding audit guards and outcome, and
 * the grayscale compiler that leaves out unreviewed host apps.
 */
import { describe, expect, it } from "vitest";
import { type Approvals, pickHostAppReleases, unreviewedHostApps } from "../core/audit-scope";
import { CLOSED_PORTS, decide } from "../core/decide";
import { compileTask } from "../core/grayscale/lifecycle";
import { evaluateTask } from "../core/grayscale/rules";
import type { CompiledTask } from "../core/grayscale/types";
import {
  auditKindFor,
  bindingAuditOutcome,
  checkBindingDecision,
  checkSubmit,
  type VersionFacts,
} from "../core/lifecycle";
import { compileSnapshot, releaseFor, type SnapshotRelease } from "../core/snapshot";

const NOW = 1_800_000_000_000;
const rel = (version: string): SnapshotRelease => ({
  version,
  package: { sha256: version.replace(/\./g, "").repeat(64).slice(0, 64), size: 100 },
  releasedAt: NOW,
  via: "publish",
});
const approvals = (entries: Record<string, string[]>): Approvals =>
  new Map(Object.entries(entries).map(([v, hs]) => [v, new Set(hs)]));

describe("pickHostAppReleases", () => {
  const history = [rel("1.2.0"), rel("1.1.0"), rel("1.0.0")];

  it("no exception when every bound host app approved the online version", () => {
    expect(
      pickHostAppReleases({
        boundHostApps: ["A", "B"],
        online: rel("1.2.0"),
        history,
        approvals: approvals({ "1.2.0": ["A", "B"] }),
      }),
    ).toEqual({});
  });

  it("a host app that has not approved the online version gets the newest release it approved, or null", () => {
    const got = pickHostAppReleases({
      boundHostApps: ["A", "B", "C"],
      online: rel("1.2.0"),
      history,
      approvals: approvals({ "1.2.0": ["A"], "1.1.0": ["A"], "1.0.0": ["A", "B"] }),
    });
    expect(got).toEqual({ B: rel("1.0.0"), C: null });
  });

  it("after a rollback, never a release above the online version (the rollback withdrew it from everyone)", () => {
    // 1.2.0 was released, then rolled back to 1.0.0; B approved only 1.2.0 (binding audit)
    const rolledBack = [rel("1.0.0"), rel("1.2.0"), rel("1.1.0")];
    expect(
      pickHostAppReleases({
        boundHostApps: ["A", "B"],
        online: rel("1.0.0"),
        history: rolledBack,
        approvals: approvals({ "1.0.0": ["A"], "1.2.0": ["A", "B"] }),
      }),
    ).toEqual({ B: null });
  });

  it("nothing online: no exception; unbound host apps are never listed", () => {
    expect(
      pickHostAppReleases({ boundHostApps: ["A"], online: null, history: [], approvals: approvals({}) }),
    ).toEqual({});
    expect(unreviewedHostApps(approvals({ "1.0.0": ["A"] }), "1.0.0", ["B", "A", "B"])).toEqual(["B"]);
  });
});

describe("the snapshot and decide with per-host-app releases", () => {
  const source = {
    appId: "gcapp",
    revision: 1,
    listed: true,
    hostApps: ["A", "B", "C"],
    online: rel("1.2.0"),
    trial: null,
  };
  const client = (hostAppId: string, extra: Record<string, unknown> = {}) => ({
    appId: "gcapp",
    hostAppId,
    hostAppVersion: "8.0",
    platform: "ios" as const,
    osVersion: "17",
    ...extra,
  });

  it("compileSnapshot keeps exceptions of bound host apps only, and leaves the field out when there are none", () => {
    const s = compileSnapshot({ ...source, hostAppReleases: { C: null, B: rel("1.0.0"), Z: null } }, NOW);
    expect(s.hostAppReleases).toEqual({ B: rel("1.0.0"), C: null });
    expect(Object.keys(s.hostAppReleases!)).toEqual(["B", "C"]);
    expect("hostAppReleases" in compileSnapshot({ ...source, hostAppReleases: {} }, NOW)).toBe(false);
    expect(releaseFor(s, "A")?.version).toBe("1.2.0");
    expect(releaseFor(s, "B")?.version).toBe("1.0.0");
    expect(releaseFor(s, "C")).toBeNull();
  });

  it("a host app gets its own release (with rollback when the client runs higher), or not_bound", () => {
    const s = compileSnapshot({ ...source, hostAppReleases: { B: rel("1.0.0"), C: null } }, NOW);
    expect(decide(s, client("A"), NOW, CLOSED_PORTS)).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.2.0",
    });
    expect(decide(s, client("B"), NOW, CLOSED_PORTS)).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.0.0",
      rollback: false,
    });
    expect(decide(s, client("B", { installedVersion: "1.2.0" }), NOW, CLOSED_PORTS)).toMatchObject({
      status: "ok",
      reason: "rollback",
      version: "1.0.0",
      rollback: true,
    });
    expect(decide(s, client("C"), NOW, CLOSED_PORTS)).toEqual({ status: "not_bound", reason: "not_bound" });
    // a grayscale version the host app approved still reaches it (the edge only chooses tasks it approved)
    const task: CompiledTask = {
      id: "t1",
      version: "1.3.0",
      package: rel("1.3.0").package,
      phase: "admitting",
      startAt: 0,
      endAt: NOW + 1,
      userCap: null,
      percentageBp: null,
      hostApps: { C: [null, null] },
      platforms: { ios: [null, null] },
      targets: null,
      networks: null,
      brands: null,
      models: null,
      countries: null,
      regions: null,
      cities: null,
    };
    const withTask = compileSnapshot(
      { ...source, hostAppReleases: { B: rel("1.0.0"), C: null }, tasks: [task] },
      NOW,
    );
    expect(decide(withTask, client("C"), NOW, CLOSED_PORTS)).toMatchObject({
      status: "ok",
      reason: "grayscale",
      version: "1.3.0",
    });
  });
});

describe("binding audits", () => {
  const v = (version: string, status: VersionFacts["status"]): VersionFacts => ({
    id: version,
    version,
    status,
  });

  it("the version's status says which kind of audit a submit starts", () => {
    expect(auditKindFor(v("1.0.0", "development"))).toBe("version");
    expect(auditKindFor(v("1.0.0", "rejected"))).toBe("version");
    expect(auditKindFor(v("1.0.0", "approved"))).toBe("binding");
    expect(auditKindFor(v("1.0.0", "released"))).toBe("binding");
    expect(auditKindFor(v("1.0.0", "in_audit"))).toBeNull();
    expect(auditKindFor(v("1.0.0", "discarded"))).toBeNull();
  });

  it("checkSubmit: one audit at a time of either kind; a binding audit needs a host app that has not approved", () => {
    const released = v("1.0.0", "released");
    expect(checkSubmit(released, [released], 1)).toBeNull();
    expect(checkSubmit(released, [released], 0)?.rule).toBe("nothing_to_review");
    expect(checkSubmit(v("1.1.0", "development"), [], 0)?.rule).toBe("no_bound_host_app");
    expect(checkSubmit(released, [released], 1, true)?.rule).toBe("another_in_audit");
    expect(checkSubmit(v("1.1.0", "development"), [], 1, true)?.rule).toBe("another_in_audit");
    expect(checkSubmit(released, [released, v("1.1.0", "in_audit")], 1)?.rule).toBe("another_in_audit");
    expect(checkSubmit(v("1.1.0", "in_audit"), [], 1)?.rule).toBe("not_submittable");
  });

  it("each host app decides for itself: the audit closes when all have, approved only when all approved", () => {
    const d = (entries: Record<string, "approve" | "reject">) => new Map(Object.entries(entries));
    expect(bindingAuditOutcome(["B", "C"], d({ B: "reject" }))).toBe("pending");
    expect(bindingAuditOutcome(["B", "C"], d({ B: "approve" }))).toBe("pending");
    expect(bindingAuditOutcome(["B", "C"], d({ B: "approve", C: "approve" }))).toBe("approved");
    expect(bindingAuditOutcome(["B", "C"], d({ B: "reject", C: "approve" }))).toBe("rejected");
    expect(checkBindingDecision(true, false)).toBeNull();
    expect(checkBindingDecision(true, true)?.rule).toBe("already_decided");
    expect(checkBindingDecision(false, false)?.rule).toBe("audit_closed");
  });
});

describe("compileTask with unreviewed host apps", () => {
  const definition = {
    name: "beta",
    version: "1.3.0",
    startAt: NOW - 1000,
    endAt: NOW + 3_600_000,
    userCap: null,
    percentageBp: null,
    hostApps: { A: {}, B: { min: "8.0" } },
    platforms: { ios: {} },
    targets: {},
  };
  const compile = (unreviewedHostApps?: string[]) =>
    compileTask(
      {
        id: "t1",
        definition,
        status: { state: "delivering", endReason: null },
        package: rel("1.3.0").package,
        whitelists: [],
        ...(unreviewedHostApps ? { unreviewedHostApps } : {}),
      },
      NOW,
    )!;

  it("takes them out of the task's host apps, lists them, and explain names the missing approval", () => {
    expect(Object.keys(compile().hostApps)).toEqual(["A", "B"]);
    expect("unreviewedHostApps" in compile([])).toBe(false);
    const task = compile(["C", "B"]);
    expect(Object.keys(task.hostApps)).toEqual(["A"]);
    expect(task.unreviewedHostApps).toEqual(["B", "C"]);
    const client = {
      appId: "gcapp",
      hostAppId: "B",
      hostAppVersion: "8.1",
      platform: "ios" as const,
      osVersion: "17",
    };
    const hostApp = evaluateTask(task, client, {}, NOW, () => false).conditions.find(
      (c) => c.condition === "host_app",
    )!;
    expect(hostApp).toEqual({
      condition: "host_app",
      pass: false,
      detail: "host app B has not approved version 1.3.0 in an audit: a binding audit is needed",
    });
  });
});
