/**
 * Mini programs (PRODUCT.md M2-M4): creation in a team, the App ID, listing, details, edits,
 * shelf status, binding requests and unbinding, and the change log they leave behind.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { callAdmin, expectError, expectJson, makeMiniProgram, makeWorld, type World } from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const APP_ID = /^gc[a-z2-7]{24}$/;
const UNKNOWN_APP = `gc${"a".repeat(24)}`;

const create = (token: string, teamId: string, name = "Demo", description?: string) =>
  callAdmin("POST", "/v1/mini-programs", {
    token,
    json: { teamId, name, ...(description === undefined ? {} : { description }) },
  });
const details = (token: string, appId: string) => callAdmin("GET", `/v1/mini-programs/${appId}`, { token });
const edit = (token: string, appId: string, json: unknown) =>
  callAdmin("PATCH", `/v1/mini-programs/${appId}`, { token, json });
const shelf = (token: string, appId: string, listed: boolean) =>
  callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, { token, json: { listed } });
const requestBinding = (token: string, appId: string, hostAppId: string) =>
  callAdmin("POST", `/v1/mini-programs/${appId}/bindings`, { token, json: { hostAppId } });
const decide = (token: string, hostAppId: string, appId: string, decision: "approve" | "reject") =>
  callAdmin("POST", `/v1/host-apps/${hostAppId}/bindings/${appId}/${decision}`, { token });
const unbind = (token: string, appId: string, hostAppId: string) =>
  callAdmin("DELETE", `/v1/mini-programs/${appId}/bindings/${hostAppId}`, { token });
const newApp = async () =>
  (await expectJson<any>(create(world.devA.token, world.teamA), 201)).appId as string;

describe("create", () => {
  it("a developer or team admin creates one in their team, with a fresh App ID and the IDE link", async () => {
    const mp = await expectJson<any>(create(world.devA.token, world.teamA, "Shop", "a shop"), 201);
    expect(mp).toMatchObject({
      teamId: world.teamA,
      name: "Shop",
      description: "a shop",
      listed: true,
      onlineVersion: null,
      bindings: [],
    });
    expect(mp.appId).toMatch(APP_ID);
    const byAdmin = await expectJson<any>(create(world.adminA.token, world.teamA, "Admin's"), 201);
    expect(byAdmin.appId).toMatch(APP_ID);
    const ids = [mp.appId, byAdmin.appId];
    for (let i = 0; i < 8; i++)
      ids.push((await expectJson<any>(create(world.devA.token, world.teamA, `n${i}`), 201)).appId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(APP_ID);
  });

  it("a viewer gets 403; another team's member gets the same 404 as for a team that does not exist", async () => {
    await expectError(create(world.viewerA.token, world.teamA), 403, "forbidden");
    const hidden = await expectError(create(world.devB.token, world.teamA), 404, "not_found");
    const missing = await expectError(create(world.devB.token, "team_does_not_exist"), 404, "not_found");
    expect(hidden).toBe(missing);
    await expectError(create(world.devA.token, world.teamA, "   "), 400, "bad_request");
    await expectError(create(world.devA.token, world.teamA, "x".repeat(61)), 400, "bad_request");
    const list = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs?teamId=${world.teamA}`, { token: world.adminA.token }),
      200,
    );
    expect(list.miniPrograms.map((m: any) => m.name)).not.toContain("Demo");
  });
});

describe("list and details", () => {
  it("lists the mini programs of my teams only, filtered by teamId", async () => {
    const a = await newApp();
    const b = (await expectJson<any>(create(world.devB.token, world.teamB, "B's"), 201)).appId;
    const mineA = await expectJson<any>(
      callAdmin("GET", "/v1/mini-programs", { token: world.viewerA.token }),
      200,
    );
    expect(mineA.miniPrograms.map((m: any) => m.appId)).toContain(a);
    expect(mineA.miniPrograms.every((m: any) => m.teamId === world.teamA)).toBe(true);
    const mineB = await expectJson<any>(
      callAdmin("GET", "/v1/mini-programs", { token: world.devB.token }),
      200,
    );
    expect(mineB.miniPrograms.map((m: any) => m.appId)).toEqual([b]);
    const filtered = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs?teamId=${world.teamB}`, { token: world.devB.token }),
      200,
    );
    expect(filtered.miniPrograms.map((m: any) => m.appId)).toEqual([b]);
    // filtering by a team I do not belong to shows nothing
    expect(
      (
        await expectJson<any>(
          callAdmin("GET", `/v1/mini-programs?teamId=${world.teamA}`, { token: world.devB.token }),
          200,
        )
      ).miniPrograms,
    ).toEqual([]);
  });

  it("details: any team member reads them; others and unknown App IDs get 404; a malformed App ID 400", async () => {
    const appId = await makeMiniProgram(world);
    const d = await expectJson<any>(details(world.viewerA.token, appId), 200);
    expect(d).toMatchObject({ appId, teamId: world.teamA, name: "Demo", listed: true, onlineVersion: null });
    expect(d.bindings).toEqual([expect.objectContaining({ hostAppId: world.host1, status: "approved" })]);
    const hidden = await expectError(details(world.devB.token, appId), 404, "not_found");
    expect(await expectError(details(world.devA.token, UNKNOWN_APP), 404, "not_found")).toBe(hidden);
    await expectError(details(world.devA.token, "not-an-app-id"), 400, "bad_request");
  });

  it("the create, details, edit and shelf responses carry the IDE download link (M2)", async () => {
    const created = await expectJson<any>(create(world.devA.token, world.teamA), 201);
    const responses = [
      created,
      await expectJson<any>(details(world.viewerA.token, created.appId), 200),
      await expectJson<any>(edit(world.devA.token, created.appId, { name: "With link" }), 200),
      await expectJson<any>(shelf(world.devA.token, created.appId, false), 200),
    ];
    for (const r of responses) expect(r.ideDownloadUrl).toMatch(/^https?:\/\/\S+$/);
  });
});

describe("edit", () => {
  it("changes the name and description, read back in details and the list", async () => {
    const appId = await newApp();
    const before = await expectJson<any>(details(world.devA.token, appId), 200);
    const edited = await expectJson<any>(
      edit(world.devA.token, appId, { name: "Renamed", description: "new text" }),
      200,
    );
    expect(edited).toMatchObject({ name: "Renamed", description: "new text" });
    expect(edited.updatedAt).toBeGreaterThanOrEqual(before.updatedAt);
    await expectJson(edit(world.adminA.token, appId, { description: "" }), 200);
    expect(await expectJson<any>(details(world.viewerA.token, appId), 200)).toMatchObject({
      name: "Renamed",
      description: "",
    });
    const list = await expectJson<any>(
      callAdmin("GET", "/v1/mini-programs", { token: world.devA.token }),
      200,
    );
    expect(list.miniPrograms.find((m: any) => m.appId === appId).name).toBe("Renamed");
  });

  it("refuses an empty edit, an unknown field or a bad value (400), a viewer (403) and another team (404)", async () => {
    const appId = await newApp();
    await expectError(edit(world.devA.token, appId, {}), 400, "bad_request");
    await expectError(edit(world.devA.token, appId, { name: "X", listed: false }), 400, "bad_request");
    await expectError(edit(world.devA.token, appId, { teamId: world.teamB }), 400, "bad_request");
    await expectError(edit(world.devA.token, appId, { name: "" }), 400, "bad_request");
    await expectError(edit(world.viewerA.token, appId, { name: "X" }), 403, "forbidden");
    await expectError(edit(world.devB.token, appId, { name: "X" }), 404, "not_found");
    expect(await expectJson<any>(details(world.devA.token, appId), 200)).toMatchObject({
      name: "Demo",
      teamId: world.teamA,
      listed: true,
    });
  });
});

describe("shelf", () => {
  it("goes off and on the shelf; the same state twice is 409; a viewer gets 403", async () => {
    const appId = await newApp();
    await expectError(shelf(world.devA.token, appId, true), 409, "conflict");
    await expectError(shelf(world.viewerA.token, appId, false), 403, "forbidden");
    await expectError(shelf(world.devB.token, appId, false), 404, "not_found");
    expect((await expectJson<any>(shelf(world.devA.token, appId, false), 200)).listed).toBe(false);
    expect((await expectJson<any>(details(world.viewerA.token, appId), 200)).listed).toBe(false);
    expect(await expectError(shelf(world.devA.token, appId, false), 409, "conflict")).toMatch(
      /off the shelf/,
    );
    await expectJson(shelf(world.adminA.token, appId, true), 200);
    expect((await expectJson<any>(details(world.viewerA.token, appId), 200)).listed).toBe(true);
    await expectError(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: "no" },
      }),
      400,
      "bad_request",
    );
  });
});

describe("bindings", () => {
  it("a request is pending until decided; a duplicate pending or approved request is 409", async () => {
    const appId = await newApp();
    expect(await expectJson<any>(requestBinding(world.devA.token, appId, world.host1), 201)).toEqual({
      appId,
      hostAppId: world.host1,
      status: "pending",
    });
    expect((await expectJson<any>(details(world.devA.token, appId), 200)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host1, status: "pending", decidedAt: null }),
    ]);
    await expectError(requestBinding(world.devA.token, appId, world.host1), 409, "conflict");
    await expectJson(decide(world.manager1.token, world.host1, appId, "approve"), 200);
    await expectError(requestBinding(world.adminA.token, appId, world.host1), 409, "conflict");
    expect((await expectJson<any>(details(world.devA.token, appId), 200)).bindings).toEqual([
      expect.objectContaining({ status: "approved" }),
    ]);
  });

  it("may be requested again after a rejection", async () => {
    const appId = await newApp();
    await expectJson(requestBinding(world.devA.token, appId, world.host2), 201);
    await expectJson(decide(world.manager2.token, world.host2, appId, "reject"), 200);
    await expectJson(requestBinding(world.devA.token, appId, world.host2), 201);
    expect((await expectJson<any>(details(world.devA.token, appId), 200)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host2, status: "pending", decidedAt: null }),
    ]);
    const queue = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host2}/bindings?status=pending`, {
        token: world.manager2.token,
      }),
      200,
    );
    expect(queue.bindings.map((b: any) => b.appId)).toContain(appId);
  });

  it("refuses a viewer (403), another team (404) and an unknown host app (404)", async () => {
    const appId = await newApp();
    await expectError(requestBinding(world.viewerA.token, appId, world.host1), 403, "forbidden");
    await expectError(requestBinding(world.devB.token, appId, world.host1), 404, "not_found");
    await expectError(requestBinding(world.devA.token, appId, "ha_nope"), 404, "not_found");
    expect((await expectJson<any>(details(world.devA.token, appId), 200)).bindings).toEqual([]);
  });

  it("only a team admin unbinds (developer 403); the binding is gone afterwards", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await expectError(unbind(world.devA.token, appId, world.host1), 403, "forbidden");
    await expectError(unbind(world.viewerA.token, appId, world.host1), 403, "forbidden");
    await expectError(unbind(world.devB.token, appId, world.host1), 404, "not_found");
    expect(await expectJson<any>(unbind(world.adminA.token, appId, world.host1), 200)).toEqual({ ok: true });
    expect((await expectJson<any>(details(world.devA.token, appId), 200)).bindings).toEqual([
      expect.objectContaining({ hostAppId: world.host2, status: "approved" }),
    ]);
    await expectError(unbind(world.adminA.token, appId, world.host1), 404, "not_found");
    const approved = await expectJson<any>(
      callAdmin("GET", `/v1/host-apps/${world.host1}/bindings`, { token: world.manager1.token }),
      200,
    );
    expect(approved.bindings.map((b: any) => b.appId)).not.toContain(appId);
    // after unbinding, the mini program can ask again
    await expectJson(requestBinding(world.devA.token, appId, world.host1), 201);
  });
});

describe("change log", () => {
  it("every change above leaves an entry (who, what, when) the team's members can read", async () => {
    const start = Date.now();
    const appId = await newApp();
    await expectJson(edit(world.devA.token, appId, { name: "Logged" }), 200);
    await expectJson(shelf(world.devA.token, appId, false), 200);
    await expectJson(shelf(world.devA.token, appId, true), 200);
    await expectJson(requestBinding(world.devA.token, appId, world.host1), 201);
    await expectJson(decide(world.manager1.token, world.host1, appId, "reject"), 200);
    await expectJson(requestBinding(world.devA.token, appId, world.host1), 201);
    await expectJson(decide(world.manager1.token, world.host1, appId, "approve"), 200);
    await expectJson(unbind(world.adminA.token, appId, world.host1), 200);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.viewerA.token }),
      200,
    );
    const entries = log.entries.filter((e: any) => e.targetId === appId);
    const { devA, manager1, adminA } = world;
    expect(entries.map((e: any) => `${e.action} by ${e.actorId}`).sort()).toEqual(
      [
        `mini_program.create by ${devA.id}`,
        `mini_program.edit by ${devA.id}`,
        `mini_program.delist by ${devA.id}`,
        `mini_program.list by ${devA.id}`,
        `binding.request by ${devA.id}`,
        `binding.reject by ${manager1.id}`,
        `binding.request by ${devA.id}`,
        `binding.approve by ${manager1.id}`,
        `binding.remove by ${adminA.id}`,
      ].sort(),
    );
    for (const e of entries) {
      expect(e).toMatchObject({ teamId: world.teamA, targetType: "mini_program" });
      expect(e.at).toBeGreaterThanOrEqual(start);
    }
    expect(entries.find((e: any) => e.action === "mini_program.edit").detail).toEqual({ name: "Logged" });
    expect(JSON.stringify(log)).not.toMatch(/pbkdf2|password|gct_|eyJ/);
    // other teams cannot read it; without teamId only a platform admin can
    await expectError(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}`, { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(callAdmin("GET", "/v1/change-log", { token: world.adminA.token }), 403, "forbidden");
    const all = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    expect(all.entries.filter((e: any) => e.targetId === appId)).toHaveLength(9);
  });
});
