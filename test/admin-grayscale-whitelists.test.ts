/**
 * Uploaded txt whitelists of grayscale tasks (seed: "upload objects in batches through txt
 * Whitelist"; PRODUCT.md G1: "lists of 1,000,000 entries must work"): streaming, validation,
 * deduplication, the Bloom filter and shards in R2 (storage format 2: fingerprint tables),
 * replacement and deletion; `whitelistHas` (explain) reading both formats.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { whitelists } from "../control-plane/src/db/schema";
import { REPLACED_RETENTION_MS, whitelistHas } from "../control-plane/src/services/grayscale-whitelists";
import type { WhitelistRef } from "../core/grayscale/types";
import { shardOf } from "../core/grayscale/whitelist";
import { buildWhitelist, buildWhitelistV2, shardText } from "../core/grayscale/whitelist-build";
import {
  fingerprintBloomHas,
  readFingerprintBloom,
  readShardTable,
  shardTableCount,
  shardTableHas,
  shardTableSlots,
  valueFingerprint,
} from "../core/grayscale/whitelist-v2";
import { whitelistBloomKey, whitelistShardKey } from "../core/snapshot";
import { testEnv } from "./env";
import {
  appWithVersions,
  callAdmin,
  createTask,
  expectError,
  expectJson,
  makeWorld,
  moveTaskTimes,
  runCron,
  storedSnapshot,
  taskAction,
  tasksPath,
  type World,
} from "./support/admin";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const HOUR = 3_600_000;

function putList(
  appId: string,
  taskId: string,
  kind: string,
  body: BodyInit,
  token = world.devA.token,
  headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" },
) {
  return callAdmin("PUT", tasksPath(appId, `/${taskId}/whitelists/${kind}`), { token, body, headers });
}

/** A request body generated as a stream, `chunkLines` lines per chunk, never built whole. */
function linesStream(
  count: number,
  line: (i: number) => string,
  chunkLines = 5000,
): ReadableStream<Uint8Array> {
  let i = 0;
  const enc = new TextEncoder();
  return new ReadableStream({
    pull(controller) {
      if (i >= count) return controller.close();
      const parts: string[] = [];
      for (const end = Math.min(count, i + chunkLines); i < end; i++) parts.push(line(i));
      controller.enqueue(enc.encode(`${parts.join("\n")}\n`));
    },
  });
}

/** A pending task (whitelists change only while pending or suspended). */
async function pendingTask() {
  const appId = await appWithVersions(world);
  const task = await createTask(world, appId, "1.1.0", { startAt: Date.now() + HOUR });
  return { appId, task };
}

/** The whitelist ref the stored snapshot carries for `taskId`. */
async function refInSnapshot(appId: string, taskId: string): Promise<WhitelistRef[]> {
  const task = (await storedSnapshot(appId)).tasks.find((t: any) => t.id === taskId);
  return task?.targets?.whitelists ?? [];
}

/** The objects of a format-2 list as stored in R2: its filter's words and every shard's table. */
async function storedList(ref: WhitelistRef): Promise<{ bloom: Uint32Array; tables: Uint32Array[] }> {
  expect(ref.format).toBe(2);
  const read = async (key: string) => (await testEnv.PACKAGES.get(key))!.arrayBuffer();
  const bloom = readFingerprintBloom(await read(whitelistBloomKey(ref.id)), ref);
  if (typeof bloom === "string") throw new Error(`Bloom filter unreadable: ${bloom}`);
  const tables: Uint32Array[] = [];
  for (let i = 0; i < ref.shards; i++) {
    const table = readShardTable(await read(whitelistShardKey(ref.id, i)));
    if (typeof table === "string") throw new Error(`shard ${i} unreadable: ${table}`);
    tables.push(table);
  }
  return { bloom, tables };
}

