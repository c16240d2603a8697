/**
 * The delivery snapshot: everything the edge needs to answer `check` for one mini program,
 * compiled by the control plane after every change clients can see and stored in R2 at
 * `snapshots/{appId}.json`. The edge reads only this (never D1). See docs/storage.md.
 */

import type { HostAppKey } from "./assertion";
import type { CompiledTask } from "./grayscale/types";
import type { SnapshotConfig } from "./runtime-config";
import { compareVersions } from "./semver";

export const SNAPSHOT_SCHEMA = 1;

/**
 * A content-addressed package in R2 (`packages/{sha256}`). `sha256` and `size` are always of the
 * bytes a client downloads (the ciphertext when the package is encrypted).
 */
export interface PackageRef {
  sha256: string;
  size: number;
  /** `filesSha256` of the version's file list (core/increment.ts `filesDigest`) */
  files?: string;
  /** increments to this package, by the version they start from (PRODUCT.md D3) */
  increments?: Record<string, IncrementRef>;
  /** the developer's signature when the team registered a key (PRODUCT.md S2) */
  signature?: DeveloperSignature;
  /** present when the mini program encrypts its packages (PRODUCT.md S3) */
  encryption?: StoredEncryption;
}

/**
 * A built increment in R2 (`increments/{sha256}`): format 3, which every client reads, and when
 * smaller the same increment in format 4 (the delta format, core/increment.ts), offered only to
 * clients that read it. The manifest offers each only when smaller than the full package.
 */
export interface IncrementRef {
  sha256: string;
  size: number;
  /** `filesSha256` of the base it applies to */
  from: string;
  encryption?: StoredEncryption;
  /** format 4 of the same increment (its own object; encrypted with its own IV) */
  delta?: { sha256: string; size: number; encryption?: StoredEncryption };
}

/**
 * A developer's signature over `packageSigningInput(appId, version, filesSha256)`
 * (core/signature.ts), made with the key `kid` the team registered.
 */
export interface DeveloperSignature {
  kid: string;
  alg: "EdDSA" | "ES256";
  /** base64url */
  sig: string;
}

/**
 * How the snapshot describes an encrypted object: the version's key stays wrapped
 * (core/encryption.ts); the edge unwraps it only to put it in a signed manifest.
 */
export interface StoredEncryption {
  alg: "A256GCM";
  /** `wrapPackageKey(PACKAGE_KEY_SECRET, key, packageKeyContext(appId, version))` */
  wrappedKey: string;
  /** base64url, 12 bytes */
  iv: string;
  plainSha256: string;
  plainSize: number;
}

/** AES-256-GCM parameters of one encrypted object; the key travels only in signed manifests. */
export interface PackageEncryption {
  alg: "A256GCM";
  /** base64url raw key, 32 bytes */
  key: string;
  /** base64url, 12 bytes */
  iv: string;
  /** SHA-256 and size of the plaintext (what `files` describes once unpacked) */
  plainSha256: string;
  plainSize: number;
}

export interface SnapshotRelease {
  version: string;
  package: PackageRef;
  /** ms since epoch */
  releasedAt: number;
  /** how this version became online */
  via: "publish" | "rollback";
}

export interface SnapshotTrial {
  version: string;
  package: PackageRef;
  /** relative page path the trial version opens at (seed: "use relative address configuration") */
  pagePath: string;
  /** accounts allowed to run the trial version */
  testers: string[];
}

