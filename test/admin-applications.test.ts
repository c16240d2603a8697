/**
 * Skip domain verification (PRODUCT.md X2) and sensitive API permissions (X3), issue 12: who may
 * apply, declare and decide (PRODUCT.md roles), every refusal, the states with who and when, the
 * change log, and the grants reaching the runtime config in the snapshot.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  storedSnapshot,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
});

const applySkip = (token: string, json: unknown, id = appId) =>
  callAdmin("POST", `/v1/mini-programs/${id}/skip-domain-applications`, { token, json });
const decideSkip = (
  token: string,
  hostAppId: string,
  applicationId: string,
  decision: string,
  json: unknown = {},
) =>
  callAdmin("POST", `/v1/host-apps/${hostAppId}/skip-domain-applications/${applicationId}/${decision}`, {
    token,
    json,
  });
const declare = (token: string, hostAppId: string, json: unknown) =>
  callAdmin("POST", `/v1/host-apps/${hostAppId}/sensitive-apis`, { token, json });
const applyApi = (token: string, json: unknown, id = appId) =>
  callAdmin("POST", `/v1/mini-programs/${id}/api-applications`, { token, json });
const decideApi = (
  token: string,
  hostAppId: string,
  applicationId: string,
  decision: string,
  json: unknown = {},
) =>
  callAdmin("POST", `/v1/host-apps/${hostAppId}/api-applications/${applicationId}/${decision}`, {
    token,
    json,
  });

async function teamLog(): Promise<any[]> {
  const log = await expectJson<any>(
    callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
    200,
  );
  return log.entries;
}

describe("skip domain verification (X2)", () => {
  it("a developer applies with a reason; the host app's manager approves; the flag reaches the runtime config", async () => {
    const app = await expectJson<any>(
      applySkip(world.devA.token, { hostAppId: world.host1, reason: "our API hosts change weekly" }),
      201,
    );
    expect(app).toMatchObject({
      status: "pending",
      appliedBy: world.devA.id,
      hostAppId: world.host1,
      decidedBy: null,
    });
    // One open application per host app.
    await expectError(
      applySkip(world.adminA.token, { hostAppId: world.host1, reason: "again" }),
      409,
      "conflict",
    );
    const pending = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/skip-domain-applications?status=pending`, {
        token: world.auditor1.token,
      }),
      200,
    );
    expect(pending.applications.map((a: any) => a.id)).toContain(app.id);
    const before = (await storedSnapshot(appId)).config;
    expect(before.skipDomainCheck).toEqual([]);
    // The auditor may not decide X2; the other host app's manager cannot see it.
    await expectError(decideSkip(world.auditor1.token, world.host1, app.id, "approve"), 403, "forbidden");
    await expectError(decideSkip(world.manager2.token, world.host1, app.id, "approve"), 403, "forbidden");
    await expectError(decideSkip(world.manager2.token, world.host2, app.id, "approve"), 404, "not_found");
    await expectError(decideSkip(world.devA.token, world.host1, app.id, "approve"), 403, "forbidden");
    const approved = await expectJson<any>(
      decideSkip(world.manager1.token, world.host1, app.id, "approve", { reason: "trusted partner" }),
      200,
    );
    expect(approved).toMatchObject({
      status: "approved",
      decidedBy: world.manager1.id,
      decisionReason: "trusted partner",
    });
    expect(approved.decidedAt).toBeGreaterThan(0);
    const after = (await storedSnapshot(appId)).config;
    expect(after.skipDomainCheck).toEqual([world.host1]);
    expect(after.revision).toBe(before.revision + 1);
    // Deciding twice is a conflict.
    await expectError(
      decideSkip(world.manager1.token, world.host1, app.id, "reject", { reason: "no" }),
      409,
      "conflict",
    );
    const mine = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/skip-domain-applications`, { token: world.viewerA.token }),
      200,
    );
    expect(mine.applications[0]).toMatchObject({ id: app.id, status: "approved" });
    const actions = (await teamLog())
      .filter((e) => e.targetId === appId)
      .map((e) => `${e.action} by ${e.actorId}`);
    expect(actions).toEqual(
      expect.arrayContaining([
        `skip_domain.apply by ${world.devA.id}`,
        `skip_domain.approve by ${world.manager1.id}`,
      ]),
    );
  });

  it("a rejection needs a reason, keeps the flag off, and allows applying again", async () => {
    const other = await makeMiniProgram(world, [world.host2]);
    const app = await expectJson<any>(
      applySkip(world.devA.token, { hostAppId: world.host2, reason: "please" }, other),
      201,
    );
    await expectError(decideSkip(world.manager2.token, world.host2, app.id, "reject"), 400, "bad_request");
    const rejected = await expectJson<any>(
      decideSkip(world.manager2.token, world.host2, app.id, "reject", { reason: "configure domains" }),
      200,
    );
    expect(rejected).toMatchObject({ status: "rejected", decisionReason: "configure domains" });
    expect((await storedSnapshot(other)).config.skipDomainCheck).toEqual([]);
    await expectJson(
      applySkip(world.devA.token, { hostAppId: world.host2, reason: "second try" }, other),
      201,
    );
  });

  it("refuses unbound host apps (409), unknown host apps (404), bad bodies (400), viewers (403), other teams (404), no token (401)", async () => {
    await expectError(applySkip(world.devA.token, { hostAppId: world.host2, reason: "x" }), 409, "conflict");
    await expectError(applySkip(world.devA.token, { hostAppId: "ha_nope", reason: "x" }), 404, "not_found");
    await expectError(applySkip(world.devA.token, { hostAppId: world.host1 }), 400, "bad_request");
    await expectError(
      applySkip(world.devA.token, { hostAppId: world.host1, reason: "" }),
      400,
      "bad_request",
    );
    await expectError(
      applySkip(world.devA.token, { hostAppId: world.host1, reason: "x".repeat(501) }),
      400,
      "bad_request",
    );
    await expectError(
      applySkip(world.viewerA.token, { hostAppId: world.host1, reason: "x" }),
      403,
      "forbidden",
    );
    await expectError(applySkip(world.devB.token, { hostAppId: world.host1, reason: "x" }), 404, "not_found");
    await expectError(applySkip("", { hostAppId: world.host1, reason: "x" }), 401, "unauthenticated");
    await expectError(decideSkip(world.manager1.token, world.host1, "sda_nope", "approve"), 404, "not_found");
    await expectError(
      decideSkip(world.manager1.token, world.host1, "sda_nope", "revoke"),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/skip-domain-applications`, { token: world.devA.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/skip-domain-applications?status=maybe`, {
        token: world.manager1.token,
      }),
      400,
      "bad_request",
    );
  });
});

describe("sensitive API permissions (X3)", () => {
  it("the host app declares; a developer applies; the auditor approves; the grant reaches the config; a revocation takes it back", async () => {
    const declared = await expectJson<any>(
      declare(world.manager1.token, world.host1, { name: "getLocation", description: "the user's location" }),
      201,
    );
    expect(declared).toMatchObject({ name: "getLocation", createdBy: world.manager1.id });
    await expectError(
      declare(world.manager1.token, world.host1, { name: "getLocation", description: "again" }),
      409,
      "conflict",
    );
    // Team members of bound mini programs see the list (they apply for these).
    const apis = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/sensitive-apis`, { token: world.viewerA.token }),
      200,
    );
    expect(apis.apis.map((a: any) => a.name)).toContain("getLocation");
    const app = await expectJson<any>(
      applyApi(world.devA.token, { hostAppId: world.host1, apiName: "getLocation", reason: "store finder" }),
      201,
    );
    expect(app).toMatchObject({ status: "pending", apiName: "getLocation", appliedBy: world.devA.id });
    await expectError(
      applyApi(world.devA.token, { hostAppId: world.host1, apiName: "getLocation", reason: "again" }),
      409,
      "conflict",
    );
    const listed = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/api-applications?status=pending`, {
        token: world.manager1.token,
      }),
      200,
    );
    expect(listed.applications.map((a: any) => a.id)).toContain(app.id);
    const approved = await expectJson<any>(
      decideApi(world.auditor1.token, world.host1, app.id, "approve"),
      200,
    );
    expect(approved).toMatchObject({
      status: "approved",
      decidedBy: world.auditor1.id,
      decisionReason: null,
    });
    const granted = (await storedSnapshot(appId)).config;
    expect(granted.apis).toEqual({ [world.host1]: ["getLocation"] });
    await expectError(decideApi(world.manager1.token, world.host1, app.id, "approve"), 409, "conflict");
    await expectError(decideApi(world.manager1.token, world.host1, app.id, "revoke"), 400, "bad_request");
    const revoked = await expectJson<any>(
      decideApi(world.manager1.token, world.host1, app.id, "revoke", { reason: "misuse" }),
      200,
    );
    expect(revoked).toMatchObject({
      status: "revoked",
      decidedBy: world.manager1.id,
      decisionReason: "misuse",
    });
    const after = (await storedSnapshot(appId)).config;
    expect(after.apis).toEqual({});
    expect(after.revision).toBe(granted.revision + 1);
    await expectError(
      decideApi(world.manager1.token, world.host1, app.id, "revoke", { reason: "x" }),
      409,
      "conflict",
    );
    const mine = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/api-applications`, { token: world.viewerA.token }),
      200,
    );
    expect(mine.applications.find((a: any) => a.id === app.id)).toMatchObject({ status: "revoked" });
    // Applying again after a revocation is allowed.
    await expectJson(
      applyApi(world.devA.token, { hostAppId: world.host1, apiName: "getLocation", reason: "fixed" }),
      201,
    );
    const actions = (await teamLog()).filter((e) => e.targetId === appId).map((e) => e.action);
    expect(actions).toEqual(
      expect.arrayContaining(["sensitive_api.apply", "sensitive_api.approve", "sensitive_api.revoke"]),
    );
  });

  it("a rejection with a reason grants nothing", async () => {
    await expectJson(
      declare(world.platform.token, world.host1, { name: "scanCode", description: "camera" }),
      201,
    );
    const app = await expectJson<any>(
      applyApi(world.adminA.token, { hostAppId: world.host1, apiName: "scanCode", reason: "tickets" }),
      201,
    );
    await expectError(decideApi(world.auditor1.token, world.host1, app.id, "reject"), 400, "bad_request");
    await expectJson(
      decideApi(world.auditor1.token, world.host1, app.id, "reject", { reason: "not needed" }),
      200,
    );
    expect((await storedSnapshot(appId)).config.apis[world.host1] ?? []).not.toContain("scanCode");
    await expectError(
      decideApi(world.auditor1.token, world.host1, app.id, "revoke", { reason: "x" }),
      409,
      "conflict",
    );
  });

  it("two racing decisions on one application: one wins, the other gets 409, one change-log entry", async () => {
    await expectJson(
      declare(world.manager1.token, world.host1, { name: "chooseImage", description: "photos" }),
      201,
    );
    const app = await expectJson<any>(
      applyApi(world.devA.token, { hostAppId: world.host1, apiName: "chooseImage", reason: "avatars" }),
      201,
    );
    const [a, b] = await Promise.all([
      decideApi(world.manager1.token, world.host1, app.id, "approve"),
      decideApi(world.auditor1.token, world.host1, app.id, "reject", { reason: "no" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    await a.body?.cancel();
    await b.body?.cancel();
    const entries = (await teamLog()).filter(
      (e) => e.detail?.applicationId === app.id && e.action !== "sensitive_api.apply",
    );
    expect(entries).toHaveLength(1);
    // Two racing applications for the same API: one is recorded.
    await expectJson(
      declare(world.manager1.token, world.host1, { name: "getWeRunData", description: "steps" }),
      201,
    );
    const racing = await Promise.all(
      [1, 2].map(() =>
        applyApi(world.devA.token, { hostAppId: world.host1, apiName: "getWeRunData", reason: "r" }),
      ),
    );
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409]);
    for (const r of racing) await r.body?.cancel();
  });

  it("refuses every wrong caller and input", async () => {
    // Declaring: manager or platform admin only; valid names; a real host app.
    await expectError(
      declare(world.auditor1.token, world.host1, { name: "a1", description: "d" }),
      403,
      "forbidden",
    );
    await expectError(
      declare(world.devA.token, world.host1, { name: "a1", description: "d" }),
      403,
      "forbidden",
    );
    await expectError(
      declare(world.manager2.token, world.host1, { name: "a1", description: "d" }),
      403,
      "forbidden",
    );
    await expectError(
      declare(world.manager1.token, "ha_nope", { name: "a1", description: "d" }),
      404,
      "not_found",
    );
    await expectError(
      declare(world.manager1.token, world.host1, { name: "1bad", description: "d" }),
      400,
      "bad_request",
    );
    await expectError(
      declare(world.manager1.token, world.host1, { name: "ok", description: "" }),
      400,
      "bad_request",
    );
    await expectError(declare("", world.host1, { name: "ok", description: "d" }), 401, "unauthenticated");
    // Listing: strangers are refused.
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/sensitive-apis`, { token: world.devB.token }),
      403,
      "forbidden",
    );
    // Applying: undeclared API 404, unbound host app 409, viewer 403, other team 404.
    await expectError(
      applyApi(world.devA.token, { hostAppId: world.host1, apiName: "nope", reason: "x" }),
      404,
      "not_found",
    );
    await expectJson(
      declare(world.manager2.token, world.host2, { name: "getLocation", description: "gps" }),
      201,
    );
    await expectError(
      applyApi(world.devA.token, { hostAppId: world.host2, apiName: "getLocation", reason: "x" }),
      409,
      "conflict",
    );
    await expectError(
      applyApi(world.viewerA.token, { hostAppId: world.host1, apiName: "getLocation", reason: "x" }),
      403,
      "forbidden",
    );
    await expectError(
      applyApi(world.devB.token, { hostAppId: world.host1, apiName: "getLocation", reason: "x" }),
      404,
      "not_found",
    );
    await expectError(
      applyApi(world.devA.token, { hostAppId: world.host1, reason: "x" }),
      400,
      "bad_request",
    );
    // Deciding: only this host app's manager or auditor.
    await expectError(decideApi(world.devA.token, world.host1, "apa_x", "approve"), 403, "forbidden");
    await expectError(decideApi(world.auditor2.token, world.host1, "apa_x", "approve"), 403, "forbidden");
    await expectError(decideApi(world.auditor1.token, world.host1, "apa_x", "approve"), 404, "not_found");
    await expectError(decideApi(world.auditor1.token, world.host1, "apa_x", "grant"), 400, "bad_request");
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/api-applications`, { token: world.devA.token }),
      403,
      "forbidden",
    );
  });
});
