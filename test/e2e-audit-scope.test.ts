/**
 * Audit scope (issue 10): a host app bound after a version was submitted has not reviewed it.
 * Publishing, grayscale tasks and offline packages deliver a version only to host apps whose
 * auditor approved it; a later binding needs its own (binding) audit of the version, and until
 * then that host app's clients get the last release it approved, or `not_bound`. Driven through
 * the real admin API and the real edge Worker (D1, R2, Durable Objects).
 */
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { readApkg } from "../core/offline";
import {
  approveVersion,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  publish,
  upload,
  type World,
} from "./support/admin";
import { check, checkClaims } from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const clientOf = (appId: string, hostAppId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  ...extra,
});
const auditorOf = (hostAppId: string) => (hostAppId === world.host1 ? world.auditor1 : world.auditor2);
const submit = (appId: string, version: string) =>
  callAdmin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
    token: world.devA.token,
    json: {},
  });
const decide = (auditId: string, hostAppId: string, decision: "approve" | "reject", reason?: string) =>
  callAdmin("POST", `/v1/audits/${auditId}/decision`, {
    token: auditorOf(hostAppId).token,
    json: { hostAppId, decision, ...(reason ? { reason } : {}) },
  });
const versionOf = async (appId: string, version: string) =>
  expectJson<any>(
    callAdmin("GET", `/v1/mini-programs/${appId}/versions/${version}`, { token: world.devA.token }),
    200,
  );
const overview = (appId: string) =>
  expectJson<any>(callAdmin("GET", `/v1/mini-programs/${appId}/overview`, { token: world.devA.token }), 200);
const explain = (appId: string, client: Record<string, unknown>) =>
  expectJson<any>(
    callAdmin("POST", `/v1/mini-programs/${appId}/explain`, { token: world.devA.token, json: { client } }),
    200,
  );
const offline = (appId: string, hostAppId: string) =>
  callAdmin("GET", `/v1/mini-programs/${appId}/offline-package?hostAppId=${hostAppId}`, {
    token: world.devA.token,
  });

/** Binds host app 2 (its manager approves); returns the approval's answer. */
async function bindHost2(appId: string) {
  await expectJson(
    callAdmin("POST", `/v1/mini-programs/${appId}/bindings`, {
      token: world.devA.token,
      json: { hostAppId: world.host2 },
    }),
    201,
  );
  return expectJson<{ status: string; awaitingAudit: string | null }>(
    callAdmin("POST", `/v1/host-apps/${world.host2}/bindings/${appId}/approve`, {
      token: world.manager2.token,
    }),
    200,
  );
}

/** A mini program bound to host app 1 only, with `version` submitted and approved by it. */
async function approvedByHost1(version = "1.0.0") {
  const appId = await makeMiniProgram(world, [world.host1]);
  await approveVersion(world, appId, version, [world.host1]);
  return appId;
}

