/**
 * Incremental packages (PRODUCT.md D3) end to end inside workerd: planning on approval and
 * release, building off the hot path (queue consumer and cron sweep, zstd WASM), storage in R2,
 * the edge offering an increment only to clients on its base and only when smaller, and the
 * increment giving byte-identical files.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import * as zlib from "node:zlib";
import { and, eq } from "drizzle-orm";
import { unzipSync, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import builderToml from "../control-plane/builder/wrangler.toml?raw";
import builder from "../control-plane/src/builder";
import { createDb } from "../control-plane/src/db/client";
import { increments, versions } from "../control-plane/src/db/schema";
import { buildIncrementRow, MAX_ATTEMPTS, STALE_BUILDING_MS } from "../control-plane/src/increments/build";
import { incrementBases } from "../control-plane/src/increments/plan";
import {
  consumeIncrements,
  INCREMENTS_DLQ,
  INCREMENTS_QUEUE,
  type IncrementMessage,
  retryDelaySeconds,
  STALE_PENDING_MS,
  sweepIncrements,
} from "../control-plane/src/increments/queue";
import { zstdCompress, zstdDecompress } from "../control-plane/src/increments/zstd";
import { sha256Hex as hex } from "../control-plane/src/lib/encoding";
import {
  bumpSnapshotRevision,
  publishCurrentSnapshot,
  sweepSnapshots,
} from "../control-plane/src/services/snapshot";
import adminToml from "../control-plane/wrangler.toml?raw";
import { decryptObject, fromBase64Url } from "../core/encryption";
import {
  applyIncrement,
  decodeIncrement,
  type FileEntry,
  filesDigest,
  incrementFormat,
  planDictionary,
} from "../core/increment";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  publish,
  storedSnapshot,
  upload,
  type World,
} from "./support/admin";
import { interceptD1 } from "./support/d1-faults";
import { checkClaims, edgeFetch } from "./support/edge";

const db = createDb(testEnv.DB);
let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

/** Deterministic filler text (a stand-in for a minified bundle): same seed, same bytes. */
function bundle(seed: number, lines: number, version: string): string {
  let x = seed >>> 0;
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(`function f${i}_${x % 9973}(a,b){return a*${x % 97}+b-${(x >>> 8) % 31};}`);
  }
  return `/* app bundle ${version} */\n${out.join("\n")}\n`;
}

/**
 * A package like a real build: a bundle embedding the version, unchanged assets, a page. Its
 * bytes name `appId`, so every test stores its own packages and increments (content-addressed in
 * R2) and no test finds or deletes another's. Small unless `large` (for the one test about how
 * much smaller an increment is): the size makes uploads, hashing and builds slow, not truer.
 */
function appPackage(
  appId: string,
  version: string,
  opts: { extraLines?: number; drop?: string[]; add?: Record<string, string>; large?: boolean } = {},
): Uint8Array {
  const enc = new TextEncoder();
  const scale = opts.large ? 10 : 1;
  const files: Record<string, Uint8Array> = {
    "app.json": enc.encode(JSON.stringify({ pages: ["pages/index/index", "pages/about/about"], version })),
    "app.js": enc.encode(bundle(7, 300 * scale + (opts.extraLines ?? 0), `${version} of ${appId}`)),
    "vendor.js": enc.encode(bundle(99, 200 * scale, `vendor of ${appId}`)),
    "pages/index/index.js": enc.encode(`Page({ data: { version: "${version}" } });\n`),
    "pages/about/about.js": enc.encode(`Page({ data: { about: true } });\n`),
    "assets/logo.svg": enc.encode(`<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>\n`),
  };
  for (const path of opts.drop ?? []) delete files[path];
  for (const [path, text] of Object.entries(opts.add ?? {})) files[path] = enc.encode(text);
  return zipSync(files, { mtime: new Date("2026-01-01T00:00:00Z") });
}

async function approveZip(appId: string, version: string, zip: Uint8Array) {
  await expectJson(upload(world.devA.token, appId, version, zip), 201);
  const audit = await expectJson<{ auditId: string }>(
    callAdmin("POST", `/v1/mini-programs/${appId}/versions/${version}/submit`, {
      token: world.devA.token,
      json: {},
    }),
    201,
  );
  await expectJson(
    callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
      token: world.auditor1.token,
      json: { hostAppId: world.host1, decision: "approve" },
    }),
    200,
  );
}

