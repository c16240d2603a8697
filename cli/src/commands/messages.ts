/**
 * Subscription messages (PRODUCT.md T1, T2, T4, T5; issue 14; docs/messages.md), the CLI face:
 * the public template library, a mini program's "My Template" (seed: "Developers can select 1 to 5
 * keywords from the keyword list" and "Drag the sort button ... to arrange the keywords in order":
 * `--keywords` keeps the order given), the host app's push webhook and its dead letters, and a
 * send as the mini program's server (AppSecret -> access token -> /cgi-bin/message/subscribe/send).
 * Every rule is the server's: a refusal (the same keyword set twice: 409, "the keywords cannot be
 * repeated") exits 1 with its message as sent.
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { RefusedError, UsageError } from "../errors";
import { isoTime, type Output, readAll } from "../output";
import type { Context, OptionSpec } from "../registry";
import { group, register } from "../registry";
import { APP_OPTION, appArg, HOST_APP_OPTION, hostAppArg, intArg, type Schemas } from "./common";

group(
  "messages",
  "Subscription messages: the public template library, My Template, the host app's push webhook, sends",
);

type PublicTemplate = Schemas["PublicTemplate"];
type MyTemplate = Schemas["MyTemplate"];
type Keyword = Schemas["TemplateKeyword"];
type Webhook = Schemas["MessageWebhook"];
type DeadLetter = Schemas["MessageDeadLetter"];

const TYPES = ["one-time", "long-term"] as const;
const MY_TEMPLATE_ID = /^mt[a-z2-7]{24}$/;

/** `--keywords a,b,c` (or repeated): the keys in the order given, which is the order users see. */
function keywordsArg(ctx: Context): string[] {
  const keys = ctx
    .list("keywords")
    .flatMap((v) => v.split(","))
    .map((k) => k.trim())
    .filter(Boolean);
  if (!keys.length)
    throw new UsageError(
      "which keywords? give --keywords key1,key2,... (1 to 5, in the order users see them)",
      "see the keys with `graycast messages library --search <title words>`",
    );
  return keys;
}

const KEYWORDS_OPTION: Record<string, OptionSpec> = {
  keywords: {
    type: "string",
    short: "k",
    multiple: true,
    placeholder: "key,key,...",
    description: "1 to 5 keyword keys of the public template (e.g. thing1), in the order users see them",
  },
};

const keywordList = (keywords: Keyword[]) => keywords.map((k) => k.key).join(",");

function keywordTable(keywords: Keyword[], out: Output) {
  out.table(
    ["KEY", "NAME", "TYPE", "EXAMPLE"],
    keywords.map((k) => [k.key, k.name, k.type, k.example]),
  );
}

function previewLines(preview: string, out: Output) {
  out.line();
  for (const l of preview.split("\n")) out.line(`  | ${l}`);
}

function showMyTemplate(t: MyTemplate, out: Output) {
  out.fields([
    ["template ID", t.templateId],
    ["title", t.title],
    ["type", t.type],
    ["category", t.category],
    ["public template", t.publicTemplateId],
    ["keywords", keywordList(t.keywords)],
    ["added", `${isoTime(t.createdAt)} by ${t.createdBy}`],
  ]);
  previewLines(t.preview, out);
}

async function listMine(ctx: Context, appId: string) {
  return ok(ctx.api().GET("/v1/mini-programs/{appId}/message-templates", { params: { path: { appId } } }));
}

function showMine(r: { templates: MyTemplate[] }, out: Output) {
  out.table(
    ["TEMPLATE ID", "TITLE", "TYPE", "KEYWORDS", "ADDED"],
    r.templates.map((t) => [t.templateId, t.title, t.type, keywordList(t.keywords), isoTime(t.createdAt)]),
  );
}

const listSpec = (name: string, summary: string) => ({
  name,
  summary,
  options: APP_OPTION,
  examples: [
    `graycast ${name} --app gc...`,
    `graycast ${name} --app gc... --json | jq -r '.templates[].templateId'`,
  ],
  async run(ctx: Context) {
    return listMine(ctx, appArg(ctx));
  },
  show: showMine,
});

