/**
 * Teams and their members (PRODUCT.md M1): who may create teams, see and change members, and the
 * rule that a team always keeps an admin. Every change is in the team's change log.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  callAdmin,
  expectError,
  expectJson,
  makeUser,
  makeWorld,
  type TestUser,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

// makeUser labels are lower case: emails are looked up lower-cased (see the report on support/admin.ts).
const members = (token: string, teamId: string) => callAdmin("GET", `/v1/teams/${teamId}/members`, { token });
const roleOf = async (teamId: string, userId: string) =>
  (await expectJson<any>(members(world.platform.token, teamId), 200)).members.find(
    (m: any) => m.userId === userId,
  )?.role;
const setMember = (token: string, teamId: string, email: string, role: string) =>
  callAdmin("POST", `/v1/teams/${teamId}/members`, { token, json: { email, role } });
const removeMember = (token: string, teamId: string, userId: string) =>
  callAdmin("DELETE", `/v1/teams/${teamId}/members/${userId}`, { token });
const changeLog = (token: string, teamId: string) =>
  callAdmin("GET", `/v1/change-log?teamId=${teamId}&limit=200`, { token });

/** A fresh team whose admin is a fresh user, created through the API. */
async function freshTeam(): Promise<{ teamId: string; admin: TestUser }> {
  const admin = await makeUser("teamadmin");
  const team = await expectJson<any>(
    callAdmin("POST", "/v1/teams", {
      token: world.platform.token,
      json: { name: `T ${crypto.randomUUID()}`, adminEmail: admin.email },
    }),
    201,
  );
  return { teamId: team.id, admin };
}

describe("create and list teams", () => {
  it("a platform admin creates a team with its first admin, who then sees it with the admin role", async () => {
    const admin = await makeUser("firstadmin");
    const name = `Team ${crypto.randomUUID().slice(0, 8)}`;
    const team = await expectJson<any>(
      callAdmin("POST", "/v1/teams", {
        token: world.platform.token,
        json: { name, adminEmail: admin.email.toUpperCase() },
      }),
      201,
    );
    expect(team).toMatchObject({ id: expect.stringMatching(/^team_/), name });
    const mine = await expectJson<any>(callAdmin("GET", "/v1/teams", { token: admin.token }), 200);
    expect(mine.teams).toEqual([expect.objectContaining({ id: team.id, name, role: "admin" })]);
    const all = await expectJson<any>(callAdmin("GET", "/v1/teams", { token: world.platform.token }), 200);
    expect(all.teams.map((t: any) => t.id)).toEqual(
      expect.arrayContaining([team.id, world.teamA, world.teamB]),
    );
  });

  it("refuses non platform admins (403), a duplicate name (409), an unknown admin email (404) and an empty name (400)", async () => {
    const name = `Dup ${crypto.randomUUID().slice(0, 8)}`;
    await expectError(
      callAdmin("POST", "/v1/teams", { token: world.adminA.token, json: { name } }),
      403,
      "forbidden",
    );
    await expectJson(callAdmin("POST", "/v1/teams", { token: world.platform.token, json: { name } }), 201);
    await expectError(
      callAdmin("POST", "/v1/teams", { token: world.platform.token, json: { name } }),
      409,
      "conflict",
    );
    await expectError(
      callAdmin("POST", "/v1/teams", {
        token: world.platform.token,
        json: { name: `${name}-2`, adminEmail: `ghost-${crypto.randomUUID()}@example.test` },
      }),
      404,
      "not_found",
    );
    await expectError(
      callAdmin("POST", "/v1/teams", { token: world.platform.token, json: { name: "   " } }),
      400,
      "bad_request",
    );
    const all = await expectJson<any>(callAdmin("GET", "/v1/teams", { token: world.platform.token }), 200);
    expect(all.teams.filter((t: any) => t.name.startsWith(name)).map((t: any) => t.name)).toEqual([name]);
  });

  it("lists only my teams, each with my role", async () => {
    const dev = await expectJson<any>(callAdmin("GET", "/v1/teams", { token: world.devA.token }), 200);
    expect(dev.teams).toEqual([expect.objectContaining({ id: world.teamA, role: "developer" })]);
    const viewer = await expectJson<any>(callAdmin("GET", "/v1/teams", { token: world.viewerA.token }), 200);
    expect(viewer.teams).toEqual([expect.objectContaining({ id: world.teamA, role: "viewer" })]);
    const outsider = await makeUser("outsider");
    expect(
      (await expectJson<any>(callAdmin("GET", "/v1/teams", { token: outsider.token }), 200)).teams,
    ).toEqual([]);
  });
});

