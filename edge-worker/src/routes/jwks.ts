/**
 * `GET /.well-known/jwks.json`: the public keys clients pin to verify manifests
 * (ARCHITECTURE.md "Packages, signatures, increments": "published as a JWKS, rotated with
 * overlap"; docs/key-rotation.md). The signing key first, then upcoming keys (published before
 * they sign), then retired keys until their `retireAfter`. Only public members are ever
 * published, never `d`.
 */
import { createRouter } from "../router";
import { JWKS_MAX_AGE_SECONDS, publicKeys } from "../signing";

export const jwksRoutes = createRouter();

// Publish the signing, upcoming and still-valid retired public keys.
jwksRoutes.get("/jwks.json", async (c) => {
  const keys = await publicKeys(c.env.MANIFEST_SIGNING_KEY, c.env.MANIFEST_VERIFY_KEYS, Date.now());
  // Short and stated (docs/key-rotation.md): the rotation waits at least this long, plus the
  // clients' refresh interval, between publishing an upcoming key and letting it sign.
  c.header("cache-control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
  return c.json({ keys }, 200);
});
