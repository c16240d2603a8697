/**
 * Each grayscale rule, as a client sees it through POST /v1/check: a snapshot with one task
 * compiled from a developer's definition by the control plane's compiler (`compileTask`), and
 * clients that do and do not match.
 */

import { describe, expect, it } from "vitest";
import { rolloutBucket } from "../core/grayscale/rules";
import type { CompiledTask, TaskDefinition, WhitelistRef } from "../core/grayscale/types";
import { userAssertion } from "./support/assertions";
import {
  check,
  client,
  compiledTask,
  counterOf,
  definedTask,
  HOST_APP,
  newAppId,
  online,
  packageRef,
  putSnapshot,
  putWhitelist,
} from "./support/edge";

const ONLINE = "1.0.0";
const GRAY = "1.1.0";
const grayPkg = packageRef("9", 2222);

/** A fresh app whose online version is ONLINE and whose only task is GRAY, defined by `def` (or given compiled). */
async function appWithTask(
  def: Partial<TaskDefinition> | CompiledTask = {},
  hostApps = [HOST_APP],
  whitelists: WhitelistRef[] = [],
) {
  const appId = newAppId();
  const task = "phase" in def ? def : definedTask({ version: GRAY, ...def }, grayPkg, { whitelists });
  await putSnapshot({ appId, hostApps, online: online(ONLINE, packageRef("0")), tasks: [task] });
  /** the version `extra` fields give this client, via the real Worker */
  const versionFor = async (fields: Record<string, unknown> = {}, geo?: string) =>
    (await check(client(appId, fields), geo)).claims.version;
  return { appId, task, versionFor };
}

