/**
 * `GET /v1/mini-programs/{appId}/increments` and `POST .../increments/{incrementId}/retry`:
 * the incremental packages planned for a mini program, and a retry of a failed build.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { AppIdSchema, errorResponses, IdSchema, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { kickIncrements } from "../increments/queue";
import { listIncrements, retryIncrement } from "../services/increments";

export const incrementRoutes = createRouter();

const IncrementSchema = z
  .object({
    id: z.string(),
    fromVersion: z.string(),
    toVersion: z.string(),
    status: z.enum(["queued", "building", "built", "skipped", "failed"]).openapi({
      description:
        "queued: waiting for the builder (also between retries); building: a builder claimed it at startedAt; built / skipped / failed: finished at finishedAt",
    }),
    size: z.number().nullable().openapi({ description: "bytes clients download, once built" }),
    fullSize: z.number(),
    share: z.number().nullable().openapi({ description: "size / fullSize; offered only when below 1" }),
    encrypted: z.boolean(),
    attempts: z.number(),
    detail: z.string(),
    createdAt: z.number(),
    startedAt: z
      .number()
      .nullable()
      .openapi({ description: "when the current (or last) build attempt started (ms since the epoch)" }),
    finishedAt: z
      .number()
      .nullable()
      .openapi({ description: "when the build finished: built, skipped or failed (ms since the epoch)" }),
    builtAt: z
      .number()
      .nullable()
      .openapi({ description: "same as finishedAt (kept for existing clients)", deprecated: true }),
  })
  .openapi("Increment");

incrementRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/increments",
    tags: ["versions"],
    summary: "List a mini program's incremental packages with their build state and times",
    description:
      "Each planned incremental package (from a recent release to the online version) with its build state, size and share of the full package; clients are offered one only when it is smaller.",
    request: { params: z.object({ appId: AppIdSchema }) },
    responses: {
      200: jsonResponse(z.object({ increments: z.array(IncrementSchema) }), "Newest first"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ increments: await listIncrements(c.var.db, c.var.actor, c.req.valid("param").appId) }, 200),
);

incrementRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/increments/{incrementId}/retry",
    tags: ["versions"],
    summary: "Queue a failed incremental package for another build",
    description:
      "A failed build goes back to the queue for the builder Worker; other states are refused with 409.",
    request: { params: z.object({ appId: AppIdSchema, incrementId: IdSchema }) },
    responses: { 200: jsonResponse(IncrementSchema, "Pending again"), ...errorResponses },
  }),
  async (c) => {
    const { appId, incrementId } = c.req.valid("param");
    const increment = await retryIncrement(c.var.db, c.var.actor, appId, incrementId);
    c.executionCtx.waitUntil(kickIncrements(c.env, appId));
    return c.json(increment, 200);
  },
);
