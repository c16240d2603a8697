import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, IdSchema, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../app";
import { kickIncrements } from "../increments/queue";
import { auditQueue, decideAudit } from "../services/audits";

export const auditRoutes = createRouter();

export const DecisionSchema = z
  .object({
    hostAppId: IdSchema,
    decision: z.enum(["approve", "reject"]),
    reason: z.string().trim().max(2000).optional(),
  })
  .refine((d) => d.decision === "approve" || (d.reason ?? "").length > 0, {
    message: "a rejection needs a reason",
    path: ["reason"],
  })
  .openapi("AuditDecision");
export type AuditDecisionInput = z.infer<typeof DecisionSchema>;
/** "version": is this version fit to release; "binding": a released or approved version a host app bound later has not reviewed. */
export const AuditKindSchema = z.enum(["version", "binding"]).openapi({
  description:
    "version: a new version; binding: an approved or released version sent to host apps bound after it was audited (README, Audits)",
});
const QueueItemSchema = z
  .object({
    id: z.string(),
    kind: AuditKindSchema,
    appId: z.string(),
    miniProgramName: z.string(),
    version: z.string(),
    hostAppId: z.string(),
    hostAppName: z.string(),
    note: z.string(),
    submittedAt: z.number(),
  })
  .passthrough()
  .openapi("AuditQueueItem");

// My audit queue: versions (version and binding audits) waiting for a decision from a host app I audit.
auditRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["audits"],
    summary: "My audit queue",
    description:
      "My audit queue: versions (version and binding audits) waiting for a decision from a host app I audit.",
    responses: {
      200: jsonResponse(z.object({ audits: z.array(QueueItemSchema) }), "Pending audits"),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ audits: await auditQueue(c.var.db, c.var.actor) }, 200),
);

// Approve or reject (with reason) for one host app (its auditor).
auditRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{auditId}/decision",
    tags: ["audits"],
    summary: "Approve or reject an audit for one host app",
    description:
      "Approve or reject (a rejection needs a reason) for one host app, as its auditor. Version audit: the version is approved when the last review lands, rejected at the first rejection. Binding audit: each decision stands for its host app alone.",
    request: { params: z.object({ auditId: IdSchema }), body: jsonBody(DecisionSchema) },
    responses: {
      200: jsonResponse(
        z.object({
          auditId: z.string(),
          kind: AuditKindSchema,
          appId: z.string(),
          version: z.string(),
          hostAppId: z.string(),
          decision: z.enum(["approve", "reject"]),
          outcome: z.enum(["approved", "rejected", "pending"]),
        }),
        "Decided",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const result = await decideAudit(
      c.var.db,
      c.env.PACKAGES,
      c.var.actor,
      c.req.valid("param").auditId,
      c.req.valid("json"),
    );
    // Sent after the answer (a queue send can wait on a busy local builder); the cron re-sends if it fails.
    if (result.outcome === "approved") c.executionCtx.waitUntil(kickIncrements(c.env, result.appId));
    return c.json(result, 200);
  },
);
