/**
 * Team signing keys and custom signature verification (PRODUCT.md S2; seed "Custom signature
 * verification ... to ensure the correctness of the script source"). A team admin registers
 * public keys (Ed25519 or ECDSA P-256 JWKs); while the team has an active key, every upload of
 * its mini programs must carry a signature by one of them over core/signature.ts
 * `packageSigningInput(appId, version, filesSha256)`, checked with WebCrypto before the package
 * is stored or the version written. The signature is kept on the version and travels to clients
 * in the delivery snapshot and the signed manifest (`package.signature`).
 *
 * Roles: any team member (or a platform admin) lists keys; only a team admin registers one; a
 * team admin or a platform admin (incident response) revokes one. A revoked key never comes
 * back: registering the same public key again is refused (one row per team and thumbprint).
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { fromBase64Url } from "../../../core/encryption";
import { ApiError, conflict, notFound } from "../../../core/errors";
import { packageSigningInput } from "../../../core/signature";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { teamMembers, teamSigningKeys, teams } from "../db/schema";
import { randomId, sha256Hex } from "../lib/encoding";
import type { RegisterSigningKeyInput } from "../routes/signing-keys";
import { ADMIN_ROLES, READ_ROLES, requireTeamRole } from "./access";
import { recordChangeIfChanged } from "./change-log";
import { guardedWrite } from "./d1";

/** Active keys per team; rotation needs two at a time, a handful covers several signers. */
export const MAX_ACTIVE_SIGNING_KEYS = 10;
/** The upload request header: `<keyId>:<alg>:<base64url signature>`. */
export const SIGNATURE_HEADER = "x-graycast-signature";

export type SigningAlg = "EdDSA" | "ES256";

/** The public members that identify a key (RFC 7638 thumbprint members). */
export type PublicSigningJwk =
  | { kty: "OKP"; crv: "Ed25519"; x: string }
  | { kty: "EC"; crv: "P-256"; x: string; y: string };

/** A developer signature as sent with an upload and stored on the version. */
export interface PackageSignature {
  kid: string;
  alg: SigningAlg;
  /** base64url, 64 bytes: Ed25519, or ES256 as JWS encodes it (raw r || s) */
  sig: string;
}

type KeyRow = typeof teamSigningKeys.$inferSelect;

const algOf = (jwk: PublicSigningJwk): SigningAlg => (jwk.kty === "OKP" ? "EdDSA" : "ES256");

/** WebCrypto parameters for importing and verifying with a key of `alg`. */
function webCrypto(alg: SigningAlg) {
  return alg === "EdDSA"
    ? { importAs: { name: "Ed25519" }, verifyAs: { name: "Ed25519" } }
    : { importAs: { name: "ECDSA", namedCurve: "P-256" }, verifyAs: { name: "ECDSA", hash: "SHA-256" } };
}

function importPublicKey(jwk: PublicSigningJwk): Promise<CryptoKey> {
  return crypto.subtle.importKey("jwk", { ...jwk, ext: true }, webCrypto(algOf(jwk)).importAs, false, [
    "verify",
  ]);
}

/** SHA-256 (hex) of the RFC 7638 thumbprint input: required members, sorted, no spaces. */
function thumbprintOf(jwk: PublicSigningJwk): Promise<string> {
  const input =
    jwk.kty === "OKP"
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return sha256Hex(JSON.stringify(input));
}

function describeKey(row: KeyRow) {
  return {
    id: row.id,
    name: row.name,
    alg: row.alg,
    publicJwk: JSON.parse(row.publicJwk) as PublicSigningJwk,
    thumbprint: row.thumbprint,
    status: row.status,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}

async function requireTeamOrPlatform(
  db: Db,
  actor: Actor,
  teamId: string,
  roles: typeof READ_ROLES,
): Promise<void> {
  if (!actor.isPlatformAdmin) {
    await requireTeamRole(db, actor, teamId, roles);
    return;
  }
  if (!(await db.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId)).get()))
    throw notFound("team");
}

