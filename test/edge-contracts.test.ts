import { describe, expect, it } from "vitest";
import { CheckRequestSchema as CoreCheckRequestSchema } from "../core/contracts/check";
import { LoginRequestSchema as CoreLoginRequestSchema } from "../core/contracts/login";
import { validationError } from "../core/contracts/validation";
import { CheckRequestSchema, LoginRequestSchema } from "../edge-worker/src/contracts";

// One check request schema (core/contracts/check.ts): the edge validates with it, the control
// plane's explain route documents and validates with it. These cases pin what it accepts and
// which fields it names when it refuses.
const base = {
  appId: "gcaaaabbbbccccddddeeeeff",
  hostAppId: "ha_testhostapp01",
  hostAppVersion: "8.0.50",
  platform: "ios",
  osVersion: "17.4",
};

const cases: Record<string, unknown>[] = [
  base,
  {
    ...base,
    guid: "g-1",
    deviceId: "d",
    account: "a@b",
    network: "5g",
    brand: "Apple",
    model: "iPhone15,2",
    installedVersion: "1.2.3",
    baseLibraryVersion: "3.4.1",
    trial: true,
  },
  { ...base, tickets: ["abc.def"] },
  { ...base, tickets: Array.from({ length: 9 }, () => "a.b") },
  { ...base, tickets: ["x".repeat(513)] },
  { ...base, tickets: ["bad ticket"] },
  { ...base, installedVersion: "1.0" },
  { ...base, installedVersion: "01.0.0" },
  { ...base, osVersion: "fourteen" },
  { ...base, hostAppVersion: "1".repeat(33) },
  { ...base, appId: "not-an-app-id" },
  { ...base, hostAppId: "ha/../x" },
  { ...base, hostAppId: "" },
  { ...base, account: "x".repeat(129) },
  { ...base, model: "bad\u0000model" },
  { ...base, brand: "" },
  { ...base, network: "6g" },
  { ...base, platform: "windows" },
  { ...base, trial: "yes" },
  { ...base, installedVersoin: "1.0.0" },
  { appId: base.appId },
];

const pathsOf = (result: {
  success: boolean;
  error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] };
}) => (result.success ? [] : (validationError(result.error!).issues ?? []).map((i) => i.path).sort());

const refused: Record<number, string[]> = {
  3: ["tickets"],
  4: ["tickets.0"],
  5: ["tickets.0"],
  6: ["installedVersion"],
  7: ["installedVersion"],
  8: ["osVersion"],
  9: ["hostAppVersion", "hostAppVersion"],
  10: ["appId"],
  11: ["hostAppId"],
  12: ["hostAppId", "hostAppId"],
  13: ["account"],
  14: ["model"],
  15: ["brand", "brand"],
  16: ["network"],
  17: ["platform"],
  18: ["trial"],
  19: ["(root)"],
  20: ["hostAppId", "hostAppVersion", "osVersion", "platform"],
};

describe("the one check contract", () => {
  it("is the same schema object at the edge and in core (explain)", () => {
    expect(CheckRequestSchema).toBe(CoreCheckRequestSchema);
  });

  it("accepts and refuses these requests, naming these fields", () => {
    cases.forEach((input, n) => {
      const result = CheckRequestSchema.safeParse(input);
      expect(pathsOf(result), JSON.stringify(input)).toEqual(refused[n] ?? []);
      if (result.success) expect(result.data).toEqual(input);
    });
  });

  it("reports an unknown key by name, in English", () => {
    const result = CheckRequestSchema.safeParse({ ...base, installedVersoin: "1.0.0" });
    expect(result.success).toBe(false);
    expect(JSON.stringify(validationError(result.error!).issues)).toContain("installedVersoin");
  });
});

describe("the one login contract", () => {
  it("is the same schema object at the edge and in core", () => {
    expect(LoginRequestSchema).toBe(CoreLoginRequestSchema);
  });

  it("accepts an App ID and a host app id, nothing else", () => {
    const login = { appId: base.appId, hostAppId: base.hostAppId };
    const loginCases: [unknown, string[]][] = [
      [login, []],
      [{ ...login, appId: "not-an-app-id" }, ["appId"]],
      [{ ...login, hostAppId: "ha/../x" }, ["hostAppId"]],
      [{ ...login, hostAppId: "x".repeat(65) }, ["hostAppId"]],
      [{ appId: base.appId }, ["hostAppId"]],
      [{ ...login, account: "a" }, ["(root)"]],
      [{ ...login, assertion: "a.b.c" }, ["(root)"]],
      [null, ["(root)"]],
      ["text", ["(root)"]],
    ];
    for (const [input, paths] of loginCases)
      expect(pathsOf(LoginRequestSchema.safeParse(input)), JSON.stringify(input)).toEqual(paths);
  });
});
