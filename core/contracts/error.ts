import * as z from "zod";
import { ERROR_CODES } from "../errors";
import { REFUSAL_RULES } from "../lifecycle";

/** The one error shape of both Workers (see core/errors.ts). */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).meta({
        description:
          "what went wrong, one of a closed set (core/errors.ts ErrorCode); the HTTP status follows from it",
        example: "conflict",
      }),
      message: z.string(),
      rule: z.enum(REFUSAL_RULES).optional().meta({
        description:
          "the seed rule or limit that refused the request (core/lifecycle.ts RefusalRule): with a 409 when the current state breaks it, with a 400 when the request itself is past a documented limit",
        example: "task_name_invalid",
      }),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: "Error" });
