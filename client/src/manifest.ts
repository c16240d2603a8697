/**
 * Verifying what the platform signs: the JWS against PINNED keys (never keys fetched at run time
 * from the server being verified), then the claims of a check manifest (TUF / Uptane checks as
 * adapted in research/update-protocols-and-security.md, "(b) Security checklist", items 1-5).
 *
 * Order of the checks, each with its error code:
 *  1. the compact JWS parses and its protected header says `alg: EdDSA`    bad_manifest / bad_signature
 *  2. its `kid` names a pinned key                                          unknown_key
 *  3. the signature verifies with that key                                  bad_signature
 *  4. `typ`, `iss`, `sub` (App ID) and `aud` (host app) are this client's   mix_and_match
 *  5. `exp` is in the future, give or take the allowed clock skew           expired
 *  6. `iat` and `revision` are not below the highest accepted before        replayed
 *     (nor `iat` in the future, nor `revision` implausibly far ahead)         bad_manifest
 *     and `installedVersion` is the version this device runs                  replayed
 *  7. the claims have the shape core/manifest.ts describes                  bad_manifest
 */
import { compactVerify, decodeProtectedHeader, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { MANIFEST_ISSUER, type ManifestClaims } from "../../core/manifest";
import { isSemver } from "../../core/semver";
import { ClientError } from "./errors";

/** Imported pinned platform keys, by kid (imported once per client). */
export class PinnedKeys {
  readonly #jwks: Map<string, JWK>;
  readonly #imported = new Map<string, Promise<CryptoKey | Uint8Array>>();

  constructor(jwks: JSONWebKeySet) {
    this.#jwks = new Map(
      jwks.keys
        .filter((k) => typeof k.kid === "string" && k.kty === "OKP" && k.crv === "Ed25519")
        .map((k) => [k.kid!, k]),
    );
  }

  /**
   * Verifies a compact JWS (steps 1-3 and the `typ` of step 4) and returns its payload as JSON.
   * `typ` keeps one kind of signed statement from being accepted as another.
   */
  async verify(jws: string, typ: string): Promise<Record<string, unknown>> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(jws);
    } catch {
      throw new ClientError("bad_manifest", "the signed statement is not a compact JWS");
    }
    if (header.alg !== "EdDSA")
      throw new ClientError(
        "bad_signature",
        `algorithm ${JSON.stringify(header.alg)} is not accepted (EdDSA only)`,
      );
    const kid = header.kid;
    const jwk = kid === undefined ? undefined : this.#jwks.get(kid);
    if (kid === undefined || jwk === undefined)
      throw new ClientError(
        "unknown_key",
        `signed with key ${JSON.stringify(kid)}, which this app does not pin`,
      );
    let imported = this.#imported.get(kid);
    if (imported === undefined) {
      imported = importJWK(jwk, "EdDSA");
      this.#imported.set(kid, imported);
    }
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(jws, await imported, { algorithms: ["EdDSA"] }));
    } catch (error) {
      throw new ClientError(
        "bad_signature",
        `the signature does not verify with pinned key ${JSON.stringify(kid)}`,
        { cause: error },
      );
    }
    if (header.typ !== typ)
      throw new ClientError("mix_and_match", `a ${JSON.stringify(header.typ)} statement is not a ${typ}`);
    let claims: unknown;
    try {
      claims = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      throw new ClientError("bad_manifest", "the signed payload is not JSON");
    }
    if (claims === null || typeof claims !== "object" || Array.isArray(claims))
      throw new ClientError("bad_manifest", "the signed payload is not a JSON object");
    return claims as Record<string, unknown>;
  }
}

export interface ManifestExpectations {
  appId: string;
  hostAppId: string;
  /** seconds since epoch */
  now: number;
  clockSkewSeconds: number;
  highestIat: number;
  highestRevision: number;
  /** the version this device runs (what it reported in the check), if any */
  installedVersion: string | undefined;
}

/**
 * How far one answer may move the revision past the highest seen: a snapshot revision grows by
 * one per change, so a larger jump is a forged manifest (a leaked key) trying to make every later
 * genuine answer look replayed.
 */
export const MAX_REVISION_JUMP = 1_000_000;

