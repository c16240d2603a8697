/**
 * Explain and the edge cannot disagree (issue 11): both run core `decide`, explain with
 * read-only ports, the edge with admitting ones. Generated clients (seeded, so a failure names
 * a reproducible case) against one mini program with tasks of every kind of rule: explain's
 * decision equals the version, reason and task the real edge Worker signs. Explain is asked
 * first, so the edge's admissions cannot change what explain sees.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ManifestClaims } from "../core/manifest";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectJson,
  makeWorld,
  taskAction,
  type World,
} from "./support/admin";
import { edgeFetch, verifyManifest } from "./support/edge";
import { seededRandom } from "./support/random";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const SEED = 0x11_dec1de;
const CLIENTS = 40;

async function edgeClaims(body: Record<string, unknown>, geo: string): Promise<ManifestClaims> {
  const res = await edgeFetch("/v1/check", {
    method: "POST",
    headers: { "content-type": "application/json", "x-graycast-geo": geo },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  return (await verifyManifest((await res.json<{ manifest: string }>()).manifest)).payload;
}

describe("explain and the edge give the same answer", () => {
  it(`for ${CLIENTS} generated clients (seed ${SEED})`, async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"]);
    await createTask(world, appId, "1.5.0", { targets: { guids: ["g-1", "g-4", "g-7"] } });
    await createTask(world, appId, "1.4.0", {
      platforms: [{ platform: "ios", minOsVersion: "17" }],
      networks: ["wifi"],
    });
    await createTask(world, appId, "1.3.0", {
      countries: { include: ["CN"] },
      brands: { exclude: ["apple"] },
    });
    await createTask(world, appId, "1.2.0", { percentage: 50, userCap: 1000 });
    await createTask(world, appId, "1.1.0", { platforms: [{ platform: "android", minOsVersion: "13" }] });

    const random = seededRandom(SEED);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const seen = new Set<string>();
    for (let i = 0; i < CLIENTS; i++) {
      const platform = pick(["android", "ios"] as const);
      const client = {
        appId,
        hostAppId: world.host1,
        hostAppVersion: pick(["8.0.1", "9.1"]),
        platform,
        osVersion: platform === "ios" ? pick(["16.4", "17.5"]) : pick(["12", "14"]),
        guid: `g-${Math.floor(random() * 12)}`,
        network: pick(["wifi", "4g", "5g"] as const),
        brand: pick(["Apple", "Huawei", "Xiaomi"]),
        ...(random() < 0.3 ? { installedVersion: pick(["1.0.0", "1.1.0", "1.2.0", "1.6.0"]) } : {}),
      };
      const country = pick(["CN", "US"]);
      const where = `client ${i} of seed ${SEED}: ${JSON.stringify(client)} in ${country}`;
      const { appId: _, ...context } = client;
      const explained = await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
          token: world.viewerA.token,
          json: { client: context, geo: { country } },
        }),
        200,
      );
      const edge = await edgeClaims(client, `country=${country}`);
      expect(
        {
          reason: explained.decision.reason,
          version: explained.decision.version,
          taskId: explained.decision.taskId,
          rollback: explained.decision.rollback,
        },
        where,
      ).toEqual({
        reason: edge.reason,
        version: edge.version,
        taskId: edge.taskId ?? null,
        rollback: edge.rollback,
      });
      seen.add(explained.decision.taskId ?? explained.decision.reason);
    }
    // The generator reached the online answer and several tasks.
    expect(seen.size).toBeGreaterThanOrEqual(4);
  });

  it("a suspended capped task: a user admitted before who no longer runs its version (its ticket lost) is not looked up by either", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0", { userCap: 10 });
    const client = {
      appId,
      hostAppId: world.host1,
      hostAppVersion: "8.0.1",
      platform: "android",
      osVersion: "14",
      guid: "lost-ticket",
    };
    expect(await edgeClaims(client, "country=CN")).toMatchObject({ reason: "grayscale", taskId: task.id });
    await expectJson(taskAction(world, appId, task.id, "suspend"), 200);
    const { appId: _, ...context } = client;
    for (const installed of [{}, { installedVersion: "1.0.0" }, { installedVersion: "1.1.0" }]) {
      const explained = await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
          token: world.viewerA.token,
          json: { client: { ...context, ...installed } },
        }),
        200,
      );
      const edge = await edgeClaims({ ...client, ...installed }, "country=CN");
      expect([installed, explained.decision.version, explained.decision.taskId]).toEqual([
        installed,
        edge.version,
        edge.taskId ?? null,
      ]);
    }
  });
});
