/**
 * Subscription messages, the admin side (PRODUCT.md T1, T2, T5; issue 14; seed "Subscription
 * Message"): the public template library, a mini program's "My Template"s, and a host app's push
 * webhook with its dead-letter records. Clients' subscribe and inbox calls and the server send are
 * in services/message-delivery.ts; the webhook queue in services/message-webhooks.ts.
 *
 * Roles: the library is readable by every signed-in user; "My Template" is the owning team's
 * (read: any member; add and delete: admin or developer); the webhook is the host app's (its
 * managers configure it; managers and auditors read it and its dead letters).
 */
import { and, desc, eq } from "drizzle-orm";
import type { z } from "zod";
import type {
  AddMyTemplateSchema,
  LibraryQuerySchema,
  PutWebhookSchema,
} from "../../../core/contracts/messages";
import { ApiError, notFound } from "../../../core/errors";
import { PUBLIC_TEMPLATES, publicTemplateById } from "../../../core/message-templates";
import {
  chooseKeywords,
  keywordSetKey,
  type PublicTemplate,
  previewText,
  type TemplateKeyword,
} from "../../../core/messages";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { messageDeadLetters, messageTemplates, messageWebhooks } from "../db/schema";
import type { AdminBindings } from "../env";
import { randomId, webhookSecret } from "../lib/encoding";
import { before, pageOf } from "../lib/keyset";
import { READ_ROLES, requireHostAppRole, requireMiniProgram, WRITE_ROLES } from "./access";
import { recordChange, recordChangeIfChanged } from "./change-log";
import { guardedWrite } from "./d1";
import { seal } from "./message-seal";

// ---------------------------------------------------------------- T1 library

/** The library page matching the filters: every word of `q` in the title, then type and category. */
export function searchLibrary(query: z.infer<typeof LibraryQuerySchema>) {
  const words = (query.q ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const matching = PUBLIC_TEMPLATES.filter(
    (t) =>
      (query.type === undefined || t.type === query.type) &&
      (query.category === undefined || t.category === query.category) &&
      words.every((w) => t.title.toLowerCase().includes(w)),
  );
  const start = (query.page - 1) * query.pageSize;
  return {
    templates: matching
      .slice(start, start + query.pageSize)
      .map((t) => ({ ...t, keywords: [...t.keywords] })),
    total: matching.length,
    page: query.page,
    pageSize: query.pageSize,
  };
}

export function requirePublicTemplate(id: string): PublicTemplate {
  const t = publicTemplateById(id);
  if (!t) throw notFound("public template");
  return t;
}

// ---------------------------------------------------------------- T2 My Template

type TemplateRow = typeof messageTemplates.$inferSelect;

function toMyTemplate(row: TemplateRow) {
  const keywords = JSON.parse(row.keywords) as TemplateKeyword[];
  return {
    templateId: row.id,
    appId: row.miniProgramId,
    publicTemplateId: row.publicTemplateId,
    title: row.title,
    category: row.category as PublicTemplate["category"],
    type: row.type,
    keywords,
    preview: previewText(row.title, keywords),
    createdBy: row.createdBy,
    createdAt: row.createdAt,
  };
}

/** The chosen keywords of `body`, or a 400 naming what is wrong (the seed's 1 to 5). */
function chosen(body: z.infer<typeof AddMyTemplateSchema>) {
  const template = requirePublicTemplate(body.publicTemplateId);
  const r = chooseKeywords(template, body.keywords);
  if (!r.ok) {
    const p = r.problem;
    const message =
      p.kind === "keyword_count"
        ? "choose 1 to 5 keywords (seed: 'Developers can select 1 to 5 keywords from the keyword list')"
        : p.kind === "unknown_keyword"
          ? `${p.key} is not a keyword of ${template.id}; its keywords are ${template.keywords.map((k) => k.key).join(", ")}`
          : `${p.key} is chosen twice: each keyword once`;
    throw new ApiError("bad_request", message);
  }
  return { template, keywords: r.keywords };
}

/** The preview of a template not added yet (the console's left-hand preview). */
export async function previewMyTemplate(
  db: Db,
  actor: Actor,
  appId: string,
  body: z.infer<typeof AddMyTemplateSchema>,
) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const { template, keywords } = chosen(body);
  return {
    title: template.title,
    type: template.type,
    keywords,
    preview: previewText(template.title, keywords),
  };
}

export async function listMyTemplates(db: Db, actor: Actor, appId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const rows = await db
    .select()
    .from(messageTemplates)
    .where(eq(messageTemplates.miniProgramId, appId))
    .orderBy(desc(messageTemplates.createdAt), messageTemplates.id)
    .all();
  return { templates: rows.map(toMyTemplate) };
}

const DUPLICATE =
  "this public template is already in My Template with the same keywords (seed: 'the keywords cannot be repeated'): choose a different keyword set, or use the template you have";

export async function addMyTemplate(
  db: Db,
  actor: Actor,
  appId: string,
  body: z.infer<typeof AddMyTemplateSchema>,
  now = Date.now(),
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const { template, keywords } = chosen(body);
  const keywordSet = keywordSetKey(keywords.map((k) => k.key));
  const existing = await db
    .select({ id: messageTemplates.id })
    .from(messageTemplates)
    .where(
      and(
        eq(messageTemplates.miniProgramId, appId),
        eq(messageTemplates.publicTemplateId, template.id),
        eq(messageTemplates.keywordSet, keywordSet),
      ),
    )
    .get();
  if (existing) throw new ApiError("conflict", `${DUPLICATE} (${existing.id})`);
  const row: TemplateRow = {
    id: randomId("mt", 15),
    miniProgramId: appId,
    publicTemplateId: template.id,
    keywordSet,
    title: template.title,
    category: template.category,
    type: template.type,
    keywords: JSON.stringify(keywords),
    createdBy: actor.userId,
    createdAt: now,
  };
  // The unique index decides a race between two identical adds: the loser's batch rolls back.
  await guardedWrite(
    db.batch([
      db.insert(messageTemplates).values(row),
      recordChange(
        db,
        actor,
        {
          action: "message_template.add",
          teamId: mp.teamId,
          targetType: "mini_program",
          targetId: appId,
          detail: { templateId: row.id, publicTemplateId: template.id, keywords: keywords.map((k) => k.key) },
        },
        now,
      ),
    ]),
    DUPLICATE,
  );
  return toMyTemplate(row);
}

