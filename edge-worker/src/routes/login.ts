/**
 * `POST /v1/login` (PRODUCT.md X6; issue 12: "the client gets a one-time login code for (mini
 * program, host app, verified user) from the edge; the user is the host app's verified user"):
 * the user assertion the host app's server minted (docs/trust.md) in the `x-graycast-user` header,
 * as a GET check carries it, and `{ appId, hostAppId }` in the body. The answer is a login code
 * (core/login-code.ts) the mini program's server exchanges with the admin Worker's
 * `/sns/jscode2session` within 5 minutes, once.
 *
 * Like the check, it reads only the snapshot (never D1): the mini program must exist, be listed
 * and bound to the host app, and the assertion must verify with that host app's keys in the
 * snapshot. Unlike the check, an assertion that does not verify is refused (401, with the reason
 * in `x-graycast-assertion`): a login code vouches for the user, so there is nothing to fall back to.
 * Rate limited per client address (EDGE_LOGIN_LIMITER) after validation, before any R2 read.
 */
import { keysOfHostApp } from "../../../core/assertion";
import { validationError } from "../../../core/contracts/validation";
import { ApiError, forbidden, notFound } from "../../../core/errors";
import { LOGIN_CODE_TTL_MS, LoginCodeKeys, sealLoginCode } from "../../../core/login-code";
import { checkAssertion } from "../assertions";
import {
  ASSERTION_STATUS_HEADER,
  AssertionSchema,
  LoginRequestSchema,
  QUERY_LIMIT,
  USER_HEADER,
} from "../contracts";
import { type EdgeBindings, readNumberVar } from "../env";
import { JSON_NO_STORE_HEADERS } from "../headers";
import { limitByAddress } from "../rate-limit";
import { snapshotCache } from "../snapshot-cache";
import { parseJsonRequest } from "../validate";

/** The login-code keys this isolate derived (HKDF once per secret). */
const LOGIN_CODE_KEYS = new LoginCodeKeys();

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;
const FORM_ENCODED = /^[\x21-\x7e]*$/;

/** The assertion of the `x-graycast-user` header (`assertion=<jws>`, form-encoded, nothing else). */
export function assertionFrom(header: string | null): string {
  if (header === null || header === "")
    throw new ApiError(
      "unauthenticated",
      `send the host app's user assertion in the ${USER_HEADER} header: assertion=<jws> (docs/trust.md)`,
    );
  if (header.length > QUERY_LIMIT || !FORM_ENCODED.test(header))
    throw new ApiError(
      "bad_request",
      `the ${USER_HEADER} header must be form-encoded printable ASCII, at most ${QUERY_LIMIT} characters, sent once`,
    );
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(header);
  } catch {
    throw new ApiError("bad_request", `the ${USER_HEADER} header is not form-encoded`);
  }
  const names = [...params.keys()];
  if (names.length !== 1 || names[0] !== "assertion")
    throw validationError({
      issues: [{ path: [USER_HEADER], message: "must carry exactly one field, assertion" }],
    });
  const result = AssertionSchema.safeParse(params.get("assertion"));
  if (!result.success)
    throw validationError({ issues: result.error.issues.map((i) => ({ ...i, path: ["assertion"] })) });
  return result.data;
}

function json(body: unknown, status: number, extra: [string, string][] = []): Response {
  return new Response(JSON.stringify(body), { status, headers: [...JSON_NO_STORE_HEADERS, ...extra] });
}

/** Answers `POST /v1/login`. `now` (ms) is the wall clock but in tests that move time themselves. */
export async function answerLogin(request: Request, env: EdgeBindings, now = Date.now()): Promise<Response> {
  const body = await parseJsonRequest(request, LoginRequestSchema);
  const token = assertionFrom(request.headers.get(USER_HEADER));
  if (env.LOGIN_RATE_LIMIT !== "off") {
    const limited = await limitByAddress(
      request,
      env,
      "EDGE_LOGIN_LIMITER",
      "too many logins from this address",
    );
    if (limited) return limited;
  }
  const verified = await verifyUser(env, body, token, now);
  if (!verified.ok) return verified.response;
  const result = verified;
  const { code } = await sealLoginCode(
    env.LOGIN_CODE_KEY,
    { appId: body.appId, hostAppId: body.hostAppId, account: result.account },
    now,
    LOGIN_CODE_KEYS,
  );
  return json({ code, expiresIn: LOGIN_CODE_TTL_MS / 1000 }, 200, [[ASSERTION_STATUS_HEADER, "verified"]]);
}

/**
 * The host app's verified user of `appId` (shared by login and the subscription message calls,
 * routes/messages.ts): the mini program must exist, be listed and bound to the host app, and the
 * assertion must verify with that host app's keys, all from the snapshot (never D1). An assertion
 * that does not verify is a 401 with the reason in `x-graycast-assertion`.
 */
export async function verifyUser(
  env: EdgeBindings,
  body: { appId: string; hostAppId: string },
  token: string,
  now: number,
): Promise<{ ok: true; account: string } | { ok: false; response: Response }> {
  const ttlMs = readNumberVar(env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  const snapshot = await snapshotCache.get(env.PACKAGES, body.appId, ttlMs, now);
  if (!snapshot) throw notFound("mini program");
  if (!snapshot.hostApps.includes(body.hostAppId))
    throw forbidden("this mini program is not bound to this host app");
  if (!snapshot.listed)
    throw new ApiError("conflict", "this mini program is off-shelf: no login or messages");
  const result = await checkAssertion(
    token,
    body.hostAppId,
    keysOfHostApp(snapshot.hostAppKeys, body.hostAppId),
    now,
  );
  if (!result.ok)
    return {
      ok: false,
      response: json(
        new ApiError(
          "unauthenticated",
          `the user assertion did not verify (${result.reason}): get a fresh one from the host app's server`,
        ).toBody(),
        401,
        [[ASSERTION_STATUS_HEADER, result.reason]],
      ),
    };
  return { ok: true, account: result.account };
}
