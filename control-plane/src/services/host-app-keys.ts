/**
 * Host-app keys: how a host app vouches for its users (issue 10, "Who is the user"; docs/trust.md).
 * The host app's server mints short-lived user assertions (core/assertion.ts) with a private
 * Ed25519 key; the public half is registered here and reaches the edge in the snapshot of every
 * mini program bound to the host app (`hostAppKeys`), where assertions are verified without D1.
 *
 * Rotation works like the platform's keys (docs/key-rotation.md): register the new key, switch
 * the server to it, retire the old one. A retired key keeps verifying for RETIRED_KEY_OVERLAP_MS
 * after `retiredAt` (the longest an assertion it signed can live), so nobody is logged out by a
 * rotation; a revoked key stops at once (a leaked key). A key never comes back: registering the
 * same public key again is refused (one row per host app and RFC 7638 thumbprint).
 *
 * Roles: the host app's managers (and platform admins) register, retire and revoke; managers,
 * auditors and platform admins list. Every change republishes the snapshot of every mini program
 * bound to the host app (`republishBoundApps`).
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { calculateJwkThumbprint } from "jose";
import { type HostAppKey, RETIRED_KEY_OVERLAP_MS } from "../../../core/assertion";
import { conflict, notFound } from "../../../core/errors";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { bindings, hostAppKeys, hostApps } from "../db/schema";
import { randomId } from "../lib/encoding";
import type { RegisterHostAppKeyInput } from "../routes/host-app-keys";
import { requireHostAppRole } from "./access";
import { recordChangeIfChanged } from "./change-log";
import { guardedWrite } from "./d1";
import { bumpHostAppSnapshotRevisions, sweepSnapshots } from "./snapshot";

/** Non-revoked keys per host app: rotation needs two at a time, a few servers a few more. */
export const MAX_HOST_APP_KEYS = 10;

type KeyRow = typeof hostAppKeys.$inferSelect;
export interface HostAppPublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
}

async function requireHostApp(
  db: Db,
  actor: Actor,
  hostAppId: string,
  roles: readonly ("manager" | "auditor")[],
): Promise<void> {
  if (!actor.isPlatformAdmin) {
    await requireHostAppRole(db, actor, hostAppId, roles);
    return;
  }
  if (!(await db.select({ id: hostApps.id }).from(hostApps).where(eq(hostApps.id, hostAppId)).get()))
    throw notFound("host app");
}

/** When a key stops verifying: never (active), retiredAt + overlap (retired), at once (revoked). */
export function keyNotAfter(row: Pick<KeyRow, "status" | "retiredAt" | "revokedAt">): number | null {
  if (row.status === "active") return null;
  if (row.status === "retired") return (row.retiredAt ?? 0) + RETIRED_KEY_OVERLAP_MS;
  return row.revokedAt ?? 0;
}

function describeKey(row: KeyRow) {
  return {
    id: row.id,
    name: row.name,
    alg: row.alg,
    publicJwk: JSON.parse(row.publicJwk) as HostAppPublicJwk,
    thumbprint: row.thumbprint,
    status: row.status,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    retiredAt: row.retiredAt,
    revokedAt: row.revokedAt,
    verifiesUntil: keyNotAfter(row),
  };
}

/**
 * Republishes the snapshot of every mini program bound (approved) to `hostAppId`, so a key
 * change reaches the edge. The one place host-app key changes publish from.
 */
export async function republishBoundApps(db: Db, bucket: R2Bucket, hostAppId: string): Promise<void> {
  // Each change's batch bumped every bound app's revision (bumpHostAppSnapshotRevisions); what a
  // failed write leaves behind, the cron's sweep publishes.
  await sweepSnapshots(db, bucket, { hostAppId });
}