/** Deliveries per message before the dead-letter queue: max_retries (3, wrangler.toml) plus the first. */
const QUEUE_DELIVERIES = 4;

/** Runs the builder Worker's queue handler on a real batch and returns what it acked and retried. */
async function deliver(
  queue: string,
  messages: { id: string; attempts: number; incrementId: string }[],
  clock?: () => number,
  env: typeof testEnv = testEnv,
) {
  const batch = createMessageBatch<IncrementMessage>(
    queue,
    messages.map((m) => ({
      id: m.id,
      timestamp: new Date(),
      attempts: m.attempts,
      body: { incrementId: m.incrementId },
    })),
  );
  const ctx = createExecutionContext();
  if (clock) {
    if (queue === INCREMENTS_QUEUE) await consumeIncrements(batch, env, clock);
    else throw new Error("a clock is only injected into the build consumer");
  } else await builder.queue(batch, env);
  return getQueueResult(batch, ctx);
}

/**
 * The test's R2 bucket with a record of the increment objects written through it: a test looks at
 * what its own builds wrote, never at a listing of everything the file's tests stored.
 */
function recordingIncrementWrites(bucket: R2Bucket) {
  const written: string[] = [];
  const recorded = new Proxy(bucket, {
    get(target, prop) {
      if (prop === "put")
        return (
          key: string,
          value: Parameters<R2Bucket["put"]>[1],
          options?: Parameters<R2Bucket["put"]>[2],
        ) => {
          if (key.startsWith("increments/")) written.push(key);
          return target.put(key, value, options);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { bucket: recorded, written };
}

const listed = async (appId: string) =>
  (
    await expectJson<{
      increments: { status: string; startedAt: number | null; finishedAt: number | null; attempts: number }[];
    }>(callAdmin("GET", `/v1/mini-programs/${appId}/increments`, { token: world.devA.token }), 200)
  ).increments;

const rowsOf = (appId: string) =>
  db.select().from(increments).where(eq(increments.miniProgramId, appId)).all();

async function buildAll(appId: string) {
  for (const row of await rowsOf(appId))
    if (row.status === "queued") await buildIncrementRow(db, testEnv.PACKAGES, row.id);
  return rowsOf(appId);
}

const clientOf = (appId: string, installedVersion?: string) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  guid: "guid-inc",
  ...(installedVersion ? { installedVersion } : {}),
});

async function filesOf(zip: Uint8Array) {
  const entries = unzipSync(zip);
  const files: FileEntry[] = [];
  for (const [path, data] of Object.entries(entries))
    if (!path.endsWith("/")) files.push({ path, size: data.byteLength, sha256: await hex(data) });
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { files, entries, digest: await filesDigest(files, hex) };
}

describe("planning", () => {
  it("an approval plans one increment from the online version; nothing before a release exists", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    expect(await rowsOf(appId)).toEqual([]);
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 20 }));
    const rows = await rowsOf(appId);
    expect(rows.map((r) => [r.fromVersion, r.toVersion, r.status])).toEqual([["1.0.0", "1.1.0", "queued"]]);
    // Publishing the same version again plans nothing new (one row per pair).
    await publish(world, appId, "1.1.0");
    expect((await rowsOf(appId)).map((r) => [r.fromVersion, r.toVersion])).toEqual([["1.0.0", "1.1.0"]]);
  });

  it("bases are the last five released versions, newest first, never the target or a twin of its package", async () => {
    const appId = await makeMiniProgram(world);
    for (let i = 0; i < 7; i++) {
      const v = `1.${i}.0`;
      await approveZip(appId, v, appPackage(appId, v, { extraLines: i }));
      await publish(world, appId, v);
    }
    const target = (await db
      .select()
      .from(versions)
      .where(and(eq(versions.miniProgramId, appId), eq(versions.version, "1.6.0")))
      .get())!;
    expect((await incrementBases(db, appId, target)).map((v) => v.version)).toEqual([
      "1.5.0",
      "1.4.0",
      "1.3.0",
      "1.2.0",
      "1.1.0",
    ]);
    // The same bytes released again under another number: a twin is never a base of either.
    await approveZip(appId, "1.7.0", appPackage(appId, "1.6.0", { extraLines: 6 }));
    await publish(world, appId, "1.7.0");
    expect((await incrementBases(db, appId, target)).map((v) => v.version)).toEqual([
      "1.5.0",
      "1.4.0",
      "1.3.0",
      "1.2.0",
    ]);
  });
});

