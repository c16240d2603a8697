/**
 * Offline presets (`.apkg`, core/offline.ts) in the reference client: a verified preset is the
 * first-run baseline the online check then updates from; it never replaces the same or a newer
 * version; and every forged, mismatched or damaged preset is refused with the store unchanged.
 */
import { describe, expect, it } from "vitest";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../../core/manifest";
import {
  apkgFileName,
  OFFLINE_KIND,
  OFFLINE_MANIFEST_TYPE,
  type OfflineManifestClaims,
} from "../../core/offline";
import { freshEdgeAndDevice } from "./support/client";
import { type SigningKey, signingKey } from "./support/edge";
import {
  APP_ID,
  type BuiltVersion,
  buildApkg,
  buildIncrementBetween,
  HOST_APP,
  twoVersions,
} from "./support/fixtures";

const t = freshEdgeAndDevice();

const { v1, v2 } = await twoVersions();

interface PresetOptions {
  claims?: Partial<OfflineManifestClaims>;
  key?: SigningKey;
  kid?: string;
  typ?: string;
  zip?: Uint8Array;
}

/** The console's preset of `version`, signed with the edge's key unless told otherwise. */
async function preset(version: BuiltVersion, options: PresetOptions = {}): Promise<Uint8Array> {
  const claims: OfflineManifestClaims = {
    iss: MANIFEST_ISSUER,
    sub: APP_ID,
    aud: HOST_APP,
    iat: Math.floor(Date.now() / 1000),
    version: version.version,
    package: { sha256: version.sha256, size: version.zip.byteLength, files: version.digest },
    kind: OFFLINE_KIND,
    ...options.claims,
  };
  const jws = await t.edge.sign(claims, {
    typ: options.typ ?? OFFLINE_MANIFEST_TYPE,
    ...(options.key ? { key: options.key } : {}),
    ...(options.kid ? { kid: options.kid } : {}),
  });
  return buildApkg(jws, options.zip ?? version.zip);
}

describe("offline presets", () => {
  it("a verified preset installs on a fresh device; the online check then updates from it by increment", async () => {
    expect(
      await t.device.client.installPreset(await preset(v1), apkgFileName(APP_ID, "1.0.0")),
    ).toMatchObject({ installed: true, version: "1.0.0" });
    expect((await t.device.client.trustedState()).installed).toMatchObject({
      version: "1.0.0",
      files: v1.digest,
      source: "preset",
    });
    const opened = await t.device.client.open();
    for (const f of v1.list) expect(await opened.read(f.path)).toEqual(v1.bytes.get(f.path));

    t.edge.answer(
      await t.edge.claims(v2, { increment: await t.edge.increment(await buildIncrementBetween(v1, v2), v1) }),
    );
    expect(await t.device.client.update()).toMatchObject({
      activated: true,
      version: "1.1.0",
      via: "increment",
    });
    expect(t.edge.requests.find((r) => r.path === "/v1/check")!.check).toMatchObject({
      installedVersion: "1.0.0",
    });
  });

  it("a preset never replaces the same or a newer installed version", async () => {
    t.edge.answer(await t.edge.claims(v2));
    await t.device.client.update();
    const before = t.device.contents();
    expect(await t.device.client.installPreset(await preset(v1))).toEqual({
      installed: false,
      version: "1.1.0",
    });
    expect(await t.device.client.installPreset(await preset(v2))).toEqual({
      installed: false,
      version: "1.1.0",
    });
    expect(t.device.contents()).toEqual(before);
  });

  it("a preset is a first-run baseline: once a check answer was accepted, a newer preset does not replace what check installed", async () => {
    // Installed 1.0.0 through check (e.g. after a signed rollback); an old App build still bundles 1.1.0.
    t.edge.answer(await t.edge.claims(v1));
    await t.device.client.update();
    const before = t.device.contents();
    expect(await t.device.client.installPreset(await preset(v2))).toEqual({
      installed: false,
      version: "1.0.0",
    });
    expect(t.device.contents()).toEqual(before);
  });

  const forgeries: [string, string, () => Promise<{ apkg: Uint8Array; fileName?: string }>][] = [
    [
      "signed by a key the app does not pin",
      "unknown_key",
      async () => ({ apkg: await preset(v1, { key: await signingKey("rogue") }) }),
    ],
    [
      "signed by another key under the pinned kid",
      "bad_signature",
      async () => ({ apkg: await preset(v1, { key: await signingKey("rogue"), kid: t.edge.key.kid }) }),
    ],
    [
      "carrying a check manifest instead of an offline one",
      "mix_and_match",
      async () => ({ apkg: await preset(v1, { typ: MANIFEST_TYPE }) }),
    ],
    [
      "for another host app",
      "mix_and_match",
      async () => ({ apkg: await preset(v1, { claims: { aud: "ha_otherhostapp1" } }) }),
    ],
    [
      "for another mini program",
      "mix_and_match",
      async () => ({ apkg: await preset(v1, { claims: { sub: "gcsomeotherappaaaabbbbcc" } }) }),
    ],
    [
      "named for another version",
      "mix_and_match",
      async () => ({ apkg: await preset(v1), fileName: apkgFileName(APP_ID, "1.1.0") }),
    ],
    [
      "holding another package than its manifest signed",
      "hash_mismatch",
      async () => ({ apkg: await preset(v1, { zip: v2.zip }) }),
    ],
    [
      "whose signed file list does not match the package",
      "hash_mismatch",
      async () => ({
        apkg: await preset(v1, {
          claims: { package: { sha256: v1.sha256, size: v1.zip.byteLength, files: v2.digest } },
        }),
      }),
    ],
    ["that is not an .apkg at all", "bad_package", async () => ({ apkg: v1.zip })],
  ];

  it.each(forgeries)("a preset %s is refused (%s) and changes nothing", async (_, code, make) => {
    const { apkg, fileName } = await make();
    const before = t.device.contents();
    await expect(t.device.client.installPreset(apkg, fileName)).rejects.toMatchObject({
      name: "ClientError",
      code,
    });
    expect(t.device.contents()).toEqual(before);
    await expect(t.device.client.open()).rejects.toMatchObject({ code: "not_installed" });
  });
});
