/**
 * Incremental updates (PRODUCT.md D3) through the reference client: the happy path gives
 * byte-identical files for fewer bytes; every failure of the increment path falls back to the
 * full package and still ends correct; when the full package is bad too, nothing changes.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deviceFor, type TestDevice } from "./support/client";
import { startFakeEdge, type FakeEdge } from "./support/edge";
import { buildIncrementBetween, buildVersion, type BuiltVersion } from "./support/fixtures";

let v0: BuiltVersion;
let v1: BuiltVersion;
let v2: BuiltVersion;
let v3: BuiltVersion;
let edge: FakeEdge;
let device: TestDevice;

beforeAll(async () => {
  v0 = await buildVersion("0.9.0");
  v1 = await buildVersion("1.0.0");
  v2 = await buildVersion("1.1.0", { "pages/new/new.js": "Page({ data: { fresh: true } });\n" });
  v3 = await buildVersion("1.2.0");
});

beforeEach(async () => {
  edge = await startFakeEdge();
  device = deviceFor(edge);
  edge.answer(await edge.claims(v1));
  await device.client.update();
});

afterEach(async () => {
  await edge.close();
  device.cleanup();
});

async function expectRunning(version: BuiltVersion): Promise<void> {
  const opened = await device.client.open();
  expect(opened.version).toBe(version.version);
  expect(opened.files).toEqual(version.list);
  for (const f of version.list) expect(await opened.read(f.path)).toEqual(version.bytes.get(f.path));
}

const packageRequests = (v: BuiltVersion) => edge.requests.filter((r) => r.path === `/v1/packages/${v.sha256}`).length;

describe("increments", () => {
  it("full install of v1, then v2 through its increment: byte-identical files for fewer bytes", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    expect(bytes.byteLength).toBeLessThan(v2.zip.byteLength);
    edge.answer(await edge.claims(v2, { increment: await edge.increment(bytes, v1) }));
    const result = await device.client.update();
    expect(result).toMatchObject({ activated: true, version: "1.1.0", via: "increment", transferred: bytes.byteLength });
    expect(result.fallback).toBeUndefined();
    expect(packageRequests(v2)).toBe(0);
    await expectRunning(v2);
    // The previous version's directory is gone once the new one is current.
    expect(device.contents().filter(([path]) => path.startsWith("versions/1.0.0-"))).toEqual([]);
  });

  it("a substituted increment falls back to the full package and still ends correct", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await edge.increment(bytes, v1);
    const tampered = bytes.slice();
    tampered[tampered.length - 5]! ^= 0xff;
    await edge.host("increments", tampered, { sha256: increment.sha256 });
    edge.answer(await edge.claims(v2, { increment }));
    expect(await device.client.update()).toMatchObject({ activated: true, via: "full", fallback: { code: "hash_mismatch" } });
    await expectRunning(v2);
  });

  it("a genuine-looking increment that yields other files than the manifest names falls back", async () => {
    const wrongTarget = await buildIncrementBetween(v1, v3);
    edge.answer(await edge.claims(v2, { increment: await edge.increment(wrongTarget, v1) }));
    expect(await device.client.update()).toMatchObject({ activated: true, via: "full", fallback: { code: "hash_mismatch" } });
    await expectRunning(v2);
  });

  it("an endless increment falls back too", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await edge.increment(bytes, v1);
    await edge.host("increments", bytes, { sha256: increment.sha256, behaviour: { kind: "endless", limit: 1 << 30 } });
    edge.answer(await edge.claims(v2, { increment }));
    expect(await device.client.update()).toMatchObject({ activated: true, via: "full", fallback: { code: "endless_data" } });
    await expectRunning(v2);
  });

  it("when the increment AND the full package are tampered, the update is refused and nothing changes", async () => {
    const bytes = await buildIncrementBetween(v1, v2);
    const increment = await edge.increment(bytes, v1);
    await edge.host("increments", bytes.map((b, i) => (i === 20 ? b ^ 1 : b)), { sha256: increment.sha256 });
    await edge.host("packages", v2.zip.map((b, i) => (i === 40 ? b ^ 1 : b)), { sha256: v2.sha256 });
    edge.answer(await edge.claims(v2, { increment }));
    const before = device.contents();
    await expect(device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
    expect(device.contents()).toEqual(before);
    await expectRunning(v1);
  });

  describe("an increment for a different base", () => {
    it("offered for other installed files: not downloaded, the full package is (wrong_base)", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      const increment = await edge.increment(fromV0, v0);
      edge.answer(await edge.claims(v2, { increment: { ...increment, fromVersion: "1.0.0" } }));
      expect(await device.client.update()).toMatchObject({ activated: true, via: "full", fallback: { code: "wrong_base" } });
      expect(edge.requests.some((r) => r.path.startsWith("/v1/increments/"))).toBe(false);
      await expectRunning(v2);
    });

    it("whose bytes were made from another base than the manifest says: applyIncrement refuses, the full package is used", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      edge.answer(await edge.claims(v2, { increment: await edge.increment(fromV0, v1) }));
      expect(await device.client.update()).toMatchObject({ activated: true, via: "full", fallback: { code: "wrong_base" } });
      await expectRunning(v2);
    });

    it("and a tampered full package: refused (hash_mismatch), nothing changes", async () => {
      const fromV0 = await buildIncrementBetween(v0, v2);
      await edge.host("packages", v2.zip.map((b, i) => (i === 40 ? b ^ 1 : b)), { sha256: v2.sha256 });
      edge.answer(await edge.claims(v2, { increment: await edge.increment(fromV0, v1) }));
      const before = device.contents();
      await expect(device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
      expect(device.contents()).toEqual(before);
      await expectRunning(v1);
    });
  });
});
