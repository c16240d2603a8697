/**
 * Hono environment of the edge Worker. Bindings come from `wrangler types`
 * (edge-worker/worker-configuration.d.ts, `npm run types`), GRAYSCALE_COUNTER typed with its
 * class; two optional secrets are not in .dev.vars.example's required names:
 * `MANIFEST_VERIFY_KEYS`, the upcoming and retired public keys published in the JWKS during a key
 * rotation (docs/key-rotation.md), and `PACKAGE_KEY_SECRET`, needed once a mini program encrypts
 * its packages (core/encryption.ts).
 */

export type EdgeBindings = EdgeEnv & { MANIFEST_VERIFY_KEYS?: string; PACKAGE_KEY_SECRET?: string };

export interface EdgeHono {
  Bindings: EdgeBindings;
}

/** Reads a numeric var (vars are strings); a missing or malformed value falls back. */
export function readNumberVar(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}
