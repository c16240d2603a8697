/**
 * `GET /.well-known/jwks.json`: the public keys clients pin to verify manifests
 * (ARCHITECTURE.md "Packages, signatures, increments": "published as a JWKS, rotated with
 * overlap"). Only public members are ever published, never `d`.
 */
import { createRoute } from "@hono/zod-openapi";
import { JwksSchema } from "../../../core/contracts/check";
import { jsonResponse } from "../../../core/contracts/common";
import { createRouter } from "../router";
import { publicKeys } from "../signing";

const jwksRoute = createRoute({
  method: "get",
  path: "/jwks.json",
  summary: "Public keys that verify check manifests",
  responses: { 200: jsonResponse(JwksSchema, "The current signing key first, then keys kept for rotation") },
});

export const jwksRoutes = createRouter();

// Publish the current and retired public keys.
jwksRoutes.openapi(jwksRoute, async (c) => {
  const keys = await publicKeys(c.env.MANIFEST_SIGNING_KEY, c.env.MANIFEST_VERIFY_KEYS);
  // Short enough that a rotation reaches clients well inside the overlap window.
  c.header("cache-control", "public, max-age=300");
  return c.json({ keys }, 200);
});
