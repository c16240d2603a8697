/**
 * Attacks on and accidents of the package download: substituted bytes behind a genuine manifest,
 * an endless body, a connection cut halfway (resumed with Range + If-Range). Refusals leave the
 * store byte-for-byte unchanged.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { deviceFor, freshEdgeAndDevice } from "./support/client";
import { buildVersion, twoVersions } from "./support/fixtures";

const t = freshEdgeAndDevice();

const { v1, v2 } = await twoVersions();

// Runs after freshEdgeAndDevice's hook (registered first): the device starts on v1.
beforeEach(async () => {
  t.edge.answer(await t.edge.claims(v1));
  await t.device.client.update();
});

describe("download attacks", () => {
  it("a substituted package (one byte changed, same size) behind a genuine manifest: hash_mismatch", async () => {
    const tampered = v2.zip.slice();
    tampered[tampered.length >> 1]! ^= 0x01;
    await t.edge.host("packages", tampered, { sha256: v2.sha256 });
    t.edge.answer(await t.edge.claims(v2));
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
    expect(t.device.contents()).toEqual(before);
    expect((await t.device.client.open()).version).toBe("1.0.0");
  });

  it("a substituted, well-formed package when the manifest names no file list: hash_mismatch", async () => {
    const evil = await buildVersion("1.1.0", { "pages/index/index.js": "steal(localStorage);\n" });
    await t.edge.host("packages", evil.zip, { sha256: v2.sha256 });
    const claims = await t.edge.claims(v2);
    delete claims.package!.files;
    t.edge.answer({ ...claims, package: { ...claims.package!, size: evil.zip.byteLength } });
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
    expect(t.device.contents()).toEqual(before);
  });

  it("a package whose unpacked files differ from the signed file list: hash_mismatch", async () => {
    t.edge.answer(
      await t.edge.claims(v2, {
        package: {
          url: (await t.edge.host("packages", v2.zip)).url,
          size: v2.zip.byteLength,
          sha256: v2.sha256,
          files: v1.digest,
        },
      }),
    );
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "hash_mismatch" });
    expect(t.device.contents()).toEqual(before);
  });

  it("more bytes than the signed size (endless data): endless_data, aborted without reading on", async () => {
    const GiB = 1024 * 1024 * 1024;
    const hosted = await t.edge.host("packages", v2.zip, {
      sha256: v2.sha256,
      behaviour: { kind: "endless", limit: GiB },
    });
    t.edge.answer(await t.edge.claims(v2));
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "endless_data" });
    expect(t.device.contents()).toEqual(before);
    // The server stopped when the client hung up, a few socket buffers in, nowhere near 1 GiB.
    await t.edge.endlessStopped.get(new URL(hosted.url).pathname);
    const written = t.edge.endlessWritten.get(new URL(hosted.url).pathname) ?? 0;
    expect(written).toBeGreaterThan(v2.zip.byteLength);
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it("a server that stalls mid-body (slow retrieval) is given up on after the idle timeout and the download resumed", async () => {
    const device = deviceFor(t.edge, { idleTimeoutMs: 300 });
    try {
      const half = v2.zip.byteLength >> 1;
      await t.edge.host("packages", v2.zip, { behaviour: { kind: "stall", after: half } });
      t.edge.answer(await t.edge.claims(v2));
      expect(await device.client.update()).toMatchObject({ activated: true, version: "1.1.0", resumed: 1 });
      expect(
        t.edge.requests
          .filter((r) => r.path === `/v1/packages/${v2.sha256}`)
          .map((r) => r.headers.range ?? null),
      ).toEqual([null, `bytes=${half}-`]);
    } finally {
      device.cleanup();
    }
  });

  it("a connection cut halfway is resumed with Range + If-Range and only the missing bytes travel", async () => {
    const half = v2.zip.byteLength >> 1;
    await t.edge.host("packages", v2.zip, { behaviour: { kind: "cut", after: half } });
    t.edge.answer(await t.edge.claims(v2));
    const result = await t.device.client.update();
    expect(result).toMatchObject({
      activated: true,
      version: "1.1.0",
      via: "full",
      resumed: 1,
      transferred: v2.zip.byteLength,
    });
    const gets = t.edge.requests.filter((r) => r.path === `/v1/packages/${v2.sha256}`);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.headers.range).toBeUndefined();
    expect(gets[1]!.headers).toMatchObject({ range: `bytes=${half}-`, "if-range": `"${v2.sha256}"` });
    const opened = await t.device.client.open();
    for (const f of v2.list) expect(await opened.read(f.path)).toEqual(v2.bytes.get(f.path));
  });

  it.each(["wrong_range", "full"] as const)(
    "a resumption answered with %s starts over and still ends correct",
    async (resume) => {
      await t.edge.host("packages", v2.zip, {
        behaviour: { kind: "cut", after: v2.zip.byteLength >> 1, resume },
      });
      t.edge.answer(await t.edge.claims(v2));
      expect(await t.device.client.update()).toMatchObject({ activated: true, version: "1.1.0" });
      const opened = await t.device.client.open();
      for (const f of v2.list) expect(await opened.read(f.path)).toEqual(v2.bytes.get(f.path));
    },
  );

  it("a download that keeps failing is refused as download_failed and changes nothing", async () => {
    t.edge.answer(
      await t.edge.claims(v2, {
        package: {
          url: `${t.edge.url}/v1/packages/${"0".repeat(64)}`,
          size: v2.zip.byteLength,
          sha256: v2.sha256,
          files: v2.digest,
        },
      }),
    );
    const before = t.device.contents();
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "download_failed" });
    expect(t.device.contents()).toEqual(before);
  });
});