describe("publishing reaches only the host apps that approved the version", () => {
  it("submit, approve by A, bind B, publish, check from B: not_bound until B's binding audit approves the online version", async () => {
    const appId = await makeMiniProgram(world, [world.host1]);
    await expectJson(upload(world.devA.token, appId, "1.0.0"), 201);
    const audit = await expectJson<any>(submit(appId, "1.0.0"), 201);
    expect(audit).toMatchObject({ hostApps: [world.host1] });
    await expectJson(decide(audit.auditId, world.host1, "approve"), 200);
    const boundB = await bindHost2(appId);
    await publish(world, appId, "1.0.0");

    expect(await checkClaims(clientOf(appId, world.host1))).toMatchObject({
      status: "ok",
      version: "1.0.0",
      aud: world.host1,
    });
    const fromB = await checkClaims(clientOf(appId, world.host2));
    expect(fromB).toMatchObject({ status: "not_bound", reason: "not_bound", aud: world.host2 });
    expect(fromB.version).toBeUndefined();
    expect(audit.kind).toBe("version");
    expect(boundB.awaitingAudit).toBeNull(); // nothing was online when B was bound
    expect((await overview(appId)).online).toMatchObject({ version: "1.0.0", awaitingAudit: [world.host2] });

    // the binding audit: the released version, to the host apps that have not approved it
    const binding = await expectJson<any>(submit(appId, "1.0.0"), 201);
    expect(binding).toMatchObject({
      kind: "binding",
      version: "1.0.0",
      status: "pending",
      hostApps: [world.host2],
    });
    const queue = await expectJson<any>(callAdmin("GET", "/v1/audits", { token: world.auditor2.token }), 200);
    expect(queue.audits).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: binding.auditId,
          kind: "binding",
          appId,
          version: "1.0.0",
          hostAppId: world.host2,
        }),
      ]),
    );
    expect((await versionOf(appId, "1.0.0")).status).toBe("released");
    expect((await checkClaims(clientOf(appId, world.host2))).status).toBe("not_bound");
    expect((await overview(appId)).bindingAudit).toMatchObject({
      auditId: binding.auditId,
      version: "1.0.0",
      reviews: [{ hostAppId: world.host2, decision: null }],
    });

    expect(await expectJson<any>(decide(binding.auditId, world.host2, "approve"), 200)).toMatchObject({
      kind: "binding",
      outcome: "approved",
    });
    expect(await checkClaims(clientOf(appId, world.host2))).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.0.0",
      aud: world.host2,
    });
    expect((await versionOf(appId, "1.0.0")).status).toBe("released");
    expect(await overview(appId)).toMatchObject({ online: { awaitingAudit: [] }, bindingAudit: null });
    const records = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}/audits`, { token: world.devA.token }),
      200,
    );
    expect(
      records.audits.map((a: any) => [
        a.kind,
        a.status,
        a.reviews.map((r: any) => [r.hostAppId, r.decision]),
      ]),
    ).toEqual([
      ["binding", "approved", [[world.host2, "approve"]]],
      ["version", "approved", [[world.host1, "approve"]]],
    ]);
    // everyone approved 1.0.0 now: nothing left for a binding audit
    expect(await expectError(submit(appId, "1.0.0"), 409, "conflict")).toMatch(
      /already approved this version/,
    );
  });

  it("an approval of a discarded package does not carry over to a new upload with the same version number", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    // package X as 1.0.0: host app 2 approves it, then the audit is withdrawn and X replaced by Y
    await expectJson(
      upload(world.devA.token, appId, "1.0.0", makePackage("1.0.0", { "x.js": "package X" })),
      201,
    );
    const first = await expectJson<any>(submit(appId, "1.0.0"), 201);
    await expectJson(decide(first.auditId, world.host2, "approve"), 200);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/withdraw`, { token: world.devA.token }),
      200,
    );
    await expectJson(
      upload(world.devA.token, appId, "1.0.0", makePackage("1.0.0", { "y.js": "package Y" })),
      201,
    );
    // host app 2 leaves; only host app 1 reviews Y; Y is published; host app 2 comes back
    await expectJson(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/bindings/${world.host2}`, {
        token: world.adminA.token,
      }),
      200,
    );
    const second = await expectJson<any>(submit(appId, "1.0.0"), 201);
    expect(second.hostApps).toEqual([world.host1]);
    await expectJson(decide(second.auditId, world.host1, "approve"), 200);
    await publish(world, appId, "1.0.0");
    await bindHost2(appId);
    // host app 2's auditor saw X, never Y
    expect(await checkClaims(clientOf(appId, world.host2))).toMatchObject({ status: "not_bound" });
    expect(await checkClaims(clientOf(appId, world.host1))).toMatchObject({ status: "ok", version: "1.0.0" });
    expect((await overview(appId)).online).toMatchObject({ version: "1.0.0", awaitingAudit: [world.host2] });
  });

  it("a host app bound after a release keeps the last release its auditor approved, with a signed rollback for clients on the newer one", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await approveVersion(world, appId, "1.0.0", [world.host1, world.host2]);
    await publish(world, appId, "1.0.0");
    // host app 2 leaves; 1.1.0 is audited by host app 1 alone and released; host app 2 comes back
    await expectJson(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/bindings/${world.host2}`, {
        token: world.adminA.token,
      }),
      200,
    );
    await approveVersion(world, appId, "1.1.0", [world.host1]);
    await publish(world, appId, "1.1.0");
    const boundB = await bindHost2(appId);

    expect(await checkClaims(clientOf(appId, world.host1))).toMatchObject({ status: "ok", version: "1.1.0" });
    expect(await checkClaims(clientOf(appId, world.host2))).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.0.0",
      rollback: false,
    });
    expect(await checkClaims(clientOf(appId, world.host2, { installedVersion: "1.0.0" }))).toMatchObject({
      reason: "up_to_date",
      version: "1.0.0",
    });
    expect(await checkClaims(clientOf(appId, world.host2, { installedVersion: "1.1.0" }))).toMatchObject({
      reason: "rollback",
      version: "1.0.0",
      rollback: true,
    });
    const e = await explain(appId, clientOf(appId, world.host2));
    expect(e).toMatchObject({
      onlineVersion: "1.1.0",
      hostAppRelease: "1.0.0",
      decision: { status: "ok", version: "1.0.0" },
    });
    expect(boundB.awaitingAudit).toBe("1.1.0");
  });

  it("a binding audit's rejection leaves the version released for the host apps that approved it", async () => {
    const appId = await approvedByHost1();
    await bindHost2(appId);
    await publish(world, appId, "1.0.0");
    const binding = await expectJson<any>(submit(appId, "1.0.0"), 201);
    // a version submit waits for the binding audit too: one audit at a time
    await expectJson(upload(world.devA.token, appId, "1.1.0"), 201);
    expect(await expectError(submit(appId, "1.1.0"), 409, "conflict")).toMatch(
      /another version of this mini program is in audit/,
    );

    expect(
      await expectJson<any>(
        decide(binding.auditId, world.host2, "reject", "the privacy text is missing"),
        200,
      ),
    ).toMatchObject({ kind: "binding", outcome: "rejected" });
    expect((await versionOf(appId, "1.0.0")).status).toBe("released");
    expect(await checkClaims(clientOf(appId, world.host1))).toMatchObject({ status: "ok", version: "1.0.0" });
    expect((await checkClaims(clientOf(appId, world.host2))).status).toBe("not_bound");
    // closed: no second decision; the team may send it again
    await expectError(decide(binding.auditId, world.host2, "approve"), 409, "conflict");
    expect(await expectJson<any>(submit(appId, "1.0.0"), 201)).toMatchObject({
      kind: "binding",
      hostApps: [world.host2],
    });
  });

  it("a pending binding audit can be withdrawn: the version stays released, the auditor can no longer decide", async () => {
    const appId = await approvedByHost1();
    await bindHost2(appId);
    await publish(world, appId, "1.0.0");
    const binding = await expectJson<any>(submit(appId, "1.0.0"), 201);
    expect(
      await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/withdraw`, { token: world.devA.token }),
        200,
      ),
    ).toMatchObject({ status: "released", online: true });
    const refused = (await expectJson<any>(decide(binding.auditId, world.host2, "approve"), 409)).error;
    expect(refused.rule).toBe("audit_closed");
    expect((await checkClaims(clientOf(appId, world.host2))).status).toBe("not_bound");
    // nothing pending any more: a withdraw now is refused
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/withdraw`, { token: world.devA.token }),
      409,
      "conflict",
    );
  });
});