/** Steps 4-7 for a check manifest whose signature verified. */
export function checkManifestClaims(
  claims: Record<string, unknown>,
  expect: ManifestExpectations,
): ManifestClaims {
  if (claims.iss !== MANIFEST_ISSUER)
    throw new ClientError("mix_and_match", `issuer ${JSON.stringify(claims.iss)} is not ${MANIFEST_ISSUER}`);
  if (claims.sub !== expect.appId)
    throw new ClientError(
      "mix_and_match",
      `the manifest is for mini program ${JSON.stringify(claims.sub)}, not ${expect.appId}`,
    );
  if (claims.aud !== expect.hostAppId)
    throw new ClientError(
      "mix_and_match",
      `the manifest is for host app ${JSON.stringify(claims.aud)}, not ${expect.hostAppId}`,
    );
  const { iat, exp, revision } = claims;
  if (!isCount(iat) || !isCount(exp) || !isCount(revision))
    throw new ClientError("bad_manifest", "iat, exp and revision must be non-negative integers");
  if (exp + expect.clockSkewSeconds <= expect.now)
    throw new ClientError("expired", `the manifest expired at ${new Date(exp * 1000).toISOString()}`);
  if (iat < expect.highestIat)
    throw new ClientError(
      "replayed",
      `the manifest was issued at ${iat}, before one already accepted (${expect.highestIat})`,
    );
  // A manifest from the future would lock out every genuine one after it (iat only grows).
  if (iat > expect.now + expect.clockSkewSeconds)
    throw new ClientError(
      "bad_manifest",
      `the manifest claims to be issued at ${new Date(iat * 1000).toISOString()}, in the future`,
    );
  if (revision < expect.highestRevision)
    throw new ClientError(
      "replayed",
      `the manifest describes revision ${revision}, older than ${expect.highestRevision} already seen`,
    );
  if (expect.highestRevision > 0 && revision > expect.highestRevision + MAX_REVISION_JUMP)
    throw new ClientError(
      "bad_manifest",
      `revision ${revision} jumps implausibly far past ${expect.highestRevision}`,
    );
  // The answer (a rollback order above all) was computed for the version this device runs: one
  // fetched for another installed version must not steer this device.
  if (claims.installedVersion !== expect.installedVersion) {
    throw new ClientError(
      "replayed",
      `the manifest was made for installed version ${JSON.stringify(claims.installedVersion ?? null)}, this device runs ${JSON.stringify(expect.installedVersion ?? null)}`,
    );
  }
  checkShape(claims);
  return claims as unknown as ManifestClaims;
}

const STATUSES = new Set(["ok", "delisted", "no_release", "not_bound"]);
const HEX64 = /^[0-9a-f]{64}$/;

function checkShape(claims: Record<string, unknown>): void {
  if (typeof claims.status !== "string" || !STATUSES.has(claims.status))
    malformed(`unknown status ${JSON.stringify(claims.status)}`);
  if (claims.status !== "ok") return;
  if (typeof claims.version !== "string" || !isSemver(claims.version)) malformed("version");
  if (claims.rollback !== undefined && typeof claims.rollback !== "boolean") malformed("rollback");
  const pkg = claims.package;
  if (!isObject(pkg) || !isDownload(pkg)) malformed("package");
  if (pkg.files !== undefined && !isHex64(pkg.files)) malformed("package.files");
  if (pkg.signature !== undefined && !isSignature(pkg.signature)) malformed("package.signature");
  if (pkg.encryption !== undefined && !isEncryption(pkg.encryption)) malformed("package.encryption");
  for (const name of ["increment", "incrementDelta"] as const) {
    const inc = claims[name];
    if (inc === undefined) continue;
    if (!isObject(inc) || !isDownload(inc) || !isHex64(inc.from) || typeof inc.fromVersion !== "string")
      malformed(name);
    if (inc.encryption !== undefined && !isEncryption(inc.encryption)) malformed(`${name}.encryption`);
  }
}

function malformed(why: string): never {
  throw new ClientError("bad_manifest", `the manifest is malformed: ${why}`);
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isHex64 = (v: unknown) => typeof v === "string" && HEX64.test(v);
const isDownload = (v: Record<string, unknown>) =>
  typeof v.url === "string" && isCount(v.size) && isHex64(v.sha256);
const isSignature = (v: unknown) =>
  isObject(v) &&
  typeof v.kid === "string" &&
  (v.alg === "EdDSA" || v.alg === "ES256") &&
  typeof v.sig === "string";
const isEncryption = (v: unknown) =>
  isObject(v) &&
  v.alg === "A256GCM" &&
  typeof v.key === "string" &&
  typeof v.iv === "string" &&
  isHex64(v.plainSha256) &&
  isCount(v.plainSize);
