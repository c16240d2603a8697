/**
 * Writes that survive faults (issue 10): snapshot publication, a failing D1 batch and a Durable
 * Object that cannot be reached. Faults are injected by small wrappers around the real bindings
 * (R2, D1, the counter namespace) that fail or pause on a chosen call; everything else is the
 * real admin Worker, the real edge Worker and real storage.
 *
 * The protocol under test (control-plane/src/services/snapshot.ts, docs/storage.md): every change
 * bumps `snapshot_revision` inside its own D1 batch; the publish after it writes R2 only forward
 * (conditional put) and raises `published_revision`; a failed publish leaves the change committed
 * and answered 2xx, and the cron's sweep publishes it later. Each test drives whole admin flows
 * (uploads, audits, increment builds), hence the generous per-test timeout on a busy machine.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { miniPrograms } from "../control-plane/src/db/schema";
import adminApp from "../control-plane/src/index";
import {
  bumpHostAppSnapshotRevisions,
  publishSnapshot,
  sweepSnapshots,
} from "../control-plane/src/services/snapshot";
import { snapshotKey } from "../core/snapshot";
import edgeApp from "../edge-worker/src/index";
import { testEnv } from "./env";
import {
  adminEnv,
  appWithVersions,
  type CallOptions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  runCron,
  storedSnapshot,
  type World,
} from "./support/admin";
import { FAILING_STATEMENT, interceptD1 } from "./support/d1-faults";
import { edgeEnv, ORIGIN, verifyManifest } from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const db = () => createDb(testEnv.DB);

const clientOf = (appId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  guid: "guid-fault-1",
  ...extra,
});

/** Calls the admin Worker with some of its bindings replaced (by fault-injecting wrappers). */
async function callAdminWith(
  bindings: Partial<AdminEnv>,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("authorization", `Bearer ${options.token}`);
  const body = options.json !== undefined ? JSON.stringify(options.json) : (options.body ?? null);
  if (options.json !== undefined) headers.set("content-type", "application/json");
  const ctx = createExecutionContext();
  const res = await adminApp.fetch(
    new Request(`https://admin.test${path}`, { method, headers, body }),
    { ...adminEnv(), ...bindings },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

/** A check on the real edge Worker (optionally with replaced bindings): status 200 and the verified claims and tickets. */
async function edgeCheck(body: Record<string, unknown>, bindings: Partial<EdgeEnv> = {}) {
  const req = new Request(`${ORIGIN}/v1/check`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const res = await edgeApp.fetch(req, { ...edgeEnv, ...bindings }, createExecutionContext());
  expect(res.status).toBe(200);
  const { manifest, tickets = [] } = await res.json<{ manifest: string; tickets?: string[] }>();
  // verifyManifest checks the signature against the edge's published JWKS, as a client does.
  return { claims: (await verifyManifest(manifest)).payload, tickets };
}

/** Binds a method of the real binding, so the wrapper passes everything else through untouched. */
function passThrough<T extends object>(target: T, prop: string | symbol): unknown {
  const value = Reflect.get(target, prop, target);
  return typeof value === "function" ? value.bind(target) : value;
}

/** The real bucket, except that `put` of a snapshot throws while `failing()` says so. */
function failingSnapshotPuts(bucket: R2Bucket, failing: () => boolean) {
  const stats = { failed: 0 };
  const wrapped = new Proxy(bucket, {
    get(target, prop) {
      if (prop !== "put") return passThrough(target, prop);
      return (key: string, ...rest: unknown[]) => {
        if (key.startsWith("snapshots/") && failing()) {
          stats.failed++;
          return Promise.reject(new Error("injected: R2 put failed"));
        }
        return (target.put as (...args: unknown[]) => Promise<unknown>)(key, ...rest);
      };
    },
  });
  return { bucket: wrapped, stats };
}

/**
 * The real bucket, recording the revision of every snapshot put that landed; the first snapshot
 * call among `pauseOn` waits for `release()` (to order two publishes on purpose).
 */
function orderedBucket(bucket: R2Bucket, landed: number[], pauseOn: ReadonlyArray<"head" | "put"> = []) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const paused = new Promise<void>((r) => (reached = r));
  let armed = pauseOn.length > 0;
  const wrapped = new Proxy(bucket, {
    get(target, prop) {
      if (prop !== "put" && prop !== "head") return passThrough(target, prop);
      return async (key: string, ...rest: unknown[]) => {
        if (armed && key.startsWith("snapshots/") && pauseOn.includes(prop)) {
          armed = false;
          reached();
          await released;
        }
        if (prop === "head") return target.head(key);
        const [value, options] = rest as [string, R2PutOptions | undefined];
        const written = await target.put(key, value, options);
        if (written && key.startsWith("snapshots/")) landed.push(Number(options?.customMetadata?.revision));
        return written;
      };
    },
  });
  return { bucket: wrapped, paused, release };
}

async function revisions(appId: string) {
  const row = await db()
    .select({ revision: miniPrograms.snapshotRevision, published: miniPrograms.publishedRevision })
    .from(miniPrograms)
    .where(eq(miniPrograms.id, appId))
    .get();
  const object = await testEnv.PACKAGES.head(snapshotKey(appId));
  return {
    d1: row!.revision,
    published: row!.published,
    r2: Number(object?.customMetadata?.revision),
    etag: object?.etag,
  };
}

const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]!);

