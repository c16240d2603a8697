/**
 * `GET /.well-known/jwks.json`: the public keys clients pin to verify manifests
 * (ARCHITECTURE.md "Packages, signatures, increments": "published as a JWKS, rotated with
 * overlap"). Only public members are ever published, never `d`.
 */
import { createRouter } from "../router";
import { publicKeys } from "../signing";

export const jwksRoutes = createRouter();

// Publish the current and retired public keys.
jwksRoutes.get("/jwks.json", async (c) => {
  const keys = await publicKeys(c.env.MANIFEST_SIGNING_KEY, c.env.MANIFEST_VERIFY_KEYS);
  // Short enough that a rotation reaches clients well inside the overlap window.
  c.header("cache-control", "public, max-age=300");
  return c.json({ keys }, 200);
});
