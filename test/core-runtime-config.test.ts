/**
 * The pure runtime-config rules (core/runtime-config.ts, issue 12): domain normalisation, what
 * compiles into the snapshot (verified business domains, bound host apps, live tasks), which
 * switch row a client gets, the request rule, and the privacy template.
 */
import { describe, expect, it } from "vitest";
import {
  compileConfig,
  isRequestAllowed,
  normaliseDomain,
  renderPrivacy,
  resolveConfig,
  type SnapshotConfigSource,
} from "../core/runtime-config";

describe("normaliseDomain", () => {
  it("keeps host and a non-default port, lower case, and refuses what the consoles refuse", () => {
    expect(normaliseDomain("request", "https://Api.Example.COM")).toEqual({ domain: "api.example.com" });
    expect(normaliseDomain("request", "https://api.example.com:443/")).toEqual({ domain: "api.example.com" });
    expect(normaliseDomain("socket", "wss://ws.example.com:8443")).toEqual({ domain: "ws.example.com:8443" });
    expect(normaliseDomain("business", "https://xn--fiqs8s.example.cn")).toEqual({
      domain: "xn--fiqs8s.example.cn",
    });
    for (const bad of [
      "http://a.example.com",
      "https://1.2.3.4",
      "https://0x7f000001",
      "https://[::1]:443",
      "https://localhost:8080",
      "https://*.example.com",
      "https://a.example.com/x",
      "https://a.example.com#x",
      "https://a.example.com\\x",
      "https://u:p@a.example.com",
      "https://a.example.com:0",
      "https://-bad.example.com",
      "https://example",
      "https://",
    ])
      expect(normaliseDomain("request", bad), bad).toHaveProperty("error");
    expect(normaliseDomain("socket", "https://ws.example.com")).toHaveProperty("error");
    expect(normaliseDomain("uploadFile", "wss://ws.example.com")).toHaveProperty("error");
  });
});

const source = (extra: Partial<SnapshotConfigSource> = {}): SnapshotConfigSource => ({
  revision: 3,
  domains: [
    { kind: "request", domain: "b.example.com", verified: false },
    { kind: "request", domain: "a.example.com", verified: false },
    { kind: "business", domain: "web.example.com", verified: false },
    { kind: "business", domain: "ok.example.com", verified: true },
  ],
  skipDomainCheck: ["ha_1", "ha_gone"],
  apis: [
    { hostAppId: "ha_1", name: "scanCode" },
    { hostAppId: "ha_1", name: "getLocation" },
    { hostAppId: "ha_gone", name: "getLocation" },
  ],
  privacy: { version: 2, sha256: "f".repeat(64) },
  trialPagePath: "pages/index/index",
  switches: [
    { key: "flag", type: "boolean", value: false },
    { key: "flag", type: "boolean", value: true, hostAppId: "ha_1" },
    { key: "flag", type: "boolean", value: false, taskId: "gt_live" },
    { key: "flag", type: "boolean", value: true, taskId: "gt_live", hostAppId: "ha_2" },
    { key: "dead", type: "number", value: 1, taskId: "gt_dead" },
    { key: "other", type: "number", value: 1, hostAppId: "ha_gone" },
  ],
  liveTaskIds: ["gt_live"],
  hostApps: ["ha_1", "ha_2"],
  ...extra,
});

describe("compileConfig / resolveConfig", () => {
  it("compiles sorted lists, only verified business domains, bound host apps and live tasks", () => {
    const c = compileConfig(source());
    expect(c.domains.request).toEqual(["a.example.com", "b.example.com"]);
    expect(c.domains.business).toEqual(["ok.example.com"]);
    expect(c.skipDomainCheck).toEqual(["ha_1"]);
    expect(c.apis).toEqual({ ha_1: ["getLocation", "scanCode"] });
    expect(c.switches.map((s) => `${s.key}/${s.hostAppId ?? ""}/${s.taskId ?? ""}`)).toEqual([
      "flag//",
      "flag//gt_live",
      "flag/ha_1/",
      "flag/ha_2/gt_live",
    ]);
    // Same state, same bytes.
    expect(JSON.stringify(compileConfig(source()))).toBe(JSON.stringify(c));
  });

  it("the most specific row wins: task and host app > task > host app > base; taskId only when a task row applied", () => {
    const c = compileConfig(source());
    const url = (sha: string) => `https://edge/v1/privacy/${sha}`;
    expect(resolveConfig(c, "ha_1", undefined, url).switches.flag?.value).toBe(true);
    expect(resolveConfig(c, "ha_2", undefined, url).switches.flag?.value).toBe(false);
    const t1 = resolveConfig(c, "ha_1", "gt_live", url);
    expect(t1.switches.flag?.value).toBe(false);
    expect(t1.taskId).toBe("gt_live");
    expect(resolveConfig(c, "ha_2", "gt_live", url).switches.flag?.value).toBe(true);
    const unknownTask = resolveConfig(c, "ha_1", "gt_other", url);
    expect(unknownTask.switches.flag?.value).toBe(true);
    expect(unknownTask.taskId).toBeUndefined();
    const r = resolveConfig(c, "ha_1", undefined, url);
    expect(r).toMatchObject({
      configRevision: 3,
      skipDomainCheck: true,
      apis: ["getLocation", "scanCode"],
      privacy: { version: 2, url: `https://edge/v1/privacy/${"f".repeat(64)}` },
      trialPagePath: "pages/index/index",
    });
    expect(resolveConfig(c, "ha_2", undefined, url)).toMatchObject({ skipDomainCheck: false, apis: [] });
  });
});

describe("isRequestAllowed", () => {
  const config = {
    skipDomainCheck: false,
    domains: {
      request: ["api.example.com"],
      uploadFile: [],
      downloadFile: [],
      socket: ["ws.example.com:8443"],
      business: [],
    },
  };
  it("needs the kind's scheme and a listed host (and port)", () => {
    expect(isRequestAllowed(config, "https://api.example.com/a?b", "request")).toBe(true);
    expect(isRequestAllowed(config, "https://api.example.com:8443/", "request")).toBe(false);
    expect(isRequestAllowed(config, "https://sub.api.example.com/", "request")).toBe(false);
    expect(isRequestAllowed(config, "wss://ws.example.com:8443/", "socket")).toBe(true);
    expect(isRequestAllowed(config, "wss://ws.example.com/", "socket")).toBe(false);
    expect(
      isRequestAllowed({ ...config, skipDomainCheck: true }, "https://any.example.org/", "request"),
    ).toBe(true);
    expect(isRequestAllowed({ ...config, skipDomainCheck: true }, "http://any.example.org/", "request")).toBe(
      false,
    );
  });
});

describe("renderPrivacy", () => {
  it("fills every placeholder once, lists as bullets, never expands a value", () => {
    const text = renderPrivacy(
      {
        developerName: "Acme {{contact}}",
        contact: "c@example.com",
        dataCollected: ["A", "B"],
        purposes: [],
        thirdParties: ["Maps"],
        retention: "1 year",
      },
      "Shop",
      3,
    );
    expect(text).toContain("Privacy Agreement of Shop");
    expect(text).toContain("Acme {{contact}}");
    expect(text).toContain("- A\n- B");
    expect(text).toContain("- None.");
    expect(text).toContain("Version 3");
    expect(text.replace("Acme {{contact}}", "")).not.toMatch(/\{\{/);
  });
});