describe("grayscale rules through /v1/check", () => {
  it("delivers the task version with its package, task id and a ticket to an eligible client", async () => {
    const { appId, task } = await appWithTask();
    const { claims, tickets } = await check(client(appId, { guid: "guid-1", installedVersion: ONLINE }));
    expect(claims).toMatchObject({
      status: "ok",
      reason: "grayscale",
      version: GRAY,
      taskId: task.id,
      rollback: false,
      package: { sha256: grayPkg.sha256, size: 2222 },
    });
    expect(tickets).toHaveLength(1);
  });

  it("host app and app version range", async () => {
    const { versionFor } = await appWithTask({ hostApps: { [HOST_APP]: { min: "8.0", max: "8.5" } } }, [
      HOST_APP,
      "ha_otherhostapp",
    ]);
    expect(await versionFor({ hostAppVersion: "8.0.1" })).toBe(GRAY);
    expect(await versionFor({ hostAppVersion: "8.5" })).toBe(GRAY);
    expect(await versionFor({ hostAppVersion: "8.5.1" })).toBe(ONLINE);
    expect(await versionFor({ hostAppVersion: "7.9.9" })).toBe(ONLINE);
    // Bound to the mini program, but not a host app of the task.
    expect(await versionFor({ hostAppId: "ha_otherhostapp" })).toBe(ONLINE);
  });

  it("platform and OS version range", async () => {
    const { versionFor } = await appWithTask({ platforms: { ios: { min: "16" } } });
    expect(await versionFor({ platform: "ios", osVersion: "17.4.1" })).toBe(GRAY);
    expect(await versionFor({ platform: "ios", osVersion: "16" })).toBe(GRAY);
    expect(await versionFor({ platform: "ios", osVersion: "15.8" })).toBe(ONLINE);
    expect(await versionFor({ platform: "android", osVersion: "17" })).toBe(ONLINE);
  });

  it("target objects typed in: GUID, device id or account, exact and case-sensitive", async () => {
    const { versionFor } = await appWithTask({
      targets: { guid: ["G-2", " G-1 "], deviceId: ["D-1"], account: ["alice"] },
    });
    expect(await versionFor({ guid: "G-2" })).toBe(GRAY);
    expect(await versionFor({ deviceId: "D-1" })).toBe(GRAY);
    // issue 10: an account counts only when the host app vouches for it.
    expect(await versionFor({ account: "alice" })).toBe(ONLINE);
    expect(await versionFor({ assertion: await userAssertion("alice") })).toBe(GRAY);
    // Any of the user's names may be listed.
    expect(await versionFor({ guid: "G-9", assertion: await userAssertion("alice") })).toBe(GRAY);
    expect(await versionFor({ guid: "g-1" })).toBe(ONLINE);
    expect(await versionFor({ guid: "G-9", deviceId: "D-9" })).toBe(ONLINE);
    expect(await versionFor({})).toBe(ONLINE);
  });

  // Format 2 is what uploads write; format 1 lists, uploaded before it, must keep working.
  it.each([2, 1] as const)(
    "an uploaded whitelist of 100k GUIDs (storage format %d): members get the version; non-members never reach the counter",
    async (format) => {
      const members = Array.from(
        { length: 100_000 },
        (_, i) => `guid-${i.toString(36)}-${(i * 7919) % 100_003}`,
      );
      const { ref, bloomSays } = await putWhitelist("guid", members, 12345, format);
      expect(ref.count).toBe(100_000);
      expect(ref.format).toBe(format === 2 ? 2 : undefined);
      const { task, versionFor } = await appWithTask({ userCap: 1_000_000 }, [HOST_APP], [ref]);

      // Non-members, including some the Bloom filter lets through (confirmed absent in their shard).
      const strangers = Array.from({ length: 1000 }, (_, i) => `stranger-${i}`);
      const bloomPositives = strangers.filter(bloomSays);
      expect(bloomPositives.length).toBeGreaterThan(0);
      for (const guid of strangers.slice(0, 40).concat(bloomPositives))
        expect(await versionFor({ guid })).toBe(ONLINE);
      expect(await versionFor({ account: members[5] })).toBe(ONLINE); // a GUID list does not name accounts
      expect(await counterOf(task.id).progress()).toMatchObject({ admitted: 0 });

      for (const guid of [members[0], members[54_321], members[99_999]])
        expect(await versionFor({ guid })).toBe(GRAY);
      expect(await counterOf(task.id).progress()).toMatchObject({
        admitted: 3,
        byHostApp: { [HOST_APP]: 3 },
        byPlatform: { android: 3 },
      });
    },
  );

  it("network type", async () => {
    const { versionFor } = await appWithTask({ networks: ["wifi", "5g"] });
    expect(await versionFor({ network: "wifi" })).toBe(GRAY);
    expect(await versionFor({ network: "5g" })).toBe(GRAY);
    expect(await versionFor({ network: "4g" })).toBe(ONLINE);
    expect(await versionFor({})).toBe(ONLINE);
  });

  it("device brand and model include / exclude, case-insensitive", async () => {
    const { versionFor } = await appWithTask({
      brands: { include: ["Xiaomi", "HUAWEI"] },
      models: { exclude: ["Redmi Note 12"] },
    });
    expect(await versionFor({ brand: "Xiaomi", model: "Mi 11" })).toBe(GRAY);
    expect(await versionFor({ brand: "HUAWEI" })).toBe(GRAY);
    expect(await versionFor({ brand: "Xiaomi", model: "Redmi Note 12" })).toBe(ONLINE);
    expect(await versionFor({ brand: "Apple", model: "iPhone 15" })).toBe(ONLINE);
    expect(await versionFor({ model: "Mi 11" })).toBe(ONLINE);
  });

  it("country, region and city from the edge's geolocation (x-graycast-geo in tests)", async () => {
    const { versionFor } = await appWithTask({
      countries: { include: ["CN"] },
      regions: { include: ["GD", "BJ"] },
      cities: { exclude: ["Shenzhen"] },
    });
    expect(await versionFor({}, "country=CN;region=GD;city=Guangzhou")).toBe(GRAY);
    expect(await versionFor({}, "country=CN; region=BJ")).toBe(GRAY);
    expect(await versionFor({}, "country=CN;region=GD;city=Shenzhen")).toBe(ONLINE);
    expect(await versionFor({}, "country=CN;region=SH;city=Shanghai")).toBe(ONLINE);
    expect(await versionFor({}, "country=US;region=GD")).toBe(ONLINE);
    expect(await versionFor({})).toBe(ONLINE);
  });

  it("time window: nothing before the start, nothing after the end even while the phase still says admitting", async () => {
    const now = Date.now();
    const early = await appWithTask({ startAt: now + 3_600_000, endAt: now + 7_200_000 });
    expect(await early.versionFor({ guid: "u1" })).toBe(ONLINE);
    // Compiled while delivering; the end time passed before the next compile (a late cron run).
    const late = await appWithTask(
      compiledTask(GRAY, grayPkg, { startAt: now - 7_200_000, endAt: now - 1, userCap: 10 }),
    );
    expect(late.task.phase).toBe("admitting");
    expect(await late.versionFor({ guid: "u1" })).toBe(ONLINE);
    expect(await counterOf(late.task.id).progress()).toMatchObject({ admitted: 0 });
  });

  it("percentage: exactly the users whose stable bucket is under the share, the same on every check", async () => {
    const { task, versionFor } = await appWithTask({ percentageBp: 3000 });
    const guids = Array.from({ length: 200 }, (_, i) => `pct-user-${i}`);
    const expected = guids.map((g) => (rolloutBucket(task.id, `g:${g}`) < 3000 ? GRAY : ONLINE));
    const first = await Promise.all(guids.map((guid) => versionFor({ guid })));
    expect(first).toEqual(expected);
    const share = first.filter((v) => v === GRAY).length / guids.length;
    expect(share).toBeGreaterThan(0.18);
    expect(share).toBeLessThan(0.42);
    expect(await Promise.all(guids.map((guid) => versionFor({ guid })))).toEqual(first);
    // A percentage needs a user identity to bucket.
    expect(await versionFor({})).toBe(ONLINE);
  });

  it("several tasks: the highest version whose rules hold wins", async () => {
    const appId = newAppId();
    const t13 = definedTask({ version: "1.3.0", platforms: { ios: {} } }, packageRef("3"));
    const t12 = definedTask({ version: "1.2.0", networks: ["wifi"] }, packageRef("2"));
    const t11 = definedTask({ version: "1.1.0" }, packageRef("1"));
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")), tasks: [t11, t13, t12] });
    const versionOf = async (fields: Record<string, unknown>) =>
      (await check(client(appId, { guid: "multi", ...fields }))).claims;
    expect(await versionOf({ platform: "ios", network: "wifi" })).toMatchObject({
      version: "1.3.0",
      taskId: t13.id,
    });
    expect(await versionOf({ platform: "android", network: "wifi" })).toMatchObject({
      version: "1.2.0",
      taskId: t12.id,
    });
    expect(await versionOf({ platform: "android", network: "4g" })).toMatchObject({
      version: "1.1.0",
      taskId: t11.id,
    });
  });

  it("a task whose version is not above online gives nothing and takes no slot", async () => {
    const appId = newAppId();
    const task = definedTask({ version: "1.1.0", userCap: 5 }, packageRef("1"));
    await putSnapshot({ appId, online: online("1.1.0", packageRef("0")), tasks: [task] });
    const { claims, tickets } = await check(client(appId, { guid: "u" }));
    expect(claims).toMatchObject({ reason: "online", version: "1.1.0" });
    expect(claims.taskId).toBeUndefined();
    expect(tickets).toEqual([]);
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: 0 });
  });

  it("delisted and not-bound answers take no slot", async () => {
    const appId = newAppId();
    const task = definedTask(
      { version: GRAY, userCap: 5, hostApps: { [HOST_APP]: {}, ha_unbound: {} } },
      grayPkg,
    );
    await putSnapshot({ appId, listed: false, online: online(ONLINE, packageRef("0")), tasks: [task] });
    expect((await check(client(appId, { guid: "u" }))).claims).toMatchObject({ status: "delisted" });
    await putSnapshot({ appId, revision: 2, online: online(ONLINE, packageRef("0")), tasks: [task] });
    expect((await check(client(appId, { guid: "u", hostAppId: "ha_unbound" }))).claims).toMatchObject({
      status: "not_bound",
    });
    expect(await counterOf(task.id).progress()).toMatchObject({ admitted: 0 });
  });
});
