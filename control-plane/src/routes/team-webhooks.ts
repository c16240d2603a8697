/**
 * A team's notification webhook, admin API (issue 15: "the team is notified in the change log
 * and, if configured, a webhook"). Team admins only, every route (the URL and the dead letters
 * describe the team's operations; the secret is trust material). Logic in services/team-webhooks.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses, IdSchema, jsonBody, jsonResponse, OkSchema } from "../../../core/contracts/common";
import {
  PutTeamWebhookSchema,
  TeamWebhookDeadLetterPageSchema,
  TeamWebhookSchema,
} from "../../../core/contracts/team-webhooks";
import { createRouter } from "../app";
import {
  deleteTeamWebhook,
  getTeamWebhook,
  listTeamDeadLetters,
  putTeamWebhook,
} from "../services/team-webhooks";

/** Mounted at /v1/teams. */
export const teamWebhookRoutes = createRouter();

const TeamParams = z.object({ teamId: IdSchema });

teamWebhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{teamId}/webhook",
    tags: ["teams"],
    summary: "The team's notification webhook",
    description:
      "Where the team's events are POSTed (today `grayscale.guardrail_tripped`: a grayscale task was suspended by a health guardrail) and when its signing secret was set. The secret itself is never shown again. 404 when none is configured. Team admin.",
    request: { params: TeamParams },
    responses: { 200: jsonResponse(TeamWebhookSchema, "The webhook"), ...errorResponses },
  }),
  async (c) => c.json(await getTeamWebhook(c.var.db, c.var.actor, c.req.valid("param").teamId), 200),
);

teamWebhookRoutes.openapi(
  createRoute({
    method: "put",
    path: "/{teamId}/webhook",
    tags: ["teams"],
    summary: "Configure the team's notification webhook",
    description:
      'Sets the https URL the team\'s `events` are POSTed to, signed as message pushes are (headers `x-graycast-timestamp` and `x-graycast-signature: sha256=<hex of HMAC-SHA-256(secret, timestamp + \'.\' + body)>`, plus `x-graycast-event` and `x-graycast-event-id`; docs/messages.md "Signature", docs/grayscale.md "Health guardrails"). The first configuration, or `rotateSecret: true`, makes a new secret: it is in this answer only, stored encrypted, never logged. A delivery that fails is retried with backoff (6 tries), then recorded as a dead letter. Team admin.',
    request: {
      params: TeamParams,
      body: {
        ...jsonBody(PutTeamWebhookSchema),
        content: {
          "application/json": {
            schema: PutTeamWebhookSchema,
            example: {
              url: "https://ops.acme.example/graycast/events",
              events: ["grayscale.guardrail_tripped"],
              rotateSecret: false,
            },
          },
        },
      },
    },
    responses: {
      200: jsonResponse(TeamWebhookSchema, "Configured; `secret` present when it was created or rotated"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await putTeamWebhook(c.env, c.var.db, c.var.actor, c.req.valid("param").teamId, c.req.valid("json")),
      200,
    ),
);

teamWebhookRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{teamId}/webhook",
    tags: ["teams"],
    summary: "Remove the team's notification webhook",
    description:
      "Events are no longer POSTed (the change log still has them); deliveries already queued are dropped. Team admin.",
    request: { params: TeamParams },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => c.json(await deleteTeamWebhook(c.var.db, c.var.actor, c.req.valid("param").teamId), 200),
);

teamWebhookRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{teamId}/webhook/dead-letters",
    tags: ["teams"],
    summary: "Team notifications that failed their last try",
    description:
      "Newest first: the event type, the URL, how many tries, the last failure (HTTP status or network error) and the body that was POSTed. `cursor` is `nextCursor` of the previous page. Team admin.",
    request: {
      params: TeamParams,
      query: z
        .object({
          cursor: z.string().max(80).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(50),
        })
        .strict(),
    },
    responses: {
      200: jsonResponse(TeamWebhookDeadLetterPageSchema, "A page of dead letters"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { cursor, limit } = c.req.valid("query");
    return c.json(
      await listTeamDeadLetters(c.var.db, c.var.actor, c.req.valid("param").teamId, cursor, limit),
      200,
    );
  },
);
