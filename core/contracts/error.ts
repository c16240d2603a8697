import { z } from "@hono/zod-openapi";

/** The one error shape of both Workers (see core/errors.ts). */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "conflict" }),
      message: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi("Error");
