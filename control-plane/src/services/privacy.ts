/**
 * Privacy agreement (PRODUCT.md X7; seed "Settings": "Set up a user privacy protection agreement
 * and modify it directly based on the provided template"). The platform's template has
 * placeholders (core/runtime-config.ts PRIVACY_TEMPLATE); the team fills in a draft, previews it,
 * and publishes numbered versions (1, 2, ...), immutable once published. The published text is
 * stored content-addressed in R2 (`privacy/{sha256}`, served by the edge at
 * `/v1/privacy/{sha256}`), and the latest version and its sha256 reach clients in the runtime
 * config, so a client can tell a user must accept a new version.
 *
 * Roles: team members read; admins and developers edit the draft and publish.
 */
import { and, desc, eq } from "drizzle-orm";
import { conflict, notFound } from "../../../core/errors";
import {
  PRIVACY_PLACEHOLDERS,
  PRIVACY_TEMPLATE,
  type PrivacyFields,
  privacyKey,
  renderPrivacy,
} from "../../../core/runtime-config";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { privacyAgreements, privacyDrafts } from "../db/schema";
import { sha256Hex } from "../lib/encoding";
import { READ_ROLES, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange } from "./change-log";
import { guardedWrite } from "./d1";
import { bumpConfigRevision } from "./runtime-config";
import { publishCurrentSnapshot } from "./snapshot";

const textUrl = (sha256: string) => `/v1/privacy/${sha256}`;

export function privacyTemplate() {
  return {
    template: PRIVACY_TEMPLATE,
    placeholders: [...PRIVACY_PLACEHOLDERS, "miniProgramName", "version"],
  };
}

export async function getDraft(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const row = await db.select().from(privacyDrafts).where(eq(privacyDrafts.miniProgramId, appId)).get();
  if (!row) throw notFound("privacy draft");
  return {
    fields: JSON.parse(row.fields) as PrivacyFields,
    updatedBy: row.updatedBy,
    updatedAt: row.updatedAt,
  };
}

export async function saveDraft(db: Db, actor: Actor, appId: string, fields: PrivacyFields) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const now = Date.now();
  const json = JSON.stringify(fields);
  await db.batch([
    db
      .insert(privacyDrafts)
      .values({ miniProgramId: appId, fields: json, updatedBy: actor.userId, updatedAt: now })
      .onConflictDoUpdate({
        target: privacyDrafts.miniProgramId,
        set: { fields: json, updatedBy: actor.userId, updatedAt: now },
      }),
    recordChange(
      db,
      actor,
      { action: "privacy.draft", teamId: mp.teamId, targetType: "mini_program", targetId: appId },
      now,
    ),
  ]);
  return { fields, updatedBy: actor.userId, updatedAt: now };
}

/** The text `fields` (or the saved draft) renders to, as the next version would publish it. */
export async function previewPrivacy(db: Db, actor: Actor, appId: string, fields: PrivacyFields | undefined) {
  const mp = await requireMiniProgram(db, actor, appId, READ_ROLES);
  const use = fields ?? (await getDraft(db, actor, appId)).fields;
  const next = ((await latest(db, appId))?.version ?? 0) + 1;
  return { version: next, text: renderPrivacy(use, mp.name, next) };
}

function latest(db: Db, appId: string) {
  return db
    .select()
    .from(privacyAgreements)
    .where(eq(privacyAgreements.miniProgramId, appId))
    .orderBy(desc(privacyAgreements.version))
    .limit(1)
    .get();
}

function describeVersion(row: typeof privacyAgreements.$inferSelect) {
  return {
    version: row.version,
    sha256: row.sha256,
    url: textUrl(row.sha256),
    publishedBy: row.publishedBy,
    publishedAt: row.publishedAt,
  };
}

/** Publishes the draft as the next numbered version; clients see it in seconds. */
export async function publishPrivacy(db: Db, bucket: R2Bucket, actor: Actor, appId: string) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const draft = await db.select().from(privacyDrafts).where(eq(privacyDrafts.miniProgramId, appId)).get();
  if (!draft) throw conflict("there is no draft to publish: save one from the template first");
  const previous = await latest(db, appId);
  if (previous && previous.fields === draft.fields)
    throw conflict(`the draft is the same as published version ${previous.version}`);
  const version = (previous?.version ?? 0) + 1;
  const text = renderPrivacy(JSON.parse(draft.fields) as PrivacyFields, mp.name, version);
  const sha256 = await sha256Hex(text);
  // Content-addressed and immutable: written before the version exists, so a client never gets
  // a URL whose text is missing; an orphan from a failed batch is harmless.
  await bucket.put(privacyKey(sha256), text, {
    httpMetadata: { contentType: "text/plain; charset=utf-8" },
  });
  const now = Date.now();
  const row = {
    miniProgramId: appId,
    version,
    fields: draft.fields,
    text,
    sha256,
    publishedBy: actor.userId,
    publishedAt: now,
  };
  await guardedWrite(
    db.batch([
      db.insert(privacyAgreements).values(row),
      recordChange(
        db,
        actor,
        {
          action: "privacy.publish",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: { version, sha256 },
        },
        now,
      ),
      bumpConfigRevision(db, appId),
    ]),
    `version ${version} was published by someone else first`,
  );
  await publishCurrentSnapshot(db, bucket, appId);
  return describeVersion(row);
}

export async function listPrivacyVersions(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(privacyAgreements)
    .where(eq(privacyAgreements.miniProgramId, appId))
    .orderBy(desc(privacyAgreements.version))
    .all();
  return rows.map((r) => describeVersion(r));
}

export async function getPrivacyVersion(db: Db, actor: Actor, appId: string, version: number) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const row = await db
    .select()
    .from(privacyAgreements)
    .where(and(eq(privacyAgreements.miniProgramId, appId), eq(privacyAgreements.version, version)))
    .get();
  if (!row) throw notFound(`privacy agreement version ${version}`);
  return { ...describeVersion(row), fields: JSON.parse(row.fields) as PrivacyFields, text: row.text };
}
