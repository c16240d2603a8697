/**
 * Wire contract of login (PRODUCT.md X6; issue 12 "Login and server API"): the edge's
 * `POST /v1/login` (a one-time code for a verified user of a host app) and the WeChat-compatible
 * server API of the admin Worker (`GET /sns/jscode2session`, `GET /cgi-bin/token`), whose errors
 * are `{ errcode, errmsg }` as the WeChat / Tencent mini program server APIs answer them.
 */
import * as z from "zod";
import { MAX_LOGIN_CODE_LENGTH } from "../login-code";
import { AppIdSchema, IdSchema } from "./common";

/**
 * `POST /v1/login` body. Who the user is is not in it: the host app's user assertion travels in
 * the `x-graycast-user` header (`assertion=<jws>`, form-encoded), as in a GET check (docs/trust.md).
 */
export const LoginRequestSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema.meta({ example: "ha_aaaabbbbccccdddd" }),
  })
  .strict()
  .meta({ id: "LoginRequest" });

export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const LoginResponseSchema = z
  .object({
    code: z.string().meta({
      description:
        "One-time login code: hand it to your mini program's server, which exchanges it with GET /sns/jscode2session within 5 minutes. Opaque: it reveals nothing about the user.",
    }),
    expiresIn: z.number().int().meta({ description: "seconds the code stays valid (300)" }),
  })
  .meta({ id: "LoginResponse" });

export type LoginResponse = z.infer<typeof LoginResponseSchema>;

export { ServerErrcode, type ServerErrcodeValue } from "../server-errcode";

export const ServerErrorSchema = z
  .object({ errcode: z.number().int(), errmsg: z.string() })
  .meta({ id: "ServerError" });

/** Query of `GET /sns/jscode2session` (validated in the route, each failure with its errcode). */
export const Code2SessionQuerySchema = z.object({
  appid: z.string().meta({ description: "the mini program's App ID" }),
  secret: z.string().meta({ description: "its AppSecret" }),
  js_code: z.string().meta({
    description: `the code from the edge's POST /v1/login (at most ${MAX_LOGIN_CODE_LENGTH} characters)`,
  }),
  grant_type: z.string().meta({ description: "authorization_code" }),
});

export const Code2SessionResponseSchema = z
  .object({
    openid: z.string().meta({
      description:
        "The user's id in this mini program: stable for the same host-app account and mini program, different in every other mini program, not reversible to the account",
    }),
    session_key: z.string().meta({ description: "A fresh random session key (16 bytes, base64)" }),
    unionid: z.string().meta({
      description:
        "The user's id across the mini programs of the team that owns this one: stable per team and host-app account, not reversible",
    }),
  })
  .meta({ id: "Code2SessionResponse" });

/** Query of `GET /cgi-bin/token`. */
export const AccessTokenQuerySchema = z.object({
  grant_type: z.string().meta({ description: "client_credential" }),
  appid: z.string(),
  secret: z.string(),
});

export const AccessTokenResponseSchema = z
  .object({
    access_token: z.string(),
    expires_in: z.literal(7200),
  })
  .meta({ id: "AccessTokenResponse" });
