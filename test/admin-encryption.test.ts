/**
 * Package encryption (PRODUCT.md S3) end to end: a team admin turns it on; versions uploaded
 * afterwards are stored and served as AES-256-GCM ciphertext; the key reaches a client only in
 * the signed manifest; the plaintext is never served; increments to an encrypted version are
 * encrypted under the same key.
 */
import { eq } from "drizzle-orm";
import { unzipSync, zipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { increments, versions } from "../control-plane/src/db/schema";
import { buildIncrementRow } from "../control-plane/src/increments/build";
import { zstdDecompress } from "../control-plane/src/increments/zstd";
import { sha256Hex as hex } from "../control-plane/src/lib/encoding";
import { setEncryption } from "../control-plane/src/services/package-encryption";
import { decryptObject, fromBase64Url, packageKeyContext, unwrapPackageKey } from "../core/encryption";
import { applyIncrement, type FileEntry, filesDigest } from "../core/increment";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  publish,
  upload,
  type World,
} from "./support/admin";
import { checkClaims, edgeFetch } from "./support/edge";

const db = createDb(testEnv.DB);
let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const enc = new TextEncoder();
function pkg(version: string, marker: string): Uint8Array {
  return zipSync(
    {
      "app.js": enc.encode(`/* ${marker} ${version} */\n${"export function f(a){return a+1}\n".repeat(400)}`),
      "app.json": enc.encode(JSON.stringify({ version, marker })),
      "static/logo.txt": enc.encode(`logo of ${marker}\n`),
    },
    { mtime: new Date("2026-01-01T00:00:00Z") },
  );
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

const encryption = (appId: string, token: string, enabled?: boolean) =>
  callAdmin(enabled === undefined ? "GET" : "PUT", `/v1/mini-programs/${appId}/encryption`, {
    token,
    ...(enabled === undefined ? {} : { json: { enabled } }),
  });

const clientOf = (appId: string, installedVersion?: string) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  guid: "g-enc",
  ...(installedVersion ? { installedVersion } : {}),
});

async function filesOf(entries: Record<string, Uint8Array>) {
  const files: FileEntry[] = [];
  for (const [path, data] of Object.entries(entries))
    files.push({ path, size: data.byteLength, sha256: await hex(data) });
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  return files;
}

describe("the setting", () => {
  it("only a team admin turns it on or off; members read it; the change is logged", async () => {
    const appId = await makeMiniProgram(world);
    expect(await expectJson(encryption(appId, world.devA.token), 200)).toEqual({ appId, enabled: false });
    await expectError(encryption(appId, world.devA.token, true), 403, "forbidden");
    expect(await expectJson(encryption(appId, world.adminA.token, true), 200)).toEqual({
      appId,
      enabled: true,
    });
    expect(await expectJson(encryption(appId, world.devA.token), 200)).toEqual({ appId, enabled: true });
    await expectError(
      callAdmin("PUT", `/v1/mini-programs/${appId}/encryption`, {
        token: world.adminA.token,
        json: { enabled: "yes" },
      }),
      400,
      "bad_request",
    );
    const log = await expectJson<{ entries: { action: string; targetId: string }[] }>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
      200,
    );
    expect(log.entries.filter((i) => i.targetId === appId).map((i) => i.action)).toContain(
      "mini_program.encryption_on",
    );
  });

  it("cannot be turned on where no PACKAGE_KEY_SECRET is configured", async () => {
    const appId = await makeMiniProgram(world);
    const actor = {
      userId: world.adminA.id,
      email: world.adminA.email,
      isPlatformAdmin: false,
      via: "session" as const,
    };
    await expect(setEncryption(db, actor, appId, true, undefined)).rejects.toMatchObject({
      code: "conflict",
    });
    // A secret too short to derive keys from is refused the same way, not later as a 500 on upload.
    await expect(setEncryption(db, actor, appId, true, "too-short")).rejects.toMatchObject({
      code: "conflict",
    });
    expect(await expectJson(encryption(appId, world.devA.token), 200)).toEqual({ appId, enabled: false });
  });
});