/** Deletes a template and its subscriptions (ON DELETE CASCADE); delivered messages stay in inboxes. */
export async function deleteMyTemplate(
  db: Db,
  actor: Actor,
  appId: string,
  templateId: string,
  now = Date.now(),
) {
  const mp = await requireMiniProgram(db, actor, appId, WRITE_ROLES);
  const [deleted] = await db.batch([
    db
      .delete(messageTemplates)
      .where(and(eq(messageTemplates.id, templateId), eq(messageTemplates.miniProgramId, appId)))
      .returning({ id: messageTemplates.id }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "message_template.delete",
        teamId: mp.teamId,
        targetType: "mini_program",
        targetId: appId,
        detail: { templateId },
      },
      now,
    ),
  ]);
  // Nothing deleted: the audit entry was not written either (changes() = 0).
  if (deleted.length === 0) throw notFound("template");
  return { ok: true as const };
}

// ---------------------------------------------------------------- T5 webhook

type WebhookRow = typeof messageWebhooks.$inferSelect;
const webhookView = (row: WebhookRow, secret?: string) => ({
  hostAppId: row.hostAppId,
  url: row.url,
  secretSetAt: row.secretSetAt,
  updatedBy: row.updatedBy,
  updatedAt: row.updatedAt,
  ...(secret === undefined ? {} : { secret }),
});

export async function getWebhook(db: Db, actor: Actor, hostAppId: string) {
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const row = await db.select().from(messageWebhooks).where(eq(messageWebhooks.hostAppId, hostAppId)).get();
  if (!row) throw notFound("message webhook");
  return webhookView(row);
}

/**
 * Sets the URL; a first configuration or `rotateSecret` makes a new signing secret, answered once.
 * The secret is sealed (services/message-seal.ts), never logged, never in the audit trail.
 */
export async function putWebhook(
  env: AdminBindings,
  db: Db,
  actor: Actor,
  hostAppId: string,
  body: z.infer<typeof PutWebhookSchema>,
  now = Date.now(),
) {
  await requireHostAppRole(db, actor, hostAppId, ["manager"]);
  const existing = await db
    .select()
    .from(messageWebhooks)
    .where(eq(messageWebhooks.hostAppId, hostAppId))
    .get();
  let secret: string | undefined;
  let secretSealed = existing?.secretSealed;
  let secretSetAt = existing?.secretSetAt ?? now;
  if (!existing || body.rotateSecret) {
    secret = webhookSecret();
    secretSealed = await seal(env.MESSAGE_WEBHOOK_KEY, "webhook secret", hostAppId, secret);
    secretSetAt = now;
  }
  const row: WebhookRow = {
    hostAppId,
    url: body.url,
    secretSealed: secretSealed!,
    secretSetAt,
    updatedBy: actor.userId,
    updatedAt: now,
  };
  await db.batch([
    db
      .insert(messageWebhooks)
      .values(row)
      .onConflictDoUpdate({
        target: messageWebhooks.hostAppId,
        set: {
          url: row.url,
          secretSealed: row.secretSealed,
          secretSetAt,
          updatedBy: actor.userId,
          updatedAt: now,
        },
      }),
    recordChange(
      db,
      actor,
      {
        action: "message_webhook.put",
        teamId: null,
        targetType: "host_app",
        targetId: hostAppId,
        detail: { url: body.url, secretRotated: secret !== undefined },
      },
      now,
    ),
  ]);
  return webhookView(row, secret);
}

export async function deleteWebhook(db: Db, actor: Actor, hostAppId: string, now = Date.now()) {
  await requireHostAppRole(db, actor, hostAppId, ["manager"]);
  const [deleted] = await db.batch([
    db
      .delete(messageWebhooks)
      .where(eq(messageWebhooks.hostAppId, hostAppId))
      .returning({ id: messageWebhooks.hostAppId }),
    recordChangeIfChanged(
      db,
      actor,
      { action: "message_webhook.delete", teamId: null, targetType: "host_app", targetId: hostAppId },
      now,
    ),
  ]);
  if (deleted.length === 0) throw notFound("message webhook");
  return { ok: true as const };
}

export async function listDeadLetters(
  db: Db,
  actor: Actor,
  hostAppId: string,
  cursor: string | undefined,
  limit: number,
) {
  await requireHostAppRole(db, actor, hostAppId, ["manager", "auditor"]);
  const t = messageDeadLetters;
  const rows = await db
    .select()
    .from(t)
    .where(and(eq(t.hostAppId, hostAppId), before(t.createdAt, t.id, cursor)))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(limit + 1)
    .all();
  const { page, nextCursor } = pageOf(rows, limit);
  return {
    deadLetters: page.map((r) => ({
      id: r.id,
      hostAppId: r.hostAppId,
      messageId: r.messageId,
      appId: r.miniProgramId,
      url: r.url,
      attempts: r.attempts,
      lastError: r.lastError,
      createdAt: r.createdAt,
    })),
    nextCursor,
  };
}
