/**
 * Offline packages (PRODUCT.md D4, seed "Offline Applet"): the console's `.apkg` download
 * (format in core/offline.ts, signed through the edge's EdgeSigner RPC entrypoint), its
 * refusals and records, and how the edge treats a client that runs a preset.
 */
import { createExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { zipSync } from "fflate";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog, offlinePackages, versions } from "../control-plane/src/db/schema";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../core/manifest";
import {
  ApkgFormatError,
  apkgFileName,
  OFFLINE_MANIFEST_TYPE,
  type OfflineManifestClaims,
  parseApkgFileName,
  readApkg,
} from "../core/offline";
import { EdgeSigner } from "../edge-worker/src/rpc";
import { testEnv } from "./env";
import {
  approveVersion,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  publish,
  type World,
} from "./support/admin";
import { checkClaims, edgeFetch, sha256Hex } from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const db = () => createDb(testEnv.DB);
const offlinePath = (appId: string, hostAppId: string) =>
  `/v1/mini-programs/${appId}/offline-package?hostAppId=${encodeURIComponent(hostAppId)}`;
const download = (token: string, appId: string, hostAppId = world.host1) =>
  callAdmin("GET", offlinePath(appId, hostAppId), { token });
/** The edge's EdgeSigner over RPC; awaited in a plain async function so a rejection is handled once. */
const sign = async (claims: unknown): Promise<string> =>
  await (exports as unknown as { EdgeSigner: Service<EdgeSigner> }).EdgeSigner.signOfflineManifest(
    claims as OfflineManifestClaims,
  );

async function verifyOffline(jws: string, appId: string, hostAppId: string) {
  const jwks = createLocalJWKSet(await (await edgeFetch("/.well-known/jwks.json")).json());
  return jwtVerify<OfflineManifestClaims>(jws, jwks, {
    issuer: MANIFEST_ISSUER,
    typ: OFFLINE_MANIFEST_TYPE,
    audience: hostAppId,
    subject: appId,
    algorithms: ["EdDSA"],
  });
}

const clientOf = (appId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "android",
  osVersion: "14",
  ...extra,
});

/** A mini program bound to host app 1 with `online` published. */
async function onlineApp(online = "1.0.0") {
  const appId = await makeMiniProgram(world);
  await approveVersion(world, appId, online);
  await publish(world, appId, online);
  return appId;
}

describe("core/offline.ts", () => {
  it("names files {miniAppId}_{miniAppVersion}.apkg and reads the name back", () => {
    expect(apkgFileName("gcaaaabbbbccccdddd", "1.2.0")).toBe("gcaaaabbbbccccdddd_1.2.0.apkg");
    expect(parseApkgFileName("gcaaaabbbbccccdddd_1.2.0.apkg")).toEqual({
      appId: "gcaaaabbbbccccdddd",
      version: "1.2.0",
    });
    for (const bad of [
      "gcaaaabbbbccccdddd_1.2.apkg",
      "gcaaaabbbbccccdddd-1.2.0.apkg",
      "gcaaaabbbbccccdddd_1.2.0.zip",
      "x_1.2.0.apkg",
      "gcaaaabbbbccccdddd_1.2.0_1.apkg",
    ]) {
      expect(parseApkgFileName(bad)).toBeUndefined();
    }
  });

  it("readApkg refuses anything but two stored entries in order, with intact CRCs", () => {
    const jws = new TextEncoder().encode("aaa.bbb.ccc");
    const pkg = makePackage("1.0.0");
    const good = zipSync({ "manifest.jws": jws, "package.zip": pkg }, { level: 0 });
    expect(readApkg(good).manifest).toBe("aaa.bbb.ccc");
    expect(readApkg(good).packageZip).toEqual(pkg);
    const cases: Record<string, Uint8Array> = {
      compressed: zipSync({ "manifest.jws": jws, "package.zip": pkg }, { level: 6 }),
      "wrong order": zipSync({ "package.zip": pkg, "manifest.jws": jws }, { level: 0 }),
      "extra entry": zipSync({ "manifest.jws": jws, "package.zip": pkg, "x.txt": jws }, { level: 0 }),
      "one entry": zipSync({ "manifest.jws": jws }, { level: 0 }),
      "other name": zipSync({ "manifest.jws": jws, "pkg.zip": pkg }, { level: 0 }),
      "not a JWS": zipSync(
        { "manifest.jws": new TextEncoder().encode("{}"), "package.zip": pkg },
        { level: 0 },
      ),
      truncated: good.subarray(0, good.length - 1),
      empty: new Uint8Array(0),
    };
    const flipped = good.slice();
    flipped[200] = flipped[200]! ^ 0xff; // inside package.zip's data: CRC-32 mismatch
    cases["flipped byte"] = flipped;
    const commented = new Uint8Array(good.length + 2);
    commented.set(good);
    commented.set([2, 0, 0x68, 0x69], good.length - 2); // archive comment "hi"
    cases["archive comment"] = commented;
    for (const [name, bytes] of Object.entries(cases))
      expect(() => readApkg(bytes), name).toThrow(ApkgFormatError);
  });
});

