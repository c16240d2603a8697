/**
 * Subscription messages, the delivery side (PRODUCT.md T3-T5; issue 14; seed "Subscription
 * Message"): a verified user's subscribe call and inbox (forwarded by the edge with a user proof,
 * core/user-proof.ts), the server's `POST /cgi-bin/message/subscribe/send`, and the cron's sweep.
 *
 * Quota, exact under concurrency (T4: "a one-time subscription allows exactly one message; a
 * long-term subscription allows at most 5 messages per day per template and user"): a send is one
 * D1 batch (one transaction) of two statements. The first takes the allowance with a conditional
 * write — one-time: `credits = credits - 1 ... WHERE credits > 0`; long-term: an upsert of the
 * day's row `used = used + 1 ... WHERE used < 5` — and stamps the row with the new message's id.
 * The second inserts the inbox row only if that stamp is there, i.e. only if the first statement
 * wrote. D1 runs one write at a time, so N concurrent sends find exactly the allowance; and all
 * validation happens before the batch, which commits or rolls back as a whole, so a refused or
 * failed send consumes nothing. A day is a calendar day in China Standard Time (core/messages.ts).
 */
import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import type { SendRequest } from "../../../core/contracts/messages";
import { SendRequestSchema } from "../../../core/contracts/messages";
import { ApiError } from "../../../core/errors";
import {
  checkSendData,
  INBOX_RETENTION_MS,
  KEYWORD_TYPE_RULES,
  LONG_TERM_DAILY_LIMIT,
  planSubscribe,
  QUOTA_DAY_OFFSET_MS,
  quotaDay,
  type TemplateKeyword,
} from "../../../core/messages";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../../core/rate-limit";
import { ServerErrcode } from "../../../core/server-errcode";
import type { ProvenUser } from "../../../core/user-proof";
import type { Db } from "../db/client";
import {
  messageDeadLetters,
  messageInbox,
  messageQuota,
  messageSubscriptions,
  messageTemplates,
  messageWebhooks,
} from "../db/schema";
import type { AdminBindings } from "../env";
import { randomId } from "../lib/encoding";
import { before, pageOf } from "../lib/keyset";
import { seal } from "./message-seal";
import { enqueuePush } from "./message-webhooks";
import { authenticateAccessToken, MIN_USER_ID_KEY_LENGTH, openIdOf, ServerApiError } from "./server-api";

/** WeChat's subscribeMessage.send error codes (Tencent's mini program platform uses the same). */
export const SendErrcode = {
  /** touser is not an openid of this mini program */
  INVALID_OPENID: 40003,
  /** template_id is not one of this mini program's templates */
  INVALID_TEMPLATE: 40037,
  /** a long-term template's 5 messages for this user today are sent */
  QUOTA_REACHED: 40038,
  /** page is not a valid page path */
  INVALID_PAGE: 41030,
  /** no subscription: never accepted, rejected, or the one-time message was sent */
  NOT_SUBSCRIBED: 43101,
  /** the body is not the JSON the API takes */
  BAD_BODY: 47001,
  /** data does not fit the template's keywords (missing, extra, or a value breaking its type) */
  INVALID_DATA: 47003,
} as const;

function userKey(env: AdminBindings): string {
  const k = env.USER_ID_KEY;
  if (!k || k.length < MIN_USER_ID_KEY_LENGTH) {
    console.error("subscription messages: USER_ID_KEY is not set");
    throw new ApiError("internal", "the platform is not configured for subscription messages");
  }
  return k;
}

const parseKeywords = (json: string) => JSON.parse(json) as TemplateKeyword[];

// ---------------------------------------------------------------- T3 subscribe

