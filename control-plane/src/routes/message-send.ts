/**
 * Subscription messages on the admin Worker outside the admin API (issue 14):
 *
 * - `POST /cgi-bin/message/subscribe/send?access_token=...` (PRODUCT.md T4), the mini program
 *   server's send, WeChat subscribeMessage.send in shape: errors `{ errcode, errmsg }` with
 *   WeChat's codes (services/message-delivery.ts SendErrcode) and a 4xx status, never 5xx for the
 *   caller's mistake. Documented in the OpenAPI with the server API; the body is parsed here, not by
 *   the router, so every refusal (malformed JSON included) keeps the WeChat shape.
 * - `/internal/messages/{subscribe,inbox,read}`: the edge's forwards of the clients' calls (T3,
 *   T5). Authenticated by the edge's user proof (core/user-proof.ts, LOGIN_CODE_KEY), not by a
 *   session; not part of the admin API (clients call the edge: docs/messages.md).
 */
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { readRequestBody } from "../../../core/bytes";
import { ServerErrorSchema } from "../../../core/contracts/login";
import {
  InboxPageSchema,
  InboxQuerySchema,
  MarkReadRequestSchema,
  SendRequestSchema,
  SendResponseSchema,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../../../core/contracts/messages";
import { validationError } from "../../../core/contracts/validation";
import { ApiError } from "../../../core/errors";
import { openUserProof, type ProvenUser, USER_PROOF_HEADER } from "../../../core/user-proof";
import { createRouter } from "../app";
import type { AdminHono } from "../env";
import { markRead, readInbox, SendErrcode, sendMessage, subscribe } from "../services/message-delivery";
import { ServerApiError } from "../services/server-api";

export const messageSendRoutes = createRouter();

const SEND_PATH = "/cgi-bin/message/subscribe/send";
/** A send body is small: 5 values of at most 200 characters and a page. */
const SEND_BODY_LIMIT = 16 * 1024;

const serverError = (description: string) => ({
  description,
  content: { "application/json": { schema: ServerErrorSchema } },
});

messageSendRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: SEND_PATH,
  tags: ["server API"],
  summary: "Send a subscription message (WeChat subscribeMessage.send)",
  description:
    "Called by the mini program's server with an access token from GET /cgi-bin/token. `touser` is the user's openid (GET /sns/jscode2session), `template_id` one of the mini program's My Template, `data` one `{ value }` per chosen keyword, keyed like `thing1`, each value keeping its keyword's data type (thing: at most 20 characters; phrase: at most 5; amount, date, time, number...: docs/messages.md). A one-time subscription allows one message per accept; a long-term one at most 5 messages per template and user per day, days in China Standard Time (UTC+8). The message lands in the user's inbox (the edge's GET /v1/messages/inbox) and, when the host app configured one, is pushed to its webhook. A refused send consumes nothing.",
  security: [],
  request: {
    query: z.object({ access_token: z.string().openapi({ description: "from GET /cgi-bin/token" }) }),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: SendRequestSchema,
          example: {
            touser: "oAbCdEfGhIjKlMnOpQrStUvWxYz0",
            template_id: "mtabcdefghijklmnopqrstuvwx",
            page: "pages/flight/index?id=CX889",
            data: {
              character_string1: { value: "CX889" },
              phrase2: { value: "Late" },
              time3: { value: "2026-12-05 21:40" },
            },
          },
        },
      },
    },
  },
  responses: {
    200: {
      description: "Sent: `msgid` is the inbox entry's id",
      content: { "application/json": { schema: SendResponseSchema } },
    },
    400: serverError(
      "40003 invalid openid; 40037 invalid template_id (not one of this mini program's templates); 41030 invalid page; 47001 the body is not JSON; 47003 invalid data (a keyword missing or extra, or a value breaking its type's rule: errmsg names it)",
    ),
    401: serverError("40001 invalid access_token; 42001 access_token expired"),
    403: serverError(
      "43101 the user has no subscription (never accepted, rejected, or the one-time message was sent); 40243 the AppSecret is frozen",
    ),
    429: {
      ...serverError(
        "40038 a long-term template's 5 messages for this user today are sent: retry after the Retry-After seconds (the next day in UTC+8); 45011 too many sends for this appid (500 per 10 s)",
      ),
      headers: {
        "Retry-After": { description: "seconds until the next quota day", schema: { type: "integer" } },
      },
    },
    503: serverError("-1 system busy: retry later"),
  },
});

