/**
 * The mini program server API at the admin Worker's root, WeChat-compatible in shape (PRODUCT.md
 * X6; issue 12): `GET /sns/jscode2session` and `GET /cgi-bin/token`. No session or API token: the
 * caller is a mini program's server, proven by its AppSecret. Errors are `{ errcode, errmsg }`
 * (core/contracts/login.ts ServerErrcode) with a 4xx status (never 5xx for the caller's mistake;
 * -1 "busy" is 503). Logic in services/server-api.ts; docs/server-api.md for back ends.
 */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  AccessTokenQuerySchema,
  AccessTokenResponseSchema,
  Code2SessionQuerySchema,
  Code2SessionResponseSchema,
  ServerErrcode,
  ServerErrorSchema,
} from "../../../core/contracts/login";
import { createRouter } from "../app";
import type { AdminHono } from "../env";
import { code2Session, issueAccessToken, ServerApiError } from "../services/server-api";

export const serverApiRoutes = createRouter();

const serverError = (description: string) => ({
  description,
  content: { "application/json": { schema: ServerErrorSchema } },
});

const errors = {
  400: serverError(
    "40013 invalid appid (malformed or unknown), 40002 invalid grant_type, 40029 invalid code (malformed, forged, for another appid, or past its 5 minutes)",
  ),
  401: serverError("40001 invalid credential: the secret is wrong, or no AppSecret was generated"),
  403: serverError("40243 the AppSecret is frozen: a team admin unfreezes or resets it"),
  429: {
    ...serverError("45011 too many calls for this appid: retry after the Retry-After seconds"),
    headers: {
      "Retry-After": { description: "seconds until the limit's window ends", schema: { type: "integer" } },
    },
  },
  503: serverError("-1 system busy: retry later"),
} as const;

/** Answers a refusal in the WeChat shape; anything unexpected is logged (without the query) and answered -1. */
function refusal(c: Context<AdminHono>, err: unknown): Response {
  if (!(err instanceof ServerApiError)) {
    console.error("server API error", {
      path: c.req.path,
      error: String(err instanceof Error ? err.message : err),
    });
    return c.json({ errcode: ServerErrcode.BUSY, errmsg: "system busy, retry later" }, 503);
  }
  const headers: Record<string, string> = { "cache-control": "no-store" };
  if (err.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.retryAfterSeconds);
  return c.json(err.toBody(), err.status, headers);
}

/**
 * The query's schema only refuses a parameter given twice (an array where a string is due): that
 * is answered in the WeChat shape too, with the errcode of the parameter, never the admin API's.
 */
const PARAM_ERRORS: Record<string, ServerApiError> = {
  appid: new ServerApiError(ServerErrcode.INVALID_APPID, "invalid appid: give it once", 400),
  secret: new ServerApiError(ServerErrcode.INVALID_CREDENTIAL, "invalid credential: give secret once", 401),
  js_code: new ServerApiError(ServerErrcode.INVALID_CODE, "invalid code: give js_code once", 400),
  grant_type: new ServerApiError(ServerErrcode.INVALID_GRANT_TYPE, "invalid grant_type: give it once", 400),
};

function queryHook(
  result:
    | { success: true }
    | { success: false; error: { issues: readonly { path: readonly PropertyKey[] }[] } },
  c: Context<AdminHono>,
): Response | undefined {
  if (result.success) return undefined;
  const name = String(result.error.issues[0]?.path[0] ?? "appid");
  return refusal(c, PARAM_ERRORS[name] ?? PARAM_ERRORS.appid);
}

serverApiRoutes.openapi(
  createRoute({
    method: "get",
    path: "/sns/jscode2session",
    tags: ["server API"],
    summary: "Exchange a login code for the user's openid (WeChat code2Session)",
    description:
      "Called by the mini program's server with its AppSecret. The code comes from the edge's POST /v1/login, works once and for 5 minutes. openid is stable per mini program and host-app user, unionid per team and user; neither reveals the account. Rate limited per appid. No bearer token: the AppSecret authenticates.",
    security: [],
    request: { query: Code2SessionQuerySchema.partial() },
    responses: {
      200: {
        description: "The user",
        content: { "application/json": { schema: Code2SessionResponseSchema } },
      },
      409: serverError("40163 code been used: it was already exchanged; the client logs in again"),
      ...errors,
    },
  }),
  async (c) => {
    try {
      const body = await code2Session(c.env, c.var.db, c.req.valid("query"));
      return c.json(body, 200, { "cache-control": "no-store" });
    } catch (err) {
      return refusal(c, err) as never;
    }
  },
  queryHook as never,
);

serverApiRoutes.openapi(
  createRoute({
    method: "get",
    path: "/cgi-bin/token",
    tags: ["server API"],
    summary: "Get an access token for server APIs (WeChat getAccessToken)",
    description:
      "Called by the mini program's server with its AppSecret; the token authenticates later server APIs for 7200 s. Stored only as a hash. A reset of the AppSecret kills its tokens at once; a frozen AppSecret's tokens are refused (40243). Rate limited per appid.",
    security: [],
    request: { query: AccessTokenQuerySchema.partial() },
    responses: {
      200: {
        description: "A token, valid 7200 s",
        content: { "application/json": { schema: AccessTokenResponseSchema } },
      },
      ...errors,
    },
  }),
  async (c) => {
    try {
      const body = await issueAccessToken(c.env, c.var.db, c.req.valid("query"));
      return c.json(body, 200, { "cache-control": "no-store" });
    } catch (err) {
      return refusal(c, err) as never;
    }
  },
  queryHook as never,
);
