/**
 * Uploads, version lists and details, the version overview and the trial version
 * (PRODUCT.md V1, V5, V6). Audits live in audits.ts, publish and rollback in releases.ts.
 */
import { and, desc, eq, inArray, ne, sql } from "drizzle-orm";
import { ApiError, ErrorCode, notFound } from "../../../core/errors";
import { filesDigest } from "../../../core/increment";
import { checkUpload, type Refusal } from "../../../core/lifecycle";
import { compareVersions, versionKey } from "../../../core/semver";
import { fileManifestKey, packageKey } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { auditReviews, audits, miniPrograms, releases, trialTesters, versions } from "../db/schema";
import { randomId, sha256Hex } from "../lib/encoding";
import { inspectPackage, readLimitedBody } from "../lib/package-archive";
import type { TrialConfigInput } from "../routes/versions";
import { READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { unreviewedHostAppsOf } from "./audit-scope";
import { recordChange } from "./change-log";
import { guardedWrite, runBatch } from "./d1";
import { requirePackageKeySecret, storeEncrypted } from "./package-encryption";
import { bumpConfigRevision } from "./runtime-config";
import { type PackageSignature, uploadSigningKey, verifyPackageSignature } from "./signing-keys";
import { bumpSnapshotRevision, publishCurrentSnapshot } from "./snapshot";

/** Largest accepted code package (zip bytes). */
export const MAX_PACKAGE_BYTES = 32 * 1024 * 1024;

export type VersionRow = typeof versions.$inferSelect;

export function refusalError(refusal: Refusal): ApiError {
  return new ApiError(ErrorCode.Conflict, refusal.message, undefined, refusal.rule);
}

export async function liveVersions(db: Db, appId: string): Promise<VersionRow[]> {
  return db
    .select()
    .from(versions)
    .where(and(eq(versions.miniProgramId, appId), ne(versions.status, "discarded")))
    .orderBy(desc(versions.versionKey))
    .all();
}

export async function requireVersion(db: Db, appId: string, version: string): Promise<VersionRow> {
  const row = await db
    .select()
    .from(versions)
    .where(
      and(eq(versions.miniProgramId, appId), eq(versions.version, version), ne(versions.status, "discarded")),
    )
    .get();
  if (!row) throw notFound("version");
  return row;
}

/**
 * seed: "Use the code package format to upload the files packaged by the ... IDE tool here for
 * new version release." The zip is read with a hard size limit, inspected file by file, stored
 * once in R2 under its SHA-256, and becomes the development version (replacing an unsubmitted
 * or rejected one).
 */
export async function uploadVersion(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  input: {
    version: string;
    description?: string | undefined;
    body: ReadableStream<Uint8Array> | null;
    signature?: PackageSignature | undefined;
    packageKeySecret?: string | undefined;
  },
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const existing = await liveVersions(db, appId);
  const kept = existing.filter((v) => v.status !== "development" && v.status !== "rejected");
  const refusal = checkUpload(input.version, kept);
  if (refusal) throw refusalError(refusal);

  // PRODUCT.md S2: a missing, unknown or revoked signing key is refused before the body is read,
  // a signature that does not verify before anything is stored (services/signing-keys.ts).
  const signingKey = await uploadSigningKey(db, mp.teamId, input.signature);
  if (mp.encryptPackages) requirePackageKeySecret(input.packageKeySecret);
  const zip = await readLimitedBody(input.body, MAX_PACKAGE_BYTES);
  const inspection = await inspectPackage(zip);
  const filesSha256 = await filesDigest(inspection.files, sha256Hex);
  if (signingKey && input.signature)
    await verifyPackageSignature(signingKey, input.signature, appId, input.version, filesSha256);
  // PRODUCT.md S3: an encrypted version's plaintext never goes under the served prefix.
  const encrypted = mp.encryptPackages
    ? await storeEncrypted(bucket, input.packageKeySecret, appId, input.version, zip, inspection.sha256)
    : undefined;
  if (!encrypted && !(await bucket.head(packageKey(inspection.sha256)))) {
    await bucket.put(packageKey(inspection.sha256), zip, {
      httpMetadata: { contentType: "application/zip" },
      sha256: inspection.sha256,
    });
  }
  await bucket.put(
    fileManifestKey(inspection.sha256),
    JSON.stringify({ sha256: inspection.sha256, size: inspection.size, files: inspection.files }),
    {
      httpMetadata: { contentType: "application/json" },
    },
  );

  const replaced = existing.filter((v) => v.status === "development" || v.status === "rejected");
  const id = randomId("ver_", 10);
  const now = Date.now();
  await guardedWrite(
    runBatch(db, [
      ...(replaced.length
        ? [
            db
              .update(versions)
              .set({ status: "discarded" })
              .where(
                inArray(
                  versions.id,
                  replaced.map((v) => v.id),
                ),
              ),
          ]
        : []),
      db.insert(versions).values({
        id,
        miniProgramId: appId,
        version: input.version,
        versionKey: versionKey(input.version),
        status: "development",
        description: input.description ?? "",
        packageSha256: inspection.sha256,
        packageSize: inspection.size,
        fileCount: inspection.files.length,
        unpackedSize: inspection.unpackedSize,
        filesSha256,
        ...(encrypted ?? {}),
        signatureKid: input.signature?.kid ?? null,
        signatureAlg: input.signature?.alg ?? null,
        signature: input.signature?.sig ?? null,
        uploadedBy: actor.userId,
        createdAt: now,
      }),
      recordChange(
        db,
        actor,
        {
          action: "version.upload",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: {
            version: input.version,
            sha256: inspection.sha256,
            size: inspection.size,
            replaced: replaced.map((v) => v.version),
            ...(input.signature ? { signatureKid: input.signature.kid } : {}),
            ...(encrypted ? { encrypted: true } : {}),
          },
        },
        now,
      ),
      // The trial version is the newest development version: clients see it when a trial is set.
      ...(mp.trialPagePath ? [bumpSnapshotRevision(db, appId)] : []),
    ]),
    "this version number was taken by a concurrent upload",
  );
  if (mp.trialPagePath) await publishCurrentSnapshot(db, bucket, appId);
  return describeVersion(await requireVersion(db, appId, input.version), mp.onlineVersionId);
}

export function describeVersion(v: VersionRow, onlineVersionId: string | null) {
  return {
    id: v.id,
    version: v.version,
    status: v.status,
    online: v.id === onlineVersionId,
    description: v.description,
    package: {
      sha256: v.packageSha256,
      size: v.packageSize,
      fileCount: v.fileCount,
      unpackedSize: v.unpackedSize,
      filesSha256: v.filesSha256,
    },
    signature: v.signatureKid && v.signatureAlg ? { kid: v.signatureKid, alg: v.signatureAlg } : null,
    encrypted: v.encSha256 !== null,
    uploadedBy: v.uploadedBy,
    createdAt: v.createdAt,
    firstReleasedAt: v.firstReleasedAt,
  };
}

export async function listVersions(db: Db, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  return (await liveVersions(db, appId)).map((v) => describeVersion(v, mp.onlineVersionId));
}

/** One version with its file manifest (path, size, sha256 of every file). */
export async function getVersion(db: Db, bucket: R2Bucket, actor: Actor, appId: string, version: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  const row = await requireVersion(db, appId, version);
  const manifest = await bucket.get(fileManifestKey(row.packageSha256));
  const files = manifest
    ? ((await manifest.json()) as { files: { path: string; size: number; sha256: string }[] }).files
    : [];
  return { ...describeVersion(row, mp.onlineVersionId), files };
}

/** PRODUCT.md V6 / seed: "Displays the current online version of the mini program, version audit progress, and development version information." */
export async function versionOverview(db: Db, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  const all = await liveVersions(db, appId);
  const online = all.find((v) => v.id === mp.onlineVersionId) ?? null;
  const inAudit = all.find((v) => v.status === "in_audit") ?? null;
  const development = all.find((v) => v.status === "development" || v.status === "rejected") ?? null;
  const history = await releaseHistory(db, appId, 10);
  let auditProgress = null;
  if (inAudit) {
    const audit = await db
      .select()
      .from(audits)
      .where(and(eq(audits.versionId, inAudit.id), eq(audits.status, "pending")))
      .get();
    if (audit) {
      const reviews = await db.select().from(auditReviews).where(eq(auditReviews.auditId, audit.id)).all();
      auditProgress = {
        auditId: audit.id,
        submittedAt: audit.submittedAt,
        reviews: reviews.map((r) => ({
          hostAppId: r.hostAppId,
          decision: r.decision,
          reason: r.reason,
          decidedAt: r.decidedAt,
        })),
      };
    }
  }
  const describe = (v: VersionRow | null) => (v ? describeVersion(v, mp.onlineVersionId) : null);
  // Audit scope: bound host apps that have not approved the online version, and a binding audit in progress.
  const [awaitingAudit, bindingAudit] = await Promise.all([
    online ? unreviewedHostAppsOf(db, appId, online.version) : [],
    bindingAuditInProgress(db, appId),
  ]);
  return {
    listed: mp.listed,
    online: online
      ? { ...describeVersion(online, mp.onlineVersionId), via: mp.lastReleaseVia, awaitingAudit }
      : null,
    inAudit: inAudit ? { ...describeVersion(inAudit, mp.onlineVersionId), progress: auditProgress } : null,
    bindingAudit,
    development: describe(development),
    approved: all.filter((v) => v.status === "approved").map((v) => describeVersion(v, mp.onlineVersionId)),
    rollbackCandidates: rollbackCandidates(all, online),
    rollbackAllowed:
      mp.lastReleaseVia !== "rollback" && online !== null && rollbackCandidates(all, online).length > 0,
    releases: history,
  };
}

/** The pending binding audit of the mini program (core/audit-scope.ts), with its reviews so far; null when none. */
async function bindingAuditInProgress(db: Db, appId: string) {
  const row = await db
    .select({ audit: audits, version: versions.version })
    .from(audits)
    .innerJoin(versions, eq(versions.id, audits.versionId))
    .where(and(eq(audits.miniProgramId, appId), eq(audits.status, "pending"), eq(audits.kind, "binding")))
    .get();
  if (!row) return null;
  const reviews = await db.select().from(auditReviews).where(eq(auditReviews.auditId, row.audit.id)).all();
  return {
    auditId: row.audit.id,
    version: row.version,
    submittedAt: row.audit.submittedAt,
    reviews: reviews.map((r) => ({
      hostAppId: r.hostAppId,
      decision: r.decision,
      reason: r.reason,
      decidedAt: r.decidedAt,
    })),
  };
}

/** Released versions lower than the online one, newest first (the rollback menu, PRODUCT.md V4). */
export function rollbackCandidates(all: readonly VersionRow[], online: VersionRow | null): string[] {
  if (!online) return [];
  return all
    .filter((v) => v.status === "released" && compareVersions(v.version, online.version) < 0)
    .sort((a, b) => compareVersions(b.version, a.version))
    .slice(0, 5)
    .map((v) => v.version);
}

export async function releaseHistory(db: Db, appId: string, limit = 100) {
  const rows = await db
    .select()
    .from(releases)
    .where(eq(releases.miniProgramId, appId))
    .orderBy(desc(releases.seq))
    .limit(limit)
    .all();
  return rows.map((r) => ({
    seq: r.seq,
    version: r.version,
    via: r.via,
    fromVersion: r.fromVersion,
    releasedBy: r.releasedBy,
    releasedAt: r.releasedAt,
  }));
}

export async function listReleases(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  return releaseHistory(db, appId);
}

/** seed: "Configure the trial version: Configure the applet to open the page and use relative address configuration." */
export async function setTrial(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  appId: string,
  input: TrialConfigInput,
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const testers = [...new Set(input.testers)];
  const now = Date.now();
  await db.batch([
    db
      .update(miniPrograms)
      .set({ trialPagePath: input.pagePath, updatedAt: now })
      .where(eq(miniPrograms.id, appId)),
    db.delete(trialTesters).where(eq(trialTesters.miniProgramId, appId)),
    ...testers.map((account) => db.insert(trialTesters).values({ miniProgramId: appId, account })),
    recordChange(
      db,
      actor,
      {
        action: "trial.set",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { pagePath: input.pagePath, testers: testers.length },
      },
      now,
    ),
    // The trial path is part of the runtime config (D5): its revision grows with the snapshot's.
    bumpConfigRevision(db, appId),
  ]);
  await publishCurrentSnapshot(db, bucket, appId);
  return getTrial(db, actor, appId);
}

export async function getTrial(db: Db, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  const testers = await db
    .select({ account: trialTesters.account })
    .from(trialTesters)
    .where(eq(trialTesters.miniProgramId, appId))
    .orderBy(sql`account`)
    .all();
  const all = await liveVersions(db, appId);
  const dev = all
    .filter((v) => v.status === "development" || v.status === "rejected" || v.status === "in_audit")
    .sort((a, b) => b.createdAt - a.createdAt)[0];
  return {
    pagePath: mp.trialPagePath,
    testers: testers.map((t) => t.account),
    version: dev?.version ?? null,
  };
}