function refusal(c: Context<AdminHono>, err: unknown): Response {
  if (!(err instanceof ServerApiError)) {
    console.error("subscribe send error", { error: String(err instanceof Error ? err.message : err) });
    return c.json({ errcode: -1, errmsg: "system busy, retry later" }, 503);
  }
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (err.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.retryAfterSeconds);
  return c.json(err.toBody(), err.status, headers);
}

messageSendRoutes.post(SEND_PATH, async (c) => {
  try {
    const tokens = c.req.queries("access_token");
    const token = tokens?.length === 1 ? tokens[0] : undefined;
    let raw: unknown;
    try {
      const bytes = await readRequestBody(
        c.req.raw.body ?? new ReadableStream(),
        SEND_BODY_LIMIT,
        () =>
          new ServerApiError(
            SendErrcode.BAD_BODY as never,
            "data format error: the body is over 16 KiB",
            400,
          ),
      );
      raw = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      if (err instanceof ServerApiError) throw err;
      // The token is checked first, so a caller without one learns nothing from the body's fate.
      raw = undefined;
    }
    const body = await sendMessage(c.env, c.var.db, token, raw === undefined ? BAD_JSON : raw);
    return c.json(body, 200, { "cache-control": "no-store" });
  } catch (err) {
    return refusal(c, err);
  }
});

/** Stands for a body that is not JSON: the schema refuses it with 47001 after the token check. */
const BAD_JSON = Symbol("not JSON");

// ---------------------------------------------------------------- the edge's forwards

/** The user the edge vouches for on this path, or 401. */
async function provenUser(c: Context<AdminHono>): Promise<ProvenUser> {
  const proof = c.req.header(USER_PROOF_HEADER);
  const key = c.env.LOGIN_CODE_KEY;
  const user =
    proof && key && key.length >= 32 ? await openUserProof(key, proof, c.req.path, Date.now()) : undefined;
  if (!user) throw new ApiError("unauthenticated", "only the edge calls this, with a user proof");
  return user;
}

async function jsonOf<T extends z.ZodType>(c: Context<AdminHono>, schema: T): Promise<z.infer<T>> {
  const bytes = await readRequestBody(
    c.req.raw.body ?? new ReadableStream(),
    16 * 1024,
    () => new ApiError("payload_too_large", "at most 16 KiB"),
  );
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ApiError("bad_request", "the body is not JSON");
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw validationError(r.error);
  return r.data;
}

/** The same (app, host app) in the proof and the request: a proof serves its own user only. */
function sameUser(user: ProvenUser, body: { appId: string; hostAppId: string }) {
  if (user.appId !== body.appId || user.hostAppId !== body.hostAppId)
    throw new ApiError("unauthenticated", "the user proof is for another mini program or host app");
}

messageSendRoutes.post("/internal/messages/subscribe", async (c) => {
  const user = await provenUser(c);
  const body = await jsonOf(c, SubscribeRequestSchema);
  sameUser(user, body);
  const out = SubscribeResponseSchema.parse(await subscribe(c.env, c.var.db, user, body.choices));
  return c.json(out, 200, { "cache-control": "no-store" });
});

messageSendRoutes.get("/internal/messages/inbox", async (c) => {
  const user = await provenUser(c);
  const r = InboxQuerySchema.safeParse(c.req.query());
  if (!r.success) throw validationError(r.error);
  sameUser(user, r.data);
  const out = InboxPageSchema.parse(await readInbox(c.env, c.var.db, user, r.data.cursor, r.data.limit));
  return c.json(out, 200, { "cache-control": "no-store" });
});

messageSendRoutes.post("/internal/messages/read", async (c) => {
  const user = await provenUser(c);
  const body = await jsonOf(c, MarkReadRequestSchema);
  sameUser(user, body);
  return c.json(await markRead(c.env, c.var.db, user, body.ids), 200, { "cache-control": "no-store" });
});