describe("an R2 write failing after the change committed", { timeout: 30_000 }, () => {
  it("the publish answers 200 with the change committed, the edge keeps the previous signed answer, and the cron's sweep publishes it", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({ status: "ok", version: "1.0.0" });
    const before = await revisions(appId);

    const r2 = failingSnapshotPuts(testEnv.PACKAGES, () => true);
    const res = await callAdminWith(
      { PACKAGES: r2.bucket },
      "POST",
      `/v1/mini-programs/${appId}/versions/1.1.0/publish`,
      { token: world.devA.token },
    );
    expect(r2.stats.failed).toBeGreaterThan(0);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ version: "1.1.0", status: "released", online: true });

    // Committed in D1 (with its revision bump), not yet in R2; the console says the edge update is pending.
    const details = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}`, { token: world.devA.token }),
      200,
    );
    expect(details).toMatchObject({
      onlineVersion: "1.1.0",
      edge: { revision: before.d1 + 1, publishedRevision: before.d1, pending: true },
    });
    expect(await revisions(appId)).toMatchObject({
      d1: before.d1 + 1,
      published: before.published,
      r2: before.r2,
      etag: before.etag,
    });
    expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({
      status: "ok",
      version: "1.0.0",
      revision: before.r2,
    });

    // The cron may also publish a newer revision (its increment build republishes), never an older one.
    await runCron();
    const swept = await revisions(appId);
    expect(swept.d1).toBeGreaterThan(before.d1);
    expect(swept).toMatchObject({ published: swept.d1, r2: swept.d1 });
    expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({
      status: "ok",
      version: "1.1.0",
      revision: swept.d1,
    });
    const after = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}`, { token: world.devA.token }),
      200,
    );
    expect(after.edge).toEqual({ revision: swept.d1, publishedRevision: swept.d1, pending: false });
  });

  it("publishSnapshot (for callers without a batch) bumps, and on a failed write reports pending instead of throwing", async () => {
    const appId = await appWithVersions(world, "1.0.0", []);
    const before = await revisions(appId);
    const r2 = failingSnapshotPuts(testEnv.PACKAGES, () => true);
    const result = await publishSnapshot(db(), r2.bucket, appId);
    expect(result).toMatchObject({ appId, status: "pending" });
    expect(await revisions(appId)).toMatchObject({
      d1: before.d1 + 1,
      published: before.published,
      etag: before.etag,
    });
    expect(await sweepSnapshots(db(), testEnv.PACKAGES)).toMatchObject({
      published: expect.arrayContaining([appId]),
      pending: [],
    });
    expect(await revisions(appId)).toMatchObject({
      d1: before.d1 + 1,
      published: before.d1 + 1,
      r2: before.d1 + 1,
    });
  });

  it("the sweep is bounded per run and picks up the rest on the next", async () => {
    const apps = [await appWithVersions(world, "1.0.0", []), await appWithVersions(world, "1.0.0", [])];
    const r2 = failingSnapshotPuts(testEnv.PACKAGES, () => true);
    for (const appId of apps) {
      await expectJson(
        callAdminWith({ PACKAGES: r2.bucket }, "PUT", `/v1/mini-programs/${appId}/shelf`, {
          token: world.devA.token,
          json: { listed: false },
        }),
        200,
      );
    }
    const behind = async () =>
      (await Promise.all(apps.map(revisions))).filter((r) => r.published < r.d1).length;
    expect(await behind()).toBe(2);
    const first = await sweepSnapshots(db(), testEnv.PACKAGES, { limit: 1 });
    expect(first.published).toHaveLength(1);
    expect(await behind()).toBe(1);
    await sweepSnapshots(db(), testEnv.PACKAGES, { limit: 1 });
    expect(await behind()).toBe(0);
    for (const appId of apps)
      expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({ status: "delisted" });
  });
});