describe("GET /v1/mini-programs/{appId}/offline-package", () => {
  it("downloads {appId}_{version}.apkg: the uploaded zip byte for byte and a manifest signed by the edge key", async () => {
    const appId = await onlineApp("1.0.0");
    const res = await download(world.devA.token, appId);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${appId}_1.0.0.apkg"`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const apkg = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(apkg.byteLength);

    const { manifest, packageZip } = readApkg(apkg);
    const uploaded = makePackage("1.0.0");
    expect(packageZip).toEqual(uploaded);
    // The same bytes the edge serves for the version's package.
    const served = new Uint8Array(
      await (await edgeFetch(`/v1/packages/${await sha256Hex(uploaded)}`)).arrayBuffer(),
    );
    expect(packageZip).toEqual(served);

    const { payload, protectedHeader } = await verifyOffline(manifest, appId, world.host1);
    const jwks = await (await edgeFetch("/.well-known/jwks.json")).json<{ keys: { kid: string }[] }>();
    expect(protectedHeader).toMatchObject({
      alg: "EdDSA",
      typ: "graycast-offline+jwt",
      kid: jwks.keys[0]!.kid,
    });
    expect(payload).toMatchObject({
      iss: "graycast",
      sub: appId,
      aud: world.host1,
      version: "1.0.0",
      kind: "offline",
      package: { sha256: await sha256Hex(uploaded), size: uploaded.byteLength },
    });
    expect(payload.package.files).toMatch(/^[0-9a-f]{64}$/);
    expect(payload.exp).toBeUndefined();
    expect(Math.abs(payload.iat - Date.now() / 1000)).toBeLessThan(60);
    // A check manifest verifier refuses it: the two kinds cannot be swapped.
    await expect(
      jwtVerify(manifest, createLocalJWKSet(jwks as never), { typ: MANIFEST_TYPE }),
    ).rejects.toThrow();
    // Bound to the host app it was built for.
    await expect(verifyOffline(manifest, appId, world.host2)).rejects.toThrow();
  });

  it("records an offline_packages row and a change log entry per download", async () => {
    const appId = await onlineApp("1.0.0");
    await download(world.viewerA.token, appId).then((r) => r.arrayBuffer());
    await approveVersion(world, appId, "1.1.0");
    await publish(world, appId, "1.1.0");
    const res = await download(world.devA.token, appId);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${appId}_1.1.0.apkg"`);
    await res.arrayBuffer();

    const rows = await db()
      .select()
      .from(offlinePackages)
      .where(eq(offlinePackages.miniProgramId, appId))
      .orderBy(offlinePackages.createdAt)
      .all();
    expect(rows.map((r) => [r.version, r.downloadedBy])).toEqual([
      ["1.0.0", world.viewerA.id],
      ["1.1.0", world.devA.id],
    ]);
    const v11 = await db()
      .select()
      .from(versions)
      .where(and(eq(versions.miniProgramId, appId), eq(versions.version, "1.1.0")))
      .get();
    expect(rows[1]).toMatchObject({ versionId: v11!.id, packageSha256: v11!.packageSha256 });

    const changes = await db()
      .select()
      .from(changeLog)
      .where(and(eq(changeLog.targetId, appId), eq(changeLog.action, "offline_package.download")))
      .all();
    expect(changes).toHaveLength(2);
    expect(JSON.parse(changes.find((c) => c.actorId === world.devA.id)!.detail)).toEqual({
      version: "1.1.0",
      hostAppId: world.host1,
      fileName: `${appId}_1.1.0.apkg`,
    });
  });

  it("seed: 'Only online mini programs can download offline packages' (409 before the first publish)", async () => {
    const appId = await makeMiniProgram(world);
    expect(await expectError(download(world.devA.token, appId), 409, "conflict")).toContain(
      "Only online mini programs can download offline packages",
    );
    await approveVersion(world, appId, "1.0.0");
    expect(await expectError(download(world.devA.token, appId), 409, "conflict")).toContain(
      "Only online mini programs can download offline packages",
    );
    const rows = await db()
      .select()
      .from(offlinePackages)
      .where(eq(offlinePackages.miniProgramId, appId))
      .all();
    expect(rows).toEqual([]);
  });

  it("refuses a delisted mini program, and serves again once it is back on the shelf", async () => {
    const appId = await onlineApp("1.0.0");
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.adminA.token,
        json: { listed: false },
      }),
      200,
    );
    expect(await expectError(download(world.devA.token, appId), 409, "conflict")).toMatch(/delisted/);
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.adminA.token,
        json: { listed: true },
      }),
      200,
    );
    expect((await download(world.devA.token, appId)).status).toBe(200);
  });

  it("needs an approved binding to the host app", async () => {
    const appId = await onlineApp("1.0.0");
    expect(await expectError(download(world.devA.token, appId, world.host2), 409, "conflict")).toMatch(
      /binding/,
    );
    // Requested, not yet approved.
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/bindings`, {
        token: world.devA.token,
        json: { hostAppId: world.host2 },
      }),
      201,
    );
    expect(await expectError(download(world.devA.token, appId, world.host2), 409, "conflict")).toMatch(
      /binding/,
    );
    expect(await expectError(download(world.devA.token, appId, "ha_no_such_host"), 409, "conflict")).toMatch(
      /binding/,
    );
  });

  it("is for the owning team's roles only (others do not learn it exists)", async () => {
    const appId = await onlineApp("1.0.0");
    for (const user of [world.adminA, world.devA, world.viewerA])
      expect((await download(user.token, appId)).status).toBe(200);
    for (const user of [world.devB, world.manager1, world.platform])
      await expectError(download(user.token, appId), 404, "not_found");
    await expectError(callAdmin("GET", offlinePath(appId, world.host1)), 401, "unauthenticated");
  });

  it("validates its input", async () => {
    const appId = await onlineApp("1.0.0");
    await expectError(
      callAdmin("GET", `/v1/mini-programs/${appId}/offline-package`, { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(download(world.devA.token, appId, "bad host!"), 400, "bad_request");
    await expectError(download(world.devA.token, appId, "x".repeat(65)), 400, "bad_request");
    await expectError(download(world.devA.token, "not-an-app-id"), 400, "bad_request");
    await expectError(download(world.devA.token, "gcaaaabbbbccccddddeeeeff"), 404, "not_found");
  });

  it("refuses an encrypted online version with 409 (not offered offline yet)", async () => {
    const appId = await onlineApp("1.0.0");
    // Encryption is another feature's upload path; mark the stored version as encrypted directly.
    await db()
      .update(versions)
      .set({ encSha256: "e".repeat(64), encSize: 10, encIv: "iv", encKeyWrapped: "wrapped" })
      .where(eq(versions.miniProgramId, appId))
      .run();
    expect(await expectError(download(world.devA.token, appId), 409, "conflict")).toMatch(/encrypted/);
  });
});

describe("EdgeSigner RPC entrypoint", () => {
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: "graycast",
    sub: "gcaaaabbbbccccddddeeeeff",
    aud: "ha_host",
    iat: Math.floor(Date.now() / 1000),
    version: "1.0.0",
    package: { sha256: "a".repeat(64), size: 10 },
    kind: "offline",
    ...extra,
  });

  it("signs well-formed offline claims with the offline typ", async () => {
    const jws = await sign(claims());
    expect(decodeProtectedHeader(jws)).toMatchObject({ alg: "EdDSA", typ: OFFLINE_MANIFEST_TYPE });
    expect((await verifyOffline(jws, "gcaaaabbbbccccddddeeeeff", "ha_host")).payload.version).toBe("1.0.0");
  });

  it("refuses anything else: unknown keys, check-manifest fields, bad formats, a stale iat", async () => {
    const bad = [
      claims({ exp: 1 }),
      claims({ status: "ok" }),
      claims({ kind: "check" }),
      claims({ iss: "someone" }),
      claims({ sub: "not an app" }),
      claims({ version: "1.0" }),
      claims({ package: { sha256: "A".repeat(64), size: 10 } }),
      claims({ package: { sha256: "a".repeat(64), size: 10, url: "https://x" } }),
      claims({ package: { sha256: "a".repeat(64), size: 0 } }),
      claims({ iat: Math.floor(Date.now() / 1000) - 3600 }),
    ];
    // The class itself, not over RPC: the test harness's RPC wrapper logs every rejection it forwards.
    const direct = new EdgeSigner(createExecutionContext(), testEnv as never);
    for (const c of bad)
      await expect(direct.signOfflineManifest(c as OfflineManifestClaims), JSON.stringify(c)).rejects.toThrow(
        /invalid offline manifest claims/,
      );
  });
});

describe("a client running a preset (seed rules at the edge)", () => {
  it("same online version: up to date; a new online version: pulled normally; delisted: the preset cannot be used", async () => {
    const appId = await onlineApp("1.0.0");
    const res = await download(world.devA.token, appId);
    const preset = parseApkgFileName(
      /filename="([^"]+)"/.exec(res.headers.get("content-disposition")!)![1]!,
    )!;
    expect(preset).toEqual({ appId, version: "1.0.0" });
    const { manifest } = readApkg(new Uint8Array(await res.arrayBuffer()));
    expect((await verifyOffline(manifest, appId, world.host1)).payload.version).toBe(preset.version);

    // Online version equals the preset: nothing to download.
    expect(await checkClaims(clientOf(appId, { installedVersion: preset.version }))).toMatchObject({
      status: "ok",
      version: "1.0.0",
      reason: "up_to_date",
      rollback: false,
      installedVersion: "1.0.0",
    });

    // seed: "When the online version is inconsistent with the preset version, the client will pull the online version normally"
    await approveVersion(world, appId, "1.1.0");
    await publish(world, appId, "1.1.0");
    const newer = await checkClaims(clientOf(appId, { installedVersion: preset.version }));
    expect(newer).toMatchObject({ status: "ok", version: "1.1.0", reason: "online", rollback: false });
    expect(newer.package).toMatchObject({
      sha256: await sha256Hex(makePackage("1.1.0")),
      size: makePackage("1.1.0").byteLength,
    });

    // A preset newer than the online version (the online one was rolled back): the online one, said as a rollback.
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    expect(await checkClaims(clientOf(appId, { installedVersion: "1.1.0" }))).toMatchObject({
      status: "ok",
      version: "1.0.0",
      rollback: true,
    });

    // seed: "When a mini program is removed from the shelves, the corresponding offline mini program preset in the App cannot be used normally"
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.adminA.token,
        json: { listed: false },
      }),
      200,
    );
    const delisted = await checkClaims(clientOf(appId, { installedVersion: preset.version }));
    expect(delisted).toMatchObject({ status: "delisted" });
    expect(delisted.version).toBeUndefined();
    expect(delisted.package).toBeUndefined();
  });
});
