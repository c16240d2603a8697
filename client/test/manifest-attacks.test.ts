/**
 * Attacks on the signed check manifest (TUF-conformance style): the fake edge answers with what
 * an attacker can produce, and each test asserts the refusal's code AND that the device's store
 * is byte-for-byte what it was before (the installed version keeps running).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { OFFLINE_MANIFEST_TYPE } from "../../core/offline";
import type { ClientErrorCode } from "../src/errors";
import { freshEdgeAndDevice } from "./support/client";
import { signingKey } from "./support/edge";
import { twoVersions } from "./support/fixtures";

const t = freshEdgeAndDevice();

const { v1, v2 } = await twoVersions();

// Runs after freshEdgeAndDevice's hook (registered first): the device starts on v1.
beforeEach(async () => {
  // Every attack starts from a device that runs v1, installed through a genuine answer.
  t.edge.answer(await t.edge.claims(v1));
  expect((await t.device.client.update()).activated).toBe(true);
});

const now = () => Math.floor(Date.now() / 1000);

/** The update is refused with `code`, the store is unchanged, and v1 still opens. */
async function expectRefused(code: ClientErrorCode): Promise<void> {
  const before = t.device.contents();
  await expect(t.device.client.update()).rejects.toMatchObject({ name: "ClientError", code });
  expect(t.device.contents()).toEqual(before);
  expect((await t.device.client.open()).version).toBe("1.0.0");
}

describe("manifest attacks", () => {
  it("a manifest signed by a key the app does not pin: unknown_key", async () => {
    const rogue = await signingKey("rogue-1");
    t.edge.answer(await t.edge.sign(await t.edge.claims(v2), { key: rogue }));
    await expectRefused("unknown_key");
  });

  it("a signature that does not verify (another key claiming the pinned kid; altered payload): bad_signature", async () => {
    const rogue = await signingKey("rogue-2");
    t.edge.answer(await t.edge.sign(await t.edge.claims(v2), { key: rogue, kid: t.edge.key.kid }));
    await expectRefused("bad_signature");

    const genuine = await t.edge.sign(await t.edge.claims(v1));
    const [header, , signature] = genuine.split(".");
    const altered = Buffer.from(JSON.stringify(await t.edge.claims(v2))).toString("base64url");
    t.edge.answer(`${header}.${altered}.${signature}`);
    await expectRefused("bad_signature");
  });

  it("an expired manifest (indefinite freeze): expired; within the clock skew it is still accepted", async () => {
    t.edge.answer(await t.edge.claims(v2, { iat: now() - 7200, exp: now() - 120 }));
    await expectRefused("expired");

    t.edge.answer(await t.edge.claims(v2, { exp: now() - 30 }));
    expect(await t.device.client.update()).toMatchObject({
      plan: "update",
      activated: true,
      version: "1.1.0",
    });
  });

  it("a replayed manifest older than one already accepted (iat or revision lower): replayed", async () => {
    t.edge.answer(await t.edge.claims(v2, { iat: now() - 600 }));
    await expectRefused("replayed");
    t.edge.answer(await t.edge.claims(v2, { revision: 0 }));
    await expectRefused("replayed");
  });

  it("an older version without a rollback order: rollback", async () => {
    t.edge.answer(await t.edge.claims(v2));
    await t.device.client.update();
    const before = t.device.contents();
    t.edge.answer(await t.edge.claims(v1));
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "rollback" });
    expect(t.device.contents()).toEqual(before);
    expect((await t.device.client.open()).version).toBe("1.1.0");
  });

  it("an older version WITH a signed rollback order is installed, byte-identical", async () => {
    t.edge.answer(await t.edge.claims(v2));
    await t.device.client.update();
    t.edge.answer(await t.edge.claims(v1, { rollback: true, reason: "rollback" }));
    expect(await t.device.client.update()).toMatchObject({
      plan: "rollback",
      activated: true,
      version: "1.0.0",
    });
    const opened = await t.device.client.open();
    expect(opened.files).toEqual(v1.list);
    for (const f of v1.list) expect(await opened.read(f.path)).toEqual(v1.bytes.get(f.path));
  });

  it("a rollback order computed for another installed version (fetched by anyone for any version): replayed", async () => {
    t.edge.answer(await t.edge.claims(v2));
    await t.device.client.update();
    const before = t.device.contents();
    t.edge.answer(
      await t.edge.claims(v1, { rollback: true, reason: "rollback", installedVersion: "999999.0.0" }),
    );
    await expect(t.device.client.update()).rejects.toMatchObject({ code: "replayed" });
    expect(t.device.contents()).toEqual(before);
    expect((await t.device.client.open()).version).toBe("1.1.0");
  });

  it("a manifest issued in the future, or leaping the revision, cannot lock out later genuine ones: bad_manifest", async () => {
    t.edge.answer(await t.edge.claims(v2, { iat: now() + 86_400 * 365, exp: now() + 86_400 * 366 }));
    await expectRefused("bad_manifest");
    t.edge.answer(await t.edge.claims(v2, { revision: 2 ** 52 }));
    await expectRefused("bad_manifest");
  });

  it("a manifest for another mini program: mix_and_match", async () => {
    t.edge.answer(await t.edge.claims(v2, { sub: "gcsomeotherappaaaabbbbcc" }));
    await expectRefused("mix_and_match");
  });

  it("a manifest for another host app, or another kind of signed statement: mix_and_match", async () => {
    t.edge.answer(await t.edge.claims(v2, { aud: "ha_otherhostapp1" }));
    await expectRefused("mix_and_match");
    t.edge.answer(await t.edge.sign(await t.edge.claims(v2), { typ: OFFLINE_MANIFEST_TYPE }));
    await expectRefused("mix_and_match");
  });

  it("a refused check records nothing either; an accepted one records its freshness", async () => {
    const before = t.device.contents();
    t.edge.answer(await t.edge.claims(v2, { sub: "gcsomeotherappaaaabbbbcc" }));
    await expect(t.device.client.check()).rejects.toMatchObject({ code: "mix_and_match" });
    expect(t.device.contents()).toEqual(before);

    const claims = await t.edge.claims(v2);
    t.edge.answer(claims);
    expect(await t.device.client.check()).toMatchObject({
      plan: "update",
      version: "1.1.0",
      installed: "1.0.0",
    });
    expect(await t.device.client.trustedState()).toMatchObject({
      highestIat: claims.iat,
      highestRevision: claims.revision,
      installed: { version: "1.0.0" },
    });
  });
});
