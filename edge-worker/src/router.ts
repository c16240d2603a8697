import { Hono } from "hono";
import type { EdgeHono } from "./env";

/**
 * A router for one edge resource: plain Hono. Handlers validate their input with
 * ./validate.ts (zod), whose failures take the one error shape; everything thrown reaches
 * the app's `onError`.
 */
export function createRouter() {
  return new Hono<EdgeHono>();
}
