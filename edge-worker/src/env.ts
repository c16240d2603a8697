/**
 * Hono environment of the edge Worker. Bindings come from `wrangler types`
 * (worker-configuration.d.ts); `MANIFEST_VERIFY_KEYS` is an optional var not declared in
 * wrangler.toml yet: a JSON array of retired public JWKs kept in the JWKS during key rotation.
 */
export type EdgeBindings = Cloudflare.EdgeEnv & { MANIFEST_VERIFY_KEYS?: string };

export interface EdgeHono {
  Bindings: EdgeBindings;
}

/** Reads a numeric var (vars are strings); a missing or malformed value falls back. */
export function readNumberVar(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}