describe("grayscale tasks reach only the host apps that approved their version", () => {
  it("a task of a version B has not approved does not admit B's clients, tickets or not; explain says so; B's approval opens it", async () => {
    const appId = await approvedByHost1("1.0.0");
    await publish(world, appId, "1.0.0");
    await approveVersion(world, appId, "1.1.0", [world.host1]);
    await bindHost2(appId);
    const task = await createTask(world, appId, "1.1.0", {
      hostApps: [{ hostAppId: world.host1 }, { hostAppId: world.host2 }],
    });

    const fromA = await check(clientOf(appId, world.host1, { guid: "same-user" }));
    expect(fromA.claims).toMatchObject({ reason: "grayscale", version: "1.1.0", taskId: task.id });
    expect(fromA.tickets).toHaveLength(1);
    // B approved nothing: not_bound, even for the same user holding host app A's ticket
    const fromB = await check({
      ...clientOf(appId, world.host2, { guid: "same-user" }),
      tickets: fromA.tickets,
    });
    expect(fromB.claims.status).toBe("not_bound");
    expect(fromB.tickets).toEqual([]);
    const e = await explain(appId, clientOf(appId, world.host2, { guid: "same-user" }));
    expect(e.decision).toMatchObject({ status: "not_bound", version: null, taskId: null });
    expect(e.tasks[0]).toMatchObject({ taskId: task.id, eligible: false, outcome: "not_reviewed" });
    expect(e.tasks[0].conditions.find((c: any) => c.condition === "host_app")).toEqual({
      condition: "host_app",
      pass: false,
      detail: `host app ${world.host2} has not approved version 1.1.0 in an audit: a binding audit is needed`,
    });

    // B's auditor approves 1.1.0 (not the online 1.0.0): the task now reaches B's clients, the others still get nothing
    const binding = await expectJson<any>(submit(appId, "1.1.0"), 201);
    expect(binding).toMatchObject({ kind: "binding", hostApps: [world.host2] });
    await expectJson(decide(binding.auditId, world.host2, "approve"), 200);
    expect((await versionOf(appId, "1.1.0")).status).toBe("approved");
    expect((await check(clientOf(appId, world.host2, { guid: "b-user" }))).claims).toMatchObject({
      reason: "grayscale",
      version: "1.1.0",
      taskId: task.id,
    });
    const after = await explain(appId, clientOf(appId, world.host2, { guid: "b-user" }));
    expect(after.decision).toMatchObject({ reason: "grayscale", version: "1.1.0", taskId: task.id });
    expect(after.tasks[0]).toMatchObject({ outcome: "chosen" });
    await taskAction(appId, task.id, "end");
    expect((await checkClaims(clientOf(appId, world.host2, { guid: "new-b-user" }))).status).toBe(
      "not_bound",
    );
  });
});