/** Membership as the edge checks a format-2 list: the value's fingerprint in the filter, then in its shard's table. */
async function isMember(ref: WhitelistRef, value: string): Promise<boolean> {
  const { bloom, tables } = await storedList(ref);
  const fp = valueFingerprint(ref, value);
  return fingerprintBloomHas(bloom, fp.h0, fp.h1) && shardTableHas(tables[fp.shard]!, fp.h0, fp.h1);
}

/** The stored objects are the bytes core `buildWhitelistV2` gives for the same values (upload order) and seed. */
async function expectBytesOfCore(ref: WhitelistRef, values: readonly string[]): Promise<void> {
  const built = buildWhitelistV2({ id: ref.id, kind: ref.kind, seed: ref.seed, values });
  expect(ref).toEqual(built.ref);
  const bytes = async (key: string) => new Uint8Array(await (await testEnv.PACKAGES.get(key))!.arrayBuffer());
  expect(await bytes(whitelistBloomKey(ref.id))).toEqual(built.bloom);
  for (const [i, shard] of built.shards.entries())
    expect(await bytes(whitelistShardKey(ref.id, i)), `shard ${i}`).toEqual(shard);
}

describe("upload", () => {
  it("streams the list, skips blank lines, trims CRLF and a BOM, removes duplicates, and stores format 2 (fingerprint tables and a Bloom filter) under a new id", async () => {
    const { appId, task } = await pendingTask();
    const body = "\uFEFFguid-b\r\nguid-a\n\n  guid-c  \nguid-a\r\nguid-b\n";
    const res = await expectJson<any>(putList(appId, task.id, "guid", body), 200);
    expect(res).toMatchObject({ kind: "guid", count: 3, lines: 5, duplicates: 2, uploadedBy: world.devA.id });
    expect(res.id).toMatch(/^wl_/);

    const [ref] = await refInSnapshot(appId, task.id);
    expect(ref).toMatchObject({
      id: res.id,
      kind: "guid",
      count: 3,
      shards: res.shards,
      format: 2,
      bloomHashes: 8,
    });
    const { tables } = await storedList(ref!);
    expect(tables.map(shardTableCount)).toEqual([3]);
    for (const v of ["guid-a", "guid-b", "guid-c"]) expect(await isMember(ref!, v)).toBe(true);
    for (const v of ["guid-d", "GUID-A", "guid-a ", "\uFEFFguid-b"])
      expect(await isMember(ref!, v)).toBe(false);
    await expectBytesOfCore(ref!, ["guid-b", "guid-a", "guid-c", "guid-a", "guid-b"]);
    // the shard object holds no value's text
    const shard = await (await testEnv.PACKAGES.get(whitelistShardKey(ref!.id, 0)))!.text();
    expect(shard).not.toContain("guid-");

    const details = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.viewerA.token }),
      200,
    );
    expect(details.whitelists).toEqual([
      { id: res.id, kind: "guid", count: 3, uploadedBy: world.devA.id, createdAt: res.createdAt },
    ]);
  });

  it("keeps non-ASCII values exactly (accents, CJK, surrogate pairs), each in the shard shardOf names, across several shards", async () => {
    const { appId, task } = await pendingTask();
    const special = ["café-1", "账户-二", "😀-guid", "\uFFFD-x", "\uE000-y", "𝔸𝔹-z", "ñ"];
    // Enough values for several shards (4,096 a shard), the special ones spread among them.
    const count = 10_000;
    const line = (i: number) => (i % 1000 === 0 ? special[(i / 1000) % special.length]! : `g-${i}`);
    const res = await expectJson<any>(putList(appId, task.id, "guid", linesStream(count, line)), 200);
    const unique = new Set(Array.from({ length: count }, (_, i) => line(i)));
    expect(res).toMatchObject({ count: unique.size, lines: count, duplicates: count - unique.size });
    expect(res.shards).toBeGreaterThan(1);
    const [ref] = await refInSnapshot(appId, task.id);
    const { bloom, tables } = await storedList(ref!);
    expect(tables.reduce((n, t) => n + shardTableCount(t), 0)).toBe(unique.size);
    for (const v of unique) {
      const fp = valueFingerprint(ref!, v);
      expect(fp.shard).toBe(shardOf(ref!, v));
      expect(
        fingerprintBloomHas(bloom, fp.h0, fp.h1) && shardTableHas(tables[fp.shard]!, fp.h0, fp.h1),
        v,
      ).toBe(true);
    }
    for (const v of special) expect(await isMember(ref!, v)).toBe(true);
    for (const v of ["cafe-1", "账户-三", "g-10000"]) expect(await isMember(ref!, v)).toBe(false);
    await expectBytesOfCore(
      ref!,
      Array.from({ length: count }, (_, i) => line(i)),
    );
  });

  it("a new upload gets a new id and replaces the old list; the old objects are purged by the cron after the retention", async () => {
    const { appId, task } = await pendingTask();
    const first = await expectJson<any>(putList(appId, task.id, "account", "alice\nbob\n"), 200);
    const second = await expectJson<any>(putList(appId, task.id, "account", "carol\n"), 200);
    expect(second.id).not.toBe(first.id);
    const refs = await refInSnapshot(appId, task.id);
    expect(refs.map((r) => r.id)).toEqual([second.id]);
    // The previous snapshot may still be cached at an edge: the old objects stay for a while.
    expect(await testEnv.PACKAGES.head(whitelistBloomKey(first.id))).not.toBeNull();
    await runCron(Date.now() + REPLACED_RETENTION_MS + 60_000);
    expect(await testEnv.PACKAGES.head(whitelistBloomKey(first.id))).toBeNull();
    expect(await testEnv.PACKAGES.head(whitelistShardKey(first.id, 0))).toBeNull();
    expect(await isMember(refs[0]!, "carol")).toBe(true);
  });

  it("lists of each kind sit side by side in the snapshot", async () => {
    const { appId, task } = await pendingTask();
    await expectJson(putList(appId, task.id, "guid", "g1\n"), 200);
    await expectJson(putList(appId, task.id, "deviceId", "d1\nd2\n"), 200);
    const refs = await refInSnapshot(appId, task.id);
    expect(refs.map((r) => [r.kind, r.count]).sort()).toEqual([
      ["deviceId", 2],
      ["guid", 1],
    ]);
  });

  it("reports bad lines (the first 100 with their line numbers, and how many) and stores nothing", async () => {
    const { appId, task } = await pendingTask();
    const lines = ["ok-1", "has space", "ok-2", "x".repeat(129), "tab\tinside"];
    for (let i = 0; i < 150; i++) lines.push(`bad value ${i}`);
    const body = await expectJson<any>(putList(appId, task.id, "guid", lines.join("\n")), 400);
    expect(body.error.code).toBe("bad_request");
    expect(body.error.message).toMatch(
      /^153 line\(s\) are not valid .*first 100 are listed.*nothing was stored/,
    );
    expect(body.error.issues).toHaveLength(100);
    expect(body.error.issues.slice(0, 3)).toEqual([
      { path: "line 2", message: "whitespace inside the value" },
      { path: "line 4", message: "longer than 128 characters" },
      { path: "line 5", message: "control character" },
    ]);
    expect(await refInSnapshot(appId, task.id)).toEqual([]);
    const details = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.devA.token }),
      200,
    );
    expect(details.whitelists).toEqual([]);
  });

  it("refuses an empty list, invalid UTF-8, a wrong content type, an unknown kind and an oversized declared length", async () => {
    const { appId, task } = await pendingTask();
    expect(await expectError(putList(appId, task.id, "guid", "\n  \n"), 400, "bad_request")).toMatch(
      /no values/,
    );
    await expectError(
      putList(appId, task.id, "guid", new Uint8Array([0x61, 0x0a, 0xff, 0xfe, 0x0a])),
      400,
      "bad_request",
    );
    await expectError(
      putList(appId, task.id, "guid", "a\n", world.devA.token, { "content-type": "application/json" }),
      415,
      "unsupported_media_type",
    );
    await expectError(putList(appId, task.id, "email", "a\n"), 400, "bad_request");
    await expectError(
      putList(appId, task.id, "guid", "a\n", world.devA.token, {
        "content-type": "text/plain",
        "content-length": String(65 * 1024 * 1024),
      }),
      413,
      "payload_too_large",
    );
    expect(await refInSnapshot(appId, task.id)).toEqual([]);
  });

  it("a line without end is reported as too long, not accumulated", async () => {
    const { appId, task } = await pendingTask();
    const huge = "x".repeat(1 << 20);
    const body = await expectJson<any>(
      putList(
        appId,
        task.id,
        "guid",
        linesStream(3, (i) => (i === 1 ? huge.repeat(8) : `ok-${i}`), 1),
      ),
      400,
    );
    expect(body.error.issues).toEqual([{ path: "line 2", message: "longer than 128 characters" }]);
  }, 60_000);

  it("stops reading past 64 MiB, whatever the declared length", async () => {
    const { appId, task } = await pendingTask();
    const blank = " ".repeat(1023);
    await expectError(
      putList(
        appId,
        task.id,
        "guid",
        linesStream(70 * 1024, () => blank, 1024),
      ),
      413,
      "payload_too_large",
    );
  }, 60_000);

  it("refuses more than 1,000,000 lines", async () => {
    const { appId, task } = await pendingTask();
    expect(
      await expectError(
        putList(
          appId,
          task.id,
          "guid",
          linesStream(1_000_001, (i) => (i % 2 ? "a" : "b"), 50_000),
        ),
        413,
        "payload_too_large",
      ),
    ).toMatch(/1000000 lines/);
  }, 60_000);

  it("a 1,000,000-line list works: streamed in, every value findable, each fingerprint stored once", async () => {
    const { appId, task } = await pendingTask();
    // GUID-like values in scrambled order, with 1,000 duplicated lines among the million
    const guid = (i: number) => {
      const n = i < 999_000 ? i : i - 999_000;
      return `${((n * 2654435761) >>> 0).toString(16).padStart(8, "0")}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
    };
    const res = await expectJson<any>(putList(appId, task.id, "guid", linesStream(1_000_000, guid)), 200);
    expect(res).toMatchObject({ count: 999_000, lines: 1_000_000, duplicates: 1_000, shards: 256 });
    const [ref] = await refInSnapshot(appId, task.id);
    expect(ref).toMatchObject({ id: res.id, count: 999_000, shards: 256, format: 2 });
    const { bloom, tables } = await storedList(ref!);
    expect(tables.reduce((n, t) => n + shardTableCount(t), 0)).toBe(999_000);
    // ~3,900 values a shard: mostly 8,192 slots (64 KB); a shard over 4,096 values gets 16,384.
    // (The upload sizes a table by its values before deduplication, so a table near the
    // boundary may have the next power of two.)
    for (const t of tables)
      expect([shardTableSlots(shardTableCount(t)), 2 * shardTableSlots(shardTableCount(t))]).toContain(t[2]);
    expect(tables.filter((t) => t[2] === 8192).length).toBeGreaterThan(200);
    let missed = 0;
    for (let i = 0; i < 999_000; i += 7) {
      const fp = valueFingerprint(ref!, guid(i));
      if (!fingerprintBloomHas(bloom, fp.h0, fp.h1) || !shardTableHas(tables[fp.shard]!, fp.h0, fp.h1))
        missed++;
    }
    expect(missed).toBe(0);
    for (const i of [0, 1, 4242, 500_000, 998_999]) expect(await isMember(ref!, guid(i))).toBe(true);
    expect(await isMember(ref!, guid(999_000 + 999_000))).toBe(false);
  }, 180_000);
});

describe("when whitelists may change", () => {
  it("while pending or suspended, not while delivering or once ended", async () => {
    const appId = await appWithVersions(world);
    const task = await createTask(world, appId, "1.1.0");
    expect(await expectError(putList(appId, task.id, "guid", "g1\n"), 409, "conflict")).toMatch(
      /suspend the grayscale task/,
    );
    await expectJson(taskAction(world, appId, task.id, "suspend"), 200);
    await expectJson(putList(appId, task.id, "guid", "g1\n"), 200);
    await expectJson(taskAction(world, appId, task.id, "end"), 200);
    const ended = await expectJson<any>(putList(appId, task.id, "guid", "g2\n"), 409);
    expect(ended.error.rule).toBe("task_ended");
    await expectError(
      callAdmin("DELETE", tasksPath(appId, `/${task.id}/whitelists/guid`), { token: world.devA.token }),
      409,
      "conflict",
    );
  });

  it("viewers cannot upload, other teams cannot see the task", async () => {
    const { appId, task } = await pendingTask();
    await expectError(putList(appId, task.id, "guid", "g1\n", world.viewerA.token), 403, "forbidden");
    await expectError(putList(appId, task.id, "guid", "g1\n", world.devB.token), 404, "not_found");
    await expectError(putList(appId, "gt_unknowntask00", "guid", "g1\n"), 404, "not_found");
  });
});

describe("delete", () => {
  it("removes the list from the task and the snapshot; a second delete is 404", async () => {
    const { appId, task } = await pendingTask();
    await expectJson(putList(appId, task.id, "guid", "g1\ng2\n"), 200);
    await expectError(
      callAdmin("DELETE", tasksPath(appId, `/${task.id}/whitelists/guid`), { token: world.viewerA.token }),
      403,
      "forbidden",
    );
    await expectJson(
      callAdmin("DELETE", tasksPath(appId, `/${task.id}/whitelists/guid`), { token: world.devA.token }),
      200,
    );
    expect(await refInSnapshot(appId, task.id)).toEqual([]);
    const details = await expectJson<any>(
      callAdmin("GET", tasksPath(appId, `/${task.id}`), { token: world.devA.token }),
      200,
    );
    expect(details.whitelists).toEqual([]);
    await expectError(
      callAdmin("DELETE", tasksPath(appId, `/${task.id}/whitelists/guid`), { token: world.devA.token }),
      404,
      "not_found",
    );
  });
});

describe("whitelistHas (explain's membership)", () => {
  const members = Array.from({ length: 9000 }, (_, i) => `member-${i}`);

  it("reads a format-1 list (a ref without format, text shards) as before", async () => {
    const built = buildWhitelist({ id: "wl_format1explain", kind: "guid", seed: 321, values: members });
    expect(built.ref.format).toBeUndefined();
    expect(built.ref.shards).toBeGreaterThan(1);
    await testEnv.PACKAGES.put(whitelistBloomKey(built.ref.id), built.bloom);
    for (const [i, shard] of built.shards.entries())
      await testEnv.PACKAGES.put(whitelistShardKey(built.ref.id, i), shardText(shard));
    for (const v of ["member-0", "member-4500", "member-8999"])
      expect(await whitelistHas(testEnv.PACKAGES, built.ref, v)).toBe(true);
    for (const v of ["member-9000", "Member-0", "x"])
      expect(await whitelistHas(testEnv.PACKAGES, built.ref, v)).toBe(false);
  });

  it("reads a format-2 list, and answers no for one whose objects are missing or corrupt", async () => {
    const built = buildWhitelistV2({ id: "wl_format2explain", kind: "guid", seed: 321, values: members });
    await testEnv.PACKAGES.put(whitelistBloomKey(built.ref.id), built.bloom);
    for (const [i, shard] of built.shards.entries())
      await testEnv.PACKAGES.put(whitelistShardKey(built.ref.id, i), shard);
    for (const v of ["member-0", "member-4500", "member-8999"])
      expect(await whitelistHas(testEnv.PACKAGES, built.ref, v)).toBe(true);
    for (const v of ["member-9000", "Member-0", "x"])
      expect(await whitelistHas(testEnv.PACKAGES, built.ref, v)).toBe(false);

    // Read as format 1, the same objects would be garbage: the format in the ref decides.
    const asFormat1 = { ...built.ref, format: undefined };
    expect(await whitelistHas(testEnv.PACKAGES, asFormat1, "member-0")).toBe(false);
    // A shard cut short: not readable, so no member of it is found (fail closed).
    const shard = shardOf(built.ref, "member-7");
    await testEnv.PACKAGES.put(whitelistShardKey(built.ref.id, shard), built.shards[shard]!.slice(0, 100));
    expect(await whitelistHas(testEnv.PACKAGES, built.ref, "member-7")).toBe(false);
    await testEnv.PACKAGES.delete(whitelistBloomKey(built.ref.id));
    expect(await whitelistHas(testEnv.PACKAGES, built.ref, "member-0")).toBe(false);
  });
});

describe("lists uploaded before format 2", () => {
  it("a D1 row of format 1 compiles to a ref without format, beside a new upload's format 2, and explain reads both", async () => {
    const { appId, task } = await pendingTask();
    await expectJson(putList(appId, task.id, "guid", "new-guid-1\nnew-guid-2\n"), 200);
    // A deviceId list as uploads wrote it before: format-1 objects and a row that does not name
    // its format (the column's default, as the migration gives existing rows).
    const old = buildWhitelist({
      id: `wl_old${task.id.slice(-7)}`,
      kind: "deviceId",
      seed: 77,
      values: ["old-device-1", "old-device-2"],
    });
    await testEnv.PACKAGES.put(whitelistBloomKey(old.ref.id), old.bloom);
    for (const [i, shard] of old.shards.entries())
      await testEnv.PACKAGES.put(whitelistShardKey(old.ref.id, i), shardText(shard));
    await createDb(testEnv.DB)
      .insert(whitelists)
      .values({
        id: old.ref.id,
        taskId: task.id,
        kind: "deviceId",
        count: old.ref.count,
        seed: old.ref.seed,
        bloomBits: old.ref.bloomBits,
        bloomHashes: old.ref.bloomHashes,
        shards: old.ref.shards,
        uploadedBy: world.devA.id,
        createdAt: Date.now(),
      })
      .run();
    // The start time comes: the cron makes the task deliver and republishes the snapshot.
    await moveTaskTimes(task.id, { startAt: Date.now() - 1000 });
    await runCron();
    const refs = await refInSnapshot(appId, task.id);
    expect(refs.find((r) => r.kind === "deviceId")).toEqual(old.ref);
    expect(refs.find((r) => r.kind === "guid")).toMatchObject({ format: 2 });

    const explainTarget = async (ids: Record<string, string>) => {
      const e = await expectJson<any>(
        callAdmin("POST", `/v1/mini-programs/${appId}/explain`, {
          token: world.viewerA.token,
          json: {
            client: {
              hostAppId: world.host1,
              hostAppVersion: "8.0.1",
              platform: "ios",
              osVersion: "17.4",
              ...ids,
            },
          },
        }),
        200,
      );
      return e.tasks[0].conditions.find((c: any) => c.condition === "target").pass;
    };
    expect(await explainTarget({ deviceId: "old-device-2" })).toBe(true);
    expect(await explainTarget({ guid: "new-guid-1" })).toBe(true);
    expect(await explainTarget({ deviceId: "old-device-3", guid: "new-guid-3" })).toBe(false);
  });
});

/** `body` as a stream of `size`-byte chunks: lines, a BOM and UTF-8 sequences split across chunks. */
function chunked(body: string | Uint8Array, size: number): ReadableStream<Uint8Array> {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

describe("reading the body as bytes (ASCII lines checked and hashed without a string)", () => {
  it("stores exactly what core builds from the values as text, whatever the chunking, for ASCII and other lines", async () => {
    const values = [
      "guid-1",
      "é-accent",
      "0f8fad5b-d9cb-469f-a165-70867728950e",
      "漢字-cjk",
      "x".repeat(128),
      "emoji-😀",
      "odd",
      "DEL-not-here~",
    ];
    // BOM, CRLF, tabs and spaces around values, a NBSP around one, blank and whitespace-only lines.
    const body = `\uFEFF${values[0]}\r\n\t${values[1]}  \n\n${values[2]}\r\n \u00a0${values[3]}\u00a0\n${values[4]}\n\u00a0\n${values[5]}\n  ${values[6]}\t\n${values[7]}`;
    for (const size of [1, 5, 64]) {
      const { appId, task } = await pendingTask();
      const res = await expectJson<any>(putList(appId, task.id, "guid", chunked(body, size)), 200);
      expect(res, `chunks of ${size}`).toMatchObject({ count: values.length, lines: values.length });
      const [ref] = await refInSnapshot(appId, task.id);
      await expectBytesOfCore(ref!, values);
      for (const v of values) expect(await isMember(ref!, v), v).toBe(true);
      expect(await isMember(ref!, "guid-2")).toBe(false);
    }
  });

  it("reports bad ASCII lines as the text rules do, with their line numbers, across chunk boundaries", async () => {
    const lines = [
      "ok-1",
      "has space",
      `${"y".repeat(5000)}`,
      "tab\tinside",
      "del\u007finside",
      "x".repeat(129),
      "bell\u0007",
      "ok-2",
    ];
    const { appId, task } = await pendingTask();
    const body = await expectJson<any>(putList(appId, task.id, "guid", chunked(lines.join("\n"), 7)), 400);
    expect(body.error.issues).toEqual([
      { path: "line 2", message: "whitespace inside the value" },
      { path: "line 3", message: "longer than 128 characters" },
      { path: "line 4", message: "control character" },
      { path: "line 5", message: "control character" },
      { path: "line 6", message: "longer than 128 characters" },
      { path: "line 7", message: "control character" },
    ]);
    expect(await refInSnapshot(appId, task.id)).toEqual([]);
  });

  it("refuses a line that is not UTF-8, and stores nothing", async () => {
    const { appId, task } = await pendingTask();
    const bytes = new Uint8Array([...new TextEncoder().encode("ok-1\nbad-"), 0xc3, 0x28, 0x0a, 0x6f, 0x6b]);
    const body = await expectJson<any>(putList(appId, task.id, "guid", chunked(bytes, 3)), 400);
    expect(body.error).toMatchObject({ code: "bad_request", message: "the body is not valid UTF-8 text" });
    expect(await refInSnapshot(appId, task.id)).toEqual([]);
  });
});

describe("a list that repeats its values", () => {
  it("gets shard tables sized for its distinct values, not for the repeats", async () => {
    const { appId, task } = await pendingTask();
    const res = await expectJson<any>(
      putList(
        appId,
        task.id,
        "guid",
        linesStream(20_000, (i) => (i % 2 === 0 ? "same-guid" : "other-guid")),
      ),
      200,
    );
    expect(res).toMatchObject({ count: 2, lines: 20_000, duplicates: 19_998 });
    expect(res.shards).toBeGreaterThan(1);
    const [ref] = await refInSnapshot(appId, task.id);
    const { tables } = await storedList(ref!);
    // Each table has the slots its distinct values need: 2 for one value, 2 or 4 for none or two.
    for (const table of tables) expect(table[2]).toBe(shardTableSlots(shardTableCount(table)));
    expect(tables.reduce((n, t) => n + shardTableCount(t), 0)).toBe(2);
    expect(await isMember(ref!, "same-guid")).toBe(true);
    expect(await isMember(ref!, "other-guid")).toBe(true);
    expect(await isMember(ref!, "third-guid")).toBe(false);
  });
});
