import { OpenAPIHono } from "@hono/zod-openapi";
import { validationError } from "../../core/contracts/validation";
import type { AdminHono } from "./env";

/**
 * A router for one resource. Validation failures of every route go through the one error shape
 * (`defaultHook`); everything else thrown reaches the admin app's `onError`.
 */
export function createRouter() {
  return new OpenAPIHono<AdminHono>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}

export type Router = ReturnType<typeof createRouter>;
