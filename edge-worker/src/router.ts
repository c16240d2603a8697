import { OpenAPIHono } from "@hono/zod-openapi";
import { validationError } from "../../core/contracts/validation";
import type { EdgeHono } from "./env";

/**
 * A router for one edge resource. Validation failures of every route go through the one error
 * shape (`defaultHook`); everything else thrown reaches the app's `onError`.
 */
export function createRouter() {
  return new OpenAPIHono<EdgeHono>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}