/** The webhook's secret alone on stdout (for a secret store), what it is on stderr. */
function showWebhook(w: Webhook, out: Output) {
  if (w.secret !== undefined) {
    out.note(`Push webhook of ${w.hostAppId}: ${w.url}. Its signing secret is shown once; store it now:`);
    out.line(w.secret);
    return;
  }
  out.fields([
    ["host app", w.hostAppId],
    ["URL", w.url],
    ["secret set", isoTime(w.secretSetAt)],
    ["updated", `${isoTime(w.updatedAt)} by ${w.updatedBy}`],
  ]);
}

async function getWebhook(ctx: Context, hostAppId: string): Promise<Webhook> {
  return ok(ctx.api().GET("/v1/host-apps/{hostAppId}/message-webhook", { params: { path: { hostAppId } } }));
}

async function putWebhook(ctx: Context, hostAppId: string, url: string, rotateSecret: boolean) {
  return ok(
    ctx.api().PUT("/v1/host-apps/{hostAppId}/message-webhook", {
      params: { path: { hostAppId } },
      body: { url, rotateSecret },
    }),
  );
}

/** `--data key=value` (repeatable) as the send's `data`: one `{ value }` per keyword key. */
function dataArg(ctx: Context): Record<string, { value: string }> {
  const data: Record<string, { value: string }> = {};
  for (const pair of ctx.list("data")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`--data ${JSON.stringify(pair)} is not key=value (e.g. thing1=Parcel)`);
    const key = pair.slice(0, at).trim();
    if (key in data) throw new UsageError(`--data gives ${key} twice`);
    data[key] = { value: pair.slice(at + 1) };
  }
  if (!Object.keys(data).length)
    throw new UsageError("what does the message say? give --data key=value for each keyword of the template");
  return data;
}

/** A server API answer `{ errcode, errmsg }` (WeChat's shape) as a refusal with the code shown. */
function serverRefusal(status: number, body: unknown): RefusedError {
  const b = body as { errcode?: unknown; errmsg?: unknown } | undefined;
  if (b && typeof b.errcode === "number" && typeof b.errmsg === "string")
    return new RefusedError(status, `errcode ${b.errcode}`, b.errmsg);
  return new RefusedError(status, "http_error", `HTTP ${status}`);
}

/** The AppSecret: --secret-stdin, else GRAYCAST_APP_SECRET; never an option (it would sit in shell history). */
async function appSecret(ctx: Context): Promise<string> {
  const secret = ctx.flag("secret-stdin")
    ? (await readAll(ctx.streams.stdin)).trim()
    : (ctx.streams.env.GRAYCAST_APP_SECRET ?? "");
  if (!secret)
    throw new UsageError(
      "the send needs the mini program's AppSecret",
      "pipe it to --secret-stdin, or set GRAYCAST_APP_SECRET",
    );
  return secret;
}