describe("delivery of an encrypted version", () => {
  it("serves ciphertext only; the signed manifest carries the key; the plaintext is never served", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(encryption(appId, world.adminA.token, true), 200);
    const zip = pkg("1.0.0", appId);
    await approveZip(appId, "1.0.0", zip);
    await publish(world, appId, "1.0.0");

    const row = (await db.select().from(versions).where(eq(versions.miniProgramId, appId)).get())!;
    expect(row.encSha256).toMatch(/^[0-9a-f]{64}$/);
    const plainSha = await hex(zip);
    const claims = await checkClaims(clientOf(appId));
    expect(claims.package).toMatchObject({ sha256: row.encSha256, size: row.encSize });
    const { encryption: e } = claims.package!;
    expect(e).toMatchObject({ alg: "A256GCM", plainSha256: plainSha, plainSize: zip.byteLength });

    const res = await edgeFetch(new URL(claims.package!.url).pathname);
    const ciphertext = new Uint8Array(await res.arrayBuffer());
    expect(await hex(ciphertext)).toBe(claims.package!.sha256);
    expect(ciphertext).not.toEqual(zip);
    const plain = await decryptObject(fromBase64Url(e!.key), e!.iv, ciphertext);
    expect(plain).toEqual(zip);

    // The plaintext's hash is public (plainSha256), so it must not be downloadable by it.
    expect((await edgeFetch(`/v1/packages/${plainSha}`)).status).toBe(404);
    // Neither D1 nor the snapshot in R2 holds the usable key.
    const snapshot = await (await testEnv.PACKAGES.get(`snapshots/${appId}.json`))!.text();
    expect(snapshot).not.toContain(e!.key);
    expect(JSON.stringify(row)).not.toContain(e!.key);
    // The wrapped key is bound to its version: it does not unwrap as another one.
    await expect(
      unwrapPackageKey(testEnv.PACKAGE_KEY_SECRET, row.encKeyWrapped!, packageKeyContext(appId, "9.9.9")),
    ).rejects.toThrow();
  });

  it("the wrong key or a flipped byte does not decrypt (GCM authenticates)", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(encryption(appId, world.adminA.token, true), 200);
    await approveZip(appId, "1.0.0", pkg("1.0.0", appId));
    await publish(world, appId, "1.0.0");
    const { package: p } = await checkClaims(clientOf(appId));
    const ciphertext = new Uint8Array(await (await edgeFetch(new URL(p!.url).pathname)).arrayBuffer());
    const flipped = ciphertext.slice();
    flipped[10]! ^= 1;
    await expect(
      decryptObject(fromBase64Url(p!.encryption!.key), p!.encryption!.iv, flipped),
    ).rejects.toThrow();
    await expect(decryptObject(new Uint8Array(32), p!.encryption!.iv, ciphertext)).rejects.toThrow();
  });

  it("increments to an encrypted version are encrypted with its key and rebuild it exactly", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(encryption(appId, world.adminA.token, true), 200);
    const v1 = pkg("1.0.0", appId);
    const v2 = pkg("1.1.0", appId);
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    await approveZip(appId, "1.1.0", v2);
    for (const r of await db.select().from(increments).where(eq(increments.miniProgramId, appId)).all())
      await buildIncrementRow(db, testEnv.PACKAGES, r.id, Date.now(), testEnv.PACKAGE_KEY_SECRET);
    await publish(world, appId, "1.1.0");

    const claims = await checkClaims(clientOf(appId, "1.0.0"));
    const inc = claims.increment!;
    expect(inc.encryption).toMatchObject({ alg: "A256GCM", key: claims.package!.encryption!.key });
    expect(inc.encryption!.iv).not.toBe(claims.package!.encryption!.iv);
    const sealed = new Uint8Array(await (await edgeFetch(new URL(inc.url).pathname)).arrayBuffer());
    expect(await hex(sealed)).toBe(inc.sha256);
    const opened = await decryptObject(fromBase64Url(inc.encryption!.key), inc.encryption!.iv, sealed);
    expect(await hex(opened)).toBe(inc.encryption!.plainSha256);

    const baseEntries = unzipSync(v1);
    const base = await filesOf(baseEntries);
    const out = await applyIncrement({
      increment: opened,
      base,
      bytesOf: (p) => baseEntries[p]!,
      expect: { from: inc.from, to: claims.package!.files! },
      decompress: zstdDecompress,
      sha256: hex,
    });
    const target = unzipSync(v2);
    expect(out.files).toEqual(await filesOf(target));
    expect(await filesDigest(out.files, hex)).toBe(claims.package!.files);
  });

  it("an increment built under one version's key is never offered for another version with the same package bytes", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(encryption(appId, world.adminA.token, true), 200);
    await approveZip(appId, "1.0.0", pkg("1.0.0", appId));
    await publish(world, appId, "1.0.0");
    const same = pkg("1.1.0", appId);
    await approveZip(appId, "1.1.0", same);
    await publish(world, appId, "1.1.0");
    // The same bytes again under a new number: another version, another key.
    await approveZip(appId, "1.2.0", same);
    for (const r of await db.select().from(increments).where(eq(increments.miniProgramId, appId)).all())
      if (r.status === "queued")
        await buildIncrementRow(db, testEnv.PACKAGES, r.id, Date.now(), testEnv.PACKAGE_KEY_SECRET);
    await publish(world, appId, "1.2.0");
    const claims = await checkClaims(clientOf(appId, "1.0.0"));
    expect(claims.version).toBe("1.2.0");
    // The only increment from 1.0.0 to these bytes was encrypted under 1.1.0's key.
    expect(claims.increment).toBeUndefined();
  });

  it("versions uploaded before it was turned on stay plain; turning it off affects later uploads only", async () => {
    const appId = await makeMiniProgram(world);
    await approveZip(appId, "1.0.0", pkg("1.0.0", appId));
    await expectJson(encryption(appId, world.adminA.token, true), 200);
    await approveZip(appId, "1.1.0", pkg("1.1.0", appId));
    await expectJson(encryption(appId, world.adminA.token, false), 200);
    await approveZip(appId, "1.2.0", pkg("1.2.0", appId));
    const rows = await db.select().from(versions).where(eq(versions.miniProgramId, appId)).all();
    expect(Object.fromEntries(rows.map((r) => [r.version, r.encSha256 !== null]))).toEqual({
      "1.0.0": false,
      "1.1.0": true,
      "1.2.0": false,
    });
  });
});
