/**
 * Privacy agreement (PRODUCT.md X7, seed "Settings", issue 12): template, draft, preview,
 * numbered immutable versions, the text content-addressed in R2, the version in the runtime
 * config, and every refusal.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../control-plane/src/lib/encoding";
import { testEnv } from "./env";
import {
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  storedSnapshot,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
});

const fields = {
  developerName: "Example Ltd.",
  contact: "privacy@example.com",
  dataCollected: ["Nickname", "Approximate location"],
  purposes: ["Show nearby stores"],
  thirdParties: [],
  retention: "At most 2 years",
};
const path = (rest: string, id = appId) => `/v1/mini-programs/${id}/privacy${rest}`;

describe("privacy agreement", () => {
  it("template, draft, preview, publish v1 and v2; the text is in R2 and the version in the runtime config", async () => {
    const template = await expectJson<any>(
      callAdmin("GET", path("/template"), { token: world.viewerA.token }),
      200,
    );
    expect(template.template).toContain("{{developerName}}");
    expect(template.placeholders).toEqual(
      expect.arrayContaining([
        "developerName",
        "contact",
        "dataCollected",
        "purposes",
        "thirdParties",
        "retention",
      ]),
    );
    await expectError(callAdmin("GET", path("/draft"), { token: world.devA.token }), 404, "not_found");
    await expectError(callAdmin("POST", path("/publish"), { token: world.devA.token }), 409, "conflict");

    const saved = await expectJson<any>(
      callAdmin("PUT", path("/draft"), { token: world.devA.token, json: { fields } }),
      200,
    );
    expect(saved).toMatchObject({ fields, updatedBy: world.devA.id });
    const preview = await expectJson<any>(
      callAdmin("POST", path("/preview"), { token: world.viewerA.token, json: {} }),
      200,
    );
    expect(preview.version).toBe(1);
    expect(preview.text).toContain("Example Ltd.");
    expect(preview.text).toContain("- Approximate location");
    expect(preview.text).toContain("- None.");
    expect(preview.text).not.toMatch(/\{\{/);
    const other = await expectJson<any>(
      callAdmin("POST", path("/preview"), {
        token: world.viewerA.token,
        json: { fields: { ...fields, contact: "{{developerName}}" } },
      }),
      200,
    );
    // A value is never expanded as a placeholder itself.
    expect(other.text).toContain("contact us at {{developerName}}");

    const v1 = await expectJson<any>(callAdmin("POST", path("/publish"), { token: world.devA.token }), 201);
    expect(v1).toMatchObject({ version: 1, publishedBy: world.devA.id, url: `/v1/privacy/${v1.sha256}` });
    const stored = await testEnv.PACKAGES.get(`privacy/${v1.sha256}`);
    const text = await stored!.text();
    expect(await sha256Hex(text)).toBe(v1.sha256);
    expect(text).toBe(preview.text);
    expect((await storedSnapshot(appId)).config.privacy).toEqual({ version: 1, sha256: v1.sha256 });

    // The same draft again is not a new version.
    await expectError(callAdmin("POST", path("/publish"), { token: world.devA.token }), 409, "conflict");
    await expectJson(
      callAdmin("PUT", path("/draft"), {
        token: world.adminA.token,
        json: { fields: { ...fields, thirdParties: ["Maps provider"] } },
      }),
      200,
    );
    const v2 = await expectJson<any>(callAdmin("POST", path("/publish"), { token: world.adminA.token }), 201);
    expect(v2.version).toBe(2);
    expect(v2.sha256).not.toBe(v1.sha256);
    expect((await storedSnapshot(appId)).config.privacy).toEqual({ version: 2, sha256: v2.sha256 });
    const versions = await expectJson<any>(
      callAdmin("GET", path("/versions"), { token: world.viewerA.token }),
      200,
    );
    expect(versions.versions.map((v: any) => [v.version, v.publishedBy])).toEqual([
      [2, world.adminA.id],
      [1, world.devA.id],
    ]);
    const one = await expectJson<any>(
      callAdmin("GET", path("/versions/1"), { token: world.viewerA.token }),
      200,
    );
    expect(one.text).toBe(text);
    expect(one.fields).toEqual(fields);
    const log = await expectJson<any>(
      callAdmin("GET", `/v1/change-log?teamId=${world.teamA}&limit=200`, { token: world.adminA.token }),
      200,
    );
    expect(
      log.entries
        .filter((e: any) => e.targetId === appId && e.action === "privacy.publish")
        .map((e: any) => e.detail.version)
        .sort(),
    ).toEqual([1, 2]);
  });

  it("refuses malformed fields (400), viewers (403), other teams (404), no token (401), unknown versions (404)", async () => {
    const put = (token: string, json: unknown) => callAdmin("PUT", path("/draft"), { token, json });
    await expectError(put(world.devA.token, { fields: { ...fields, contact: "" } }), 400, "bad_request");
    await expectError(put(world.devA.token, { fields: { ...fields, extra: 1 } }), 400, "bad_request");
    await expectError(
      put(world.devA.token, { fields: { ...fields, purposes: Array(31).fill("x") } }),
      400,
      "bad_request",
    );
    await expectError(
      put(world.devA.token, { fields: { ...fields, developerName: "a\nb" } }),
      400,
      "bad_request",
    );
    await expectError(
      put(world.devA.token, { fields: { ...fields, retention: undefined } }),
      400,
      "bad_request",
    );
    await expectError(put(world.viewerA.token, { fields }), 403, "forbidden");
    await expectError(put(world.devB.token, { fields }), 404, "not_found");
    await expectError(put("", { fields }), 401, "unauthenticated");
    await expectError(callAdmin("POST", path("/publish"), { token: world.viewerA.token }), 403, "forbidden");
    await expectError(callAdmin("POST", path("/publish"), { token: world.devB.token }), 404, "not_found");
    await expectError(
      callAdmin("POST", path("/preview"), { token: world.devB.token, json: {} }),
      404,
      "not_found",
    );
    await expectError(callAdmin("GET", path("/versions/99"), { token: world.devA.token }), 404, "not_found");
    await expectError(
      callAdmin("GET", path("/versions/zero"), { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(callAdmin("GET", path("/versions"), { token: world.devB.token }), 404, "not_found");
    await expectError(callAdmin("GET", path("/template"), { token: world.devB.token }), 404, "not_found");
    const fresh = await makeMiniProgram(world);
    // Preview without fields needs a saved draft.
    await expectError(
      callAdmin("POST", path("/preview", fresh), { token: world.devA.token, json: {} }),
      404,
      "not_found",
    );
  });
});