register(
  {
    name: "messages library",
    summary: "Search the public template library: by title words, type and category, page by page",
    options: {
      search: {
        type: "string",
        short: "s",
        placeholder: "words",
        description: "words of the template's title (case-insensitive; every word must match)",
      },
      type: { type: "string", short: "t", placeholder: "type", description: TYPES.join(" | ") },
      category: {
        type: "string",
        short: "c",
        placeholder: "category",
        description: "orders, logistics, travel, government, livelihood, health, finance or education",
      },
      page: { type: "string", placeholder: "n", description: "the page (default 1)" },
      "page-size": {
        type: "string",
        placeholder: "n",
        description: "templates per page (default 20, at most 50)",
      },
      keywords: {
        type: "boolean",
        description: "also list each template's keywords (key, name, data type, example)",
      },
    },
    details:
      "Long-term templates exist only in the public-service categories (government, livelihood, health, " +
      "travel, finance, education). A template's keyword keys are what `messages templates add --keywords` takes.",
    examples: [
      "graycast messages library --search flight --type long-term",
      "graycast messages library --category orders --keywords",
      "graycast messages library --json | jq '.templates[] | {id, title}'",
    ],
    async run(ctx) {
      const type = ctx.str("type");
      if (type !== undefined && !TYPES.includes(type as (typeof TYPES)[number]))
        throw new UsageError(`${JSON.stringify(type)} is not a template type (${TYPES.join(", ")})`);
      const page = intArg(ctx, "page");
      const pageSize = intArg(ctx, "page-size");
      const query = {
        ...(ctx.str("search") ? { q: ctx.str("search") } : {}),
        ...(type ? { type: type as (typeof TYPES)[number] } : {}),
        ...(ctx.str("category") ? { category: ctx.str("category") as PublicTemplate["category"] } : {}),
        ...(page === undefined ? {} : { page }),
        ...(pageSize === undefined ? {} : { pageSize }),
      };
      const result = await ok(ctx.api().GET("/v1/message-library", { params: { query } }));
      return { ...result, withKeywords: ctx.flag("keywords") };
    },
    show(
      r: {
        templates: PublicTemplate[];
        total: number;
        page: number;
        pageSize: number;
        withKeywords: boolean;
      },
      out: Output,
    ) {
      if (r.withKeywords) {
        for (const t of r.templates) {
          out.line(`${out.paint("bold", t.id)}  ${t.title}  (${t.category}, ${t.type})`);
          for (const k of t.keywords)
            out.line(`  ${k.key.padEnd(20)}  ${k.name} (${k.type}), e.g. ${k.example}`);
        }
        if (!r.templates.length) out.line(out.paint("dim", "(none)"));
      } else
        out.table(
          ["ID", "TITLE", "CATEGORY", "TYPE", "KEYWORDS"],
          r.templates.map((t) => [t.id, t.title, t.category, t.type, keywordList(t.keywords)]),
        );
      const pages = Math.max(1, Math.ceil(r.total / r.pageSize));
      out.note(`Page ${r.page} of ${pages} (${r.total} template${r.total === 1 ? "" : "s"}).`);
    },
  },
  listSpec("messages templates", "List My Template: the mini program's templates, their keywords in order"),
  listSpec("messages templates list", "List My Template (the same as `graycast messages templates`)"),
  {
    name: "messages templates add",
    summary: "Add a public template to My Template with 1 to 5 of its keywords, in the order given",
    positionals: [
      { name: "publicTemplateId", required: true, description: "e.g. pt3001 (from `messages library`)" },
    ],
    options: { ...APP_OPTION, ...KEYWORDS_OPTION },
    details:
      "The order of --keywords is the order users see (the seed's drag-to-order). The same public template " +
      "with the same keyword set, in any order, is refused (409); another set is another template. " +
      "The new template ID is what clients subscribe to and the server sends with.",
    examples: [
      "graycast messages templates add pt3001 --keywords character_string1,phrase2,time3 --app gc...",
      "graycast messages templates add pt3001 -k phrase2 -k character_string1 --app gc... --json | jq -r .templateId",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/message-templates", {
          params: { path: { appId } },
          body: { publicTemplateId: ctx.positionals[0]!, keywords: keywordsArg(ctx) },
        }),
      );
    },
    show: showMyTemplate,
  },
  {
    name: "messages templates preview",
    summary:
      "What users see: a template of My Template, or a public template with --keywords before adding it",
    positionals: [
      {
        name: "id",
        required: true,
        description: "a My Template ID (mt...), or a public template ID (pt...) with --keywords",
      },
    ],
    options: { ...APP_OPTION, ...KEYWORDS_OPTION },
    examples: [
      "graycast messages templates preview mtabcdefghijklmnopqrstuvwx --app gc...",
      "graycast messages templates preview pt3001 --keywords phrase2,character_string1 --app gc...",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const id = ctx.positionals[0]!;
      if (MY_TEMPLATE_ID.test(id)) {
        if (ctx.list("keywords").length)
          throw new UsageError("--keywords is for a public template; a My Template's keywords are chosen");
        const found = (await listMine(ctx, appId)).templates.find((t) => t.templateId === id);
        if (!found)
          throw new UsageError(
            `${id} is not a template of ${appId}`,
            `see \`graycast messages templates --app ${appId}\``,
          );
        return { title: found.title, type: found.type, keywords: found.keywords, preview: found.preview };
      }
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/message-templates/preview", {
          params: { path: { appId } },
          body: { publicTemplateId: id, keywords: keywordsArg(ctx) },
        }),
      );
    },
    show(r: Schemas["MyTemplatePreview"], out: Output) {
      out.line(`${out.paint("bold", r.title)} (${r.type})`);
      keywordTable(r.keywords, out);
      previewLines(r.preview, out);
    },
  },
  {
    name: "messages templates rm",
    summary: "Delete a template from My Template: its subscriptions go, sends with it fail (40037)",
    destructive: true,
    positionals: [{ name: "templateId", required: true, description: "the My Template ID (mt...)" }],
    options: APP_OPTION,
    examples: ["graycast messages templates rm mtabcdefghijklmnopqrstuvwx --app gc... --yes"],
    async run(ctx) {
      const appId = appArg(ctx);
      const templateId = ctx.positionals[0]!;
      if (!MY_TEMPLATE_ID.test(templateId))
        throw new UsageError(`${JSON.stringify(templateId)} is not a My Template ID (mt...)`);
      if (
        !(await ctx.confirm(
          `Delete the template ${templateId} of ${appId}? Every user's subscription to it goes.`,
        ))
      )
        return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/mini-programs/{appId}/message-templates/{templateId}", {
          params: { path: { appId, templateId } },
        }),
      );
      return { appId, templateId, removed: true };
    },
    show(r: { templateId: string }, out: Output) {
      out.line(`Deleted the template ${r.templateId}.`);
    },
  },
  {
    name: "messages webhook show",
    summary: "The host app's message push webhook: its URL and when its secret was set (never the secret)",
    options: HOST_APP_OPTION,
    examples: ["graycast messages webhook show --host-app ha_..."],
    async run(ctx) {
      return getWebhook(ctx, await hostAppArg(ctx));
    },
    show: showWebhook,
  },
  {
    name: "messages webhook set",
    summary: "Point the push webhook at a URL; the first time, its signing secret is printed once",
    options: {
      ...HOST_APP_OPTION,
      url: {
        type: "string",
        placeholder: "https://...",
        description: "where every delivered message is POSTed, HMAC-SHA-256 signed (docs/messages.md)",
      },
      "rotate-secret": { type: "boolean", description: "also make a new signing secret (printed once)" },
    },
    details:
      "Host app managers. Pushes carry `x-graycast-timestamp` and `x-graycast-signature: sha256=<hex>`; " +
      "a push that fails is retried with backoff, then kept as a dead letter (`messages dead-letters`).",
    examples: [
      "graycast messages webhook set --url https://push.example.com/graycast --host-app ha_...",
      "graycast messages webhook set --url https://push.example.com/graycast --host-app ha_... --json | jq -r .secret",
    ],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      return putWebhook(ctx, hostAppId, ctx.need("url"), ctx.flag("rotate-secret"));
    },
    show: showWebhook,
  },
  {
    name: "messages webhook rotate",
    summary: "Make a new signing secret (printed once); the old one stops signing at once",
    destructive: true,
    options: HOST_APP_OPTION,
    examples: ["graycast messages webhook rotate --host-app ha_... --yes --json | jq -r .secret"],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const current = await getWebhook(ctx, hostAppId);
      if (
        !(await ctx.confirm(
          `Rotate the push webhook secret of ${hostAppId}? Pushes are signed with the new one at once.`,
        ))
      )
        return CANCELLED;
      return putWebhook(ctx, hostAppId, current.url, true);
    },
    show: showWebhook,
  },
  {
    name: "messages webhook rm",
    summary: "Remove the push webhook: messages reach the inbox only; queued pushes are dropped",
    destructive: true,
    options: HOST_APP_OPTION,
    examples: ["graycast messages webhook rm --host-app ha_... --yes"],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      if (!(await ctx.confirm(`Remove the push webhook of ${hostAppId}? Queued pushes are dropped.`)))
        return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/host-apps/{hostAppId}/message-webhook", { params: { path: { hostAppId } } }),
      );
      return { hostAppId, removed: true };
    },
    show(r: { hostAppId: string }, out: Output) {
      out.line(`Removed the push webhook of ${r.hostAppId}.`);
    },
  },
  {
    name: "messages dead-letters",
    summary: "Pushes that failed their last try, newest first (the messages stay in the inboxes)",
    options: {
      ...HOST_APP_OPTION,
      cursor: {
        type: "string",
        placeholder: "cursor",
        description: "the next page (printed under a full page)",
      },
      limit: { type: "string", placeholder: "n", description: "how many (default 50, at most 100)" },
    },
    examples: [
      "graycast messages dead-letters --host-app ha_...",
      "graycast messages dead-letters --host-app ha_... --json | jq '.deadLetters[].lastError'",
    ],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const limit = intArg(ctx, "limit");
      const cursor = ctx.str("cursor");
      return ok(
        ctx.api().GET("/v1/host-apps/{hostAppId}/message-webhook/dead-letters", {
          params: {
            path: { hostAppId },
            query: { ...(cursor ? { cursor } : {}), ...(limit === undefined ? {} : { limit }) },
          },
        }),
      );
    },
    show(r: { deadLetters: DeadLetter[]; nextCursor: string | null }, out: Output) {
      out.table(
        ["WHEN", "MESSAGE", "APP ID", "TRIES", "LAST ERROR", "URL"],
        r.deadLetters.map((d) => [
          isoTime(d.createdAt),
          d.messageId,
          d.appId,
          d.attempts,
          d.lastError,
          d.url,
        ]),
      );
      if (r.nextCursor) out.note(`More: --cursor ${r.nextCursor}`);
    },
  },
  {
    name: "messages send",
    summary: "Send a subscription message as the mini program's server (AppSecret -> access token)",
    noAuth: true,
    options: {
      ...APP_OPTION,
      to: {
        type: "string",
        placeholder: "openid",
        description: "the user's openid (from /sns/jscode2session)",
      },
      template: { type: "string", placeholder: "templateId", description: "a My Template ID (mt...)" },
      data: {
        type: "string",
        short: "d",
        multiple: true,
        placeholder: "key=value",
        description: "one value per keyword of the template, keyed like thing1",
      },
      page: {
        type: "string",
        placeholder: "path",
        description: "the page the message opens (e.g. pages/order/index?id=1)",
      },
      "secret-stdin": {
        type: "boolean",
        description: "read the AppSecret from stdin (else GRAYCAST_APP_SECRET)",
      },
    },
    details:
      "What a mini program's back end does: GET /cgi-bin/token with the AppSecret, then POST " +
      "/cgi-bin/message/subscribe/send. Needs no login. A refusal shows WeChat's errcode: 43101 the user has " +
      "no subscription left, 40038 the long-term limit of 5 a day (UTC+8) is reached, 47003 a value breaks " +
      "its keyword's data type, 40037 not a template of this mini program. A refused send consumes nothing.",
    examples: [
      'graycast messages send --app gc... --to o... --template mt... -d character_string1=CX889 -d phrase2=Late -d "time3=2026-12-05 21:40" --secret-stdin < appsecret.txt',
      "GRAYCAST_APP_SECRET=... graycast messages send --app gc... --to o... --template mt... -d thing1=Parcel --json",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const touser = ctx.need("to");
      const template_id = ctx.need("template");
      const data = dataArg(ctx);
      const page = ctx.str("page");
      const secret = await appSecret(ctx);
      const api = ctx.anonymous();
      const token = await api.GET("/cgi-bin/token", {
        params: { query: { grant_type: "client_credential", appid: appId, secret } },
      });
      if (!token.response.ok || !token.data) throw serverRefusal(token.response.status, token.error);
      const sent = await api.POST("/cgi-bin/message/subscribe/send", {
        params: { query: { access_token: token.data.access_token } },
        body: { touser, template_id, data, ...(page === undefined ? {} : { page }) },
      });
      if (!sent.response.ok || !sent.data) throw serverRefusal(sent.response.status, sent.error);
      return sent.data;
    },
    show(r: Schemas["SubscribeSendResponse"], out: Output) {
      out.line(`Sent: message ${r.msgid}.`);
    },
  },
);
