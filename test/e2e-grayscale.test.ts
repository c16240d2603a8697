/**
 * End to end: grayscale tasks made through the control plane reach clients through the
 * compiled snapshot and the real edge Worker (signed manifests, counters, tickets), and the
 * control plane's explain and progress agree with what the edge did.
 */

import { beforeAll, describe, expect, it } from "vitest";
import type { ManifestClaims } from "../core/manifest";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectJson,
  makeWorld,
  moveTaskTimes,
  publish,
  runCron,
  storedSnapshot,
  taskAction,
  tasksPath,
  type World,
} from "./support/admin";
import { mintAssertion, registerAssertionKey } from "./support/assertions";
import { edgeFetch, verifyManifest } from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const clientOf = (appId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "android",
  osVersion: "14",
  ...extra,
});

/** POST /v1/check on the edge: the verified claims and any admission tickets. */
async function check(
  body: Record<string, unknown>,
  geo?: string,
): Promise<{ claims: ManifestClaims; tickets: string[] }> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...(geo ? { "x-graycast-geo": geo } : {}),
  };
  const res = await edgeFetch("/v1/check", { method: "POST", headers, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const { manifest, tickets = [] } = await res.json<{ manifest: string; tickets?: string[] }>();
  return { claims: (await verifyManifest(manifest)).payload, tickets };
}

describe("grayscale seen by clients", () => {
  it("targeted clients get the task version, others the online one; explain agrees with the edge", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", {
      targets: { guids: ["in-1"] },
      countries: { include: ["CN"] },
    });
    const inside = await check(clientOf(appId, { guid: "in-1" }), "country=CN");
    expect(inside.claims).toMatchObject({
      status: "ok",
      reason: "grayscale",
      version: "1.1.0",
      taskId: task.id,
      rollback: false,
    });
    expect((await check(clientOf(appId, { guid: "out-1" }), "country=CN")).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    expect((await check(clientOf(appId, { guid: "in-1" }), "country=US")).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    for (const [guid, country] of [
      ["in-1", "CN"],
      ["out-1", "CN"],
      ["in-1", "US"],
    ] as const) {
      const e = await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
          token: world.viewerA.token,
          json: { client: clientOf(appId, { guid }), geo: { country } },
        }),
        200,
      );
      const edge = await check(clientOf(appId, { guid }), `country=${country}`);
      expect(e.decision.version).toBe(edge.claims.version);
    }
  });

  it("a whitelist upload reaches the edge: members get the version", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + 3_600_000 });
    const list = Array.from({ length: 20_000 }, (_, i) => `acct-${i}`).join("\n");
    await expectJson(
      callAdmin("PUT", tasksPath(appId, `/${task.id}/whitelists/account`), {
        token: world.devA.token,
        body: list,
        headers: { "content-type": "text/plain" },
      }),
      200,
    );
    // An account list matches accounts the host app vouches for (issue 10): its server's key.
    const key = await registerAssertionKey(world.manager1.token, world.host1);
    const as = (account: string) => mintAssertion(key, { iss: world.host1, sub: account });
    // Its start time comes: the cron makes it deliver and republishes the snapshot.
    await moveTaskTimes(task.id, { startAt: Date.now() - 1000 });
    expect((await check(clientOf(appId, { assertion: await as("acct-19999") }))).claims).toMatchObject({
      reason: "online",
    });
    await runCron();
    expect((await check(clientOf(appId, { assertion: await as("acct-19999") }))).claims).toMatchObject({
      reason: "grayscale",
      version: "1.1.0",
    });
    expect((await check(clientOf(appId, { account: "acct-19999" }))).claims).toMatchObject({
      reason: "online",
    });
    expect((await check(clientOf(appId, { assertion: await as("acct-20000") }))).claims).toMatchObject({
      reason: "online",
    });
  });

  it("an uploaded GUID list is stored in format 2 and read as such by the edge and by explain", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + 3_600_000 });
    // Enough values for several shards (4,096 a shard), with duplicates and CRLF lines.
    const list = Array.from({ length: 12_000 }, (_, i) => `guid-${i % 11_000}`).join("\r\n");
    const uploaded = await expectJson<any>(
      callAdmin("PUT", tasksPath(appId, `/${task.id}/whitelists/guid`), {
        token: world.devA.token,
        body: list,
        headers: { "content-type": "text/plain" },
      }),
      200,
    );
    expect(uploaded).toMatchObject({ count: 11_000, duplicates: 1_000, shards: 4 });
    await moveTaskTimes(task.id, { startAt: Date.now() - 1000 });
    await runCron();
    const [ref] = (await storedSnapshot(appId)).tasks.find((t: any) => t.id === task.id).targets.whitelists;
    expect(ref).toMatchObject({ id: uploaded.id, format: 2, bloomHashes: 8, shards: 4, count: 11_000 });
    for (const [guid, version] of [
      ["guid-0", "1.1.0"],
      ["guid-5000", "1.1.0"],
      ["guid-10999", "1.1.0"],
      ["guid-11000", "1.0.0"],
      ["GUID-0", "1.0.0"],
      ["guid-0 ", "1.0.0"],
    ] as const) {
      expect((await check(clientOf(appId, { guid }))).claims.version, guid).toBe(version);
      const e = await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
          token: world.viewerA.token,
          json: { client: clientOf(appId, { guid }) },
        }),
        200,
      );
      expect(e.decision.version, guid).toBe(version);
    }
  });

  it("a capped task admits up to the cap, progress counts what the edge admitted, the cron ends it, admitted users keep it", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 2 });
    const first = await check(clientOf(appId, { guid: "u1", platform: "ios", osVersion: "17.0" }));
    const second = await check(clientOf(appId, { guid: "u2" }));
    const third = await check(clientOf(appId, { guid: "u3" }));
    expect([first, second, third].map((r) => r.claims.version)).toEqual(["1.1.0", "1.1.0", "1.0.0"]);
    const p = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}/progress`), { token: world.viewerA.token }),
      200,
    );
    expect(p).toMatchObject({
      tracked: true,
      admitted: 2,
      remaining: 0,
      byHostApp: [{ hostAppId: world.host1, admitted: 2 }],
    });
    expect(p.byPlatform.sort((a: any, b: any) => (a.platform < b.platform ? -1 : 1))).toEqual([
      { platform: "android", admitted: 1 },
      { platform: "ios", admitted: 1 },
    ]);

    await runCron();
    const ended = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.viewerA.token }),
      200,
    );
    expect(ended).toMatchObject({ state: "ended", endReason: "cap_reached" });
    const again = await check({
      ...clientOf(appId, { guid: "u1", platform: "ios", osVersion: "17.0", installedVersion: "1.1.0" }),
      tickets: first.tickets,
    });
    expect(again.claims).toMatchObject({ version: "1.1.0", taskId: task.id });
    expect((await check(clientOf(appId, { guid: "u4" }))).claims.version).toBe("1.0.0");
  });

  it("end-and-revert sends clients on the task version back with a signed rollback", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    const admitted = await check(clientOf(appId, { guid: "r1" }));
    expect(admitted.claims.version).toBe("1.1.0");
    await expectJson(taskAction(world, appId, task.id, "end-and-revert"), 200);
    const back = await check({
      ...clientOf(appId, { guid: "r1", installedVersion: "1.1.0" }),
      tickets: admitted.tickets,
    });
    expect(back.claims).toMatchObject({ status: "ok", reason: "rollback", version: "1.0.0", rollback: true });
  });

  it("publishing the task version ends the task and moves everyone to the release", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { targets: { guids: ["p1"] } });
    expect((await check(clientOf(appId, { guid: "p1" }))).claims.reason).toBe("grayscale");
    await publish(world, appId, "1.1.0");
    expect(
      await expectJson<any>(
        callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.viewerA.token }),
        200,
      ),
    ).toMatchObject({ state: "ended", endReason: "released" });
    expect((await check(clientOf(appId, { guid: "p1", installedVersion: "1.1.0" }))).claims).toMatchObject({
      reason: "up_to_date",
      version: "1.1.0",
    });
    expect((await check(clientOf(appId, { guid: "other", installedVersion: "1.0.0" }))).claims).toMatchObject(
      { reason: "online", version: "1.1.0" },
    );
  });

  it("delisting: clients get 'delisted'; after relisting the task stays suspended until resumed", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { targets: { guids: ["d1"] } });
    const shelf = (listed: boolean) =>
      expectJson(
        callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, { token: world.devA.token, json: { listed } }),
        200,
      );
    await shelf(false);
    expect((await check(clientOf(appId, { guid: "d1" }))).claims).toMatchObject({ status: "delisted" });
    await shelf(true);
    expect((await check(clientOf(appId, { guid: "d1" }))).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    await expectJson(taskAction(world, appId, task.id, "resume"), 200);
    expect((await check(clientOf(appId, { guid: "d1" }))).claims).toMatchObject({
      reason: "grayscale",
      version: "1.1.0",
    });
  });
});
