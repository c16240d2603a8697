import { ApiError } from "../errors";
import type { RefusalRule } from "../lifecycle";

/**
 * What both zod APIs report on failure: classic `ZodError` (control plane, @hono/zod-openapi)
 * and zod/mini's `$ZodError` (edge) both have `issues` with a path and a message.
 */
export interface ValidationFailure {
  readonly issues: readonly {
    readonly path: readonly PropertyKey[];
    readonly message: string;
    /** a custom issue's params: `rule` when a seed limit refused the value (./common.ts seedLimit) */
    readonly params?: { readonly [key: string]: unknown };
  }[];
}

/** Formats a zod failure once (with the `rule` of a seed limit it broke, if any), for every route of both Workers (Hono `defaultHook`, edge `parseJsonBody`). */
export function validationError(error: ValidationFailure): ApiError {
  const issues = error.issues
    .slice(0, 20)
    .map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
  // A seed limit the request is past names its rule, as a 409 refusal of the same rule does.
  const rule = error.issues.find((i) => typeof i.params?.rule === "string")?.params?.rule as
    | RefusalRule
    | undefined;
  return new ApiError("bad_request", "the request is invalid", issues, rule);
}
