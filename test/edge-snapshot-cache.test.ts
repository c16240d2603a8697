import { describe, expect, it } from "vitest";
import { SnapshotCache } from "../edge-worker/src/snapshot-cache";
import { edgeEnv, newAppId, online, packageRef, putSnapshot } from "./support/edge";

type Outcome = "missing" | "body" | "metadata";

/**
 * The real R2 bucket behind a recorder (not a mock: every call reaches R2), so tests can see
 * how many reads the cache makes and whether a body was transferred.
 */
function recordingBucket() {
  const calls: { conditional: boolean; outcome: Outcome }[] = [];
  const bucket = {
    async get(key: string, options?: R2GetOptions) {
      const object: R2Object | R2ObjectBody | null = await edgeEnv.PACKAGES.get(key, options ?? {});
      const outcome: Outcome = object === null ? "missing" : "body" in object ? "body" : "metadata";
      calls.push({ conditional: options?.onlyIf !== undefined, outcome });
      return object;
    },
  } as unknown as R2Bucket;
  return { bucket, calls };
}

describe("SnapshotCache", () => {
  it("trusts an entry for the TTL, then revalidates and sees the change", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket, calls } = recordingBucket();
    await putSnapshot({ appId, revision: 1, online: online("1.0.0", packageRef("a")) });

    const t0 = 1_000_000;
    expect((await cache.get(bucket, appId, 5_000, t0))?.revision).toBe(1);
    await putSnapshot({ appId, revision: 2, online: online("1.1.0", packageRef("b")) });
    expect((await cache.get(bucket, appId, 5_000, t0 + 4_999))?.revision).toBe(1);
    expect(calls).toHaveLength(1);

    expect((await cache.get(bucket, appId, 5_000, Date.now() + 10_000))?.revision).toBe(2);
    expect(calls).toEqual([
      { conditional: false, outcome: "body" },
      { conditional: true, outcome: "body" },
    ]);
  });

  it("revalidates an unchanged snapshot without reading its body", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket, calls } = recordingBucket();
    await putSnapshot({ appId, revision: 3 });

    const first = await cache.get(bucket, appId, 0);
    const second = await cache.get(bucket, appId, 0);
    expect(second).toBe(first);
    expect(calls).toEqual([
      { conditional: false, outcome: "body" },
      { conditional: true, outcome: "metadata" },
    ]);
  });

  it("keeps a higher revision over a later-written lower one, and stops re-reading it", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket, calls } = recordingBucket();
    await putSnapshot({ appId, revision: 9, online: online("3.0.0", packageRef("c")) });
    expect((await cache.get(bucket, appId, 0))?.revision).toBe(9);

    await putSnapshot({ appId, revision: 8, online: online("2.0.0", packageRef("d")) });
    expect((await cache.get(bucket, appId, 0))?.online?.version).toBe("3.0.0");
    expect((await cache.get(bucket, appId, 0))?.revision).toBe(9);
    expect(calls.map((c) => c.outcome)).toEqual(["body", "body", "metadata"]);
  });

  it("caches an unknown app negatively for the TTL", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket, calls } = recordingBucket();
    const t0 = 2_000_000;
    expect(await cache.get(bucket, appId, 5_000, t0)).toBeNull();
    await putSnapshot({ appId, revision: 1 });
    expect(await cache.get(bucket, appId, 5_000, t0 + 1_000)).toBeNull();
    expect(calls).toHaveLength(1);

    expect((await cache.get(bucket, appId, 5_000, Date.now() + 10_000))?.revision).toBe(1);
    expect(calls.map((c) => c.outcome)).toEqual(["missing", "body"]);
  });

  it("coalesces concurrent loads of the same app into one R2 read", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket, calls } = recordingBucket();
    await putSnapshot({ appId, revision: 4 });

    const results = await Promise.all(Array.from({ length: 8 }, () => cache.get(bucket, appId, 0)));
    expect(new Set(results).size).toBe(1);
    expect(results[0]?.revision).toBe(4);
    expect(calls).toHaveLength(1);
  });

  it("keeps serving the last good snapshot when a corrupt one is written", async () => {
    const appId = newAppId();
    const cache = new SnapshotCache();
    const { bucket } = recordingBucket();
    await putSnapshot({ appId, revision: 2 });
    expect((await cache.get(bucket, appId, 0))?.revision).toBe(2);

    await edgeEnv.PACKAGES.put(`snapshots/${appId}.json`, "{ not json");
    expect((await cache.get(bucket, appId, 0))?.revision).toBe(2);
  });
});