export async function subscribe(
  env: AdminBindings,
  db: Db,
  user: ProvenUser,
  choices: readonly { templateId: string; decision: "accept" | "reject" }[],
  now = Date.now(),
) {
  const ids = [...new Set(choices.map((c) => c.templateId))];
  const rows = await db
    .select({ id: messageTemplates.id, title: messageTemplates.title, type: messageTemplates.type })
    .from(messageTemplates)
    .where(and(eq(messageTemplates.miniProgramId, user.appId), inArray(messageTemplates.id, ids)))
    .all();
  const unknown = ids.filter((id) => !rows.some((r) => r.id === id));
  if (unknown.length > 0)
    throw new ApiError("bad_request", `not templates of this mini program: ${unknown.join(", ")}`);
  const candidates = ids.map((id) => {
    const r = rows.find((row) => row.id === id)!;
    return { templateId: id, title: r.title, type: r.type };
  });
  const plan = planSubscribe(candidates);
  if (!plan.ok)
    throw new ApiError(
      "bad_request",
      plan.reason === "mixed_types"
        ? "one-time and long-term templates cannot be subscribed in one call (seed: 'One-time template IDs and long-term subscription template IDs cannot be used at the same time')"
        : "subscribe to 1 to 3 templates per call (seed: 'A maximum of 3 messages can be subscribed in one call')",
    );
  const openid = await openIdOf(userKey(env), user.appId, user.hostAppId, user.account);
  const accountSealed = await seal(
    env.MESSAGE_WEBHOOK_KEY,
    "subscriber account",
    user.hostAppId,
    user.account,
  );
  const results: Record<string, "accept" | "reject" | "filter"> = {};
  const writes = plan.kept.map((t) => {
    const decision = choices.find((c) => c.templateId === t.templateId)!.decision;
    results[t.templateId] = decision;
    // One-time: each accept allows one more message; a reject adds none (earlier ones stay:
    // each was its own consent). Long-term: the latest decision holds.
    const credit = t.type === "one-time" && decision === "accept" ? 1 : 0;
    return db
      .insert(messageSubscriptions)
      .values({
        templateId: t.templateId,
        openid,
        miniProgramId: user.appId,
        hostAppId: user.hostAppId,
        accountSealed,
        type: t.type,
        status: decision,
        credits: credit,
        updatedAt: now,
      })
      .onConflictDoUpdate({
        target: [messageSubscriptions.templateId, messageSubscriptions.openid],
        set: {
          status: decision,
          credits: sqlAdd(credit),
          hostAppId: user.hostAppId,
          accountSealed,
          updatedAt: now,
        },
      });
  });
  for (const dropped of Object.keys(plan.collapsed)) results[dropped] = "filter";
  const [first, ...rest] = writes;
  if (first) await db.batch([first, ...rest]);
  return { errMsg: "requestSubscribeMessage:ok" as const, results };
}

const sqlAdd = (n: number) => sql`${messageSubscriptions.credits} + ${n}`;

// ---------------------------------------------------------------- T5 inbox

export async function readInbox(
  env: AdminBindings,
  db: Db,
  user: ProvenUser,
  cursor: string | undefined,
  limit: number,
) {
  const openid = await openIdOf(userKey(env), user.appId, user.hostAppId, user.account);
  const t = messageInbox;
  const rows = await db
    .select()
    .from(t)
    .where(and(eq(t.miniProgramId, user.appId), eq(t.openid, openid), before(t.createdAt, t.id, cursor)))
    .orderBy(desc(t.createdAt), desc(t.id))
    .limit(limit + 1)
    .all();
  const { page, nextCursor } = pageOf(rows, limit);
  return {
    messages: page.map((r) => ({
      id: r.id,
      templateId: r.templateId,
      title: r.title,
      page: r.page,
      lines: JSON.parse(r.lines) as { key: string; name: string; value: string }[],
      createdAt: r.createdAt,
      readAt: r.readAt,
    })),
    nextCursor,
  };
}

export async function markRead(
  env: AdminBindings,
  db: Db,
  user: ProvenUser,
  ids: readonly string[],
  now = Date.now(),
) {
  const openid = await openIdOf(userKey(env), user.appId, user.hostAppId, user.account);
  const updated = await db
    .update(messageInbox)
    .set({ readAt: now })
    .where(
      and(
        eq(messageInbox.miniProgramId, user.appId),
        eq(messageInbox.openid, openid),
        inArray(messageInbox.id, [...new Set(ids)]),
        isNull(messageInbox.readAt),
      ),
    )
    .returning({ id: messageInbox.id });
  return { marked: updated.length };
}

