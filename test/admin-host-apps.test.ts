/**
 * Host apps (PRODUCT.md M3): registration, members, and the binding requests of mini programs
 * that only the host app's manager may approve or reject.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { callAdmin, expectError, expectJson, makeUser, makeWorld, type World } from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const UNKNOWN_APP = `gc${"a".repeat(24)}`;

/** A fresh mini program of team A with a pending binding request to `hostAppId`. */
async function pendingBinding(hostAppId: string = world.host1) {
  const mp = await expectJson<any>(
    callAdmin("POST", "/v1/mini-programs", {
      token: world.devA.token,
      json: { teamId: world.teamA, name: `Bind ${crypto.randomUUID().slice(0, 6)}` },
    }),
    201,
  );
  await expectJson(
    callAdmin("POST", `/v1/mini-programs/${mp.appId}/bindings`, {
      token: world.devA.token,
      json: { hostAppId },
    }),
    201,
  );
  return mp.appId as string;
}
const decide = (token: string, hostAppId: string, appId: string, decision: string) =>
  callAdmin("POST", `/v1/host-apps/${hostAppId}/bindings/${appId}/${decision}`, { token });
const bindingsOf = (token: string, hostAppId: string, query = "") =>
  callAdmin("GET", `/v1/host-apps/${hostAppId}/bindings${query}`, { token });
const details = (appId: string) =>
  expectJson<any>(callAdmin("GET", `/v1/mini-programs/${appId}`, { token: world.viewerA.token }), 200);

describe("host apps", () => {
  it("a platform admin registers a host app; every signed-in user can list it", async () => {
    const name = `Host ${crypto.randomUUID().slice(0, 8)}`;
    const created = await expectJson<any>(
      callAdmin("POST", "/v1/host-apps", { token: world.platform.token, json: { name } }),
      201,
    );
    expect(created).toMatchObject({ id: expect.stringMatching(/^ha_/), name });
    const list = await expectJson<any>(callAdmin("GET", "/v1/host-apps", { token: world.devB.token }), 200);
    expect(list.hostApps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: created.id, name }),
        expect.objectContaining({ id: world.host1 }),
      ]),
    );
  });

  it("refuses non platform admins (403), a duplicate name (409) and an empty name (400)", async () => {
    const name = `Dup host ${crypto.randomUUID().slice(0, 8)}`;
    await expectError(
      callAdmin("POST", "/v1/host-apps", { token: world.manager1.token, json: { name } }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", "/v1/host-apps", { token: world.adminA.token, json: { name } }),
      403,
      "forbidden",
    );
    await expectJson(
      callAdmin("POST", "/v1/host-apps", { token: world.platform.token, json: { name } }),
      201,
    );
    await expectError(
      callAdmin("POST", "/v1/host-apps", { token: world.platform.token, json: { name } }),
      409,
      "conflict",
    );
    await expectError(
      callAdmin("POST", "/v1/host-apps", { token: world.platform.token, json: { name: "" } }),
      400,
      "bad_request",
    );
    const list = await expectJson<any>(
      callAdmin("GET", "/v1/host-apps", { token: world.platform.token }),
      200,
    );
    expect(list.hostApps.filter((h: any) => h.name === name)).toHaveLength(1);
  });
});

