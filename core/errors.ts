/**
 * The one error shape both Workers answer with:
 *   { "error": { "code": ErrorCode, "message": string, "rule"?: RefusalRule, "issues"?: Issue[] } }
 * Codes are a closed set (`ErrorCode`); `statusOf` maps each to its HTTP status through a
 * record typed over every code, so a new code fails the build until it is mapped. A refusal by
 * a seed rule or limit also names the rule (`rule`, a `RefusalRule` of core/lifecycle.ts), so
 * clients can tell refusals apart without parsing messages.
 */
import type { RefusalRule } from "./lifecycle";

/**
 * Every error code, by name: `ErrorCode.Conflict` in new code; the string values are the wire
 * vocabulary (clients and tests match on them) and never change.
 */
export const ErrorCode = {
  /** malformed JSON, failed validation (a seed limit's refusal names its `rule`) */
  BadRequest: "bad_request",
  /** no or invalid credentials */
  Unauthenticated: "unauthenticated",
  /** authenticated, but the role (or the token's scope) does not allow it */
  Forbidden: "forbidden",
  NotFound: "not_found",
  /** a method the Worker serves on no route (TRACE, CONNECT, ...); `Allow` lists the served ones */
  MethodNotAllowed: "method_not_allowed",
  /** the request contradicts current state: a seed rule refuses it (`rule` names it) */
  Conflict: "conflict",
  PayloadTooLarge: "payload_too_large",
  /** a query string over the route's limit (GET /v1/check) */
  UriTooLong: "uri_too_long",
  UnsupportedMediaType: "unsupported_media_type",
  /** a Range past the end of a package or increment; `Content-Range: bytes *\/size` says the size */
  RangeNotSatisfiable: "range_not_satisfiable",
  RateLimited: "rate_limited",
  /** an uploaded archive is broken, empty or unsafe */
  BadPackage: "bad_package",
  /** an upload's developer signature is missing, unknown, revoked or wrong (PRODUCT.md S2) */
  BadSignature: "bad_signature",
  Internal: "internal",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Every code's value, for schemas that document the vocabulary (core/contracts/error.ts). */
export const ERROR_CODES = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 414 | 415 | 416 | 422 | 429 | 500;

/** Each code's HTTP status; a new code fails the build until it is mapped here. */
const STATUS: Readonly<Record<ErrorCode, ErrorStatus>> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  bad_package: 422,
  bad_signature: 422,
  rate_limited: 429,
  internal: 500,
};

export interface ErrorIssue {
  path: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; rule?: RefusalRule; issues?: ErrorIssue[] };
}

export function statusOf(code: ErrorCode): ErrorStatus {
  return STATUS[code];
}

/** Thrown by services; serialised once by each Worker's `onError`. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
    readonly rule?: RefusalRule,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get status() {
    return statusOf(this.code);
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.rule !== undefined ? { rule: this.rule } : {}),
        ...(this.issues ? { issues: this.issues } : {}),
      },
    };
  }
}

/**
 * 429 with the seconds until the limit's window ends; both Workers send them as `Retry-After`
 * (core/rate-limit.ts).
 */
export class RateLimitedError extends ApiError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super("rate_limited", message);
  }
}

export const notFound = (what: string) => new ApiError("not_found", `${what} not found`);
export const conflict = (message: string) => new ApiError("conflict", message);
export const forbidden = (message = "your role does not allow this") => new ApiError("forbidden", message);

/**
 * Maps anything a handler threw to the one error shape: our own `ApiError` as is, a framework's
 * client error (malformed JSON, wrong media type, body limit) with its 4xx kept, anything else
 * to an opaque 500 (`internal` is true: the caller logs it, without request bodies or secrets).
 */
export function toApiError(err: unknown): { error: ApiError; internal: boolean } {
  if (err instanceof ApiError) return { error: err, internal: false };
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 413
        ? ErrorCode.PayloadTooLarge
        : status === 415
          ? ErrorCode.UnsupportedMediaType
          : status === 416
            ? ErrorCode.RangeNotSatisfiable
            : status === 404
              ? ErrorCode.NotFound
              : ErrorCode.BadRequest;
    return { error: new ApiError(code, (err as Error).message || "bad request"), internal: false };
  }
  return { error: new ApiError("internal", "internal error"), internal: true };
}