/** Registers a public Ed25519 key (manager or platform admin); the JWK's members were validated by the route's schema. */
export async function registerHostAppKey(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  input: RegisterHostAppKeyInput,
) {
  await requireHostApp(db, actor, hostAppId, ["manager"]);
  const jwk: HostAppPublicJwk = { kty: "OKP", crv: "Ed25519", x: input.jwk.x };
  const thumbprint = await calculateJwkThumbprint(jwk, "sha256");
  const row: KeyRow = {
    id: randomId("hk_", 10),
    hostAppId,
    name: input.name,
    alg: "EdDSA",
    publicJwk: JSON.stringify(jwk),
    thumbprint,
    status: "active",
    createdBy: actor.userId,
    createdAt: Date.now(),
    retiredAt: null,
    revokedAt: null,
  };
  const limit = `a host app has at most ${MAX_HOST_APP_KEYS} active or retired keys; revoke one first`;
  // The limit is checked inside the batch, so two racing registrations cannot pass it together.
  await guardedWrite(
    db.batch([
      db.insert(hostAppKeys).select(
        sql`SELECT ${row.id}, ${row.hostAppId}, ${row.name}, ${row.alg}, ${row.publicJwk}, ${row.thumbprint}, ${row.status}, ${row.createdBy}, ${row.createdAt}, NULL, NULL
              WHERE (SELECT count(*) FROM host_app_keys WHERE host_app_id = ${hostAppId} AND status != 'revoked') < ${MAX_HOST_APP_KEYS}`,
      ),
      recordChangeIfChanged(
        db,
        actor,
        {
          action: "host_app_key.register",
          teamId: null,
          targetType: "host_app",
          targetId: hostAppId,
          detail: { keyId: row.id, name: row.name, thumbprint },
        },
        row.createdAt,
      ),
      bumpHostAppSnapshotRevisions(db, hostAppId),
    ]),
    "this public key is already registered for the host app (a revoked or retired key cannot be registered again)",
  );
  if (!(await db.select({ id: hostAppKeys.id }).from(hostAppKeys).where(eq(hostAppKeys.id, row.id)).get()))
    throw conflict(limit);
  await republishBoundApps(db, bucket, hostAppId);
  return describeKey(row);
}

/** The host app's keys, newest first (managers, auditors, platform admins). */
export async function listHostAppKeys(db: Db, actor: Actor, hostAppId: string) {
  await requireHostApp(db, actor, hostAppId, ["manager", "auditor"]);
  const rows = await db
    .select()
    .from(hostAppKeys)
    .where(eq(hostAppKeys.hostAppId, hostAppId))
    .orderBy(desc(hostAppKeys.createdAt), desc(hostAppKeys.id))
    .all();
  return rows.map(describeKey);
}

async function requireKey(db: Db, hostAppId: string, keyId: string): Promise<KeyRow> {
  const row = await db
    .select()
    .from(hostAppKeys)
    .where(and(eq(hostAppKeys.hostAppId, hostAppId), eq(hostAppKeys.id, keyId)))
    .get();
  if (!row) throw notFound("host app key");
  return row;
}

/**
 * Retires an active key (manager or platform admin): assertions it already signed keep verifying
 * until `retiredAt + RETIRED_KEY_OVERLAP_MS`; mint new ones with another key.
 */
export async function retireHostAppKey(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  keyId: string,
) {
  await requireHostApp(db, actor, hostAppId, ["manager"]);
  const row = await requireKey(db, hostAppId, keyId);
  if (row.status !== "active") throw conflict(`this key is already ${row.status}`);
  const now = Date.now();
  // Guarded by the status: of two racing changes one applies (and logs), the other gets 409.
  const [changed] = await db.batch([
    db
      .update(hostAppKeys)
      .set({ status: "retired", retiredAt: now })
      .where(and(eq(hostAppKeys.id, keyId), eq(hostAppKeys.status, "active")))
      .returning({ id: hostAppKeys.id }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "host_app_key.retire",
        teamId: null,
        targetType: "host_app",
        targetId: hostAppId,
        detail: { keyId, name: row.name, thumbprint: row.thumbprint },
      },
      now,
    ),
    bumpHostAppSnapshotRevisions(db, hostAppId),
  ]);
  if (changed.length === 0) throw conflict("this key changed meanwhile; list the keys again");
  await republishBoundApps(db, bucket, hostAppId);
  return describeKey({ ...row, status: "retired", retiredAt: now });
}

