/**
 * Wire contract of subscription messages (PRODUCT.md T1-T5; issue 14; seed "Subscription
 * Message"): the admin API's public template library, "My Template" and the host app's push
 * webhook; the edge's subscribe and inbox calls for clients; and the WeChat-compatible server send
 * `POST /cgi-bin/message/subscribe/send`. The rules themselves are in core/messages.ts.
 */
import * as z from "zod";
import {
  KEYWORD_TYPE_RULES,
  KEYWORD_TYPES,
  MAX_PAGE_LENGTH,
  MY_TEMPLATE_KEYWORDS,
  SUBSCRIBE_MAX_TEMPLATES,
  TEMPLATE_CATEGORIES,
  TEMPLATE_TYPES,
} from "../messages";
import { AppIdSchema, IdSchema } from "./common";

export const TemplateTypeSchema = z.enum(TEMPLATE_TYPES).meta({
  description:
    "one-time: each subscription allows one message; long-term: after one subscription, up to 5 messages a day per template and user (offline public services only)",
  example: "long-term",
});
export const TemplateCategorySchema = z.enum(TEMPLATE_CATEGORIES).meta({ example: "travel" });
export const KeywordTypeSchema = z.enum(KEYWORD_TYPES).meta({
  description: `the keyword's data type, which its values must keep: ${Object.entries(KEYWORD_TYPE_RULES)
    .map(([t, r]) => `${t}: ${r}`)
    .join("; ")}`,
  example: "thing",
});

/** The id of one of a mini program's "My Template"s (WeChat's `priTmplId`). */
export const MyTemplateIdSchema = z
  .string()
  .regex(/^mt[a-z2-7]{24}$/, "not a template id")
  .meta({ example: "mtabcdefghijklmnopqrstuvwx" });

export const TemplateKeywordSchema = z
  .object({
    key: z.string().meta({
      description: "the keyword's key in a send's `data` (WeChat's `thing1` shape: type and number)",
      example: "thing5",
    }),
    name: z.string().meta({ example: "Note" }),
    type: KeywordTypeSchema,
    example: z.string().meta({ example: "Gate closes 21:25" }),
  })
  .meta({ id: "TemplateKeyword" });

export const PublicTemplateSchema = z
  .object({
    id: z.string().meta({ example: "pt3001" }),
    title: z.string().meta({ example: "Flight status changed" }),
    category: TemplateCategorySchema,
    type: TemplateTypeSchema,
    keywords: z.array(TemplateKeywordSchema),
  })
  .meta({ id: "PublicTemplate" });

export const LibraryQuerySchema = z
  .object({
    q: z.string().trim().max(50).optional().meta({
      description: "words of the template's title (case-insensitive, every word must match)",
      example: "flight",
    }),
    type: TemplateTypeSchema.optional(),
    category: TemplateCategorySchema.optional(),
    page: z.coerce.number().int().min(1).max(1000).default(1).meta({ example: 1 }),
    pageSize: z.coerce.number().int().min(1).max(50).default(20).meta({ example: 20 }),
  })
  .strict();

export const LibraryPageSchema = z
  .object({
    templates: z.array(PublicTemplateSchema),
    total: z.number().int().meta({ description: "templates matching the filters, all pages" }),
    page: z.number().int(),
    pageSize: z.number().int(),
  })
  .meta({ id: "PublicTemplatePage" });

export const AddMyTemplateSchema = z
  .object({
    publicTemplateId: z.string().min(1).max(32).meta({ example: "pt3001" }),
    keywords: z
      .array(z.string().min(1).max(40))
      .min(MY_TEMPLATE_KEYWORDS.min)
      .max(MY_TEMPLATE_KEYWORDS.max)
      .meta({
        description:
          "the keys of 1 to 5 of the public template's keywords, in the order the user sees them (the seed's drag-to-order). The same keyword set of the same public template (in any order) cannot be added twice: 409 (\"the keywords cannot be repeated\")",
        example: ["character_string1", "phrase2", "time3"],
      }),
  })
  .strict()
  .meta({ id: "AddMyTemplate" });

export const MyTemplateSchema = z
  .object({
    templateId: MyTemplateIdSchema,
    appId: AppIdSchema,
    publicTemplateId: z.string().meta({ example: "pt3001" }),
    title: z.string().meta({ example: "Flight status changed" }),
    category: TemplateCategorySchema,
    type: TemplateTypeSchema,
    keywords: z.array(TemplateKeywordSchema).meta({ description: "the chosen keywords, in order" }),
    preview: z.string().meta({
      description: "what the user sees: the title, then `name: example` per keyword, one per line",
      example: "Flight status changed\nFlight: CX889\nStatus: Late\nNew departure: 2026-12-05 21:40",
    }),
    createdBy: z.string(),
    createdAt: z.number().int(),
  })
  .meta({ id: "MyTemplate" });

export const MyTemplateListSchema = z
  .object({ templates: z.array(MyTemplateSchema) })
  .meta({ id: "MyTemplateList" });

export const WebhookUrlSchema = z
  .string()
  .max(2048)
  .url()
  .refine((u) => {
    try {
      const url = new URL(u);
      return (
        (url.protocol === "https:" ||
          (url.protocol === "http:" && /^(127\.0\.0\.1|localhost)$/.test(url.hostname))) &&
        url.username === "" &&
        url.password === ""
      );
    } catch {
      return false;
    }
  }, "must be an https URL without credentials (http only for 127.0.0.1 or localhost)")
  .meta({ example: "https://push.superapp.example/graycast/messages" });

