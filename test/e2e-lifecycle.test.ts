/**
 * End to end: changes made through the control plane reach the edge Worker through the
 * compiled snapshot in R2 (ARCHITECTURE.md "The hot path"), and clients get signed answers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  approveVersion,
  callAdmin,
  expectJson,
  makeMiniProgram,
  makePackage,
  makeWorld,
  publish,
  upload,
  type World,
} from "./support/admin";
import { mintAssertion, registerAssertionKey } from "./support/assertions";
import { checkClaims, edgeFetch, sha256Hex } from "./support/edge";

let world: World;
beforeAll(async () => {
  world = await makeWorld();
});

const clientOf = (world: World, appId: string, extra: Record<string, unknown> = {}) => ({
  appId,
  hostAppId: world.host1,
  hostAppVersion: "8.0.1",
  platform: "ios",
  osVersion: "17.4",
  guid: "guid-1",
  ...extra,
});

describe("release lifecycle seen by clients", () => {
  it("nothing released, then a publish, then the package bytes from the edge match the upload", async () => {
    const appId = await makeMiniProgram(world);
    expect((await checkClaims(clientOf(world, appId))).status).toBe("no_release");
    await approveVersion(world, appId, "1.0.0");
    expect((await checkClaims(clientOf(world, appId))).status).toBe("no_release");
    await publish(world, appId, "1.0.0");
    const claims = await checkClaims(clientOf(world, appId));
    expect(claims).toMatchObject({
      status: "ok",
      reason: "online",
      version: "1.0.0",
      sub: appId,
      aud: world.host1,
      rollback: false,
    });
    const res = await edgeFetch(new URL(claims.package!.url).pathname);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(bytes).toEqual(makePackage("1.0.0"));
    expect(await sha256Hex(bytes)).toBe(claims.package!.sha256);
    expect(bytes.byteLength).toBe(claims.package!.size);
  });

  it("seed: 'The release here will take effect on all associated applications of the mini program'", async () => {
    const appId = await makeMiniProgram(world, [world.host1, world.host2]);
    await approveVersion(world, appId, "2.0.0", [world.host1, world.host2]);
    await publish(world, appId, "2.0.0");
    for (const hostAppId of [world.host1, world.host2]) {
      expect(await checkClaims(clientOf(world, appId, { hostAppId }))).toMatchObject({
        status: "ok",
        version: "2.0.0",
        aud: hostAppId,
      });
    }
  });

  it("a rollback tells clients on the newer version to go back, in the signed manifest", async () => {
    const appId = await makeMiniProgram(world);
    for (const v of ["1.0.0", "1.1.0"]) {
      await approveVersion(world, appId, v);
      await publish(world, appId, v);
    }
    expect(await checkClaims(clientOf(world, appId, { installedVersion: "1.1.0" }))).toMatchObject({
      version: "1.1.0",
      reason: "up_to_date",
      rollback: false,
    });
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, {
        token: world.devA.token,
        json: { version: "1.0.0" },
      }),
      200,
    );
    expect(await checkClaims(clientOf(world, appId, { installedVersion: "1.1.0" }))).toMatchObject({
      status: "ok",
      version: "1.0.0",
      reason: "rollback",
      rollback: true,
    });
    expect(await checkClaims(clientOf(world, appId, { installedVersion: "0.9.0" }))).toMatchObject({
      version: "1.0.0",
      rollback: false,
    });
  });

  it("seed: delisted -> 'all associated applications will not be able to obtain corresponding services'; relisting restores them", async () => {
    const appId = await makeMiniProgram(world);
    await approveVersion(world, appId, "1.0.0");
    await publish(world, appId, "1.0.0");
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: false },
      }),
      200,
    );
    const claims = await checkClaims(clientOf(world, appId, { installedVersion: "1.0.0" }));
    expect(claims).toMatchObject({ status: "delisted", reason: "delisted" });
    expect(claims.version).toBeUndefined();
    expect(claims.package).toBeUndefined();
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/shelf`, {
        token: world.devA.token,
        json: { listed: true },
      }),
      200,
    );
    expect((await checkClaims(clientOf(world, appId))).status).toBe("ok");
  });

  it("a host app without an approved binding gets not_bound; unbinding takes effect at once", async () => {
    const appId = await makeMiniProgram(world);
    await approveVersion(world, appId, "1.0.0");
    await publish(world, appId, "1.0.0");
    expect((await checkClaims(clientOf(world, appId, { hostAppId: world.host2 }))).status).toBe("not_bound");
    await expectJson(
      callAdmin("POST", `/v1/mini-programs/${appId}/bindings`, {
        token: world.devA.token,
        json: { hostAppId: world.host2 },
      }),
      201,
    );
    expect((await checkClaims(clientOf(world, appId, { hostAppId: world.host2 }))).status).toBe("not_bound");
    await expectJson(
      callAdmin("DELETE", `/v1/mini-programs/${appId}/bindings/${world.host1}`, {
        token: world.adminA.token,
      }),
      200,
    );
    expect((await checkClaims(clientOf(world, appId))).status).toBe("not_bound");
  });

  it("trial version: served to the configured testers only, opened at the configured page", async () => {
    const appId = await makeMiniProgram(world);
    await approveVersion(world, appId, "1.0.0");
    await publish(world, appId, "1.0.0");
    await expectJson(upload(world.devA.token, appId, "1.1.0"), 201);
    await expectJson(
      callAdmin("PUT", `/v1/mini-programs/${appId}/trial`, {
        token: world.devA.token,
        json: { pagePath: "pages/index/index?trial=1", testers: ["qa-1"] },
      }),
      200,
    );
    // Testers are accounts the host app vouches for (docs/trust.md): its server's key mints assertions.
    const key = await registerAssertionKey(world.manager1.token, world.host1);
    const as = (account: string) => mintAssertion(key, { iss: world.host1, sub: account });
    expect(
      await checkClaims(clientOf(world, appId, { trial: true, assertion: await as("qa-1") })),
    ).toMatchObject({ reason: "trial", version: "1.1.0", pagePath: "pages/index/index?trial=1" });
    expect(await checkClaims(clientOf(world, appId, { trial: true, account: "qa-1" }))).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    expect(
      await checkClaims(clientOf(world, appId, { trial: true, assertion: await as("someone-else") })),
    ).toMatchObject({ reason: "online", version: "1.0.0" });
    expect(await checkClaims(clientOf(world, appId, { assertion: await as("qa-1") }))).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    // a newer upload becomes the trial version
    await expectJson(upload(world.devA.token, appId, "1.1.1"), 201);
    expect(
      await checkClaims(clientOf(world, appId, { trial: true, assertion: await as("qa-1") })),
    ).toMatchObject({ reason: "trial", version: "1.1.1" });
  });
});
