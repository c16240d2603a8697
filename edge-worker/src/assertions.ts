/**
 * User assertions at the edge (issue 10, "Who is the user"; docs/trust.md): verified with the
 * host app's keys from the snapshot (core/assertion.ts), never D1, and remembered per isolate so
 * a client repeating its assertion costs a Map lookup, not a signature check.
 *
 * - A verified assertion is kept until its `exp` (+ skew). On every hit the key that verified it
 *   must still be usable in the current snapshot (same kid and `x`, not past a retired key's
 *   overlap): revoking a key stops its assertions as soon as the edge has the new snapshot.
 * - A refusal is kept REFUSAL_TTL_MS, so a bad token sent again and again costs one signature
 *   check per window, not one per request; a key registered meanwhile is seen after that window.
 * - Entries are keyed by host app and token; at most MAX_ENTRIES, the oldest dropped first
 *   (invented tokens cannot grow it).
 */
import {
  type AssertionResult,
  CLOCK_SKEW_SECONDS,
  type HostAppKey,
  ImportedKeys,
  usableKey,
  verifyUserAssertion,
} from "../../core/assertion";

export const MAX_ENTRIES = 4_096;
export const REFUSAL_TTL_MS = 10_000;

interface Entry {
  result: AssertionResult;
  /** ms since epoch */
  until: number;
  /** the `x` of the key that verified it */
  x: string | undefined;
}

const entries = new Map<string, Entry>();
/** This isolate's imported host-app keys (core `ImportedKeys`), for the assertions not remembered above. */
const imported = new ImportedKeys();

/** The outcome of `token` for a check from `hostAppId`, with that host app's snapshot `keys`, at `now` (ms). */
export async function checkAssertion(
  token: string,
  hostAppId: string,
  keys: readonly HostAppKey[] | undefined,
  now: number,
): Promise<AssertionResult> {
  const cacheKey = `${hostAppId}\n${token}`;
  const hit = entries.get(cacheKey);
  if (hit !== undefined && now < hit.until) {
    if (!hit.result.ok) return hit.result;
    if (usableKey(keys, hit.result.kid, now)?.x === hit.x) return hit.result;
  }
  const result = await verifyUserAssertion(token, hostAppId, keys, now, imported);
  if (hit !== undefined) entries.delete(cacheKey);
  else if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
  entries.set(cacheKey, {
    result,
    until: result.ok ? (result.exp + CLOCK_SKEW_SECONDS) * 1000 : now + REFUSAL_TTL_MS,
    x: result.ok ? usableKey(keys, result.kid, now)?.x : undefined,
  });
  return result;
}

/** Forgets every remembered assertion (tests). */
export function clearAssertionCache(): void {
  entries.clear();
}