// ---------------------------------------------------------------- T4 send

const OPENID = /^o[A-Za-z0-9_-]{27}$/;
const PAGE = /^[^\u0000-\u001f\u007f\s]*$/;

const refuse = (errcode: number, errmsg: string, status: 400 | 403 | 429 = 400, retryAfterSeconds?: number) =>
  new ServerApiError(errcode as never, errmsg, status, retryAfterSeconds);

/** The body as the API takes it, or the WeChat error for what is wrong with it. */
export function parseSendBody(raw: unknown): SendRequest {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    throw refuse(SendErrcode.BAD_BODY, "data format error: the body must be a JSON object");
  const r = SendRequestSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = String(issue.path[0] ?? "");
  if (field === "touser") throw refuse(SendErrcode.INVALID_OPENID, "invalid openid: touser is required");
  if (field === "template_id") throw refuse(SendErrcode.INVALID_TEMPLATE, "invalid template_id");
  if (field === "page") throw refuse(SendErrcode.INVALID_PAGE, "invalid page: at most 1024 characters");
  throw refuse(
    SendErrcode.INVALID_DATA,
    `argument invalid! ${issue.path.join(".") || "body"}: ${issue.message}; data is { "<keyword key>": { "value": "..." } }`,
  );
}

/** Seconds until the next quota day starts (00:00 China Standard Time). */
const secondsToNextDay = (now: number) => {
  const day = 86_400_000;
  return Math.ceil((day - ((now + QUOTA_DAY_OFFSET_MS) % day)) / 1000);
};