const taskAction = (appId: string, taskId: string, action: string) =>
  expectJson(
    callAdmin("POST", `/v1/mini-programs/${appId}/grayscale-tasks/${taskId}/${action}`, {
      token: world.devA.token,
    }),
    200,
  );

describe("offline packages only for host apps that approved the online version", () => {
  it("the .apkg for a host app bound later is refused (409) until its auditor approves the online version", async () => {
    const appId = await approvedByHost1();
    await publish(world, appId, "1.0.0");
    await bindHost2(appId);
    expect((await offline(appId, world.host1)).status).toBe(200);
    expect(await expectError(offline(appId, world.host2), 409, "conflict")).toMatch(
      `host app ${world.host2} has not approved the online version 1.0.0`,
    );
    const binding = await expectJson<any>(submit(appId, "1.0.0"), 201);
    await expectJson(decide(binding.auditId, world.host2, "approve"), 200);
    const res = await offline(appId, world.host2);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${appId}_1.0.0.apkg"`);
    // the signed offline manifest names the host app it was approved for
    const { manifest } = readApkg(new Uint8Array(await res.arrayBuffer()));
    expect(decodeJwt(manifest)).toMatchObject({
      sub: appId,
      aud: world.host2,
      version: "1.0.0",
      kind: "offline",
    });
  });
});
