import { ApiError } from "../errors";

/**
 * What both zod APIs report on failure: classic `ZodError` (control plane, @hono/zod-openapi)
 * and zod/mini's `$ZodError` (edge) both have `issues` with a path and a message.
 */
export interface ValidationFailure {
  readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
}

/** Formats a zod failure once, for every route of both Workers (Hono `defaultHook`, edge `parseJsonBody`). */
export function validationError(error: ValidationFailure): ApiError {
  const issues = error.issues
    .slice(0, 20)
    .map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
  return new ApiError("bad_request", "the request is invalid", issues);
}