/** `POST /cgi-bin/message/subscribe/send`: the message's id, or a ServerApiError. */
export async function sendMessage(
  env: AdminBindings,
  db: Db,
  accessToken: string | undefined,
  raw: unknown,
  now = Date.now(),
): Promise<{ errcode: 0; errmsg: "ok"; msgid: string }> {
  const { appId } = await authenticateAccessToken(db, accessToken, now);
  // A brake on floods per mini program (core/rate-limit.ts), its own key beside the token API's.
  const { success } = await env.SERVER_API_LIMITER.limit({ key: `send:${appId}` });
  if (!success)
    throw new ServerApiError(
      ServerErrcode.RATE_LIMITED,
      "api freq out of limit for this appid, retry after the Retry-After seconds",
      429,
      RATE_LIMIT_PERIOD_SECONDS.SERVER_API_LIMITER,
    );
  const body = parseSendBody(raw);
  const template = await db
    .select()
    .from(messageTemplates)
    .where(and(eq(messageTemplates.id, body.template_id), eq(messageTemplates.miniProgramId, appId)))
    .get();
  if (!template)
    throw refuse(SendErrcode.INVALID_TEMPLATE, "invalid template_id: not a template of this mini program");
  if (!OPENID.test(body.touser)) throw refuse(SendErrcode.INVALID_OPENID, "invalid openid");
  if (body.page !== undefined && !PAGE.test(body.page))
    throw refuse(SendErrcode.INVALID_PAGE, "invalid page: no spaces or control characters");
  const keywords = parseKeywords(template.keywords);
  const data = checkSendData(keywords, body.data);
  if (!data.ok) {
    const p = data.problem;
    throw refuse(
      SendErrcode.INVALID_DATA,
      p.kind === "missing"
        ? `argument invalid! data.${p.key} is missing: the template's keywords are ${keywords.map((k) => k.key).join(", ")}`
        : p.kind === "unexpected"
          ? `argument invalid! data.${p.key} is not a keyword of this template (${keywords.map((k) => k.key).join(", ")})`
          : `argument invalid! data.${p.key}.value must be ${p.type}: ${KEYWORD_TYPE_RULES[p.type]}`,
    );
  }
  const sub = await db
    .select()
    .from(messageSubscriptions)
    .where(
      and(eq(messageSubscriptions.templateId, template.id), eq(messageSubscriptions.openid, body.touser)),
    )
    .get();
  const notSubscribed = () =>
    refuse(
      SendErrcode.NOT_SUBSCRIBED,
      template.type === "one-time"
        ? "user refuse to accept the msg: no one-time subscription left (each allows one message)"
        : "user refuse to accept the msg: no long-term subscription",
      403,
    );
  if (!sub || (template.type === "one-time" ? sub.credits < 1 : sub.status !== "accept"))
    throw notSubscribed();

  const webhook = await db
    .select({ hostAppId: messageWebhooks.hostAppId })
    .from(messageWebhooks)
    .where(eq(messageWebhooks.hostAppId, sub.hostAppId))
    .get();
  const id = randomId("msg", 15);
  const lines = keywords.map((k) => ({ key: k.key, name: k.name, value: data.values[k.key]! }));
  const day = quotaDay(now);
  const D = env.DB;
  const take =
    template.type === "one-time"
      ? D.prepare(
          "UPDATE message_subscriptions SET credits = credits - 1, last_message_id = ?1, updated_at = ?2 WHERE template_id = ?3 AND openid = ?4 AND credits > 0",
        ).bind(id, now, template.id, body.touser)
      : D.prepare(
          `INSERT INTO message_quota (template_id, openid, day, used, last_message_id, updated_at)
           SELECT ?1, ?2, ?3, 1, ?4, ?5 WHERE EXISTS (SELECT 1 FROM message_subscriptions WHERE template_id = ?1 AND openid = ?2 AND status = 'accept')
           ON CONFLICT (template_id, openid, day) DO UPDATE SET used = used + 1, last_message_id = excluded.last_message_id, updated_at = excluded.updated_at
           WHERE message_quota.used < ?6`,
        ).bind(template.id, body.touser, day, id, now, LONG_TERM_DAILY_LIMIT);
  const stamp =
    template.type === "one-time"
      ? "SELECT 1 FROM message_subscriptions WHERE template_id = ?10 AND openid = ?4 AND last_message_id = ?1"
      : "SELECT 1 FROM message_quota WHERE template_id = ?10 AND openid = ?4 AND day = ?11 AND last_message_id = ?1";
  const insert = D.prepare(
    `INSERT INTO message_inbox (id, mini_program_id, host_app_id, openid, template_id, title, page, lines, created_at, read_at, push_state, push_attempts, push_error)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?12, 0, NULL WHERE EXISTS (${stamp})`,
  ).bind(
    id,
    appId,
    sub.hostAppId,
    body.touser,
    template.id,
    template.title,
    body.page ?? null,
    JSON.stringify(lines),
    now,
    template.id,
    day,
    webhook ? "pending" : "none",
  );
  const [, inserted] = await D.batch([take, insert]);
  if ((inserted?.meta.changes ?? 0) !== 1) {
    if (template.type === "one-time") throw notSubscribed();
    throw refuse(
      SendErrcode.QUOTA_REACHED,
      `the number of message push exceeds the threshold: a long-term template allows ${LONG_TERM_DAILY_LIMIT} messages a day per user (days in China Standard Time, UTC+8)`,
      429,
      secondsToNextDay(now),
    );
  }
  if (webhook) await enqueuePush(env, db, { messageId: id, hostAppId: sub.hostAppId }, now);
  return { errcode: 0, errmsg: "ok", msgid: id };
}

export { ServerErrcode };

/** Cron: inbox entries past 30 days, quota rows of past days, dead letters past 30 days. */
export async function sweepMessages(db: Db, now = Date.now()): Promise<void> {
  const cutoff = now - INBOX_RETENTION_MS;
  await db.batch([
    db.delete(messageInbox).where(lt(messageInbox.createdAt, cutoff)),
    db.delete(messageQuota).where(lt(messageQuota.updatedAt, now - 2 * 86_400_000)),
    db.delete(messageDeadLetters).where(lt(messageDeadLetters.createdAt, cutoff)),
  ]);
}
