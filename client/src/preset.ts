/**
 * Verifying an offline preset (`.apkg`, core/offline.ts) before it may be installed: the
 * container, the platform's signature over the offline manifest (its own `typ`, so a check
 * manifest is never taken for one), the claims, and the package bytes. Installing, and the
 * rules about what a preset may replace, are the client's (client/src/client.ts).
 */
import { MANIFEST_ISSUER } from "../../core/manifest";
import {
  ApkgFormatError,
  OFFLINE_KIND,
  OFFLINE_MANIFEST_TYPE,
  type OfflineManifestClaims,
  parseApkgFileName,
  readApkg,
} from "../../core/offline";
import { isSemver } from "../../core/semver";
import { sha256Hex } from "./bytes";
import { ClientError } from "./errors";
import type { PinnedKeys } from "./manifest";

export interface VerifiedPreset {
  claims: OfflineManifestClaims;
  /** the package zip, its hash and size checked against the claims */
  packageZip: Uint8Array;
}

/**
 * Checks, in order (core/offline.ts steps a-d; e, the developer signature, needs the files):
 * the archive's format, the JWS against the pinned keys with `typ` graycast-offline+jwt, `iss`,
 * `kind`, `sub` = App ID and `aud` = host app, the version (and the file name's, when given),
 * then SHA-256 and size of the package.
 */
export async function verifyPreset(
  apkg: Uint8Array,
  keys: PinnedKeys,
  expect: { appId: string; hostAppId: string; fileName?: string },
): Promise<VerifiedPreset> {
  let contents: ReturnType<typeof readApkg>;
  try {
    contents = readApkg(apkg);
  } catch (error) {
    if (error instanceof ApkgFormatError)
      throw new ClientError("bad_package", error.message, { cause: error });
    throw error;
  }
  const claims = await keys.verify(contents.manifest, OFFLINE_MANIFEST_TYPE);
  if (claims.iss !== MANIFEST_ISSUER || claims.kind !== OFFLINE_KIND)
    throw new ClientError(
      "mix_and_match",
      "the preset's manifest is not an offline manifest of this platform",
    );
  if (claims.sub !== expect.appId)
    throw new ClientError(
      "mix_and_match",
      `the preset is for mini program ${JSON.stringify(claims.sub)}, not ${expect.appId}`,
    );
  if (claims.aud !== expect.hostAppId)
    throw new ClientError(
      "mix_and_match",
      `the preset is for host app ${JSON.stringify(claims.aud)}, not ${expect.hostAppId}`,
    );
  const pkg = claims.package as Record<string, unknown> | undefined;
  if (
    typeof claims.version !== "string" ||
    !isSemver(claims.version) ||
    pkg === null ||
    typeof pkg !== "object" ||
    !Number.isSafeInteger(pkg.size) ||
    typeof pkg.sha256 !== "string"
  ) {
    throw new ClientError("bad_manifest", "the preset's manifest is malformed");
  }
  if (expect.fileName !== undefined) {
    const named = parseApkgFileName(expect.fileName);
    if (named?.appId !== claims.sub || named.version !== claims.version)
      throw new ClientError(
        "mix_and_match",
        `${JSON.stringify(expect.fileName)} is not the name of this preset (${claims.sub} ${claims.version})`,
      );
  }
  const packageZip = contents.packageZip;
  if (packageZip.byteLength !== pkg.size || (await sha256Hex(packageZip)) !== pkg.sha256)
    throw new ClientError("hash_mismatch", "the preset's package differs from the one its manifest signed");
  return { claims: claims as unknown as OfflineManifestClaims, packageZip };
}