describe("host app members", () => {
  it("managers, auditors and platform admins list them; others get 403; an unknown host app 404", async () => {
    const list = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/members`, { token: world.auditor1.token }),
      200,
    );
    expect(list.members.map((m: any) => [m.userId, m.role]).sort()).toEqual(
      [
        [world.manager1.id, "manager"],
        [world.auditor1.id, "auditor"],
      ].sort(),
    );
    await expectJson(
      callAdmin("GET", `/v1/host-apps/${world.host1}/members`, { token: world.platform.token }),
      200,
    );
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/members`, { token: world.manager2.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("GET", `/v1/host-apps/${world.host1}/members`, { token: world.devA.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("GET", "/v1/host-apps/ha_nope/members", { token: world.manager1.token }),
      404,
      "not_found",
    );
  });

  it("a manager (or platform admin) adds members; an auditor gets 403", async () => {
    const newAuditor = await makeUser("newauditor");
    const denied = await makeUser("denied");
    await expectError(
      callAdmin("POST", `/v1/host-apps/${world.host1}/members`, {
        token: world.auditor1.token,
        json: { email: denied.email, role: "manager" },
      }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", `/v1/host-apps/${world.host1}/members`, {
        token: world.manager2.token,
        json: { email: denied.email, role: "auditor" },
      }),
      403,
      "forbidden",
    );
    await expectJson(
      callAdmin("POST", `/v1/host-apps/${world.host1}/members`, {
        token: world.manager1.token,
        json: { email: newAuditor.email, role: "auditor" },
      }),
      200,
    );
    const list = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/members`, { token: world.manager1.token }),
      200,
    );
    const ids = list.members.map((m: any) => m.userId);
    expect(ids).toContain(newAuditor.id);
    expect(ids).not.toContain(denied.id);
    // the new auditor now sees binding requests
    await expectJson(bindingsOf(newAuditor.token, world.host1), 200);
    await expectError(
      callAdmin("POST", "/v1/host-apps/ha_nope/members", {
        token: world.platform.token,
        json: { email: denied.email, role: "auditor" },
      }),
      404,
      "not_found",
    );
  });
});

describe("binding requests", () => {
  it("are listed to the host app's manager and auditor, with a status filter; others get 403, an unknown host app 404", async () => {
    const appId = await pendingBinding();
    for (const token of [world.manager1.token, world.auditor1.token]) {
      const list = await expectJson<any>(bindingsOf(token, world.host1), 200);
      expect(list.bindings).toEqual(
        expect.arrayContaining([expect.objectContaining({ appId, status: "pending", decidedAt: null })]),
      );
    }
    const approved = await expectJson<any>(
      bindingsOf(world.manager1.token, world.host1, "?status=approved"),
      200,
    );
    expect(approved.bindings.map((b: any) => b.appId)).not.toContain(appId);
    await expectError(bindingsOf(world.manager1.token, world.host1, "?status=maybe"), 400, "bad_request");
    for (const token of [world.manager2.token, world.auditor2.token, world.devA.token, world.adminA.token])
      await expectError(bindingsOf(token, world.host1), 403, "forbidden");
    await expectError(bindingsOf(world.manager1.token, "ha_nope"), 404, "not_found");
    // host 2 does not see host 1's requests
    const other = await expectJson<any>(bindingsOf(world.manager2.token, world.host2), 200);
    expect(other.bindings.map((b: any) => b.appId)).not.toContain(appId);
  });

  it("only that host app's manager approves; the approved binding shows in the mini program details", async () => {
    const appId = await pendingBinding();
    await expectError(decide(world.auditor1.token, world.host1, appId, "approve"), 403, "forbidden");
    await expectError(decide(world.manager2.token, world.host1, appId, "approve"), 403, "forbidden");
    await expectError(decide(world.adminA.token, world.host1, appId, "approve"), 403, "forbidden");
    expect((await details(appId)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host1, status: "pending" }),
    ]);
    const ok = await expectJson<any>(decide(world.manager1.token, world.host1, appId, "approve"), 200);
    // nothing online yet: no version awaits this host app's audit
    expect(ok).toEqual({
      appId,
      hostAppId: world.host1,
      status: "approved",
      awaitingAudit: null,
    });
    const d = await details(appId);
    expect(d.bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host1, status: "approved", decidedAt: expect.any(Number) }),
    ]);
    const approved = await expectJson<any>(
      bindingsOf(world.auditor1.token, world.host1, "?status=approved"),
      200,
    );
    expect(approved.bindings.map((b: any) => b.appId)).toContain(appId);
  });

  it("a rejection shows in the details; deciding twice is 409 either way", async () => {
    const appId = await pendingBinding();
    await expectJson(decide(world.manager1.token, world.host1, appId, "reject"), 200);
    expect((await details(appId)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host1, status: "rejected" }),
    ]);
    expect(
      await expectError(decide(world.manager1.token, world.host1, appId, "approve"), 409, "conflict"),
    ).toMatch(/rejected/);
    await expectError(decide(world.manager1.token, world.host1, appId, "reject"), 409, "conflict");
    const approvedId = await pendingBinding();
    await expectJson(decide(world.manager1.token, world.host1, approvedId, "approve"), 200);
    await expectError(decide(world.manager1.token, world.host1, approvedId, "reject"), 409, "conflict");
    expect((await details(approvedId)).bindings[0].status).toBe("approved");
  });

  it("refuses an unknown host app (404), an unrequested binding (404) and an unknown decision (400)", async () => {
    const appId = await pendingBinding(world.host2);
    await expectError(decide(world.manager1.token, "ha_nope", appId, "approve"), 404, "not_found");
    await expectError(decide(world.manager1.token, world.host1, appId, "approve"), 404, "not_found");
    await expectError(decide(world.manager1.token, world.host1, UNKNOWN_APP, "approve"), 404, "not_found");
    await expectError(decide(world.manager2.token, world.host2, appId, "maybe"), 400, "bad_request");
    expect((await details(appId)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host2, status: "pending" }),
    ]);
  });

  it("decisions are in the owning team's change log; host app changes in the platform log", async () => {
    const approvedId = await pendingBinding();
    const rejectedId = await pendingBinding();
    await expectJson(decide(world.manager1.token, world.host1, approvedId, "approve"), 200);
    await expectJson(decide(world.manager1.token, world.host1, rejectedId, "reject"), 200);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.viewerA.token }),
      200,
    );
    const mine = (appId: string) =>
      log.entries
        .filter((e: any) => e.targetId === appId)
        .map((e: any) => `${e.action} by ${e.actorId}`)
        .sort();
    expect(mine(approvedId)).toEqual([
      `binding.approve by ${world.manager1.id}`,
      `binding.request by ${world.devA.id}`,
      `mini_program.create by ${world.devA.id}`,
    ]);
    expect(mine(rejectedId)).toEqual([
      `binding.reject by ${world.manager1.id}`,
      `binding.request by ${world.devA.id}`,
      `mini_program.create by ${world.devA.id}`,
    ]);
    expect(
      log.entries.find((e: any) => e.targetId === approvedId && e.action === "binding.approve").detail,
    ).toEqual({ hostAppId: world.host1 });

    const name = `Logged host ${crypto.randomUUID().slice(0, 8)}`;
    const host = await expectJson<any>(
      callAdmin("POST", "/v1/host-apps", { token: world.platform.token, json: { name } }),
      201,
    );
    const all = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    expect(all.entries).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          action: "host_app.create",
          targetId: host.id,
          actorId: world.platform.id,
          detail: { name },
        }),
      ]),
    );
    await expectError(callAdmin("GET", "/v1/change-log", { token: world.manager1.token }), 403, "forbidden");
  });
});
