import * as z from "zod";

/** The one error shape of both Workers (see core/errors.ts). */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({ example: "conflict" }),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: "Error" });
