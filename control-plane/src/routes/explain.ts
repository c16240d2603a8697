/**
 * "Why does this client get this version" (PRODUCT.md G7): the decision the edge would make for
 * a client context now, with every grayscale task's every condition. Reads only; admits nobody.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { CheckRequestSchema } from "../../../core/contracts/check";
import { errorResponses, jsonBody, jsonResponse } from "../../../core/contracts/common";
import { ApiError } from "../../../core/errors";
import { createRouter } from "../app";
import { explainClient } from "../services/grayscale-insight";
import { AppParams, GuardrailTripSchema } from "./grayscale-schemas";

export const explainRoutes = createRouter();

const GeoText = z.string().trim().min(1).max(64);
const ExplainRequestSchema = z
  .object({
    // Admission tickets are left out: explain reads the counters instead (who was admitted before).
    client: CheckRequestSchema.omit({ tickets: true }).partial({ appId: true }).openapi({
      description:
        "what the client sends to /v1/check (GET query or POST body), without tickets (appId may be left out)",
    }),
    verifiedAccount: z.boolean().optional().openapi({
      description:
        "treat client.account as vouched for by the host app, as if a valid user assertion were sent (instead of client.assertion)",
    }),
    geo: z
      .object({ country: GeoText.optional(), region: GeoText.optional(), city: GeoText.optional() })
      .strict()
      .optional()
      .openapi({ description: "where the client is, as the edge would see it in request.cf" }),
  })
  .strict()
  .openapi("ExplainRequest");

const ConditionSchema = z.object({ condition: z.string(), pass: z.boolean(), detail: z.string() });
const ExplainResponseSchema = z
  .object({
    appId: z.string(),
    at: z.number(),
    revision: z.number(),
    listed: z.boolean(),
    onlineVersion: z.string().nullable(),
    hostAppRelease: z.string().nullable().openapi({
      description:
        "the release this client's host app gets: the online version, or, when its auditor has not approved that one, the last release it approved (null: none)",
    }),
    userKey: z.string().nullable(),
    user: z
      .object({
        account: z.string().nullable(),
        verified: z.boolean(),
        assertion: z.string().nullable().openapi({
          description:
            "what became of client.assertion: verified, or why the edge would ignore it (core/assertion.ts); null when none was sent",
        }),
        why: z.string(),
      })
      .openapi({ description: "who the edge takes the user to be (docs/trust.md)" }),
    decision: z.object({
      status: z.string(),
      reason: z.string(),
      version: z.string().nullable(),
      rollback: z.boolean(),
      taskId: z.string().nullable(),
    }),
    tasks: z.array(
      z.object({
        taskId: z.string(),
        name: z.string().nullable(),
        version: z.string(),
        phase: z.enum(["admitting", "sticky"]),
        eligible: z.boolean(),
        stickyOnly: z.boolean(),
        outcome: z.enum([
          "chosen",
          "kept",
          "cap_reached",
          "not_eligible",
          "sticky_not_admitted",
          "sticky_unknown",
          "not_considered",
          "not_reviewed",
          "superseded",
        ]),
        why: z.string(),
        counter: z
          .object({ userCap: z.number(), admitted: z.number(), admittedBefore: z.boolean() })
          .nullable(),
        guardrailTrip: GuardrailTripSchema.nullable().openapi({
          description: "set when the task is suspended by a health guardrail: the figures that tripped it",
        }),
        conditions: z.array(ConditionSchema),
      }),
    ),
  })
  .openapi("Explanation");

// Which version this client would get now and why (no admission, no publish).
explainRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/explain",
    tags: ["grayscale"],
    summary: "Explain which version a client gets",
    description:
      "Which version this client would get now and why: the decision the edge would make (the same core decide), with every grayscale task's every condition. Reads only: admits nobody, publishes nothing.",
    request: { params: AppParams, body: jsonBody(ExplainRequestSchema) },
    responses: {
      200: jsonResponse(ExplainResponseSchema, "The decision and every task's conditions"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId } = c.req.valid("param");
    const { client, geo, verifiedAccount } = c.req.valid("json");
    if (client.appId !== undefined && client.appId !== appId)
      throw new ApiError("bad_request", "client.appId differs from the mini program in the path");
    if (verifiedAccount === true && client.assertion !== undefined)
      throw new ApiError("bad_request", "send either client.assertion or verifiedAccount, not both");
    const { assertion, ...facts } = client;
    const identity = assertion !== undefined ? { assertion } : { verifiedAccount: verifiedAccount === true };
    return c.json(
      await explainClient(
        c.var.db,
        c.env.PACKAGES,
        c.env.GRAYSCALE_COUNTER,
        c.var.actor,
        appId,
        { ...facts, appId },
        geo ?? {},
        identity,
      ),
      200,
    );
  },
);