/** Registers a public key (team admin). The JWK's members were validated by the route's schema. */
export async function registerSigningKey(
  db: Db,
  actor: Actor,
  teamId: string,
  input: RegisterSigningKeyInput,
) {
  if (
    actor.isPlatformAdmin &&
    !(await db
      .select({ role: teamMembers.role })
      .from(teamMembers)
      .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, actor.userId)))
      .get())
  ) {
    // A platform admin sees every team (and may revoke in an incident) but does not vouch for its code.
    await requireTeamOrPlatform(db, actor, teamId, ADMIN_ROLES);
    throw new ApiError("forbidden", "only a team admin registers the team's signing keys");
  }
  await requireTeamRole(db, actor, teamId, ADMIN_ROLES);
  const jwk: PublicSigningJwk =
    input.jwk.kty === "OKP"
      ? { kty: "OKP", crv: "Ed25519", x: input.jwk.x }
      : { kty: "EC", crv: "P-256", x: input.jwk.x, y: input.jwk.y };
  try {
    await importPublicKey(jwk);
  } catch {
    // An EC point off the curve, for example.
    throw new ApiError("bad_request", "the request is invalid", [
      { path: "jwk", message: "not a valid public key" },
    ]);
  }
  const active = await db
    .select({ id: teamSigningKeys.id })
    .from(teamSigningKeys)
    .where(and(eq(teamSigningKeys.teamId, teamId), eq(teamSigningKeys.status, "active")))
    .all();
  if (active.length >= MAX_ACTIVE_SIGNING_KEYS)
    throw conflict(`a team has at most ${MAX_ACTIVE_SIGNING_KEYS} active signing keys; revoke one first`);
  const thumbprint = await thumbprintOf(jwk);
  const row: KeyRow = {
    id: randomId("sk_", 10),
    teamId,
    name: input.name,
    alg: algOf(jwk),
    publicJwk: JSON.stringify(jwk),
    thumbprint,
    status: "active",
    createdBy: actor.userId,
    createdAt: Date.now(),
    revokedAt: null,
  };
  // The limit is checked again inside the batch, so two racing registrations cannot pass it.
  await guardedWrite(
    db.batch([
      db.insert(teamSigningKeys).select(
        sql`SELECT ${row.id}, ${row.teamId}, ${row.name}, ${row.alg}, ${row.publicJwk}, ${row.thumbprint}, ${row.status}, ${row.createdBy}, ${row.createdAt}, NULL
              WHERE (SELECT count(*) FROM team_signing_keys WHERE team_id = ${teamId} AND status = 'active') < ${MAX_ACTIVE_SIGNING_KEYS}`,
      ),
      recordChangeIfChanged(
        db,
        actor,
        {
          action: "signing_key.register",
          teamId,
          targetType: "signing_key",
          targetId: row.id,
          detail: { name: row.name, alg: row.alg, thumbprint },
        },
        row.createdAt,
      ),
    ]),
    "this public key is already registered for the team (a revoked key cannot be registered again)",
  );
  if (
    !(await db
      .select({ id: teamSigningKeys.id })
      .from(teamSigningKeys)
      .where(eq(teamSigningKeys.id, row.id))
      .get())
  ) {
    throw conflict(`a team has at most ${MAX_ACTIVE_SIGNING_KEYS} active signing keys; revoke one first`);
  }
  return describeKey(row);
}

/** The team's keys, newest first (any member). */
export async function listSigningKeys(db: Db, actor: Actor, teamId: string) {
  await requireTeamOrPlatform(db, actor, teamId, READ_ROLES);
  const rows = await db
    .select()
    .from(teamSigningKeys)
    .where(eq(teamSigningKeys.teamId, teamId))
    .orderBy(desc(teamSigningKeys.createdAt))
    .all();
  return rows.map(describeKey);
}

/**
 * Revokes a key (team admin or platform admin): from now on uploads signed by it are refused, and
 * versions it signed are not published, rolled back to, put in a grayscale task or downloaded as
 * offline packages (`requireTrustedSignature`). What is already delivered (the online version, a
 * running task) keeps being delivered until the next release or task change.
 */
export async function revokeSigningKey(db: Db, actor: Actor, teamId: string, keyId: string) {
  await requireTeamOrPlatform(db, actor, teamId, ADMIN_ROLES);
  const row = await db
    .select()
    .from(teamSigningKeys)
    .where(and(eq(teamSigningKeys.teamId, teamId), eq(teamSigningKeys.id, keyId)))
    .get();
  if (!row) throw notFound("signing key");
  if (row.status === "revoked") throw conflict("this signing key is already revoked");
  const now = Date.now();
  // Guarded by the status: of two racing revokes one changes the row (and logs), the other gets 409.
  const [revoked] = await db.batch([
    db
      .update(teamSigningKeys)
      .set({ status: "revoked", revokedAt: now })
      .where(and(eq(teamSigningKeys.id, keyId), eq(teamSigningKeys.status, "active")))
      .returning({ id: teamSigningKeys.id }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "signing_key.revoke",
        teamId,
        targetType: "signing_key",
        targetId: keyId,
        detail: { name: row.name, alg: row.alg, thumbprint: row.thumbprint },
      },
      now,
    ),
  ]);
  if (revoked.length === 0) throw conflict("this signing key is already revoked");
  return describeKey({ ...row, status: "revoked", revokedAt: now });
}