export interface Snapshot {
  schema: typeof SNAPSHOT_SCHEMA;
  appId: string;
  /** strictly increasing per mini program; the edge never replaces a newer snapshot by an older one */
  revision: number;
  compiledAt: number;
  /** seed: "After the mini-program is delisted, all associated applications will not be able to obtain corresponding services" */
  listed: boolean;
  /** host apps with an approved binding */
  hostApps: string[];
  online: SnapshotRelease | null;
  /**
   * Audit scope (core/audit-scope.ts): the bound host apps whose auditor has not approved the
   * online version, each with the release its clients get instead (null: none, `not_bound`).
   * Absent when every bound host app approved the online version.
   */
  hostAppReleases?: Record<string, SnapshotRelease | null>;
  trial: SnapshotTrial | null;
  /** grayscale tasks clients may still get (admitting or sticky), highest version first */
  tasks: CompiledTask[];
  /**
   * Keys that verify user assertions (core/assertion.ts), by bound host app: active keys and
   * retired keys inside their overlap, public `x` only, sorted by kid. Absent in snapshots
   * compiled before assertions existed (then no account is verified).
   */
  hostAppKeys?: Record<string, HostAppKey[]>;
  /**
   * The runtime config (PRODUCT.md D5, core/runtime-config.ts) the edge signs for
   * `GET /v1/config`. Absent in snapshots compiled before it existed (then the edge answers 404).
   */
  config?: SnapshotConfig;
}

export interface SnapshotSource {
  appId: string;
  revision: number;
  listed: boolean;
  hostApps: readonly string[];
  online: SnapshotRelease | null;
  hostAppReleases?: Readonly<Record<string, SnapshotRelease | null>>;
  trial: SnapshotTrial | null;
  tasks?: readonly CompiledTask[];
  hostAppKeys?: Readonly<Record<string, readonly HostAppKey[]>>;
  config?: SnapshotConfig;
}

/** Builds the snapshot from control-plane state; pure, so the same state gives the same bytes. */
export function compileSnapshot(source: SnapshotSource, now: number): Snapshot {
  return {
    schema: SNAPSHOT_SCHEMA,
    appId: source.appId,
    revision: source.revision,
    compiledAt: now,
    listed: source.listed,
    hostApps: [...new Set(source.hostApps)].sort(),
    online: source.online,
    ...hostAppReleasesOf(source),
    trial: source.trial ? { ...source.trial, testers: [...new Set(source.trial.testers)].sort() } : null,
    tasks: [...(source.tasks ?? [])].sort(
      (a, b) => compareVersions(b.version, a.version) || a.id.localeCompare(b.id),
    ),
    ...(source.hostAppKeys !== undefined ? { hostAppKeys: compileHostAppKeys(source.hostAppKeys) } : {}),
    ...(source.config !== undefined ? { config: source.config } : {}),
  };
}

/** `hostAppReleases` in host app order, only when there is an exception (same state, same bytes). */
function hostAppReleasesOf(source: SnapshotSource): Pick<Snapshot, "hostAppReleases"> {
  const entries = Object.entries(source.hostAppReleases ?? {}).filter(([id]) => source.hostApps.includes(id));
  if (entries.length === 0) return {};
  return { hostAppReleases: Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
}

/**
 * The release the clients of `hostAppId` get: the online one, unless that host app has not
 * approved it (audit scope, core/audit-scope.ts); null when there is none for it.
 */
export function releaseFor(snapshot: Snapshot, hostAppId: string): SnapshotRelease | null {
  const exceptions = snapshot.hostAppReleases;
  if (exceptions !== undefined && Object.hasOwn(exceptions, hostAppId)) return exceptions[hostAppId] ?? null;
  return snapshot.online;
}

/** Host app keys in a stable order (host apps and kids sorted), so the same state gives the same bytes. */
function compileHostAppKeys(
  keys: Readonly<Record<string, readonly HostAppKey[]>>,
): Record<string, HostAppKey[]> {
  const out: Record<string, HostAppKey[]> = {};
  for (const hostAppId of Object.keys(keys).sort()) {
    out[hostAppId] = [...(keys[hostAppId] ?? [])]
      .map((k) => ({ kid: k.kid, x: k.x, ...(k.notAfter !== undefined ? { notAfter: k.notAfter } : {}) }))
      .sort((a, b) => (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
  }
  return out;
}

export const snapshotKey = (appId: string) => `snapshots/${appId}.json`;
export const packageKey = (sha256: string) => `packages/${sha256}`;
export const whitelistBloomKey = (id: string) => `whitelists/${id}/bloom.bin`;
export const whitelistShardKey = (id: string, shard: number) => `whitelists/${id}/shard-${shard}.txt`;
export const fileManifestKey = (sha256: string) => `file-manifests/${sha256}.json`;
