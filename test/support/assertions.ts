/**
 * User assertions for tests (core/assertion.ts, docs/trust.md): Ed25519 key pairs made with
 * WebCrypto, assertions signed as a host app's server would sign them, and the registration of a
 * key through the real admin API.
 */
import { SignJWT } from "jose";
import { ASSERTION_AUDIENCE, type HostAppKey } from "../../core/assertion";

export interface AssertionKey {
  /** the key id assertions name (assigned by the control plane, or made up for edge-only tests) */
  kid: string;
  privateKey: CryptoKey;
  /** base64url public key */
  x: string;
  publicJwk: { kty: "OKP"; crv: "Ed25519"; x: string };
  /** the private JWK (what a host app's server keeps) */
  privateJwk: JsonWebKey;
}

/** A fresh Ed25519 key pair; `kid` may be filled in once registered. */
export async function makeAssertionKey(
  kid = `hk_test${crypto.randomUUID().slice(0, 8)}`,
): Promise<AssertionKey> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const privateJwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const x = privateJwk.x as string;
  return { kid, privateKey: pair.privateKey, x, publicJwk: { kty: "OKP", crv: "Ed25519", x }, privateJwk };
}

export interface AssertionClaims {
  iss: string;
  sub: string;
  did?: string;
  aud?: string;
  /** seconds; default now */
  iat?: number;
  /** seconds; default iat + 600 */
  exp?: number;
}

/** Signs an assertion with `key` (header kid = `kid`, default the key's). */
export async function mintAssertion(
  key: AssertionKey,
  claims: AssertionClaims,
  kid = key.kid,
): Promise<string> {
  const iat = claims.iat ?? Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    sub: claims.sub,
    ...(claims.did !== undefined ? { did: claims.did } : {}),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "EdDSA", kid })
    .setIssuer(claims.iss)
    .setAudience(claims.aud ?? ASSERTION_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + 600)
    .sign(key.privateKey);
}

/** The snapshot entry of `key` (edge tests that write snapshots themselves). */
export function snapshotKeyOf(key: AssertionKey, notAfter?: number): HostAppKey {
  return { kid: key.kid, x: key.x, ...(notAfter !== undefined ? { notAfter } : {}) };
}

/** Registers a fresh key for `hostAppId` through the admin API (as `token`, a manager) and returns it with its kid. */
export async function registerAssertionKey(
  token: string,
  hostAppId: string,
  name = "test server",
): Promise<AssertionKey> {
  // Imported here: edge-only tests use this module without loading the admin Worker.
  const { callAdmin, expectJson } = await import("./admin");
  const key = await makeAssertionKey();
  const body = await expectJson<{ id: string }>(
    callAdmin("POST", `/v1/host-apps/${hostAppId}/keys`, { token, json: { name, jwk: key.publicJwk } }),
    201,
  );
  return { ...key, kid: body.id };
}

/** One key of the edge tests' host app (support/edge.ts HOST_APP), in every snapshot `putSnapshot` writes. */
let edgeKey: Promise<AssertionKey> | undefined;
export function edgeTestKey(): Promise<AssertionKey> {
  edgeKey ??= makeAssertionKey("hk_edgetestkey");
  return edgeKey;
}

/** A valid assertion for `account` on the edge tests' host app (`hostAppId`, default HOST_APP). */
export async function userAssertion(
  account: string,
  extra: Partial<AssertionClaims> = {},
  hostAppId = "ha_testhostapp01",
): Promise<string> {
  return mintAssertion(await edgeTestKey(), { iss: hostAppId, sub: account, ...extra });
}
