/**
 * Uploaded txt whitelists of a grayscale task and its progress (PRODUCT.md G1, G4).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { errorResponse, errorResponses, jsonResponse, OkSchema } from "../../../core/contracts/common";
import { ApiError } from "../../../core/errors";
import type { TargetKind } from "../../../core/grayscale/types";
import { MAX_WHITELIST_LINES } from "../../../core/grayscale/whitelist";
import { createRouter } from "../app";
import { refuseDeclaredLength } from "../lib/request-body";
import { taskProgress } from "../services/grayscale-insight";
import { MAX_WHITELIST_BYTES, removeWhitelist, uploadWhitelist } from "../services/grayscale-whitelists";
import {
  EndReasonSchema,
  GuardrailsSchema,
  GuardrailTripSchema,
  TaskParams,
  TaskStateSchema,
  WhitelistParams,
} from "./grayscale-schemas";

export const grayscaleWhitelistRoutes = createRouter();

const UploadedSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    count: z.number().openapi({ description: "unique values stored" }),
    lines: z.number().openapi({ description: "non-blank lines read" }),
    duplicates: z.number().openapi({ description: "lines dropped as duplicates" }),
    shards: z.number(),
    uploadedBy: z.string(),
    createdAt: z.number(),
  })
  .openapi("WhitelistUpload");

const CountSchema = z.object({ admitted: z.number() });
const HealthFiguresSchema = z.object({
  sessions: z
    .number()
    .openapi({ description: "distinct GUIDs that sent logs of this version in the bucket" }),
  errorSessions: z.number().openapi({ description: "of them, those with at least one error entry" }),
  errorRate: z.number().openapi({ description: "errorSessions / sessions, percent" }),
  crashes: z.number().openapi({ description: "crash reports (entries with crash: true)" }),
});
const HealthSchema = z
  .object({
    guardrails: GuardrailsSchema.nullable(),
    suspendedByGuardrail: z.boolean(),
    trip: GuardrailTripSchema.nullable().openapi({ description: "the figures of the last guardrail trip" }),
    windowSince: z.number().openapi({
      description:
        "logs received before this (ms epoch) count for these figures but not towards a guardrail: a resume moves it",
    }),
    bucketMinutes: z.number(),
    buckets: z.array(
      z.object({
        bucket: z.number().openapi({ description: "epoch ms of the start of the 10-minute bucket" }),
        gray: HealthFiguresSchema.openapi({ description: "the task's version" }),
        online: HealthFiguresSchema.openapi({ description: "the mini program's online version" }),
      }),
    ),
  })
  .openapi("GrayscaleHealth", {
    description:
      "health figures from real-time logs, per 10-minute bucket of the last 24 hours, oldest first",
  });
const ProgressSchema = z
  .object({
    taskId: z.string(),
    state: TaskStateSchema,
    endReason: EndReasonSchema.nullable(),
    userCap: z.number().nullable(),
    tracked: z
      .boolean()
      .openapi({ description: "false for tasks without a cap: the edge does not count their users" }),
    admitted: z.number().nullable(),
    leased: z.number().nullable().openapi({
      description:
        "slots edge isolates hold in admission leases, not yet settled (including leases never settled, presumed used): admitted + leased never exceeds the cap",
    }),
    remaining: z.number().nullable(),
    note: z.string().nullable(),
    byHostApp: z.array(CountSchema.extend({ hostAppId: z.string() })),
    byPlatform: z.array(CountSchema.extend({ platform: z.string() })),
    byHour: z.array(
      CountSchema.extend({
        hour: z.number().openapi({ description: "epoch ms of the start of the hour (UTC)" }),
      }),
    ),
    health: HealthSchema,
  })
  .openapi("GrayscaleProgress");

// Upload (replace) the task's txt whitelist of one kind: one value per line (pending or suspended tasks).
grayscaleWhitelistRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{appId}/grayscale-tasks/{taskId}/whitelists/{kind}",
    tags: ["grayscale"],
    summary: "Upload a task whitelist",
    description:
      "Upload (replace) the task's txt whitelist of one kind: one value per line (pending or suspended tasks).",
    request: {
      params: WhitelistParams,
      body: {
        required: true,
        content: { "text/plain": { schema: z.string().openapi({ format: "binary" }) } },
        description: `UTF-8 text, one GUID / device id / account per line, at most ${MAX_WHITELIST_LINES} lines and ${MAX_WHITELIST_BYTES} bytes (64 MiB), with or without Content-Length; a longer body gets 413 payload_too_large`,
      },
    },
    responses: {
      200: jsonResponse(UploadedSchema, "Stored; the previous whitelist of this kind is replaced"),
      413: errorResponse(
        `Payload too large (payload_too_large): the whitelist is over ${MAX_WHITELIST_BYTES} bytes (64 MiB) or ${MAX_WHITELIST_LINES} lines`,
      ),
      415: errorResponse("Unsupported media type (unsupported_media_type): send the whitelist as text/plain"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "text/plain")
      throw new ApiError("unsupported_media_type", "send the whitelist as Content-Type: text/plain");
    await refuseDeclaredLength(
      c.req.raw,
      MAX_WHITELIST_BYTES,
      `whitelists are limited to ${MAX_WHITELIST_BYTES} bytes`,
    );
    const { appId, taskId, kind } = c.req.valid("param");
    return c.json(
      await uploadWhitelist(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        appId,
        taskId,
        kind as TargetKind,
        c.req.raw.body,
      ),
      200,
    );
  },
);

// Remove the task's uploaded whitelist of one kind.
grayscaleWhitelistRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{appId}/grayscale-tasks/{taskId}/whitelists/{kind}",
    tags: ["grayscale"],
    summary: "Remove a task whitelist",
    description: "Remove the task's uploaded whitelist of one kind.",
    request: { params: WhitelistParams },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => {
    const { appId, taskId, kind } = c.req.valid("param");
    await removeWhitelist(c.var.db, c.env.PACKAGES, c.var.actor, appId, taskId, kind as TargetKind);
    return c.json({ ok: true as const }, 200);
  },
);

// Progress: admitted users against the cap, by host app, platform and hour.
grayscaleWhitelistRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/grayscale-tasks/{taskId}/progress",
    tags: ["grayscale"],
    summary: "Grayscale task progress",
    description:
      "Progress: admitted users against the cap, by host app, platform and hour, and the health figures of the gray and the online version per 10-minute bucket (health guardrails).",
    request: { params: TaskParams },
    responses: { 200: jsonResponse(ProgressSchema, "Progress"), ...errorResponses },
  }),
  async (c) => {
    const { appId, taskId } = c.req.valid("param");
    return c.json(await taskProgress(c.var.db, c.env.GRAYSCALE_COUNTER, c.var.actor, appId, taskId), 200);
  },
);