describe("team members", () => {
  it("any member lists the members with their roles; a non-member gets 404", async () => {
    const list = await expectJson<any>(members(world.viewerA.token, world.teamA), 200);
    expect(list.members.map((m: any) => [m.userId, m.role]).sort()).toEqual(
      [
        [world.adminA.id, "admin"],
        [world.devA.id, "developer"],
        [world.viewerA.id, "viewer"],
      ].sort(),
    );
    await expectError(members(world.devB.token, world.teamA), 404, "not_found");
    await expectError(members(world.devB.token, "team_does_not_exist"), 404, "not_found");
    await expectJson(members(world.platform.token, world.teamA), 200);
  });

  it("a team admin adds a member and changes the role; it shows in the list", async () => {
    const { teamId, admin } = await freshTeam();
    const newcomer = await makeUser("newcomer");
    const added = await expectJson<any>(setMember(admin.token, teamId, newcomer.email, "viewer"), 200);
    expect(added).toMatchObject({ userId: newcomer.id, role: "viewer" });
    expect(await roleOf(teamId, newcomer.id)).toBe("viewer");
    await expectJson(setMember(admin.token, teamId, newcomer.email, "developer"), 200);
    expect(await roleOf(teamId, newcomer.id)).toBe("developer");
    // the newcomer now sees the team
    expect(
      (await expectJson<any>(callAdmin("GET", "/v1/teams", { token: newcomer.token }), 200)).teams,
    ).toEqual([expect.objectContaining({ id: teamId, role: "developer" })]);
  });

  it("a platform admin may set members of any team", async () => {
    const { teamId } = await freshTeam();
    const user = await makeUser("byplatform");
    await expectJson(setMember(world.platform.token, teamId, user.email, "admin"), 200);
    expect(await roleOf(teamId, user.id)).toBe("admin");
    await expectError(setMember(world.platform.token, "team_nope", user.email, "viewer"), 404, "not_found");
  });

  it("a developer or viewer gets 403, a non-member 404, and nothing changes", async () => {
    const target = await makeUser("target");
    await expectError(setMember(world.devA.token, world.teamA, target.email, "viewer"), 403, "forbidden");
    await expectError(setMember(world.viewerA.token, world.teamA, target.email, "admin"), 403, "forbidden");
    await expectError(setMember(world.devB.token, world.teamA, target.email, "admin"), 404, "not_found");
    await expectError(removeMember(world.devA.token, world.teamA, world.viewerA.id), 403, "forbidden");
    await expectError(removeMember(world.devB.token, world.teamA, world.viewerA.id), 404, "not_found");
    expect(await roleOf(world.teamA, target.id)).toBeUndefined();
    expect(await roleOf(world.teamA, world.viewerA.id)).toBe("viewer");
  });

  it("refuses an unknown email (404) and an unknown role (400)", async () => {
    const { teamId, admin } = await freshTeam();
    await expectError(
      setMember(admin.token, teamId, `ghost-${crypto.randomUUID()}@example.test`, "viewer"),
      404,
      "not_found",
    );
    const user = await makeUser("badrole");
    await expectError(setMember(admin.token, teamId, user.email, "owner"), 400, "bad_request");
    expect(await roleOf(teamId, user.id)).toBeUndefined();
  });

  it("the last admin can be neither demoted nor removed (409); with a second admin both work", async () => {
    const { teamId, admin } = await freshTeam();
    await expectError(setMember(admin.token, teamId, admin.email, "developer"), 409, "conflict");
    await expectError(removeMember(admin.token, teamId, admin.id), 409, "conflict");
    await expectError(removeMember(world.platform.token, teamId, admin.id), 409, "conflict");
    expect(await roleOf(teamId, admin.id)).toBe("admin");
    const second = await makeUser("second");
    await expectJson(setMember(admin.token, teamId, second.email, "admin"), 200);
    await expectJson(setMember(admin.token, teamId, admin.email, "developer"), 200);
    expect(await roleOf(teamId, admin.id)).toBe("developer");
    // the demoted user is no longer an admin
    const third = await makeUser("third");
    await expectError(setMember(admin.token, teamId, third.email, "viewer"), 403, "forbidden");
    await expectError(removeMember(second.token, teamId, second.id), 409, "conflict");
  });

  it("a team admin removes a member, who then loses access", async () => {
    const { teamId, admin } = await freshTeam();
    const leaver = await makeUser("leaver");
    await expectJson(setMember(admin.token, teamId, leaver.email, "developer"), 200);
    await expectJson(members(leaver.token, teamId), 200);
    await expectJson(removeMember(admin.token, teamId, leaver.id), 200);
    expect(await roleOf(teamId, leaver.id)).toBeUndefined();
    await expectError(members(leaver.token, teamId), 404, "not_found");
    await expectError(removeMember(admin.token, teamId, leaver.id), 404, "not_found");
  });
});

