/**
 * Privacy agreement (PRODUCT.md X7; seed "Settings"): template, draft, preview, publish numbered
 * versions, list and read versions. Mounted under /v1/mini-programs. Logic in services/privacy.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { READ_ROLES, requireMiniProgram } from "../services/access";
import {
  getDraft,
  getPrivacyVersion,
  listPrivacyVersions,
  previewPrivacy,
  privacyTemplate,
  publishPrivacy,
  saveDraft,
} from "../services/privacy";

export const privacyRoutes = createRouter();

/** Printable text on one line (no control characters). */
const Line = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\x00-\x1f\x7f-\x9f]+$/, "must not contain control characters");
const List = z.array(Line(200)).max(30);
const FieldsSchema = z
  .object({
    developerName: Line(200),
    contact: Line(200),
    dataCollected: List,
    purposes: List,
    thirdParties: List,
    retention: Line(500),
  })
  .strict()
  .openapi("PrivacyFields", {
    example: {
      developerName: "Example Ltd.",
      contact: "privacy@example.com",
      dataCollected: ["Nickname and avatar", "Approximate location"],
      purposes: ["Show nearby stores"],
      thirdParties: [],
      retention: "Until you delete your account, at most 2 years",
    },
  });
const VersionSchema = z
  .object({
    version: z.number(),
    sha256: z.string(),
    url: z.string().openapi({ description: "path of the text on the edge (`GET /v1/privacy/{sha256}`)" }),
    publishedBy: z.string(),
    publishedAt: z.number(),
  })
  .openapi("PrivacyVersion");
const AppParams = z.object({ appId: AppIdSchema });
const DraftSchema = z.object({ fields: FieldsSchema, updatedBy: z.string(), updatedAt: z.number() });

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/privacy/template",
    tags: ["settings"],
    summary: "The platform's privacy agreement template",
    description: "The text with `{{placeholder}}`s the team's fields fill in. Any team member.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(
        z.object({ template: z.string(), placeholders: z.array(z.string()) }),
        "The template",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    await requireMiniProgram(c.var.db, c.var.actor, c.req.valid("param").appId, READ_ROLES);
    return c.json(privacyTemplate(), 200);
  },
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/privacy/draft",
    tags: ["settings"],
    summary: "The privacy agreement draft",
    description:
      "The fields last saved, who saved them and when; 404 before the first save. Any team member.",
    request: { params: AppParams },
    responses: { 200: jsonResponse(DraftSchema, "The draft"), ...errorResponses },
  }),
  async (c) => c.json(await getDraft(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

privacyRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/privacy/draft",
    tags: ["settings"],
    summary: "Save the privacy agreement draft",
    description:
      "The template's fields: developer name, contact, data collected, purposes, third parties (lists of at most 30 lines) and retention. Clients see nothing until it is published. Team admin or developer.",
    request: { params: AppParams, body: jsonBody(z.object({ fields: FieldsSchema }).strict()) },
    responses: { 200: jsonResponse(DraftSchema, "Saved"), ...errorResponses },
  }),
  async (c) =>
    c.json(
      await saveDraft(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json").fields),
      200,
    ),
);

privacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/privacy/preview",
    tags: ["settings"],
    summary: "Preview the privacy agreement",
    description:
      "The text the given fields (or, without them, the saved draft) render to as the next version. Changes nothing. Any team member.",
    request: { params: AppParams, body: jsonBody(z.object({ fields: FieldsSchema.optional() }).strict()) },
    responses: {
      200: jsonResponse(z.object({ version: z.number(), text: z.string() }), "The rendered text"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await previewPrivacy(c.var.db, c.var.actor, c.req.valid("param").appId, c.req.valid("json").fields),
      200,
    ),
);

privacyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/privacy/publish",
    tags: ["settings"],
    summary: "Publish the draft as the next version",
    description:
      "Numbered 1, 2, ...; immutable. The text goes to the edge, content-addressed (`GET /v1/privacy/{sha256}`), and the version with its URL reaches clients in the runtime config in seconds, so they ask users to accept it. No draft, or a draft equal to the latest version, is refused with 409. Team admin or developer.",
    request: { params: AppParams },
    responses: { 201: jsonResponse(VersionSchema, "Published"), ...errorResponses },
  }),
  async (c) =>
    c.json(await publishPrivacy(c.var.db, c.env.PACKAGES, c.var.actor, c.req.valid("param").appId), 201),
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/privacy/versions",
    tags: ["settings"],
    summary: "List published privacy agreement versions",
    description: "Newest first, with who published each and when. Any team member.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(z.object({ versions: z.array(VersionSchema) }), "Versions"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ versions: await listPrivacyVersions(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

privacyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/privacy/versions/{version}",
    tags: ["settings"],
    summary: "One published privacy agreement version",
    description: "Its fields and text. Any team member.",
    request: { params: AppParams.extend({ version: z.coerce.number().int().min(1).max(1_000_000) }) },
    responses: {
      200: jsonResponse(VersionSchema.extend({ fields: FieldsSchema, text: z.string() }), "The version"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId, version } = c.req.valid("param");
    return c.json(await getPrivacyVersion(c.var.db, c.var.actor, appId, version), 200);
  },
);
