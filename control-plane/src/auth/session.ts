/**
 * Console sessions: short-lived HS256 JWTs signed with `JWT_SECRET` (jose). Each carries `sub`
 * (the user), `jti` (its row in the `sessions` table), `iat` and `exp`; a token missing any of
 * them, older than the session lifetime or signed with another algorithm is refused (issue 10:
 * "session JWTs must carry `exp`"). The signature alone is not enough: the middleware also needs
 * the session's row to exist, not revoked and not expired (auth/middleware.ts), so logout, a
 * password change and disabling the user end a session at once.
 *
 * API tokens for scripts and CI are opaque random strings (`gct_...`) stored only as their SHA-256.
 */
import { jwtVerify, SignJWT } from "jose";
import { randomId, sha256Hex } from "../lib/encoding";

const ISSUER = "graycast-admin";
const AUDIENCE = "graycast-admin";
export const API_TOKEN_PREFIX = "gct_";
/** Clock skew tolerated between the isolate that signed a session and the one verifying it. */
const CLOCK_TOLERANCE_SECONDS = 5;

function secretKey(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters");
  return new TextEncoder().encode(secret);
}

export const newSessionId = () => randomId("ses_", 16);

/** Signs the JWT of session `sessionId` (times in ms since epoch, as everywhere in the control plane). */
export async function signSessionJwt(
  input: { userId: string; sessionId: string; issuedAt: number; expiresAt: number },
  secret: string,
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(input.userId)
    .setJti(input.sessionId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(Math.floor(input.issuedAt / 1000))
    .setExpirationTime(Math.floor(input.expiresAt / 1000))
    .sign(secretKey(secret));
}

/**
 * The user and session ids of a well-formed, unexpired session JWT, or `undefined` for anything
 * else (bad signature, another algorithm, a missing `exp`/`iat`/`sub`/`jti`, issued more than
 * `maxAgeSeconds` ago). Whether the session is still open is the caller's D1 lookup.
 */
export async function verifySessionJwt(
  token: string,
  secret: string,
  maxAgeSeconds: number,
): Promise<{ userId: string; sessionId: string } | undefined> {
  try {
    const { payload } = await jwtVerify(token, secretKey(secret), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["HS256"],
      requiredClaims: ["exp", "iat", "sub", "jti"],
      maxTokenAge: maxAgeSeconds,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    if (typeof payload.sub !== "string" || typeof payload.jti !== "string") return undefined;
    return { userId: payload.sub, sessionId: payload.jti };
  } catch {
    return undefined;
  }
}

export function newApiToken(): string {
  return randomId(API_TOKEN_PREFIX, 32);
}

export const hashApiToken = (token: string) => sha256Hex(token);