export const PutWebhookSchema = z
  .object({
    url: WebhookUrlSchema,
    rotateSecret: z.boolean().default(false).meta({
      description:
        "true: a new signing secret (shown in this answer only); the old one stops signing at once. A first configuration always gets one.",
    }),
  })
  .strict()
  .meta({ id: "PutMessageWebhook" });

export const WebhookSchema = z
  .object({
    hostAppId: IdSchema,
    url: z.string(),
    secretSetAt: z.number().int(),
    updatedBy: z.string(),
    updatedAt: z.number().int(),
    secret: z.string().optional().meta({
      description:
        "the HMAC-SHA-256 signing secret: in the answer that created or rotated it only, never again (stored encrypted). Verify `x-graycast-signature` with it (docs/messages.md)",
      example: "whsec_Q2hhbmdlIG1lOiBhIHJhbmRvbSAzMi1ieXRlIHNlY3JldA",
    }),
  })
  .meta({ id: "MessageWebhook" });

export const DeadLetterSchema = z
  .object({
    id: z.string(),
    hostAppId: z.string(),
    messageId: z.string(),
    appId: z.string(),
    url: z.string(),
    attempts: z.number().int(),
    lastError: z.string(),
    createdAt: z.number().int(),
  })
  .meta({ id: "MessageDeadLetter" });

export const DeadLetterPageSchema = z
  .object({ deadLetters: z.array(DeadLetterSchema), nextCursor: z.string().nullable() })
  .meta({ id: "MessageDeadLetterPage" });

// ---------------------------------------------------------------- edge (clients)

export const SubscribeDecisionSchema = z.enum(["accept", "reject"]);

/**
 * `POST /v1/messages/subscribe` body: the templates the mini program asked for
 * (`requestSubscribeMessage`'s tmplIds) with the user's choice in the host app's pop-up for each.
 * The user is the host app's verified user (the `x-graycast-user` assertion, docs/trust.md).
 */
export const SubscribeRequestSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema.meta({ example: "ha_demo_superapp" }),
    choices: z
      .array(z.object({ templateId: MyTemplateIdSchema, decision: SubscribeDecisionSchema }).strict())
      .min(1)
      .max(SUBSCRIBE_MAX_TEMPLATES)
      .meta({
        description: `at most ${SUBSCRIBE_MAX_TEMPLATES} templates per call ("A maximum of 3 messages can be subscribed in one call"), all one-time or all long-term`,
      }),
  })
  .strict()
  .meta({ id: "SubscribeRequest" });

export const SubscribeResultSchema = z.enum(["accept", "reject", "filter"]).meta({
  description:
    "accept / reject: the user's choice, recorded; filter: dropped because an earlier id of the call has the same template title (WeChat's 'filter')",
});

export const SubscribeResponseSchema = z
  .object({
    errMsg: z.literal("requestSubscribeMessage:ok"),
    results: z.record(z.string(), SubscribeResultSchema).meta({
      example: { mtabcdefghijklmnopqrstuvwx: "accept" },
    }),
  })
  .meta({ id: "SubscribeResponse" });

export const InboxQuerySchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema,
    cursor: z.string().max(100).optional(),
    limit: z.coerce.number().int().min(1).max(50).default(20),
  })
  .strict();

export const InboxMessageSchema = z
  .object({
    id: z.string(),
    templateId: z.string(),
    title: z.string(),
    page: z.string().nullable(),
    lines: z.array(z.object({ key: z.string(), name: z.string(), value: z.string() })),
    createdAt: z.number().int(),
    readAt: z.number().int().nullable(),
  })
  .meta({ id: "InboxMessage" });

export const InboxPageSchema = z
  .object({ messages: z.array(InboxMessageSchema), nextCursor: z.string().nullable() })
  .meta({ id: "InboxPage" });

export const MarkReadRequestSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema,
    ids: z.array(z.string().min(1).max(40)).min(1).max(50),
  })
  .strict()
  .meta({ id: "MarkReadRequest" });

// ---------------------------------------------------------------- server send

/** `POST /cgi-bin/message/subscribe/send` body (WeChat subscribeMessage.send). */
export const SendRequestSchema = z
  .object({
    touser: z.string().min(1).max(64).meta({ description: "the user's openid (from /sns/jscode2session)" }),
    template_id: z.string().min(1).max(64).meta({ example: "mtabcdefghijklmnopqrstuvwx" }),
    page: z.string().max(MAX_PAGE_LENGTH).optional().meta({ example: "pages/flight/index?id=CX889" }),
    data: z
      .record(z.string().max(40), z.object({ value: z.string().max(200) }).strict())
      .meta({ example: { character_string1: { value: "CX889" }, phrase2: { value: "Late" } } }),
    miniprogram_state: z.enum(["developer", "trial", "formal"]).optional(),
    lang: z.string().max(10).optional(),
  })
  .strict()
  .meta({ id: "SubscribeSendRequest" });

export type SendRequest = z.infer<typeof SendRequestSchema>;

export const SendResponseSchema = z
  .object({ errcode: z.literal(0), errmsg: z.literal("ok"), msgid: z.string() })
  .meta({ id: "SubscribeSendResponse" });

/** The body the push webhook receives (signed: docs/messages.md). */
export const WebhookPayloadSchema = z
  .object({
    type: z.literal("subscribe_message"),
    messageId: z.string(),
    appId: z.string(),
    hostAppId: z.string(),
    openid: z.string(),
    templateId: z.string(),
    title: z.string(),
    page: z.string().nullable(),
    lines: z.array(z.object({ key: z.string(), name: z.string(), value: z.string() })),
    createdAt: z.number().int(),
  })
  .meta({ id: "MessageWebhookPayload" });
export type WebhookPayload = z.infer<typeof WebhookPayloadSchema>;
