/**
 * The signed runtime config at the edge (PRODUCT.md D5, X7; issue 12): `GET /v1/config` answers a
 * JWS (typ graycast-config+jwt) that verifies against the edge's JWKS and carries what the
 * console configured; its revision grows with every change; a grayscale task's switch values go
 * only to clients that prove admission to the task with their signed check manifest; privacy
 * texts are served content-addressed; the edge never touches D1 for any of it.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { RuntimeConfigClient } from "../client/src/runtime-config";
import { CONFIG_TYPE, type ConfigClaims } from "../core/runtime-config";
import edgeWorker from "../edge-worker/src/index";
import { appWithVersions, callAdmin, createTask, expectJson, makeWorld, type World } from "./support/admin";
import { check, client, edgeEnv, edgeFetch } from "./support/edge";

let world: World;
let appId: string;
let taskId: string;
let jwks: ReturnType<typeof createLocalJWKSet>;

beforeAll(async () => {
  world = await makeWorld();
  appId = await appWithVersions(world, "1.0.0", ["1.1.0"]);
  // The task admits iOS users only: Android users stay on the online version.
  taskId = (await createTask(world, appId, "1.1.0", { platforms: [{ platform: "ios" }] })).id;
  const dev = world.devA.token;
  const mp = (path: string, method: string, json?: unknown) =>
    expectJson(
      callAdmin(method, `/v1/mini-programs/${appId}${path}`, { token: dev, json }),
      method === "POST" ? 201 : 200,
    );
  await mp("/domains/request", "POST", { domain: "https://api.example.com" });
  await mp("/domains/socket", "POST", { domain: "wss://ws.example.com" });
  await mp("/switches/newCheckout", "PUT", { type: "boolean", value: false });
  await mp("/switches/newCheckout", "PUT", { type: "boolean", value: true, taskId });
  await mp("/switches/banner", "PUT", { type: "string", value: "hello" });
  jwks = createLocalJWKSet(await (await edgeFetch("/.well-known/jwks.json")).json());
});

const configPath = (extra = "") => `/v1/config?appId=${appId}&hostAppId=${world.host1}${extra}`;

async function fetchConfig(headers: Record<string, string> = {}) {
  const res = await edgeFetch(configPath(), { headers });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`config answered ${res.status}: ${text}`);
  const { config } = JSON.parse(text) as { config: string };
  const { payload, protectedHeader } = await jwtVerify<ConfigClaims>(config, jwks, {
    issuer: "graycast",
    typ: CONFIG_TYPE,
    algorithms: ["EdDSA"],
    subject: appId,
    audience: world.host1,
  });
  return { claims: payload, header: protectedHeader, task: res.headers.get("x-graycast-task"), raw: config };
}

describe("GET /v1/config", () => {
  it("answers a config signed with the manifest key (typ graycast-config+jwt) with what the console set", async () => {
    const { claims, header } = await fetchConfig();
    expect(header.typ).toBe("graycast-config+jwt");
    expect(header.alg).toBe("EdDSA");
    expect(claims.domains.request).toEqual(["api.example.com"]);
    expect(claims.domains.socket).toEqual(["ws.example.com"]);
    expect(claims.skipDomainCheck).toBe(false);
    expect(claims.apis).toEqual([]);
    expect(claims.privacy).toBeNull();
    expect(claims.switches).toEqual({
      banner: { type: "string", value: "hello" },
      newCheckout: { type: "boolean", value: false },
    });
    expect(claims.taskId).toBeUndefined();
    expect(claims.configRevision).toBeGreaterThanOrEqual(5);
    expect(claims.exp).toBeGreaterThan(claims.iat);
  });

  it("the revision grows with a change, which reaches the edge at once (no edge cache past the TTL)", async () => {
    const before = (await fetchConfig()).claims;
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/domains/downloadFile`, {
        token: world.devA.token,
        json: { domain: "https://cdn.example.com" },
      }),
      201,
    );
    const after = (await fetchConfig()).claims;
    expect(after.configRevision).toBe(before.configRevision + 1);
    expect(after.revision).toBeGreaterThan(before.revision);
    expect(after.domains.downloadFile).toEqual(["cdn.example.com"]);
  });

  it("a task's switch values only for a client whose signed manifest shows admission to it", async () => {
    const ios = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        client(appId, { hostAppId: world.host1, platform: "ios", osVersion: "17", guid: "g-ios" }),
      ),
    });
    const iosManifest = ((await ios.json()) as { manifest: string }).manifest;
    const iosClaims = (
      await check(client(appId, { hostAppId: world.host1, platform: "ios", osVersion: "17", guid: "g-ios" }))
    ).claims;
    expect(iosClaims.taskId).toBe(taskId);
    const admitted = await fetchConfig({ "x-graycast-manifest": iosManifest });
    expect(admitted.task).toBe("applied");
    expect(admitted.claims.taskId).toBe(taskId);
    expect(admitted.claims.switches.newCheckout).toEqual({ type: "boolean", value: true });
    expect(admitted.claims.switches.banner).toEqual({ type: "string", value: "hello" });

    // Not admitted: the Android client's manifest names the online release, not the task.
    const android = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(client(appId, { hostAppId: world.host1, platform: "android", guid: "g-android" })),
    });
    const androidManifest = ((await android.json()) as { manifest: string }).manifest;
    const plain = await fetchConfig({ "x-graycast-manifest": androidManifest });
    expect(plain.task).toBe("not_in_task");
    expect(plain.claims.taskId).toBeUndefined();
    expect(plain.claims.switches.newCheckout).toEqual({ type: "boolean", value: false });

    // A forged manifest (right shape and claims, another key) is ignored.
    const { privateKey } = await generateKeyPair("EdDSA");
    const forged = await new SignJWT({ ...iosClaims })
      .setProtectedHeader({
        alg: "EdDSA",
        kid: decodeProtectedHeader(iosManifest).kid!,
        typ: "graycast-manifest+jwt",
      })
      .sign(privateKey);
    const refused = await fetchConfig({ "x-graycast-manifest": forged });
    expect(refused.task).toBe("bad_signature");
    expect(refused.claims.switches.newCheckout).toEqual({ type: "boolean", value: false });
    // Another kind of statement (the config itself) is not a manifest.
    const notManifest = await fetchConfig({ "x-graycast-manifest": admitted.raw });
    expect(notManifest.task).toBe("malformed");
    expect(notManifest.claims.taskId).toBeUndefined();
  });

  it("refuses malformed queries (400), unknown apps and unbound host apps (404)", async () => {
    const status = async (path: string, headers: Record<string, string> = {}) => {
      const res = await edgeFetch(path, { headers });
      const body = (await res.json()) as { error: { code: string } };
      return [res.status, body.error.code];
    };
    expect(await status("/v1/config")).toEqual([400, "bad_request"]);
    expect(await status(`/v1/config?appId=${appId}`)).toEqual([400, "bad_request"]);
    expect(await status(`/v1/config?appId=nope&hostAppId=${world.host1}`)).toEqual([400, "bad_request"]);
    expect(await status(configPath("&extra=1"))).toEqual([400, "bad_request"]);
    expect(await status(configPath(`&hostAppId=${world.host1}`))).toEqual([400, "bad_request"]);
    expect(await status(configPath(), { "x-graycast-manifest": "not a jws" })).toEqual([400, "bad_request"]);
    expect(await status(`/v1/config?appId=${appId}&hostAppId=${"x".repeat(2000)}`)).toEqual([
      414,
      "uri_too_long",
    ]);
    expect(await status(`/v1/config?appId=gcaaaaaaaaaaaaaaaaaaaa&hostAppId=${world.host1}`)).toEqual([
      404,
      "not_found",
    ]);
    expect(await status(`/v1/config?appId=${appId}&hostAppId=${world.host2}`)).toEqual([404, "not_found"]);
  });

  it("never touches D1: answers with a D1 binding that throws on any use", async () => {
    const poisoned = new Proxy(
      {},
      {
        get() {
          throw new Error("the edge touched D1");
        },
      },
    );
    const ctx = createExecutionContext();
    const res = await edgeWorker.fetch(
      new Request(`https://edge.test${configPath()}`),
      { ...edgeEnv, DB: poisoned } as never,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(200);
    const { config } = (await res.json()) as { config: string };
    const { payload } = await jwtVerify<ConfigClaims>(config, jwks, { typ: CONFIG_TYPE });
    expect(payload.domains.request).toEqual(["api.example.com"]);
  });
});

describe("the reference client against the real edge", () => {
  it("verifies the signed config with the pinned JWKS and answers domains, switches (task-aware) and APIs", async () => {
    const pinned = await (await edgeFetch("/.well-known/jwks.json")).json();
    const rc = new RuntimeConfigClient({
      edgeUrl: "https://edge.test",
      appId,
      hostAppId: world.host1,
      jwks: pinned as never,
      fetch: (url, init) => edgeFetch(url.slice("https://edge.test".length), init),
    });
    await rc.refresh();
    expect(rc.isRequestAllowed("https://api.example.com/items", "request")).toBe(true);
    expect(rc.isRequestAllowed("https://other.example.com/items", "request")).toBe(false);
    expect(rc.isRequestAllowed("wss://ws.example.com/live", "socket")).toBe(true);
    expect(rc.switch("newCheckout")).toBe(false);
    expect(rc.isApiAllowed("getLocation")).toBe(false);
    const body = client(appId, { hostAppId: world.host1, platform: "ios", osVersion: "17", guid: "g-rc" });
    const res = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const { manifest } = (await res.json()) as { manifest: string };
    await rc.refresh({ manifest });
    expect(rc.switch("newCheckout")).toBe(true);
  });
});

describe("GET /v1/privacy/{sha256}", () => {
  it("serves a published text content-addressed and immutable; the config names its version and URL", async () => {
    const fields = {
      developerName: "Example Ltd.",
      contact: "privacy@example.com",
      dataCollected: ["Nickname"],
      purposes: ["Login"],
      thirdParties: [],
      retention: "1 year",
    };
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/privacy/draft`, {
        token: world.devA.token,
        json: { fields },
      }),
      200,
    );
    const v1 = await expectJson<any>(
      callAdmin("POST", `/v1/mini-programs/${appId}/privacy/publish`, { token: world.devA.token }),
      201,
    );
    const { claims } = await fetchConfig();
    expect(claims.privacy).toEqual({
      version: 1,
      sha256: v1.sha256,
      url: `https://edge.test/v1/privacy/${v1.sha256}`,
    });
    const res = await edgeFetch(`/v1/privacy/${v1.sha256}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).toContain("immutable");
    const text = await res.text();
    expect(text).toContain("Example Ltd.");
    const digest = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    expect(digest).toBe(v1.sha256);
    const again = await edgeFetch(`/v1/privacy/${v1.sha256}`, {
      headers: { "if-none-match": `"${v1.sha256}"` },
    });
    expect(again.status).toBe(304);
    expect((await edgeFetch(`/v1/privacy/${"0".repeat(64)}`)).status).toBe(404);
    const bad = await edgeFetch("/v1/privacy/NOTHEX");
    expect(bad.status).toBe(400);
    await bad.body?.cancel();
  });
});
