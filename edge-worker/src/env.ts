/**
 * Hono environment of the edge Worker. Bindings come from `wrangler types`
 * (worker-configuration.d.ts); two optional secrets are not declared in wrangler.toml:
 * `MANIFEST_VERIFY_KEYS`, the upcoming and retired public keys published in the JWKS during a key
 * rotation (docs/key-rotation.md), and `PACKAGE_KEY_SECRET`, needed once a mini program encrypts
 * its packages (core/encryption.ts).
 */
import type { GrayscaleCounter } from "../../durable-objects/grayscale-counter";
import type { CounterNamespace } from "./grayscale";

export type EdgeBindings = Cloudflare.EdgeEnv & { MANIFEST_VERIFY_KEYS?: string; PACKAGE_KEY_SECRET?: string };

export interface EdgeHono {
  Bindings: EdgeBindings;
}

/** Reads a numeric var (vars are strings); a missing or malformed value falls back. */
export function readNumberVar(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

/**
 * The generated binding type does not name the class behind GRAYSCALE_COUNTER (the DO class is
 * bound without a type parameter); the edge exports GrayscaleCounter, so its RPC methods are there.
 */
export function counterNamespace(binding: DurableObjectNamespace): CounterNamespace {
  return binding as unknown as DurableObjectNamespace<GrayscaleCounter>;
}
