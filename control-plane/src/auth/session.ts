/**
 * Console sessions: short-lived HS256 JWTs signed with `JWT_SECRET` (jose). API tokens for
 * scripts and CI are opaque random strings (`gct_...`) stored only as their SHA-256.
 */
import { SignJWT, jwtVerify } from "jose";
import { randomId, sha256Hex } from "../lib/encoding";

const ISSUER = "graycast-admin";
const AUDIENCE = "graycast-admin";
export const API_TOKEN_PREFIX = "gct_";

function secretKey(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters");
  return new TextEncoder().encode(secret);
}

export async function issueSession(userId: string, secret: string, ttlSeconds: number): Promise<{ token: string; expiresAt: number }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    .sign(secretKey(secret));
  return { token, expiresAt: (now + ttlSeconds) * 1000 };
}

/** The user id of a valid session, or `undefined` for anything else (bad signature, expired...). */
export async function verifySession(token: string, secret: string): Promise<string | undefined> {
  try {
    const { payload } = await jwtVerify(token, secretKey(secret), { issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"] });
    return payload.sub;
  } catch {
    return undefined;
  }
}

export function newApiToken(): string {
  return randomId(API_TOKEN_PREFIX, 32);
}

export const hashApiToken = (token: string) => sha256Hex(token);
