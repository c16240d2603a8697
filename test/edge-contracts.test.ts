import { describe, expect, it } from "vitest";
import { CheckRequestSchema as ClassicCheckRequestSchema } from "../core/contracts/check";
import { LoginRequestSchema as ClassicLoginRequestSchema } from "../core/contracts/login";
import { validationError } from "../core/contracts/validation";
import { CheckRequestSchema, LoginRequestSchema } from "../edge-worker/src/contracts";

// The edge validates with zod/mini (edge-worker/src/contracts.ts), the control plane's explain
// route with the classic schema of core/contracts/check.ts: both must accept and refuse alike.
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

describe("edge check contract (zod/mini) vs core contract (classic zod)", () => {
  it("accept and refuse the same requests, naming the same fields", () => {
    for (const input of cases) {
      const mini = CheckRequestSchema.safeParse(input);
      const classic = ClassicCheckRequestSchema.safeParse(input);
      expect(mini.success, JSON.stringify(input)).toBe(classic.success);
      expect(pathsOf(mini), JSON.stringify(input)).toEqual(pathsOf(classic));
      if (mini.success && classic.success) expect(mini.data).toEqual(classic.data);
    }
  });

  it("reports an unknown key by name, in English", () => {
    const result = CheckRequestSchema.safeParse({ ...base, installedVersoin: "1.0.0" });
    expect(result.success).toBe(false);
    expect(JSON.stringify(validationError(result.error!).issues)).toContain("installedVersoin");
  });
});

describe("edge login contract (zod/mini) vs core contract (classic zod)", () => {
  it("accept and refuse the same requests, naming the same fields", () => {
    const login = { appId: base.appId, hostAppId: base.hostAppId };
    const loginCases: unknown[] = [
      login,
      { ...login, appId: "not-an-app-id" },
      { ...login, hostAppId: "ha/../x" },
      { ...login, hostAppId: "x".repeat(65) },
      { appId: base.appId },
      { ...login, account: "a" },
      { ...login, assertion: "a.b.c" },
      {},
      null,
      "text",
    ];
    for (const input of loginCases) {
      const mini = LoginRequestSchema.safeParse(input);
      const classic = ClassicLoginRequestSchema.safeParse(input);
      expect(mini.success, JSON.stringify(input)).toBe(classic.success);
      expect(pathsOf(mini), JSON.stringify(input)).toEqual(pathsOf(classic));
      if (mini.success && classic.success) expect(mini.data).toEqual(classic.data);
    }
  });
});