describe("a change that concerns every mini program of a host app", { timeout: 30_000 }, () => {
  it("bumps each bound mini program in one statement, and the sweep of that host app publishes them", async () => {
    const bound = [await appWithVersions(world, "1.0.0", []), await appWithVersions(world, "1.0.0", [])];
    const other = await makeMiniProgram(world, [world.host2]);
    const before = await Promise.all([...bound, other].map(revisions));
    await db().batch([bumpHostAppSnapshotRevisions(db(), world.host1)]);
    const bumped = await Promise.all([...bound, other].map(revisions));
    expect(bumped.map((r) => r.d1)).toEqual([before[0]!.d1 + 1, before[1]!.d1 + 1, before[2]!.d1]);
    const report = await sweepSnapshots(db(), testEnv.PACKAGES, { hostAppId: world.host1, limit: 100 });
    expect(report.published).toEqual(expect.arrayContaining(bound));
    expect(report.published).not.toContain(other);
    for (const appId of bound)
      expect(await revisions(appId)).toMatchObject({
        published: bumped[bound.indexOf(appId)]!.d1,
        r2: bumped[bound.indexOf(appId)]!.d1,
      });
  });
});

describe("a D1 batch failing", { timeout: 30_000 }, () => {
  /**
   * The real D1 binding, except that every batch gets a last statement that violates a NOT NULL
   * constraint, so D1 itself runs the change's statements and rolls them all back. Records the
   * SQL of each failed batch, to show the failure hit the change (not, say, authentication).
   */
  function failingBatches(d1: D1Database) {
    const failed: string[][] = [];
    const wrapped = interceptD1(d1, {
      batch(statements, sqlOf, real) {
        failed.push(statements.map(sqlOf));
        return real.batch([...statements, real.prepare(FAILING_STATEMENT)]);
      },
    });
    return { d1: wrapped, failed };
  }

  it("leaves nothing half-written: no change, no revision bump, no R2 write; the edge keeps its signed answer", async () => {
    const appId = await appWithVersions(world, "1.0.0", []);
    const before = await revisions(appId);
    const fault = failingBatches(testEnv.DB);
    const res = await callAdminWith({ DB: fault.d1 }, "PUT", `/v1/mini-programs/${appId}/shelf`, {
      token: world.devA.token,
      json: { listed: false },
    });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: "internal" } });
    expect(fault.failed.some((sql) => sql.some((q) => /^update "mini_programs" set "listed"/.test(q)))).toBe(
      true,
    );

    const details = await expectJson<any>(
      callAdmin("GET", `/v1/mini-programs/${appId}`, { token: world.devA.token }),
      200,
    );
    expect(details).toMatchObject({
      listed: true,
      edge: { revision: before.d1, publishedRevision: before.published, pending: false },
    });
    expect(await revisions(appId)).toEqual(before);
    expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({
      status: "ok",
      version: "1.0.0",
      revision: before.r2,
    });
  });
});

describe("racing publishes", { timeout: 30_000 }, () => {
  it("two racing publishes leave the newest revision in R2, and R2 never goes back to an older one (conditional put)", async () => {
    const appId = await appWithVersions(world, "1.0.0", []);
    const landed: number[] = [];
    // A compiles its revision, reads R2, and is held just before its put...
    const slow = orderedBucket(testEnv.PACKAGES, landed, ["put"]);
    const first = publishSnapshot(db(), slow.bucket, appId);
    await slow.paused;
    // ...while B bumps again and publishes completely.
    const fast = orderedBucket(testEnv.PACKAGES, landed);
    await publishSnapshot(db(), fast.bucket, appId);
    slow.release();
    await first;

    const after = await revisions(appId);
    expect(after.r2).toBe(after.d1);
    expect(after.published).toBe(after.d1);
    expect(landed.length).toBeGreaterThan(0);
    expect(nonDecreasing(landed)).toBe(true);
    expect((await storedSnapshot(appId)).revision).toBe(after.d1);
  });

  it("a publish compiled before a newer change never overwrites it: the edge serves the newer change", async () => {
    const appId = await appWithVersions(world, "1.0.0", []);
    const landed: number[] = [];
    // A stale publish: compiled while the mini program was listed, held at its first R2 call...
    const stale = orderedBucket(testEnv.PACKAGES, landed, ["head", "put"]);
    const first = publishSnapshot(db(), stale.bucket, appId);
    await stale.paused;
    // ...while the mini program goes off the shelf (a newer revision) and that is published.
    const fresh = orderedBucket(testEnv.PACKAGES, landed);
    await expectJson(
      callAdminWith({ PACKAGES: fresh.bucket }, "PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: false },
      }),
      200,
    );
    const delisted = await revisions(appId);
    stale.release();
    await first;

    expect(nonDecreasing(landed)).toBe(true);
    expect(await revisions(appId)).toMatchObject({
      d1: delisted.d1,
      published: delisted.d1,
      r2: delisted.d1,
    });
    expect((await storedSnapshot(appId)).listed).toBe(false);
    expect((await edgeCheck(clientOf(appId))).claims).toMatchObject({ status: "delisted" });
  });
});

