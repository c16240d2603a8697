/**
 * Incremental updates (PRODUCT.md D3) through the reference client: the happy path gives
 * byte-identical files for fewer bytes; every failure of the increment path falls back to the
 * full package and still ends correct; when the full package is bad too, nothing changes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { decodeDeltaIncrement, incrementFormat } from "../../core/increment";
import { freshEdgeAndDevice } from "./support/client";
import {
  type BuiltVersion,
  buildDeltaIncrementBetween,
  buildIncrementBetween,
  buildVersion,
} from "./support/fixtures";

const t = freshEdgeAndDevice();

let v0: BuiltVersion;
let v1: BuiltVersion;
let v2: BuiltVersion;
let v3: BuiltVersion;

beforeAll(async () => {
  v0 = await buildVersion("0.9.0");
  v1 = await buildVersion("1.0.0");
  v2 = await buildVersion("1.1.0", { "pages/new/new.js": "Page({ data: { fresh: true } });\n" });
  v3 = await buildVersion("1.2.0");
});

// Runs after freshEdgeAndDevice's hook (registered first): the device starts on v1.
beforeEach(async () => {
  t.edge.answer(await t.edge.claims(v1));
  await t.device.client.update();
});

async function expectRunning(version: BuiltVersion): Promise<void> {
  const opened = await t.device.client.open();
  expect(opened.version).toBe(version.version);
  expect(opened.files).toEqual(version.list);
  for (const f of version.list) expect(await opened.read(f.path)).toEqual(version.bytes.get(f.path));
}

const packageRequests = (v: BuiltVersion) =>
  t.edge.requests.filter((r) => r.path === `/v1/packages/${v.sha256}`).length;

describe("increments", () => {
  it("full install of v1, then v2 through its increment: byte-identical files for fewer bytes", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    expect(bytes.byteLength).toBeLessThan(v2.zip.byteLength);
    t.edge.answer(await t.edge.claims(v2, { increment: await t.edge.increment(bytes, v1) }));
    const result = await t.device.client.update();
    expect(result).toMatchObject({
      activated: true,
      version: "1.1.0",
      via: "increment",
      transferred: bytes.byteLength,
    });
    expect(result.fallback).toBeUndefined();
    expect(packageRequests(v2)).toBe(0);
    await expectRunning(v2);
    // The previous version's directory is gone once the new one is current.
    expect(t.device.contents().filter(([path]) => path.startsWith("versions/1.0.0-"))).toEqual([]);
  });

  it("an installed file altered on disk is not carried into the new version: the full package is used", async () => {
    const [path] = t.device.contents().find(([p]) => p.endsWith("pages/index/index.wxml"))!;
    const file = join(t.device.root, path);
    const bytes = readFileSync(file);
    bytes[0]! ^= 0x01; // same size, other bytes
    writeFileSync(file, bytes);
    t.edge.answer(
      await t.edge.claims(v2, { increment: await t.edge.increment(await buildIncrementBetween(v1, v2), v1) }),
    );
    expect(await t.device.client.update()).toMatchObject({
      activated: true,
      via: "full",
      fallback: { code: "wrong_base" },
    });
    await expectRunning(v2);
  });

  it("a substituted increment falls back to the full package and still ends correct", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await t.edge.increment(bytes, v1);
    const tampered = bytes.slice();
    tampered[tampered.length - 5]! ^= 0xff;
    await t.edge.host("increments", tampered, { sha256: increment.sha256 });
    t.edge.answer(await t.edge.claims(v2, { increment }));
    expect(await t.device.client.update()).toMatchObject({
      activated: true,
      via: "full",
      fallback: { code: "hash_mismatch" },
    });
    await expectRunning(v2);
  });

  it("a genuine-looking increment that yields other files than the manifest names falls back", async () => {
    const wrongTarget = await buildIncrementBetween(v1, v3);
    t.edge.answer(await t.edge.claims(v2, { increment: await t.edge.increment(wrongTarget, v1) }));
    expect(await t.device.client.update()).toMatchObject({
      activated: true,
      via: "full",
      fallback: { code: "hash_mismatch" },
    });
    await expectRunning(v2);
  });

  it("an endless increment falls back too", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await t.edge.increment(bytes, v1);
    await t.edge.host("increments", bytes, {
      sha256: increment.sha256,
      behaviour: { kind: "endless", limit: 1 << 30 },
    });
    t.edge.answer(await t.edge.claims(v2, { increment }));
    expect(await t.device.client.update()).toMatchObject({
      activated: true,
      via: "full",
      fallback: { code: "endless_data" },
    });
    await expectRunning(v2);
  });

  it("when the increment AND the full package are tampered, the update is refused and nothing changes", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await t.edge.increment(bytes, v1);
    await t.edge.host(
      "increments",
      bytes.map((b, i) => (i === 20 ? b ^ 1 : b)),
      { sha256: increment.sha256 },
    );
    await t.edge.host(
      "packages",
      v2.zip.map((b, i) => (i === 40 ? b ^ 1 : b)),
      { sha256: v2.sha256 },
    );
    t.edge.answer(await t.edge.claims(v2, { increment }));
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
    expect(t.device.contents()).toEqual(before);
    await expectRunning(v1);
  });

  describe("format 4 (the delta format), offered as incrementDelta", () => {
    it("is preferred over format 3: only its bytes travel, the files are byte-identical", async () => {
      const zstdFormat = await buildIncrementBetween(v1, v2);
      const delta = await buildDeltaIncrementBetween(v1, v2);
      expect(incrementFormat(delta)).toBe(4);
      expect(delta.byteLength).toBeLessThan(zstdFormat.byteLength);
      const increment = await t.edge.increment(zstdFormat, v1);
      const incrementDelta = await t.edge.increment(delta, v1);
      t.edge.answer(await t.edge.claims(v2, { increment, incrementDelta }));
      const result = await t.device.client.update();
      expect(result).toMatchObject({
        activated: true,
        via: "increment",
        incrementFormat: 4,
        transferred: delta.byteLength,
      });
      expect(result.fallback).toBeUndefined();
      expect(t.edge.requests.filter((r) => r.path === `/v1/increments/${increment.sha256}`)).toEqual([]);
      expect(packageRequests(v2)).toBe(0);
      await expectRunning(v2);
    });

    it("applies each content coding: the plain copy/insert delta (no zstd at all) and a zstd frame", async () => {
      const plain = await buildDeltaIncrementBetween(v1, v2, { coding: "delta" });
      expect(decodeDeltaIncrement(plain).prelude.coding).toBe(0);
      t.edge.answer(await t.edge.claims(v2, { incrementDelta: await t.edge.increment(plain, v1) }));
      expect(await t.device.client.update()).toMatchObject({ via: "increment", incrementFormat: 4 });
      await expectRunning(v2);

      // Every number of a large file shifts: thousands of small edits, where zstd codes best.
      const numbers = (shift: number) =>
        Array.from({ length: 6000 }, (_, i) => `f(${((i * 7919) % 10007) + shift});`).join("");
      const bigA = await buildVersion("1.1.1", { "lib/big.js": numbers(0) });
      const bigB = await buildVersion("1.1.2", { "lib/big.js": numbers(1) });
      t.edge.answer(await t.edge.claims(bigA));
      expect(await t.device.client.update()).toMatchObject({ via: "full", version: "1.1.1" });
      const packed = await buildDeltaIncrementBetween(bigA, bigB);
      expect(decodeDeltaIncrement(packed).prelude.coding).toBe(2);
      t.edge.answer(await t.edge.claims(bigB, { incrementDelta: await t.edge.increment(packed, bigA) }));
      expect(await t.device.client.update()).toMatchObject({ via: "increment", incrementFormat: 4 });
      await expectRunning(bigB);
    });

    it("a tampered format 4 falls back to format 3, then still ends correct", async () => {
      const delta = await buildDeltaIncrementBetween(v1, v2, { coding: "delta" });
      const incrementDelta = await t.edge.increment(delta, v1);
      const tampered = delta.slice();
      tampered[tampered.length - 1]! ^= 0x01;
      await t.edge.host("increments", tampered, { sha256: incrementDelta.sha256 });
      const increment = await t.edge.increment(await buildIncrementBetween(v1, v2), v1);
      t.edge.answer(await t.edge.claims(v2, { increment, incrementDelta }));
      expect(await t.device.client.update()).toMatchObject({
        activated: true,
        via: "increment",
        incrementFormat: 3,
        fallback: { code: "hash_mismatch" },
      });
      expect(packageRequests(v2)).toBe(0);
      await expectRunning(v2);
    });

    it("a format 4 whose delta was altered (a copy moved) is refused; the full package is used", async () => {
      const delta = await buildDeltaIncrementBetween(v1, v2, { coding: "delta" });
      const { prelude } = decodeDeltaIncrement(delta);
      // The first drift (after the ops' three heads and the two length columns) pushed far past the base.
      const forged = delta.slice();
      const opsStart = forged.length - prelude.opsSize - prelude.literalsSize;
      const heads = [0, 1, 2].map((i) => forged[opsStart + i]!);
      expect(heads.every((b) => b < 0x80)).toBe(true);
      forged[opsStart + 3 + heads[1]! + heads[2]!] = 0x7e; // zigzag 126: +63 bytes of drift
      const incrementDelta = await t.edge.increment(forged, v1);
      t.edge.answer(await t.edge.claims(v2, { incrementDelta }));
      const result = await t.device.client.update();
      expect(result).toMatchObject({ activated: true, via: "full" });
      expect(result.fallback?.code).toBe("hash_mismatch");
      await expectRunning(v2);
    });
  });

  describe("an increment for a different base", () => {
    it("offered for other installed files: not downloaded, the full package is (wrong_base)", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      const increment = await t.edge.increment(fromV0, v0);
      t.edge.answer(await t.edge.claims(v2, { increment: { ...increment, fromVersion: "1.0.0" } }));
      expect(await t.device.client.update()).toMatchObject({
        activated: true,
        via: "full",
        fallback: { code: "wrong_base" },
      });
      expect(t.edge.requests.some((r) => r.path.startsWith("/v1/increments/"))).toBe(false);
      await expectRunning(v2);
    });

    it("whose bytes were made from another base than the manifest says: applyIncrement refuses, the full package is used", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      t.edge.answer(await t.edge.claims(v2, { increment: await t.edge.increment(fromV0, v1) }));
      expect(await t.device.client.update()).toMatchObject({
        activated: true,
        via: "full",
        fallback: { code: "wrong_base" },
      });
      await expectRunning(v2);
    });

    it("and a tampered full package: refused (hash_mismatch), nothing changes", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      await t.edge.host(
        "packages",
        v2.zip.map((b, i) => (i === 40 ? b ^ 1 : b)),
        { sha256: v2.sha256 },
      );
      t.edge.answer(await t.edge.claims(v2, { increment: await t.edge.increment(fromV0, v1) }));
      const before = t.device.contents();
      await expect(t.device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
      expect(t.device.contents()).toEqual(before);
      await expectRunning(v1);
    });
  });
});
