import type { ZodError } from "zod";
import { ApiError } from "../errors";

/** Formats a zod failure once, for every route of both Workers (Hono `defaultHook`). */
export function validationError(error: ZodError): ApiError {
  const issues = error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
  return new ApiError("bad_request", "the request is invalid", issues);
}
