/**
 * The one error shape both Workers answer with:
 *   { "error": { "code": ErrorCode, "message": string, "issues"?: Issue[] } }
 * Codes are a closed union; `statusOf` maps each to its HTTP status with an exhaustive switch,
 * so a new code fails the build until it is mapped.
 */

export type ErrorCode =
  | "bad_request" // malformed JSON, failed validation
  | "unauthenticated" // no or invalid credentials
  | "forbidden" // authenticated, but the role does not allow it
  | "not_found"
  | "method_not_allowed" // a method the Worker serves on no route (TRACE, CONNECT, ...); `Allow` lists the served ones
  | "conflict" // the request contradicts current state (a seed rule refuses it)
  | "payload_too_large"
  | "uri_too_long" // a query string over the route's limit (GET /v1/check)
  | "unsupported_media_type"
  | "rate_limited"
  | "bad_package" // an uploaded archive is broken, empty or unsafe
  | "internal"
  | "bad_signature"; // an upload's developer signature is missing, unknown, revoked or wrong (PRODUCT.md S2)

export interface ErrorIssue {
  path: string;
  message: string;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues?: ErrorIssue[] };
}

export function statusOf(
  code: ErrorCode,
): 400 | 401 | 403 | 404 | 405 | 409 | 413 | 414 | 415 | 422 | 429 | 500 {
  switch (code) {
    case "bad_request":
      return 400;
    case "unauthenticated":
      return 401;
    case "forbidden":
      return 403;
    case "not_found":
      return 404;
    case "method_not_allowed":
      return 405;
    case "conflict":
      return 409;
    case "payload_too_large":
      return 413;
    case "uri_too_long":
      return 414;
    case "unsupported_media_type":
      return 415;
    case "bad_package":
      return 422;
    case "rate_limited":
      return 429;
    case "internal":
      return 500;
    case "bad_signature":
      return 422;
  }
}

/** Thrown by services; serialised once by each Worker's `onError`. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
  ) {
    super(message);
    this.name = "ApiError";
  }

  get status() {
    return statusOf(this.code);
  }

  toBody(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) },
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
        ? "payload_too_large"
        : status === 415
          ? "unsupported_media_type"
          : status === 404
            ? "not_found"
            : "bad_request";
    return { error: new ApiError(code, (err as Error).message || "bad request"), internal: false };
  }
  return { error: new ApiError("internal", "internal error"), internal: true };
}
