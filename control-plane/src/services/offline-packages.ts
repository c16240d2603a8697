/**
 * Offline packages (PRODUCT.md D4; format in core/offline.ts): the console builds the
 * `{miniAppId}_{miniAppVersion}.apkg` a host app ships as a preset, for the online version only.
 * The manifest inside is signed by the edge Worker over the `EDGE_SIGNER` service binding
 * (edge-worker/src/rpc.ts): this Worker never holds the platform's private key.
 *
 * Every download is recorded in `offline_packages` (so increments are also built from preset
 * versions, D3) and in the change log.
 */
import { and, eq } from "drizzle-orm";
import { zipSync } from "fflate";
import { isApprovedBy } from "../../../core/audit-scope";
import { conflict } from "../../../core/errors";
import { MANIFEST_ISSUER } from "../../../core/manifest";
import {
  APKG_MANIFEST_ENTRY,
  APKG_PACKAGE_ENTRY,
  apkgFileName,
  OFFLINE_KIND,
  type OfflineManifestClaims,
} from "../../../core/offline";
import { packageKey } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { bindings, offlinePackages, versions } from "../db/schema";
import { randomId } from "../lib/encoding";
import { READ_ROLES, requireMiniProgram } from "./access";
import { approvalsOf } from "./audit-scope";
import { recordChange } from "./change-log";
import { packageRefOf } from "./package-ref";
import { requireTrustedSignature } from "./signing-keys";

/** Seed (Offline Applet, "Things To Note"), word for word. */
export const ONLY_ONLINE_MESSAGE = "Only online mini programs can download offline packages";

export interface OfflinePackageFile {
  fileName: string;
  version: string;
  bytes: Uint8Array;
}

/**
 * Builds the `.apkg` of the online version of `appId` for `hostAppId`. Readable by every team
 * role (admin, developer, viewer). Refused with 409 when the mini program is delisted (its
 * presets "cannot be used normally"), has no online version (seed: only online mini programs),
 * is not bound (approved) to the host app, the host app's auditor has not approved the online
 * version (audit scope: a host app bound after the version was audited needs a binding audit
 * first), or its online version is encrypted (not offered offline yet: the key would have to
 * travel outside a short-lived manifest).
 */
export async function buildOfflinePackage(
  db: Db,
  env: AdminEnv,
  actor: Actor,
  appId: string,
  hostAppId: string,
  now = Date.now(),
): Promise<OfflinePackageFile> {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  if (!mp.listed)
    throw conflict(`${ONLY_ONLINE_MESSAGE}: the mini program is delisted, and its presets cannot be used`);
  if (!mp.onlineVersionId) throw conflict(`${ONLY_ONLINE_MESSAGE}: this one has no online version yet`);
  const binding = await db
    .select({ status: bindings.status })
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.hostAppId, hostAppId)))
    .get();
  if (binding?.status !== "approved")
    throw conflict(`the mini program has no approved binding to host app ${hostAppId}`);
  const version = await db.select().from(versions).where(eq(versions.id, mp.onlineVersionId)).get();
  if (!version) throw new Error(`online version ${mp.onlineVersionId} of ${appId} is missing`);
  // Audit scope: a preset is delivery too, so the host app that ships it must have approved it.
  if (!isApprovedBy(await approvalsOf(db, appId), version.version, hostAppId)) {
    throw conflict(
      `host app ${hostAppId} has not approved the online version ${version.version} in an audit: submit that version for a binding audit (POST /v1/mini-programs/${appId}/versions/${version.version}/submit) and download after its auditor approves`,
    );
  }
  if (version.encSha256 !== null)
    throw conflict(
      "the online version is encrypted; encrypted versions are not offered as offline packages yet",
    );
  await requireTrustedSignature(db, version);

  const object = await env.PACKAGES.get(packageKey(version.packageSha256));
  if (!object)
    throw new Error(`package ${version.packageSha256} of ${appId} ${version.version} is missing from R2`);
  const packageZip = new Uint8Array(await object.arrayBuffer());
  if (packageZip.byteLength !== version.packageSize)
    throw new Error(
      `package ${version.packageSha256} has ${packageZip.byteLength} bytes, ${version.packageSize} expected`,
    );

  const ref = packageRefOf(version);
  const iat = Math.floor(now / 1000);
  const claims: OfflineManifestClaims = {
    iss: MANIFEST_ISSUER,
    sub: appId,
    aud: hostAppId,
    iat,
    version: version.version,
    package: {
      sha256: ref.sha256,
      size: ref.size,
      ...(ref.files !== undefined ? { files: ref.files } : {}),
      ...(ref.signature !== undefined ? { signature: ref.signature } : {}),
    },
    kind: OFFLINE_KIND,
  };
  const jws = await env.EDGE_SIGNER.signOfflineManifest(claims);

  // Stored entries (level 0) in the order core/offline.ts fixes; the mtime is the build time.
  const mtime = new Date(iat * 1000);
  const bytes = zipSync(
    {
      [APKG_MANIFEST_ENTRY]: [new TextEncoder().encode(jws), { level: 0, mtime }],
      [APKG_PACKAGE_ENTRY]: [packageZip, { level: 0, mtime }],
    },
    { level: 0 },
  );

  const fileName = apkgFileName(appId, version.version);
  await db.batch([
    db.insert(offlinePackages).values({
      id: randomId("off_", 10),
      miniProgramId: appId,
      versionId: version.id,
      version: version.version,
      packageSha256: version.packageSha256,
      downloadedBy: actor.userId,
      createdAt: now,
    }),
    recordChange(
      db,
      actor,
      {
        action: "offline_package.download",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { version: version.version, hostAppId, fileName },
      },
      now,
    ),
  ]);
  return { fileName, version: version.version, bytes };
}
