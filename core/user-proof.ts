/**
 * The edge's proof of a verified user, for the calls it forwards to the admin Worker (issue 14:
 * subscription message subscribe and inbox). The edge never touches D1, so for a call that must
 * write it verifies the host app's user assertion against its snapshot, as `POST /v1/login` does,
 * and forwards the call with this proof: `{ appId, hostAppId, account, path, expiry }` and an
 * HMAC-SHA-256 under the LOGIN_CODE_KEY secret both Workers hold, with its own domain string (a
 * login code is never a proof, nor the reverse). It lives 60 s and names the path it was made
 * for, so a proof seen in one call cannot serve another route. WebCrypto only.
 */
import { fromBase64Url, toBase64Url } from "./encryption";

export const USER_PROOF_HEADER = "x-graycast-user-proof";
export const USER_PROOF_TTL_MS = 60_000;
const DOMAIN = "graycast edge user proof v1\n";

export interface ProvenUser {
  appId: string;
  hostAppId: string;
  account: string;
}

async function mac(secret: string, payload: string): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(DOMAIN + payload)));
}

export async function makeUserProof(secret: string, user: ProvenUser, path: string, nowMs: number) {
  const payload = toBase64Url(
    new TextEncoder().encode(
      JSON.stringify({
        a: user.appId,
        h: user.hostAppId,
        u: user.account,
        p: path,
        e: nowMs + USER_PROOF_TTL_MS,
      }),
    ),
  );
  return `${payload}.${toBase64Url(await mac(secret, payload))}`;
}

/** The user the proof vouches for on `path`, or undefined (forged, edited, expired, other path). */
export async function openUserProof(
  secret: string,
  proof: string,
  path: string,
  nowMs: number,
): Promise<ProvenUser | undefined> {
  if (proof.length > 2048) return undefined;
  const [payload, sig] = proof.split(".");
  if (!payload || !sig || proof.split(".").length !== 2) return undefined;
  let given: Uint8Array;
  try {
    given = fromBase64Url(sig);
  } catch {
    return undefined;
  }
  const want = await mac(secret, payload);
  if (given.length !== want.length) return undefined;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want[i]! ^ given[i]!;
  if (diff !== 0) return undefined;
  try {
    const c = JSON.parse(new TextDecoder().decode(fromBase64Url(payload))) as Record<string, unknown>;
    if (
      typeof c.a !== "string" ||
      typeof c.h !== "string" ||
      typeof c.u !== "string" ||
      c.p !== path ||
      typeof c.e !== "number" ||
      nowMs >= c.e
    )
      return undefined;
    return { appId: c.a, hostAppId: c.h, account: c.u };
  } catch {
    return undefined;
  }
}
