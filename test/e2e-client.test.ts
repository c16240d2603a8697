/**
 * The reference client (client/src) against the REAL system inside workerd: versions go through
 * the admin app (upload, audit, publish, rollback, delisting, offline package, package
 * encryption, team signing keys), increments are built by the control plane's own builder, and
 * the client's `fetch` is bound to the edge Worker. The client's store is in memory and zstd is
 * the WASM build the control plane uses.
 *
 * The client pins the platform keys fetched once from the edge's JWKS at the start of the test;
 * a real App pins them when it is built (never fetched at run time from the server it verifies).
 */
import { and, eq } from "drizzle-orm";
import { unzipSync, zipSync } from "fflate";
import type { JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ClientConfig,
  type ClientDeps,
  GraycastClient,
  MemoryStore,
  type OpenedVersion,
} from "../client/src/index";
import { createDb } from "../control-plane/src/db/client";
import { increments } from "../control-plane/src/db/schema";
import { buildIncrementRow } from "../control-plane/src/increments/build";
import { zstdDecompress } from "../control-plane/src/increments/zstd";
import { filesDigest } from "../core/increment";
import { packageSigningInput } from "../core/signature";
import { testEnv } from "./env";
import {
  callAdmin,
  expectJson,
  makeMiniProgram,
  makeWorld,
  publish,
  upload,
  type World,
} from "./support/admin";
import { edgeFetch, ORIGIN, sha256Hex } from "./support/edge";

let world: World;
let pinned: JSONWebKeySet;

beforeAll(async () => {
  world = await makeWorld();
  pinned = await (await edgeFetch("/.well-known/jwks.json")).json();
});

/** Deterministic code-like text that deflate cannot shrink much, so increments pay off. */
function bundle(seed: number, lines: number): string {
  let x = seed >>> 0;
  let text = "";
  for (let i = 0; i < lines; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    text += `function f${i}_${x.toString(36)}(a){return a*${x % 97}+${(x >>> 9) % 89};}\n`;
  }
  return text;
}

/**
 * A package: a bundle shared by every version (large enough that an increment pays off), a page
 * and a manifest naming the version. The bytes name `appId`, so each test stores its own
 * packages and increments (content-addressed in R2), never finding one another test left.
 */
function appPackage(appId: string, version: string, extra: Record<string, string> = {}): Uint8Array {
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    "app.json": enc.encode(JSON.stringify({ pages: ["pages/index/index"], version, appId })),
    "vendor.js": enc.encode(`/* vendor of ${appId} */\n${bundle(42, 400)}`),
    "pages/index/index.js": enc.encode(`Page({ data: { version: "${version}" } });\n`),
  };
  for (const [path, text] of Object.entries(extra)) files[path] = enc.encode(text);
  return zipSync(files, { mtime: new Date("2026-01-01T00:00:00Z") });
}

