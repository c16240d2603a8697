/**
 * Subscription messages for clients (PRODUCT.md T3, T5; issue 14): `POST /v1/messages/subscribe`
 * (the user's choices in the host app's pop-up, WeChat requestSubscribeMessage's result per id),
 * `GET /v1/messages/inbox` (paged, newest first) and `POST /v1/messages/inbox/read`.
 *
 * The user is the host app's verified user: the assertion in the `x-graycast-user` header,
 * verified against the snapshot exactly as `POST /v1/login` does (routes/login.ts verifyUser).
 * These calls write D1 and the edge never touches D1 (ARCHITECTURE.md; the hot /v1/check path is
 * untouched by this file), so the edge forwards the validated call to the admin Worker
 * (ADMIN_BASE_URL) with a user proof (core/user-proof.ts: HMAC under LOGIN_CODE_KEY, 60 s, bound to
 * the path) in place of the assertion, and relays the answer. A URL rather than a service binding:
 * the admin Worker binds the edge already, and a binding back would make a deploy cycle.
 */
import {
  InboxQuerySchema,
  MarkReadRequestSchema,
  SubscribeRequestSchema,
} from "../../../core/contracts/messages";
import { validationError } from "../../../core/contracts/validation";
import { ApiError } from "../../../core/errors";
import { makeUserProof, USER_PROOF_HEADER } from "../../../core/user-proof";
import { ASSERTION_STATUS_HEADER, USER_HEADER } from "../contracts";
import type { EdgeBindings } from "../env";
import { JSON_NO_STORE_HEADERS } from "../headers";
import { limitByAddress } from "../rate-limit";
import { parseJsonRequest } from "../validate";
import { assertionFrom, verifyUser } from "./login";

/** How the edge reaches the admin Worker: `fetch` in production; tests hand in the in-process app. */
export type Forward = (request: Request) => Promise<Response>;

const ADMIN_PATHS = {
  subscribe: "/internal/messages/subscribe",
  inbox: "/internal/messages/inbox",
  read: "/internal/messages/read",
} as const;

async function forward(
  env: EdgeBindings,
  send: Forward,
  op: keyof typeof ADMIN_PATHS,
  user: { appId: string; hostAppId: string; account: string },
  init: { method: "GET" | "POST"; query?: string; body?: unknown },
  now: number,
): Promise<Response> {
  const base = env.ADMIN_BASE_URL;
  const key = env.LOGIN_CODE_KEY;
  if (!base || !key) {
    console.error("subscription messages: ADMIN_BASE_URL and LOGIN_CODE_KEY must be set on the edge");
    throw new ApiError("internal", "subscription messages are not configured");
  }
  const path = ADMIN_PATHS[op];
  const proof = await makeUserProof(key, user, path, now);
  const url = `${base.replace(/\/$/, "")}${path}${init.query ? `?${init.query}` : ""}`;
  let res: Response;
  try {
    res = await send(
      new Request(url, {
        method: init.method,
        headers: { [USER_PROOF_HEADER]: proof, "content-type": "application/json" },
        body: init.body === undefined ? null : JSON.stringify(init.body),
      }),
    );
  } catch (err) {
    console.error("subscription messages: the admin Worker did not answer", { op, error: String(err) });
    throw new ApiError("internal", "subscription messages are unavailable, retry later");
  }
  const text = await res.text();
  return new Response(text, {
    status: res.status,
    headers: [...JSON_NO_STORE_HEADERS, [ASSERTION_STATUS_HEADER, "verified"]],
  });
}

/**
 * The verified user of a call, after the per-address limit (MESSAGE_LIMITER): the limit comes
 * after validation (a malformed call is 400 without counting) and before the assertion's
 * signature check and the admin Worker's D1 work, which is what it protects.
 */
async function user(
  request: Request,
  env: EdgeBindings,
  body: { appId: string; hostAppId: string },
  now: number,
) {
  const limited = await limitByAddress(
    request,
    env,
    "MESSAGE_LIMITER",
    "too many message calls from this address",
  );
  if (limited) return { ok: false as const, response: limited };
  const token = assertionFrom(request.headers.get(USER_HEADER));
  const v = await verifyUser(env, body, token, now);
  return v.ok ? { ok: true as const, user: { ...body, account: v.account } } : v;
}

/** `POST /v1/messages/subscribe`. */
export async function answerSubscribe(
  request: Request,
  env: EdgeBindings,
  send: Forward = (r) => fetch(r),
  now = Date.now(),
): Promise<Response> {
  const body = await parseJsonRequest(request, SubscribeRequestSchema);
  const u = await user(request, env, body, now);
  if (!u.ok) return u.response;
  return forward(env, send, "subscribe", { ...u.user }, { method: "POST", body }, now);
}

/** `GET /v1/messages/inbox?appId&hostAppId&cursor&limit`. */
export async function answerInbox(
  request: Request,
  env: EdgeBindings,
  send: Forward = (r) => fetch(r),
  now = Date.now(),
): Promise<Response> {
  const url = new URL(request.url);
  const params = new URLSearchParams(url.search);
  for (const name of new Set(params.keys()))
    if (params.getAll(name).length > 1)
      throw validationError({ issues: [{ path: [name], message: "give it once" }] });
  const r = InboxQuerySchema.safeParse(Object.fromEntries(params));
  if (!r.success) throw validationError(r.error);
  const u = await user(request, env, r.data, now);
  if (!u.ok) return u.response;
  const query = new URLSearchParams({
    appId: r.data.appId,
    hostAppId: r.data.hostAppId,
    limit: String(r.data.limit),
    ...(r.data.cursor === undefined ? {} : { cursor: r.data.cursor }),
  }).toString();
  return forward(env, send, "inbox", u.user, { method: "GET", query }, now);
}

/** `POST /v1/messages/inbox/read`. */
export async function answerMarkRead(
  request: Request,
  env: EdgeBindings,
  send: Forward = (r) => fetch(r),
  now = Date.now(),
): Promise<Response> {
  const body = await parseJsonRequest(request, MarkReadRequestSchema);
  const u = await user(request, env, body, now);
  if (!u.ok) return u.response;
  return forward(env, send, "read", u.user, { method: "POST", body }, now);
}
