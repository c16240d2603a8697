/**
 * Subscription messages, admin API (PRODUCT.md T1, T2, T5; issue 14; seed "Subscription Message"):
 * the public template library, a mini program's "My Template" (add with 1 to 5 keywords in order,
 * preview, list, delete) and a host app's push webhook with its dead-letter records. Logic in
 * services/messages.ts; the clients' subscribe and inbox calls are the edge's, the send is the
 * server API's (routes/message-send.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponse,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  OkSchema,
} from "../../../core/contracts/common";
import {
  AddMyTemplateSchema,
  DeadLetterPageSchema,
  LibraryPageSchema,
  LibraryQuerySchema,
  MyTemplateIdSchema,
  MyTemplateListSchema,
  MyTemplateSchema,
  PutWebhookSchema,
  TemplateKeywordSchema,
  TemplateTypeSchema,
  WebhookSchema,
} from "../../../core/contracts/messages";
import { createRouter } from "../app";
import {
  addMyTemplate,
  deleteMyTemplate,
  deleteWebhook,
  getWebhook,
  listDeadLetters,
  listMyTemplates,
  previewMyTemplate,
  putWebhook,
  searchLibrary,
} from "../services/messages";

/** Mounted at /v1/message-library. */
export const messageLibraryRoutes = createRouter();
/** Mounted at /v1/mini-programs. */
export const messageTemplateRoutes = createRouter();
/** Mounted at /v1/host-apps. */
export const messageWebhookRoutes = createRouter();

const AppParams = z.object({ appId: AppIdSchema });
const HostParams = z.object({ hostAppId: IdSchema });

messageLibraryRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["subscription messages"],
    summary: "Search the public template library",
    description:
      "The platform's public message templates (seed: 'select the template type to be used in the public template library according to the business scenario, and search for the applicable template by template name'). `q` matches words of the title (case-insensitive); `type` (one-time or long-term; long-term only in the public-service categories government, livelihood, health, travel, finance, education) and `category` filter; `page`/`pageSize` (at most 50) page through. Each template lists its keywords with their data type and an example. Any signed-in user.",
    request: { query: LibraryQuerySchema },
    responses: { 200: jsonResponse(LibraryPageSchema, "A page of templates"), ...errorResponses },
  }),
  (c) => c.json(searchLibrary(c.req.valid("query")), 200),
);

messageTemplateRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/message-templates",
    tags: ["subscription messages"],
    summary: "List My Template",
    description:
      "The mini program's message templates, newest first, each with its chosen keywords in order and the preview the user sees. `templateId` is what the client subscribes to and the server sends with. Any member of the owning team.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(MyTemplateListSchema, "The templates"), ...errorResponses },
  }),
  async (c) => c.json(await listMyTemplates(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

const PreviewSchema = z
  .object({
    title: z.string(),
    type: TemplateTypeSchema,
    keywords: z.array(TemplateKeywordSchema),
    preview: z.string(),
  })
  .openapi("MyTemplatePreview", {
    example: {
      title: "Flight status changed",
      type: "long-term",
      keywords: [
        { key: "character_string1", name: "Flight", type: "character_string", example: "CX889" },
        { key: "phrase2", name: "Status", type: "phrase", example: "Late" },
      ],
      preview: "Flight status changed\nFlight: CX889\nStatus: Late",
    },
  });

messageTemplateRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/message-templates/preview",
    tags: ["subscription messages"],
    summary: "Preview a template before adding it",
    description:
      "What the user would see with these keywords in this order (seed: 'refer to the preview effect on the left for the pop-up content displayed to users'): the title, then `name: example` per keyword. Changes nothing. Any member of the owning team.",
    request: {
      params: AppParams,
      body: {
        ...jsonBody(AddMyTemplateSchema),
        content: {
          "application/json": {
            schema: AddMyTemplateSchema,
            example: { publicTemplateId: "pt3001", keywords: ["character_string1", "phrase2"] },
          },
        },
      },
    },
    responses: { 200: jsonResponse(PreviewSchema, "The preview"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await previewMyTemplate(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json")),
      200,
    ),
);

messageTemplateRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/message-templates",
    tags: ["subscription messages"],
    summary: "Add a public template to My Template",
    description:
      "Select a public template and 1 to 5 of its keywords in the order the user sees them (seed: 'Developers can select 1 to 5 keywords from the keyword list... Drag the sort button... to arrange the keywords in order'). The same public template with the same keyword set (in any order) is refused with 409 (seed: 'the keywords cannot be repeated'); a different set of the same template is another template. The answer holds the new `templateId` and the preview. Team admin or developer.",
    request: {
      params: AppParams,
      body: {
        ...jsonBody(AddMyTemplateSchema),
        content: {
          "application/json": {
            schema: AddMyTemplateSchema,
            example: { publicTemplateId: "pt3001", keywords: ["character_string1", "phrase2", "time3"] },
          },
        },
      },
    },
    responses: {
      201: jsonResponse(MyTemplateSchema, "Added"),
      ...errorResponses,
      409: errorResponse("The same public template with the same keyword set is already in My Template"),
    },
  }),
  async (c) =>
    c.json(await addMyTemplate(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json")), 201),
);

messageTemplateRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{appId}/message-templates/{templateId}",
    tags: ["subscription messages"],
    summary: "Delete a template from My Template",
    description:
      "The template and every user's subscription to it go; messages already delivered stay in the inboxes until their 30 days end. Sends with it then answer 40037. Team admin or developer.",
    request: { params: z.object({ appId: AppIdSchema, templateId: MyTemplateIdSchema }) },
    responses: { 200: jsonResponse(OkSchema, "Deleted"), ...errorResponses },
  }),
  async (c) => {
    const { appId, templateId } = c.req.valid("param");
    return c.json(await deleteMyTemplate(c.var.db, c.var.actor, appId, templateId), 200);
  },
);

messageWebhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/message-webhook",
    tags: ["subscription messages"],
    summary: "The host app's message push webhook",
    description:
      "Where delivered subscription messages of users of this host app are pushed (besides the inbox), and when its signing secret was set. The secret itself is never shown again. 404 when none is configured. Host app manager or auditor.",
    request: { params: HostParams },
    responses: { 200: jsonResponse(WebhookSchema, "The webhook"), ...errorResponses },
  }),
  async (c) => c.json(await getWebhook(c.var.db, c.var.actor, c.req.valid("param").hostAppId), 200),
);

messageWebhookRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{hostAppId}/message-webhook",
    tags: ["subscription messages"],
    summary: "Configure the host app's message push webhook",
    description:
      "Sets the https URL every delivered message of a user of this host app is POSTed to, signed with HMAC-SHA-256 (headers `x-graycast-timestamp` and `x-graycast-signature: sha256=<hex of HMAC(secret, timestamp + '.' + body)>`; docs/messages.md has the verification recipe). The first configuration, or `rotateSecret: true`, makes a new secret: it is in this answer only, stored encrypted, never logged. A push that fails is retried with backoff (6 tries), then recorded as a dead letter. Host app manager.",
    request: {
      params: HostParams,
      body: {
        ...jsonBody(PutWebhookSchema),
        content: {
          "application/json": {
            schema: PutWebhookSchema,
            example: { url: "https://push.superapp.example/graycast/messages", rotateSecret: false },
          },
        },
      },
    },
    responses: {
      200: jsonResponse(WebhookSchema, "Configured; `secret` present when it was created or rotated"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await putWebhook(c.env, c.var.db, c.var.actor, c.req.valid("param").hostAppId, c.req.valid("json")),
      200,
    ),
);

messageWebhookRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{hostAppId}/message-webhook",
    tags: ["subscription messages"],
    summary: "Remove the host app's message push webhook",
    description:
      "Messages are no longer pushed (the inbox still gets them); pushes already queued are dropped. Host app manager.",
    request: { params: HostParams },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => c.json(await deleteWebhook(c.var.db, c.var.actor, c.req.valid("param").hostAppId), 200),
);

messageWebhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/message-webhook/dead-letters",
    tags: ["subscription messages"],
    summary: "Pushes that failed their last try",
    description:
      "Newest first: the message, the URL, how many tries and the last failure (HTTP status or network error). The message itself stays in the user's inbox. `cursor` is `nextCursor` of the previous page. Host app manager or auditor.",
    request: {
      params: HostParams,
      query: z
        .object({
          cursor: z.string().max(80).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(50),
        })
        .strict(),
    },
    responses: { 200: jsonResponse(DeadLetterPageSchema, "A page of dead letters"), ...errorResponses },
  }),
  async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(
      await listDeadLetters(c.var.db, c.var.actor, c.req.valid("param").hostAppId, cursor, limit),
      200,
    );
  },
);