/** Revokes an active or retired key (manager or platform admin): its assertions stop verifying at once. */
export async function revokeHostAppKey(
  db: Db,
  bucket: R2Bucket,
  actor: Actor,
  hostAppId: string,
  keyId: string,
) {
  await requireHostApp(db, actor, hostAppId, ["manager"]);
  const row = await requireKey(db, hostAppId, keyId);
  if (row.status === "revoked") throw conflict("this key is already revoked");
  const now = Date.now();
  const [changed] = await db.batch([
    db
      .update(hostAppKeys)
      .set({ status: "revoked", revokedAt: now })
      .where(and(eq(hostAppKeys.id, keyId), inArray(hostAppKeys.status, ["active", "retired"])))
      .returning({ id: hostAppKeys.id }),
    recordChangeIfChanged(
      db,
      actor,
      {
        action: "host_app_key.revoke",
        teamId: null,
        targetType: "host_app",
        targetId: hostAppId,
        detail: { keyId, name: row.name, thumbprint: row.thumbprint },
      },
      now,
    ),
    bumpHostAppSnapshotRevisions(db, hostAppId),
  ]);
  if (changed.length === 0) throw conflict("this key is already revoked");
  await republishBoundApps(db, bucket, hostAppId);
  return describeKey({ ...row, status: "revoked", revokedAt: now });
}

/**
 * The keys that verify assertions at `now` of each host app bound (approved) to mini program
 * `appId`, for its snapshot: active keys, and retired keys still inside their overlap (with
 * `notAfter`); public `x` only. One query (the bindings in a subquery), so `loadSource` runs it
 * alongside its other reads.
 */
export async function verificationKeysOf(
  db: Db,
  appId: string,
  now: number,
): Promise<Record<string, HostAppKey[]>> {
  return verificationKeysFrom(await verificationKeysQuery(db, appId).all(), now);
}

/** `verificationKeysOf`'s query (active and retired keys of the bound host apps), for a D1 batch. */
export function verificationKeysQuery(db: Db, appId: string) {
  const bound = db
    .select({ hostAppId: bindings.hostAppId })
    .from(bindings)
    .where(and(eq(bindings.miniProgramId, appId), eq(bindings.status, "approved")));
  return db
    .select({
      id: hostAppKeys.id,
      hostAppId: hostAppKeys.hostAppId,
      publicJwk: hostAppKeys.publicJwk,
      status: hostAppKeys.status,
      retiredAt: hostAppKeys.retiredAt,
      revokedAt: hostAppKeys.revokedAt,
    })
    .from(hostAppKeys)
    .where(and(inArray(hostAppKeys.hostAppId, bound), inArray(hostAppKeys.status, ["active", "retired"])));
}

/** The keys of `verificationKeysQuery`'s rows that still verify at `now`, by host app. */
export function verificationKeysFrom(
  rows: readonly Pick<KeyRow, "id" | "hostAppId" | "publicJwk" | "status" | "retiredAt" | "revokedAt">[],
  now: number,
): Record<string, HostAppKey[]> {
  const out: Record<string, HostAppKey[]> = {};
  for (const row of rows) {
    const notAfter = keyNotAfter(row);
    if (notAfter !== null && notAfter <= now) continue;
    const { x } = JSON.parse(row.publicJwk) as HostAppPublicJwk;
    (out[row.hostAppId] ??= []).push({ kid: row.id, x, ...(notAfter !== null ? { notAfter } : {}) });
  }
  return out;
}