async function approveZip(appId: string, version: string, zip: Uint8Array): Promise<void> {
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

/** Builds the planned increments of `appId` with the control plane's builder (the queue's work). */
async function buildIncrements(appId: string): Promise<number> {
  const db = createDb(testEnv.DB);
  const pending = await db
    .select()
    .from(increments)
    .where(and(eq(increments.miniProgramId, appId), eq(increments.status, "queued")))
    .all();
  let built = 0;
  for (const row of pending)
    if (
      (await buildIncrementRow(db, testEnv.PACKAGES, row.id, Date.now(), testEnv.PACKAGE_KEY_SECRET))
        .status === "built"
    )
      built += 1;
  return built;
}

/** A device running the reference client with its fetch bound to the edge Worker. */
function device(
  appId: string,
  config: Partial<ClientConfig> = {},
  deps: Partial<ClientDeps> = {},
): GraycastClient {
  return new GraycastClient(
    {
      edge: ORIGIN,
      appId,
      hostAppId: world.host1,
      device: { hostAppVersion: "8.0.1", platform: "ios", osVersion: "17.4", guid: "guid-client" },
      platformKeys: pinned,
      ...config,
    },
    {
      fetch: (url, init) => {
        if (!url.startsWith(`${ORIGIN}/`)) throw new Error(`unexpected URL ${url}`);
        return edgeFetch(url.slice(ORIGIN.length), init);
      },
      store: new MemoryStore(),
      decompress: zstdDecompress,
      now: () => Date.now(),
      ...deps,
    },
  );
}

/** The files digest developers sign (core/increment.ts), computed from a zip. */
async function filesDigestOf(zip: Uint8Array): Promise<string> {
  const list = await Promise.all(
    Object.entries(unzipSync(zip)).map(async ([path, data]) => ({
      path,
      size: data.byteLength,
      sha256: await sha256Hex(data),
    })),
  );
  return filesDigest(list, sha256Hex);
}

async function expectFiles(opened: OpenedVersion, zip: Uint8Array): Promise<void> {
  const expected = unzipSync(zip);
  expect(opened.files.map((f) => f.path)).toEqual(Object.keys(expected).sort());
  for (const [path, bytes] of Object.entries(expected)) expect(await opened.read(path)).toEqual(bytes);
}

describe("reference client against the real edge and control plane", () => {
  it("installs v1 in full, updates to v2 by the built increment, follows a rollback and a delisting", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0");
    const v2 = appPackage(appId, "1.1.0", { "pages/about/about.js": "Page({ data: { about: true } });\n" });
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    const client = device(appId);

    const first = await client.update();
    expect(first).toMatchObject({
      plan: "install",
      activated: true,
      version: "1.0.0",
      via: "full",
      transferred: v1.byteLength,
    });
    await expectFiles(await client.open(), v1);

    await approveZip(appId, "1.1.0", v2);
    expect(await buildIncrements(appId)).toBeGreaterThan(0);
    await publish(world, appId, "1.1.0");
    const second = await client.update();
    expect(second).toMatchObject({ plan: "update", activated: true, version: "1.1.0", via: "increment" });
    expect(second.fallback).toBeUndefined();
    expect(second.transferred).toBeLessThan(v2.byteLength / 4);
    await expectFiles(await client.open(), v2);

    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    expect(await client.update()).toMatchObject({ plan: "rollback", activated: true, version: "1.0.0" });
    await expectFiles(await client.open(), v1);

    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: false },
      }),
      200,
    );
    expect(await client.update()).toMatchObject({ plan: "delisted", activated: false });
    await expect(client.open()).rejects.toMatchObject({ code: "delisted" });
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: true },
      }),
      200,
    );
    expect(await client.update()).toMatchObject({ plan: "none" });
    expect((await client.open()).version).toBe("1.0.0");
  });

  it("installs the console's offline package as a preset, then updates from it", async () => {
    const appId = await makeMiniProgram(world);
    const v1 = appPackage(appId, "1.0.0");
    const v2 = appPackage(appId, "1.1.0");
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    const res = await callAdmin(
      "GET",
      `/v1/mini-programs/${appId}/offline-package?hostAppId=${world.host1}`,
      { token: world.devA.token },
    );
    expect(res.status).toBe(200);
    const apkg = new Uint8Array(await res.arrayBuffer());

    const client = device(appId);
    expect(await client.installPreset(apkg, `${appId}_1.0.0.apkg`)).toMatchObject({
      installed: true,
      version: "1.0.0",
    });
    await expectFiles(await client.open(), v1);
    expect(await client.update()).toMatchObject({ plan: "none", activated: false });

    await approveZip(appId, "1.1.0", v2);
    await buildIncrements(appId);
    await publish(world, appId, "1.1.0");
    expect(await client.update()).toMatchObject({
      plan: "update",
      activated: true,
      version: "1.1.0",
      via: "increment",
    });
    await expectFiles(await client.open(), v2);
  });

  it("an encrypted mini program: the client decrypts the full package, then the encrypted increment", async () => {
    const appId = await makeMiniProgram(world);
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/encryption`, {
        token: world.adminA.token,
        json: { enabled: true },
      }),
      200,
    );
    const v1 = appPackage(appId, "1.0.0");
    const v2 = appPackage(appId, "1.1.0");
    await approveZip(appId, "1.0.0", v1);
    await publish(world, appId, "1.0.0");
    const client = device(appId);
    const first = await client.update();
    expect(first).toMatchObject({
      activated: true,
      via: "full",
      claims: { package: { encryption: { alg: "A256GCM" } } },
    });
    // What travelled and is recorded is the ciphertext, not the uploaded zip.
    expect((await client.trustedState()).installed!.package).not.toBe(await sha256Hex(v1));
    await expectFiles(await client.open(), v1);

    await approveZip(appId, "1.1.0", v2);
    expect(await buildIncrements(appId)).toBeGreaterThan(0);
    await publish(world, appId, "1.1.0");
    expect(await client.update()).toMatchObject({
      activated: true,
      via: "increment",
      claims: { increment: { encryption: { alg: "A256GCM" } } },
    });
    await expectFiles(await client.open(), v2);
  });

  it("developer signatures: signed uploads are verified by an App that pins the team's key and requires signatures", async () => {
    // A team with a registered key must sign every upload: a world of its own.
    const own = await makeWorld();
    const appId = await makeMiniProgram(own);
    const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const { kty, crv, x } = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
    const registered = await expectJson<{ id: string }>(
      callAdmin("POST", `/v1/teams/${own.teamA}/signing-keys`, {
        token: own.adminA.token,
        json: { name: "ci", jwk: { kty, crv, x } },
      }),
      201,
    );
    const zip = appPackage(appId, "1.0.0");
    const sig = new Uint8Array(
      await crypto.subtle.sign(
        { name: "Ed25519" },
        pair.privateKey,
        packageSigningInput(appId, "1.0.0", await filesDigestOf(zip)),
      ),
    );
    const header = `${registered.id}:EdDSA:${btoa(String.fromCharCode(...sig))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")}`;
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions?version=1.0.0`, {
        token: own.devA.token,
        body: zip,
        headers: { "content-type": "application/zip", "x-graycast-signature": header },
      }),
      201,
    );
    const audit = await expectJson<{ auditId: string }>(
      callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/submit`, {
        token: own.devA.token,
        json: {},
      }),
      201,
    );
    await expectJson(
      callAdmin("POST", `/v1/audits/${audit.auditId}/decision`, {
        token: own.auditor1.token,
        json: { hostAppId: own.host1, decision: "approve" },
      }),
      200,
    );
    await publish(own, appId, "1.0.0");

    const strict = device(appId, {
      hostAppId: own.host1,
      developerKeys: { [registered.id]: { kty, crv, x } },
      requireDeveloperSignature: true,
    });
    expect(await strict.update()).toMatchObject({ activated: true, developerSignature: "verified" });
    // An App that pins another key for this id refuses the same version, and keeps nothing.
    const other = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const store = new MemoryStore();
    const otherJwk = (await crypto.subtle.exportKey("jwk", other.publicKey)) as JsonWebKey;
    const misconfigured = device(
      appId,
      { hostAppId: own.host1, developerKeys: { [registered.id]: otherJwk }, requireDeveloperSignature: true },
      { store },
    );
    await expect(misconfigured.update()).rejects.toMatchObject({ code: "bad_developer_signature" });
    expect(await store.load()).toBeNull();
  });

  it.each(["GET", "POST"] as const)(
    "a manifest the edge signed for another host app is refused and the store is unchanged (check by %s)",
    async (checkMethod) => {
      const appId = await makeMiniProgram(world);
      await approveZip(appId, "1.0.0", appPackage(appId, "1.0.0"));
      await publish(world, appId, "1.0.0");
      const store = new MemoryStore();
      // An attacker in the middle swaps the request's host app (in the query or the body) for one the mini program is bound to.
      const methods: string[] = [];
      const swap = (url: string, init?: RequestInit) => {
        if (!url.startsWith(`${ORIGIN}/v1/check`)) return edgeFetch(url.slice(ORIGIN.length), init);
        methods.push(init?.method ?? "GET");
        const body =
          init?.body === undefined ? {} : { body: String(init.body).replace(world.host2, world.host1) };
        return edgeFetch(url.slice(ORIGIN.length).replace(world.host2, world.host1), { ...init, ...body });
      };
      const client = device(appId, { hostAppId: world.host2, checkMethod }, { store, fetch: swap });
      await expect(client.update()).rejects.toMatchObject({ name: "ClientError", code: "mix_and_match" });
      expect(methods).toEqual([checkMethod]);
      expect(await store.load()).toBeNull();
    },
  );
});