describe("team change log", () => {
  it("records team creation and every member change (who, what, when), readable by the team's members only", async () => {
    const start = Date.now();
    const { teamId, admin } = await freshTeam();
    const member = await makeUser("logged");
    await expectJson(setMember(admin.token, teamId, member.email, "viewer"), 200);
    await expectJson(setMember(admin.token, teamId, member.email, "developer"), 200);
    await expectJson(removeMember(admin.token, teamId, member.id), 200);
    const log = await expectJson<any>(changeLog(admin.token, teamId), 200);
    expect(log.entries.map((e: any) => `${e.action} by ${e.actorId}`).sort()).toEqual(
      [
        `team.create by ${world.platform.id}`,
        `team.member.set by ${admin.id}`,
        `team.member.set by ${admin.id}`,
        `team.member.remove by ${admin.id}`,
      ].sort(),
    );
    for (const e of log.entries) {
      expect(e.teamId).toBe(teamId);
      expect(e.at).toBeGreaterThanOrEqual(start);
    }
    const sets = log.entries.filter((e: any) => e.action === "team.member.set").map((e: any) => e.detail);
    expect(sets).toEqual(
      expect.arrayContaining([
        { user: member.email, role: "viewer", previous: null },
        { user: member.email, role: "developer", previous: "viewer" },
      ]),
    );
    expect(JSON.stringify(log)).not.toMatch(/pbkdf2|password|gct_|eyJ/);
    // the removed member and outsiders cannot read it; without teamId only a platform admin can
    await expectError(changeLog(member.token, teamId), 404, "not_found");
    await expectError(changeLog(world.devB.token, teamId), 404, "not_found");
    await expectError(callAdmin("GET", "/v1/change-log", { token: admin.token }), 403, "forbidden");
    const all = await expectJson<any>(
      callAdmin("GET", "/v1/change-log?limit=200", { token: world.platform.token }),
      200,
    );
    expect(all.entries.filter((e: any) => e.teamId === teamId)).toHaveLength(4);
  });

  it("a platform admin can also read one team's change log with ?teamId=", async () => {
    const { teamId } = await freshTeam();
    const log = await expectJson<any>(changeLog(world.platform.token, teamId), 200);
    expect(log.entries.map((e: any) => e.action)).toEqual(["team.create"]);
  });

  it("pages with before= and limit=", async () => {
    const { teamId, admin } = await freshTeam();
    for (const label of ["p1", "p2", "p3"])
      await expectJson(setMember(admin.token, teamId, (await makeUser(label)).email, "viewer"), 200);
    const all = (await expectJson<any>(changeLog(admin.token, teamId), 200)).entries;
    expect(all).toHaveLength(4);
    const page = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${teamId}&limit=2`, { token: admin.token }),
      200,
    );
    expect(page.entries.map((e: any) => e.at)).toEqual(all.slice(0, 2).map((e: any) => e.at));
    const older = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${teamId}&before=${all[1].at}`, { token: admin.token }),
      200,
    );
    expect(older.entries.every((e: any) => e.at < all[1].at)).toBe(true);
    await expectError(
      callAdmin("GET", `/v1/change-log?teamId=${teamId}&limit=0`, { token: admin.token }),
      400,
      "bad_request",
    );
  });
});
