/**
 * A team's notification webhook (issue 15: "when a guardrail trips, ... the team is notified in
 * the change log and, if configured, a webhook"): the admin API's shapes and the body the webhook
 * receives. The URL rule, the signature and the retry schedule are the host apps' message push
 * webhook's (core/contracts/messages.ts, core/messages.ts; docs/messages.md "Signature").
 */
import * as z from "zod";
import type { GuardrailTrip } from "../grayscale/health";
import { IdSchema } from "./common";
import { WebhookUrlSchema } from "./messages";

export const TEAM_WEBHOOK_EVENTS = ["grayscale.guardrail_tripped"] as const;
export const TeamWebhookEventSchema = z.enum(TEAM_WEBHOOK_EVENTS).meta({
  description: "`grayscale.guardrail_tripped`: a grayscale task of the team was suspended by a guardrail",
});

export const PutTeamWebhookSchema = z
  .object({
    url: WebhookUrlSchema.meta({ example: "https://ops.acme.example/graycast/events" }),
    events: z
      .array(TeamWebhookEventSchema)
      .min(1)
      .max(TEAM_WEBHOOK_EVENTS.length)
      .refine((e) => new Set(e).size === e.length, "each event at most once")
      .default([...TEAM_WEBHOOK_EVENTS])
      .meta({ description: "the events POSTed to the URL (default: all)" }),
    rotateSecret: z.boolean().default(false).meta({
      description:
        "true: a new signing secret (shown in this answer only); the old one stops signing at once. A first configuration always gets one.",
    }),
  })
  .strict()
  .meta({ id: "PutTeamWebhook" });

export const TeamWebhookSchema = z
  .object({
    teamId: IdSchema,
    url: z.string(),
    events: z.array(TeamWebhookEventSchema),
    secretSetAt: z.number().int(),
    updatedBy: z.string(),
    updatedAt: z.number().int(),
    secret: z.string().optional().meta({
      description:
        'the HMAC-SHA-256 signing secret: in the answer that created or rotated it only, never again (stored encrypted). Verify `x-graycast-signature` with it (docs/messages.md "Signature")',
      example: "whsec_Q2hhbmdlIG1lOiBhIHJhbmRvbSAzMi1ieXRlIHNlY3JldA",
    }),
  })
  .meta({ id: "TeamWebhook" });

export const TeamWebhookDeadLetterSchema = z
  .object({
    id: z.string(),
    teamId: z.string(),
    type: TeamWebhookEventSchema,
    url: z.string(),
    attempts: z.number().int(),
    lastError: z.string(),
    createdAt: z.number().int(),
    failedAt: z.number().int(),
    payload: z.record(z.string(), z.unknown()).meta({ description: "the body that was POSTed" }),
  })
  .meta({ id: "TeamWebhookDeadLetter" });

export const TeamWebhookDeadLetterPageSchema = z
  .object({ deadLetters: z.array(TeamWebhookDeadLetterSchema), nextCursor: z.string().nullable() })
  .meta({ id: "TeamWebhookDeadLetterPage" });

/** The body a team's webhook receives for `grayscale.guardrail_tripped` (signed). */
export interface GuardrailTrippedEvent {
  type: "grayscale.guardrail_tripped";
  /** the same across retries: receivers deduplicate on it */
  eventId: string;
  teamId: string;
  appId: string;
  taskId: string;
  /** the gray version the task delivered */
  version: string;
  /** the figures that tripped it (the task's `guardrailTrip`) */
  trip: GuardrailTrip;
  at: number;
}
export type TeamWebhookPayload = GuardrailTrippedEvent;