// ---------------------------------------------------------------- uploads

/** `<keyId>:<alg>:<sig>`; a 64-byte signature is 86 base64url characters. */
export const SIGNATURE_HEADER_PATTERN = /^(sk_[a-z2-7]{16}):(EdDSA|ES256):([A-Za-z0-9_-]{86})$/;

/** Splits a header value the route's schema already matched against SIGNATURE_HEADER_PATTERN. */
export function parseSignatureHeader(value: string | undefined): PackageSignature | undefined {
  if (value === undefined) return undefined;
  const m = SIGNATURE_HEADER_PATTERN.exec(value);
  if (!m)
    throw new ApiError("bad_request", "the request is invalid", [
      { path: SIGNATURE_HEADER, message: "expected <keyId>:<EdDSA|ES256>:<base64url signature>" },
    ]);
  return { kid: m[1]!, alg: m[2] as SigningAlg, sig: m[3]! };
}

const badSignature = (message: string) => new ApiError("bad_signature", message);

/**
 * Which key an upload must verify against, decided before its body is read: none when the team
 * has no active key and no signature was sent; otherwise the active team key the signature
 * names. Refuses (422 `bad_signature`) a missing signature while the team has an active key, a
 * kid the team never registered, a revoked key, and an alg other than the key's.
 */
export async function uploadSigningKey(
  db: Db,
  teamId: string,
  signature: PackageSignature | undefined,
): Promise<KeyRow | undefined> {
  if (signature === undefined) {
    const active = await db
      .select({ id: teamSigningKeys.id })
      .from(teamSigningKeys)
      .where(and(eq(teamSigningKeys.teamId, teamId), eq(teamSigningKeys.status, "active")))
      .limit(1)
      .get();
    if (active)
      throw badSignature(
        `this team requires signed uploads: send ${SIGNATURE_HEADER}: <keyId>:<alg>:<signature> (scripts/sign-package.mjs)`,
      );
    return undefined;
  }
  const key = await db
    .select()
    .from(teamSigningKeys)
    .where(and(eq(teamSigningKeys.teamId, teamId), eq(teamSigningKeys.id, signature.kid)))
    .get();
  if (!key) throw badSignature(`signing key ${signature.kid} is not registered for this team`);
  if (key.status !== "active") throw badSignature(`signing key ${signature.kid} was revoked`);
  if (key.alg !== signature.alg)
    throw badSignature(`signing key ${signature.kid} is an ${key.alg} key, not ${signature.alg}`);
  return key;
}

/** Verifies `signature` by `key` over packageSigningInput(appId, version, filesSha256). */
export async function verifyPackageSignature(
  key: KeyRow,
  signature: PackageSignature,
  appId: string,
  version: string,
  filesSha256: string,
): Promise<void> {
  const publicKey = await importPublicKey(JSON.parse(key.publicJwk) as PublicSigningJwk);
  const sig = fromBase64Url(signature.sig);
  const ok =
    sig.byteLength === 64 &&
    (await crypto.subtle.verify(
      webCrypto(key.alg).verifyAs,
      publicKey,
      sig,
      packageSigningInput(appId, version, filesSha256),
    ));
  if (!ok)
    throw badSignature(
      `the signature does not verify with key ${key.id} over this package's files, App ID ${appId} and version ${version}`,
    );
}

/**
 * Refuses to publish, roll back to, put in a grayscale task or offer offline a version whose
 * signing key was revoked since (a revocation says the key can no longer be trusted, so neither
 * can what it signed); what is already delivered stays until the next release or task change. Versions uploaded unsigned before
 * the team registered a key stay deliverable: they were accepted under the rule of their time.
 */
export async function requireTrustedSignature(
  db: Db,
  version: { version: string; signatureKid: string | null },
): Promise<void> {
  if (!version.signatureKid) return;
  const key = await db
    .select({ status: teamSigningKeys.status })
    .from(teamSigningKeys)
    .where(eq(teamSigningKeys.id, version.signatureKid))
    .get();
  checkTrustedSignature(version, key?.status);
}

/** `requireTrustedSignature` with the status of the version's key already read (undefined: no such key). */
export function checkTrustedSignature(
  version: { version: string; signatureKid: string | null },
  keyStatus: string | undefined,
): void {
  if (!version.signatureKid) return;
  if (keyStatus !== "active") {
    throw new ApiError(
      "conflict",
      `version ${version.version} was signed with key ${version.signatureKid}, which has been revoked; upload it again signed with an active key`,
      undefined,
      "revoked_signing_key",
    );
  }
}