describe("building and delivery", () => {
  it("a client on the base gets a signed increment that rebuilds the new version byte for byte", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0", { large: true });
    const v2 = appPackage(appId, "1.1.0", {
      large: true,
      extraLines: 40,
      drop: ["assets/logo.svg"],
      add: { "assets/logo-2.svg": "<svg/>\n", "pages/about/copy.js": `Page({ data: { about: true } });\n` },
    });
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", v2);
    const [row] = await buildAll(appId);
    expect(row).toMatchObject({ status: "built", fromVersion: "1.0.0", toVersion: "1.1.0" });
    expect(row!.size!).toBeLessThan(v2.byteLength / 10);

    await publish(world, appId, "1.1.0");
    const claims = await checkClaims(clientOf(appId, "1.0.0"));
    const base = await filesOf(v1);
    const target = await filesOf(v2);
    expect(claims.package).toMatchObject({
      sha256: await hex(v2),
      size: v2.byteLength,
      files: target.digest,
    });
    expect(claims.increment).toMatchObject({
      fromVersion: "1.0.0",
      from: base.digest,
      sha256: row!.sha256,
      size: row!.size,
    });

    const res = await edgeFetch(new URL(claims.increment!.url).pathname);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"${row!.sha256}"`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(await hex(bytes)).toBe(claims.increment!.sha256);
    // The unchanged vendor bundle and the copied page travel as references, not bytes.
    const { prelude, planFrame } = decodeIncrement(bytes);
    const plan = JSON.parse(
      new TextDecoder().decode(await zstdDecompress(planFrame, planDictionary(base.files), prelude.planSize)),
    );
    // Only what differs travels: the unchanged vendor bundle is not named, the copied page is a reference.
    expect(plan).toEqual({
      removed: ["assets/logo.svg"],
      copied: [["pages/about/copy.js", "pages/about/about.js"]],
      changed: [
        ["app.js", expect.any(Number)],
        ["app.json", expect.any(Number)],
        ["assets/logo-2.svg", 7],
        ["pages/index/index.js", expect.any(Number)],
      ],
    });

    const applied = await applyIncrement({
      increment: bytes,
      base: base.files,
      bytesOf: (p) => base.entries[p]!,
      expect: { from: claims.increment!.from, to: claims.package!.files! },
      decompress: zstdDecompress,
      sha256: hex,
    });
    expect(applied.files).toEqual(target.files);
    for (const f of target.files) expect(applied.bytes.get(f.path)).toEqual(target.entries[f.path]);
  });

  it("format 4 is built too and offered as `incrementDelta` only when smaller; `increment` stays format 3 for older clients", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0", { large: true });
    const v2 = appPackage(appId, "1.1.0", { large: true, extraLines: 3 });
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", v2);
    const [row] = await buildAll(appId);
    expect(row).toMatchObject({ status: "built" });
    expect(row!.deltaSize!).toBeLessThan(row!.size!);
    await publish(world, appId, "1.1.0");
    const base = await filesOf(v1);
    const target = await filesOf(v2);

    const claims = await checkClaims(clientOf(appId, "1.0.0"));
    expect(claims.increment).toMatchObject({ sha256: row!.sha256, size: row!.size, from: base.digest });
    expect(claims.incrementDelta).toMatchObject({
      sha256: row!.deltaSha256,
      size: row!.deltaSize,
      fromVersion: "1.0.0",
      from: base.digest,
    });
    for (const [offer, format] of [
      [claims.increment!, 3],
      [claims.incrementDelta!, 4],
    ] as const) {
      const res = await edgeFetch(new URL(offer.url).pathname);
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(await hex(bytes)).toBe(offer.sha256);
      expect(incrementFormat(bytes)).toBe(format);
      const applied = await applyIncrement({
        increment: bytes,
        base: base.files,
        bytesOf: (p) => base.entries[p]!,
        expect: { from: offer.from, to: claims.package!.files! },
        decompress: zstdDecompress,
        sha256: hex,
      });
      expect(applied.files).toEqual(target.files);
    }

    // The builder keeps whichever saves bytes: a format 4 no smaller than format 3 is not
    // offered, and format 3 no smaller than the full package leaves only format 4.
    const republish = async (set: Partial<typeof increments.$inferInsert>) => {
      await db.batch([
        db.update(increments).set(set).where(eq(increments.id, row!.id)),
        bumpSnapshotRevision(db, appId),
      ]);
      await publishCurrentSnapshot(db, testEnv.PACKAGES, appId);
      return checkClaims(clientOf(appId, "1.0.0"));
    };
    const noGain = await republish({ deltaSize: row!.size });
    expect(noGain.increment?.sha256).toBe(row!.sha256);
    expect(noGain.incrementDelta).toBeUndefined();
    const onlyDelta = await republish({ deltaSize: row!.deltaSize, size: v2.byteLength });
    expect(onlyDelta.increment).toBeUndefined();
    expect(onlyDelta.incrementDelta?.sha256).toBe(row!.deltaSha256);
  });

  it("no increment for a client without an installed version, on another version, or already on the target", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 5 }));
    await buildAll(appId);
    await publish(world, appId, "1.1.0");
    expect((await checkClaims(clientOf(appId, "1.0.0"))).increment).toBeDefined();
    expect((await checkClaims(clientOf(appId))).increment).toBeUndefined();
    expect((await checkClaims(clientOf(appId, "0.9.0"))).increment).toBeUndefined();
    expect((await checkClaims(clientOf(appId, "1.1.0"))).increment).toBeUndefined();
  });

  it("an increment not smaller than the full package is skipped and never offered", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 50 }));
    // A zip smaller than any increment to it (as if it compressed exceptionally well).
    await db
      .update(versions)
      .set({ packageSize: 100 })
      .where(and(eq(versions.miniProgramId, appId), eq(versions.version, "1.1.0")))
      .run();
    const [row] = await buildAll(appId);
    expect(row).toMatchObject({ status: "skipped" });
    expect(row!.detail).toMatch(/not smaller/);
    await publish(world, appId, "1.1.0");
    expect((await checkClaims(clientOf(appId, "1.0.0"))).increment).toBeUndefined();
  });

  it("a rollback plans increments to the old version from the newer ones", async () => {
    const appId = await makeMiniProgram(world);
    for (const [v, n] of [
      ["1.0.0", 0],
      ["1.1.0", 9],
    ] as const) {
      await approveZip(appId, v, appPackage(appId, v, { extraLines: n }));
      await publish(world, appId, v);
    }
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    await buildAll(appId);
    const claims = await checkClaims(clientOf(appId, "1.1.0"));
    expect(claims).toMatchObject({ version: "1.0.0", rollback: true });
    expect(claims.increment).toMatchObject({ fromVersion: "1.1.0" });
  });

  it("a pair too large to build in a Worker is skipped; clients get the full package", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    await publish(world, appId, "1.0.0");
    await db
      .update(versions)
      .set({ unpackedSize: 60 * 1024 * 1024 })
      .where(and(eq(versions.miniProgramId, appId), eq(versions.version, "1.0.0")))
      .run();
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 3 }));
    const [row] = await buildAll(appId);
    expect(row).toMatchObject({ status: "skipped" });
    expect(row!.detail).toMatch(/over the/);
  });
});

describe("the codec", () => {
  // Why the builder keeps the WASM zstd (docs/increments.md): in this workerd, node:zlib's zstd
  // accepts `dictionary` and drops it (cloudflare/workerd#6967), so its frames are no patch at
  // all. When this fails, workerd honours the option: measure it against the WASM build again.
  it("workerd's node:zlib zstd ignores a dictionary: the frame is the same size and decodes without it", async () => {
    const z = zlib;
    const old = new TextEncoder().encode(bundle(3, 60, "1.0.0"));
    const next = new TextEncoder().encode(bundle(3, 60, "1.0.1"));
    const withDict = z.zstdCompressSync(next, { dictionary: old });
    expect(withDict.byteLength).toBe(z.zstdCompressSync(next).byteLength);
    expect(z.zstdDecompressSync(withDict).byteLength).toBe(next.byteLength);
    // The WASM build does use it: the same content against the old bytes is a small patch.
    const wasm = await zstdCompress(next, old, 18);
    expect(wasm.byteLength * 4).toBeLessThan(withDict.byteLength);
  });
});

describe("off the hot path", () => {
  it("the queue consumer builds one increment per message and acks it; a malformed message is dropped", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 2 }));
    const [row] = await rowsOf(appId);
    const batch = createMessageBatch<IncrementMessage>("graycast-increments", [
      { id: "m1", timestamp: new Date(), attempts: 1, body: { incrementId: row!.id } },
      {
        id: "m2",
        timestamp: new Date(),
        attempts: 1,
        body: { nonsense: true } as unknown as IncrementMessage,
      },
    ]);
    const ctx = createExecutionContext();
    await consumeIncrements(batch, testEnv);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    expect((await rowsOf(appId))[0]).toMatchObject({ status: "built" });
  });

  it("a build that fails is retried with backoff, then the dead-letter queue's consumer marks it failed", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0", { add: { "x.txt": "unique to this test 1" } });
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    await approveZip(
      appId,
      "1.1.0",
      appPackage(appId, "1.1.0", { add: { "x.txt": "unique to this test 2" } }),
    );
    const [row] = await rowsOf(appId);
    // The base package vanished from storage: the build cannot proceed.
    await testEnv.PACKAGES.delete(`packages/${await hex(v1)}`);
    for (let attempt = 1; attempt <= QUEUE_DELIVERIES; attempt++) {
      const result = await deliver(INCREMENTS_QUEUE, [
        { id: `a${attempt}`, attempts: attempt, incrementId: row!.id },
      ]);
      expect(result.retryMessages.map((m) => m.msgId)).toEqual([`a${attempt}`]);
      // Between deliveries the row waits as queued, with the error and the attempt's start.
      expect((await rowsOf(appId))[0]).toMatchObject({ status: "queued", attempts: attempt, builtAt: null });
      expect((await rowsOf(appId))[0]!.detail).toMatch(/missing from R2/);
    }
    // The consumer asks for backoff; getQueueResult does not report delays, so the schedule itself.
    expect([1, 2, 3, 4].map(retryDelaySeconds)).toEqual([30, 60, 120, 120]);
    // The queue gives up after max_retries and moves the message to the dead-letter queue.
    const dead = await deliver(INCREMENTS_DLQ, [{ id: "d1", attempts: 1, incrementId: row!.id }]);
    expect(dead.explicitAcks).toEqual(["d1"]);
    const failed = (await rowsOf(appId))[0]!;
    expect(failed).toMatchObject({ status: "failed", attempts: QUEUE_DELIVERIES, sha256: null });
    expect(failed.detail).toMatch(/^gave up after 4 attempts; last error: .*missing from R2/);
    expect(failed.builtAt).toBeGreaterThanOrEqual(failed.startedAt!);
    // A late dead letter for a row built meanwhile changes nothing.
    await db.update(increments).set({ status: "built" }).where(eq(increments.id, row!.id)).run();
    await deliver(INCREMENTS_DLQ, [{ id: "d2", attempts: 1, incrementId: row!.id }]);
    expect((await rowsOf(appId))[0]).toMatchObject({ status: "built" });
  });

  it("a row whose attempts were all used up without a result (the isolate was killed) is failed, not built again", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "z.txt": "killed" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "z.txt": "killed 2" } }));
    const [row] = await rowsOf(appId);
    await db.update(increments).set({ attempts: MAX_ATTEMPTS }).where(eq(increments.id, row!.id)).run();
    expect(await buildIncrementRow(db, testEnv.PACKAGES, row!.id)).toMatchObject({ status: "failed" });
    expect((await rowsOf(appId))[0]).toMatchObject({ status: "failed", sha256: null });
  });

  it("the cron sweep re-sends rows left queued and rows stuck building, never a live build", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "y.txt": "sweep" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.0.1", appPackage(appId, "1.0.1", { add: { "y.txt": "sweep 1" } }));
    await publish(world, appId, "1.0.1");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "y.txt": "sweep 2" } }));
    const rows = await rowsOf(appId);
    expect(rows).toHaveLength(3);
    const t = Date.now();
    const [queued, building] = rows;
    await db
      .update(increments)
      .set({ status: "building", startedAt: t })
      .where(eq(increments.id, building!.id))
      .run();
    const sweepAt = async (now: number) => {
      const sent = new Set<string>();
      // The producer binding as the admin Worker has it; it records what the sweep hands it.
      const INCREMENTS = {
        sendBatch: async (msgs: Iterable<MessageSendRequest<IncrementMessage>>) => {
          for (const m of msgs) sent.add(m.body.incrementId);
        },
      } as unknown as Queue<IncrementMessage>;
      await sweepIncrements({ DB: testEnv.DB, INCREMENTS }, now);
      return rows.map((r) => r.id).filter((id) => sent.has(id));
    };
    expect(await sweepAt(t)).toEqual([]);
    expect(await sweepAt(t + STALE_PENDING_MS + 1)).toEqual([queued!.id, rows[2]!.id]);
    expect(await sweepAt(t + STALE_BUILDING_MS + 1)).toEqual(rows.map((r) => r.id));
    // A stuck building row is claimed again by the next delivery.
    await deliver(
      INCREMENTS_QUEUE,
      [{ id: "s1", attempts: 1, incrementId: building!.id }],
      () => t + STALE_BUILDING_MS + 1,
    );
    expect(await db.select().from(increments).where(eq(increments.id, building!.id)).get()).toMatchObject({
      status: "built",
      startedAt: t + STALE_BUILDING_MS + 1,
    });
  });

  it("the admin Worker does not consume increments: the builder Worker consumes the queue and its dead-letter queue", async () => {
    // The admin Worker's queue handler consumes the log queue only (test/logs-ingest.test.ts).
    expect(typeof builder.queue).toBe("function");
    // Each environment of each configuration (local, staging, production): the admin Worker only produces.
    const sections = (toml: string) => toml.split(/^# -+ /m);
    expect(adminToml).not.toMatch(/queues\.consumers\]\]\s+queue = "graycast-increments/);
    for (const [env, suffix] of [
      ["", "-dev"],
      ["env.staging.", "-staging"],
      ["env.production.", ""],
    ] as const) {
      const prefix = env.replaceAll(".", "\\.");
      expect(adminToml).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.producers\\]\\]\\s+binding = "INCREMENTS"\\s+queue = "graycast-increments${suffix}"`,
        ),
      );
      const b = sections(builderToml).find((s) =>
        env ? s.startsWith(env.split(".")[1]!) : s.includes("[[queues.consumers]]"),
      )!;
      expect(b).toMatch(
        new RegExp(
          `\\[\\[${prefix}queues\\.consumers\\]\\]\\s+queue = "graycast-increments${suffix}"\\s+max_batch_size = 1\\s+max_retries = 3\\s+dead_letter_queue = "graycast-increments${suffix}-dlq"`,
        ),
      );
      expect(b).toMatch(
        new RegExp(`\\[\\[${prefix}queues\\.consumers\\]\\]\\s+queue = "graycast-increments${suffix}-dlq"`),
      );
      expect(b).toContain(`INCREMENTS_DLQ = "graycast-increments${suffix}-dlq"`);
      // Nothing but D1, R2 (and the PACKAGE_KEY_SECRET secret) bound to the builder; the second
      // pair of queues is the subscription message pushes (issue 14, test/messages-webhooks.test.ts).
      expect(
        b
          .match(
            /^\[\[[\w.]*?(d1_databases|r2_buckets|queues|durable_objects|services|kv_namespaces|ratelimits)/gm,
          )
          ?.map((m) => m.replace(/^\[\[(env\.\w+\.)?/, "")),
      ).toEqual(["d1_databases", "r2_buckets", "queues", "queues", "queues", "queues"]);
    }
    expect(QUEUE_DELIVERIES).toBe(MAX_ATTEMPTS);
  });

  it("an approval and a publish answer without building: the row is queued, nothing is in R2 yet", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "q.txt": "answer at once" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "q.txt": "answer at once 2" } }));
    await publish(world, appId, "1.1.0");
    expect((await rowsOf(appId)).map((r) => [r.status, r.startedAt, r.sha256])).toEqual([
      ["queued", null, null],
    ]);
  });
});