describe("the Durable Object down", { timeout: 30_000 }, () => {
  /** The counter namespace, but every object in it is unreachable. */
  const unreachable = new Proxy(edgeEnv.GRAYSCALE_COUNTER, {
    get(target, prop) {
      if (prop === "getByName" || prop === "get") {
        return () =>
          new Proxy(
            {},
            {
              get: () => () => Promise.reject(new Error("injected: Durable Object unreachable")),
            },
          );
      }
      return passThrough(target, prop);
    },
  });

  it("a client a capped task would admit gets the online version in a correctly signed manifest, and no ticket", async () => {
    const appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
    const task = await createTask(world, appId, "1.1.0", { userCap: 5 });
    const down = await edgeCheck(clientOf(appId, { guid: "do-down-1" }), { GRAYSCALE_COUNTER: unreachable });
    expect(down.claims).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.0.0",
      sub: appId,
      aud: world.host1,
    });
    expect(down.tickets).toEqual([]);
    // The same client, the counter back: the task admits it (so the answer above was the fault's doing).
    const up = await edgeCheck(clientOf(appId, { guid: "do-down-1" }));
    expect(up.claims).toMatchObject({ reason: "grayscale", version: "1.1.0", taskId: task.id });
  });
});

describe("an audit's settlement failing after the last decision", { timeout: 30_000 }, () => {
  /** The real D1 binding; the first batch that closes an audit fails (D1 rolls it back), every other call passes. */
  function failingSettlement(d1: D1Database) {
    let armed = true;
    return interceptD1(d1, {
      batch(statements, sqlOf, real) {
        if (!armed || !statements.some((st) => /^update "audits" set "status"/.test(sqlOf(st))))
          return real.batch(statements);
        armed = false;
        return real.batch([...statements, real.prepare(FAILING_STATEMENT)]);
      },
    });
  }

  it("the auditor repeats the decision: the audit is settled (not refused as already decided), the version approved and reaching the edge", async () => {
    const appId = await makeMiniProgram(world, [world.host1]);
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: world.devA.token,
        body: makePackage("1.0.0"),
        headers: { "content-type": "application/zip" },
      }),
      201,
    );
    const { auditId } = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
        token: world.devA.token,
        json: {},
      }),
      201,
    );
    const decision = { hostAppId: world.host1, decision: "approve" };
    const failed = await callAdminWith(
      { DB: failingSettlement(testEnv.DB) },
      "POST",
      `/v1/audits/${auditId}/decision`,
      { token: world.auditor1.token, json: decision },
    );
    expect(failed.status).toBe(500);
    // the decision landed, the settlement did not
    expect(
      (
        await expectJson<any>(
          callAdmin("GET", `/v1/mini-programs/${appId}/versions/1.0.0`, { token: world.devA.token }),
          200,
        )
      ).status,
    ).toBe("in_audit");

    expect(
      await expectJson<any>(
        callAdmin("POST", `/v1/audits/${auditId}/decision`, { token: world.auditor1.token, json: decision }),
        200,
      ),
    ).toMatchObject({ outcome: "approved" });
    expect(
      (
        await expectJson<any>(
          callAdmin("GET", `/v1/mini-programs/${appId}/versions/1.0.0`, { token: world.devA.token }),
          200,
        )
      ).status,
    ).toBe("approved");
    // settled once: a third attempt is refused as before
    await expectError(
      callAdmin("POST", `/v1/audits/${auditId}/decision`, { token: world.auditor1.token, json: decision }),
      409,
      "conflict",
    );
  });
});
