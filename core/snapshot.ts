/**
 * The delivery snapshot: everything the edge needs to answer `check` for one mini program,
 * compiled by the control plane after every change clients can see and stored in R2 at
 * `snapshots/{appId}.json`. The edge reads only this (never D1). See docs/storage.md.
 */

import type { CompiledTask } from "./grayscale/types";
import { compareVersions } from "./semver";

export const SNAPSHOT_SCHEMA = 1;

/** A content-addressed package in R2 (`packages/{sha256}`). */
export interface PackageRef {
  sha256: string;
  size: number;
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
  trial: SnapshotTrial | null;
  /** grayscale tasks clients may still get (admitting or sticky), highest version first */
  tasks: CompiledTask[];
}

export interface SnapshotSource {
  appId: string;
  revision: number;
  listed: boolean;
  hostApps: readonly string[];
  online: SnapshotRelease | null;
  trial: SnapshotTrial | null;
  tasks?: readonly CompiledTask[];
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
    trial: source.trial ? { ...source.trial, testers: [...new Set(source.trial.testers)].sort() } : null,
    tasks: [...(source.tasks ?? [])].sort((a, b) => compareVersions(b.version, a.version) || a.id.localeCompare(b.id)),
  };
}

export const snapshotKey = (appId: string) => `snapshots/${appId}.json`;
export const packageKey = (sha256: string) => `packages/${sha256}`;
export const whitelistBloomKey = (id: string) => `whitelists/${id}/bloom.bin`;
export const whitelistShardKey = (id: string, shard: number) => `whitelists/${id}/shard-${shard}.txt`;
export const fileManifestKey = (sha256: string) => `file-manifests/${sha256}.json`;