describe("redelivery and states", () => {
  it("a delivery marks the row building with its start time, then built with its finish time", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "s.txt": "states" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "s.txt": "states 2" } }));
    const [row] = await rowsOf(appId);
    const start = Date.now() + 60_000;
    // What the console shows while the builder reads the packages (the first R2 read of the build).
    let during: { status: string; startedAt: number | null; finishedAt: number | null } | undefined;
    const PACKAGES = new Proxy(testEnv.PACKAGES, {
      get(target, prop) {
        if (prop === "get")
          return async (key: string) => {
            if (!during) during = (await listed(appId))[0];
            return target.get(key);
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await deliver(INCREMENTS_QUEUE, [{ id: "b1", attempts: 1, incrementId: row!.id }], () => start, {
      ...testEnv,
      PACKAGES,
    });
    expect(during).toMatchObject({ status: "building", startedAt: start, finishedAt: null });
    const [after] = await listed(appId);
    expect(after).toMatchObject({ status: "built", startedAt: start, attempts: 1 });
    expect(after!.finishedAt).toBeGreaterThanOrEqual(start);
  });

  it("a message redelivered after success is a no-op: one R2 object, the row unchanged", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "d.txt": "again" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "d.txt": "again 2" } }));
    const [row] = await rowsOf(appId);
    expect(
      (await deliver(INCREMENTS_QUEUE, [{ id: "r1", attempts: 1, incrementId: row!.id }])).explicitAcks,
    ).toEqual(["r1"]);
    const built = (await rowsOf(appId))[0]!;
    expect(await testEnv.PACKAGES.head(`increments/${built.sha256}`)).not.toBeNull();
    const { bucket, written } = recordingIncrementWrites(testEnv.PACKAGES);
    const again = await deliver(
      INCREMENTS_QUEUE,
      [{ id: "r1", attempts: 2, incrementId: row!.id }],
      () => Date.now() + 1000,
      { ...testEnv, PACKAGES: bucket },
    );
    expect(again.explicitAcks).toEqual(["r1"]);
    expect(again.retryMessages).toEqual([]);
    expect((await rowsOf(appId))[0]).toEqual(built);
    expect(written).toEqual([]);
  });

  it("two deliveries of one message at once build once: one R2 object per format even for an encrypted target", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/encryption`, {
        token: world.adminA.token,
        json: { enabled: true },
      }),
      200,
    );
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "e.txt": "twice" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "e.txt": "twice 2" } }));
    const [row] = await rowsOf(appId);
    const { bucket, written } = recordingIncrementWrites(testEnv.PACKAGES);
    const results = await Promise.all([
      deliver(INCREMENTS_QUEUE, [{ id: "c1", attempts: 1, incrementId: row!.id }], undefined, {
        ...testEnv,
        PACKAGES: bucket,
      }),
      deliver(INCREMENTS_QUEUE, [{ id: "c1", attempts: 1, incrementId: row!.id }], undefined, {
        ...testEnv,
        PACKAGES: bucket,
      }),
    ]);
    expect(results.map((r) => r.explicitAcks)).toEqual([["c1"], ["c1"]]);
    const built = (await rowsOf(appId))[0]!;
    expect(built).toMatchObject({ status: "built", attempts: 1 });
    // Format 3 and format 4 (kept: smaller), each sealed with its own IV, nothing plain.
    expect(built.deltaEncSha256).not.toBeNull();
    expect(built.deltaEncIv).not.toBe(built.encIv);
    expect(written).toEqual([`increments/${built.encSha256}`, `increments/${built.deltaEncSha256}`]);

    // Offered sealed: the manifest names the ciphertext and the key; it decrypts to the format 4
    // object the row names, which rebuilds the target.
    await publish(world, appId, "1.1.0");
    const claims = await checkClaims(clientOf(appId, "1.0.0"));
    const offer = claims.incrementDelta!;
    expect(offer).toMatchObject({ sha256: built.deltaEncSha256, size: built.deltaEncSize });
    expect(offer.encryption).toMatchObject({ iv: built.deltaEncIv, plainSha256: built.deltaSha256 });
    const sealed = new Uint8Array(await (await edgeFetch(new URL(offer.url).pathname)).arrayBuffer());
    const plain = await decryptObject(fromBase64Url(offer.encryption!.key), offer.encryption!.iv, sealed);
    expect(incrementFormat(plain)).toBe(4);
    const base = await filesOf(appPackage(appId, "1.0.0", { add: { "e.txt": "twice" } }));
    const applied = await applyIncrement({
      increment: plain,
      base: base.files,
      bytesOf: (p) => base.entries[p]!,
      expect: { from: offer.from, to: claims.package!.files! },
      decompress: zstdDecompress,
      sha256: hex,
    });
    expect(applied.bytes.get("e.txt")).toEqual(new TextEncoder().encode("twice 2"));
  });
});

describe("the console's view", () => {
  it("lists a mini program's increments with state and share; members only", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0", { add: { "v.txt": "view" } }));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "v.txt": "view 2" } }));
    const listed = await expectJson<{ increments: any[] }>(
      callAdmin("GET", `/v1/mini-programs/${appId}/increments`, { token: world.viewerA.token }),
      200,
    );
    expect(listed.increments).toEqual([
      expect.objectContaining({
        fromVersion: "1.0.0",
        toVersion: "1.1.0",
        status: "queued",
        size: null,
        share: null,
      }),
    ]);
    await buildAll(appId);
    const built = await expectJson<{ increments: any[] }>(
      callAdmin("GET", `/v1/mini-programs/${appId}/increments`, { token: world.devA.token }),
      200,
    );
    expect(built.increments[0]).toMatchObject({ status: "built", encrypted: false });
    expect(built.increments[0].share).toBeGreaterThan(0);
    expect(built.increments[0].share).toBeLessThan(1);
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/increments`, { token: world.devB.token }),
      404,
      "not_found",
    );
    await expectError(callAdmin("GET", `/v1/mini-programs/${appId}/increments`), 401, "unauthenticated");
  });

  it("a failed increment can be retried by a developer: pending again with fresh attempts, then built", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0", { add: { "r.txt": "retry" } });
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { add: { "r.txt": "retry 2" } }));
    const [row] = await rowsOf(appId);
    await db
      .update(increments)
      .set({ status: "failed", attempts: MAX_ATTEMPTS, detail: "boom" })
      .where(eq(increments.id, row!.id))
      .run();
    const path = `/v1/mini-programs/${appId}/increments/${row!.id}/retry`;
    await expectError(callAdmin("POST", path, { token: world.viewerA.token }), 403, "forbidden");
    expect(await expectJson(callAdmin("POST", path, { token: world.devA.token }), 200)).toMatchObject({
      status: "queued",
      attempts: 0,
      detail: "",
    });
    await expectError(callAdmin("POST", path, { token: world.devA.token }), 409, "conflict");
    await expectError(
      callAdmin("POST", `/v1/mini-programs/${appId}/increments/inc_nosuchthing/retry`, {
        token: world.devA.token,
      }),
      404,
      "not_found",
    );
    expect(await buildIncrementRow(db, testEnv.PACKAGES, row!.id)).toMatchObject({ status: "built" });
  });
});

