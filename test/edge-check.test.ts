import { describe, expect, it } from "vitest";
import { MANIFEST_TYPE } from "../core/manifest";
import { originOf } from "../edge-worker/src/routes/check";
import { userAssertion } from "./support/assertions";
import {
  checkClaims,
  client,
  edgeFetch,
  HOST_APP,
  newAppId,
  ORIGIN,
  online,
  packageRef,
  postCheck,
  putSnapshot,
  verifyManifest,
} from "./support/edge";

describe("POST /v1/check", () => {
  it("answers a signed manifest of the online version that verifies against the JWKS", async () => {
    const appId = newAppId();
    const pkg = packageRef("a", 4321);
    await putSnapshot({ appId, revision: 7, online: online("1.2.0", pkg) });

    const before = Math.floor(Date.now() / 1000);
    const res = await postCheck(client(appId, { installedVersion: "1.1.0" }));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { manifest } = await res.json<{ manifest: string }>();
    expect(manifest.split(".")).toHaveLength(3);

    const { payload, protectedHeader } = await verifyManifest(manifest);
    expect(protectedHeader).toEqual({ alg: "EdDSA", kid: "test-key-1", typ: MANIFEST_TYPE });
    expect(payload).toEqual({
      iss: "graycast",
      sub: appId,
      aud: HOST_APP,
      iat: expect.any(Number),
      exp: payload.iat + 3600,
      status: "ok",
      reason: "online",
      revision: 7,
      installedVersion: "1.1.0",
      version: "1.2.0",
      package: { url: `${ORIGIN}/v1/packages/${pkg.sha256}`, size: 4321, sha256: pkg.sha256 },
      rollback: false,
    });
    // iat is the start of the current 10 s signing window (manifests are shared within it).
    expect(payload.iat).toBeGreaterThanOrEqual(before - 10);
    expect(payload.iat % 10).toBe(0);
  });

  it("signs once per answer and window: identical checks share a JWS, a different answer does not", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, revision: 1, online: online("1.2.0", packageRef("s")) });
    const manifestOf = async (body: unknown) =>
      (await (await postCheck(body)).json<{ manifest: string }>()).manifest;

    // Two users with the same facts in one window: the same bytes (retry once across a window edge).
    let first = "";
    let second = "";
    for (let attempt = 0; attempt < 2 && (first === "" || first !== second); attempt++) {
      first = await manifestOf(client(appId, { installedVersion: "1.1.0", guid: "user-a" }));
      second = await manifestOf(client(appId, { installedVersion: "1.1.0", guid: "user-b" }));
    }
    expect(second).toBe(first);
    const { payload } = await verifyManifest(first);
    expect(payload.exp! - payload.iat!).toBe(3600);

    // Another installed version is another answer.
    const other = await manifestOf(client(appId, { installedVersion: "1.0.0", guid: "user-a" }));
    expect(other).not.toBe(first);
    expect((await verifyManifest(other)).payload).toMatchObject({ installedVersion: "1.0.0" });

    // A new snapshot is another answer, at once.
    await putSnapshot({ appId, revision: 2, online: online("1.2.0", packageRef("s")) });
    const republished = await manifestOf(client(appId, { installedVersion: "1.1.0", guid: "user-a" }));
    expect(republished).not.toBe(first);
    expect((await verifyManifest(republished)).payload).toMatchObject({ revision: 2 });
  });

  it("says up_to_date when the client runs the online version", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("2.0.0", packageRef("b")) });
    const claims = await checkClaims(client(appId, { installedVersion: "2.0.0" }));
    expect(claims).toMatchObject({ status: "ok", reason: "up_to_date", version: "2.0.0", rollback: false });
  });

  it("orders a signed rollback when the client runs a higher version than online", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: { ...online("1.0.0", packageRef("c")), via: "rollback" } });
    const claims = await checkClaims(client(appId, { installedVersion: "1.3.0" }));
    expect(claims).toMatchObject({
      status: "ok",
      reason: "rollback",
      version: "1.0.0",
      rollback: true,
      installedVersion: "1.3.0",
    });
  });

  it("refuses service with a signed delisted answer and no package", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, listed: false, online: online("1.0.0", packageRef("d")) });
    const claims = await checkClaims(client(appId));
    expect(claims).toMatchObject({ status: "delisted", reason: "delisted", sub: appId });
    expect(claims.package).toBeUndefined();
    expect(claims.version).toBeUndefined();
  });

  it("answers not_bound to a host app the mini program is not bound to", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("e")) });
    const claims = await checkClaims(client(appId, { hostAppId: "ha_someotherapp" }));
    expect(claims).toMatchObject({ status: "not_bound", reason: "not_bound", aud: "ha_someotherapp" });
    expect(claims.package).toBeUndefined();
  });

  it("answers no_release before anything is released", async () => {
    const appId = newAppId();
    await putSnapshot({ appId });
    const claims = await checkClaims(client(appId));
    expect(claims).toMatchObject({ status: "no_release", reason: "no_release" });
    expect(claims.package).toBeUndefined();
  });

  it("serves the trial version to a tester only, at its page path", async () => {
    const appId = newAppId();
    const trialPkg = packageRef("f", 99);
    await putSnapshot({
      appId,
      online: online("1.0.0", packageRef("0")),
      trial: {
        version: "1.1.0",
        package: trialPkg,
        pagePath: "pages/index/index",
        testers: ["alice", "bob"],
      },
    });

    // issue 10: the tester's account must be vouched for by the host app.
    expect(await checkClaims(client(appId, { trial: true, account: "alice" }))).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    const tester = await checkClaims(client(appId, { trial: true, assertion: await userAssertion("alice") }));
    expect(tester).toMatchObject({
      status: "ok",
      reason: "trial",
      version: "1.1.0",
      pagePath: "pages/index/index",
      package: { url: `${ORIGIN}/v1/packages/${trialPkg.sha256}`, size: 99, sha256: trialPkg.sha256 },
    });

    const stranger = await checkClaims(
      client(appId, { trial: true, assertion: await userAssertion("mallory") }),
    );
    expect(stranger).toMatchObject({ reason: "online", version: "1.0.0" });
    expect(stranger.pagePath).toBeUndefined();

    // A tester who does not ask for the trial gets the online version.
    expect(await checkClaims(client(appId, { assertion: await userAssertion("alice") }))).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
  });

  it("answers 404 in the error shape for an unknown app, and sees it once it exists", async () => {
    const appId = newAppId();
    const res = await postCheck(client(appId));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "mini program not found" } });

    // The negative entry lives only for SNAPSHOT_TTL_MS (0 in tests).
    await putSnapshot({ appId, online: online("1.0.0", packageRef("1")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "1.0.0" });
  });

  it("makes a published change visible on the next check", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, revision: 1, online: online("1.0.0", packageRef("2")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "1.0.0", revision: 1 });

    await putSnapshot({ appId, revision: 2, online: online("1.1.0", packageRef("3")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "1.1.0", revision: 2 });

    await putSnapshot({ appId, revision: 3, listed: false, online: online("1.1.0", packageRef("3")) });
    expect(await checkClaims(client(appId))).toMatchObject({ status: "delisted", revision: 3 });
  });

  it("never replaces a cached snapshot by one with a lower revision", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, revision: 5, online: online("2.0.0", packageRef("4")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "2.0.0", revision: 5 });

    // A stale publish lands after a newer one (R2 is last-writer-wins).
    await putSnapshot({ appId, revision: 4, online: online("1.9.0", packageRef("5")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "2.0.0", revision: 5 });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "2.0.0", revision: 5 });

    await putSnapshot({ appId, revision: 6, online: online("2.1.0", packageRef("6")) });
    expect(await checkClaims(client(appId))).toMatchObject({ version: "2.1.0", revision: 6 });
  });
});

describe("GET /.well-known/jwks.json", () => {
  it("publishes only the public half of the signing key", async () => {
    const res = await edgeFetch("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const body = await res.json<{ keys: Record<string, unknown>[] }>();
    expect(body.keys).toHaveLength(1);
    const [key] = body.keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x"]);
    expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: "test-key-1", alg: "EdDSA", use: "sig" });
    expect(JSON.stringify(body)).not.toContain('"d"');
  });
});

describe("GET /healthz", () => {
  it("reports the service", async () => {
    const res = await edgeFetch("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, service: "graycast-edge" });
  });
});

describe("originOf", () => {
  it.each([
    "https://edge.test/v1/check",
    "http://127.0.0.1:8787/v1/check?x=1",
    "https://edge.test",
    "http://[::1]:8080/a/b",
  ])("equals new URL(%j).origin", (url) => {
    expect(originOf(url)).toBe(new URL(url).origin);
  });
});