describe("a built increment and the snapshot", () => {
  /**
   * The real D1 binding, except that a snapshot revision bump run on its own (outside a batch)
   * fails: the build must bump inside the batch that marks the row built, so the sweep sees the
   * snapshot behind whatever happens after it.
   */
  function refusingLoneBumps(d1: D1Database): D1Database {
    return interceptD1(d1, {
      failAlone: (query) => /^update "mini_programs" set "snapshot_revision"/.test(query),
    });
  }

  it("is offered by the snapshot after the sweep even when nothing but the build's own batch could bump the revision", async () => {
    const appId = await makeMiniProgram(world, [world.host1]);
    await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", appPackage(appId, "1.1.0", { extraLines: 20 }));
    await publish(world, appId, "1.1.0");
    const queued = (await rowsOf(appId)).filter((r) => r.status === "queued");
    expect(queued.map((r) => [r.fromVersion, r.toVersion])).toEqual([["1.0.0", "1.1.0"]]);

    expect(
      (await buildIncrementRow(createDb(refusingLoneBumps(testEnv.DB)), testEnv.PACKAGES, queued[0]!.id))
        .status,
    ).toBe("built");
    await sweepSnapshots(db, testEnv.PACKAGES, { limit: 1000 });
    const snapshot = await storedSnapshot(appId);
    expect(snapshot.online.version).toBe("1.1.0");
    expect(Object.keys(snapshot.online.package.increments ?? {})).toContain("1.0.0");
  });
});
