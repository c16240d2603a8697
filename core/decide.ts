/**
 * Which version a client runs: a pure function of the snapshot, the client context and the
 * time. "Not eligible" is a normal answer with a reason, never an exception.
 */
import { compareVersions } from "./semver";
import { type PackageRef, type Snapshot, releaseFor } from "./snapshot";

export type Platform = "android" | "ios";
export type Network = "wifi" | "5g" | "4g" | "3g" | "2g" | "ethernet" | "other";

/** What a client tells the edge about itself (validated by the edge's zod schema). */
export interface ClientContext {
  appId: string;
  hostAppId: string;
  hostAppVersion: string;
  platform: Platform;
  osVersion: string;
  guid?: string;
  deviceId?: string;
  account?: string;
  network?: Network;
  brand?: string;
  model?: string;
  installedVersion?: string;
  baseLibraryVersion?: string;
  /** asks for the trial version (the team's testers only) */
  trial?: boolean;
  /**
   * Set by the edge (never by the client: the wire schema has no such field) when a host-app
   * user assertion verified (core/assertion.ts): `account` (and `deviceId`, when the assertion
   * named one) is vouched for by the host app. Trial versions, account targets and verified-only
   * tasks need it; guid and device-id targets do not (docs/trust.md).
   */
  verifiedAccount?: boolean;
}

/** The account a host app vouched for, or undefined (an unverified account proves nothing). */
export function verifiedAccountOf(client: ClientContext): string | undefined {
  return client.verifiedAccount === true && client.account !== undefined && client.account.length > 0 ? client.account : undefined;
}

export type DecisionStatus = "ok" | "delisted" | "no_release" | "not_bound";

/** Why this answer; a closed union mapped to the wire by the edge. */
export type DecisionReason =
  | "online" // the current online release
  | "trial" // the development version for a tester
  | "grayscale" // a grayscale task's version: the client is one of its users
  | "up_to_date" // the client already runs the version it should
  | "rollback" // the online version is lower than the client's: the server orders a downgrade
  | "delisted" // the mini program is off the shelf
  | "no_release" // nothing has been released yet
  | "not_bound"; // the mini program is not bound to this host app

export type Decision =
  | { status: "delisted" | "no_release" | "not_bound"; reason: DecisionReason }
  | {
      status: "ok";
      reason: DecisionReason;
      version: string;
      package: PackageRef;
      /** the target is lower than what the client runs: the server orders a downgrade */
      rollback: boolean;
      pagePath?: string;
      /** the grayscale task that gave this version */
      taskId?: string;
    };

/** The grayscale task the edge chose for this client (rules passed, admitted under its cap). */
export interface GrayscaleChoice {
  taskId: string;
  version: string;
  package: PackageRef;
}

/**
 * Order: delisted, not bound, trial (testers with a verified account), the grayscale task chosen by the edge (when
 * higher than online: a release of the same or higher version supersedes it), online.
 * "Online" is the release of the client's host app (`releaseFor`): a host app whose auditor
 * has not approved the online version gets the last release it approved, or `not_bound`.
 */
export function decideVersion(snapshot: Snapshot, client: ClientContext, _now: number, grayscale: GrayscaleChoice | null = null): Decision {
  // seed: "all associated applications will not be able to obtain corresponding services"
  if (!snapshot.listed) return { status: "delisted", reason: "delisted" };
  if (!snapshot.hostApps.includes(client.hostAppId)) return { status: "not_bound", reason: "not_bound" };

  const trial = snapshot.trial;
  // Issue 10: the unaudited trial version goes only to a tester the host app vouched for.
  const account = client.trial ? verifiedAccountOf(client) : undefined;
  if (trial && account !== undefined && trial.testers.includes(account)) {
    return {
      status: "ok",
      reason: "trial",
      version: trial.version,
      package: trial.package,
      rollback: false,
      pagePath: trial.pagePath,
    };
  }

  const online = releaseFor(snapshot, client.hostAppId);
  if (grayscale && (!online || compareVersions(grayscale.version, online.version) > 0)) {
    const order = client.installedVersion === undefined ? 1 : compareVersions(grayscale.version, client.installedVersion);
    return { status: "ok", reason: "grayscale", version: grayscale.version, package: grayscale.package, rollback: order < 0, taskId: grayscale.taskId };
  }
  // Released, but never to this host app: its auditor approved no release yet.
  if (!online && snapshot.online) return { status: "not_bound", reason: "not_bound" };
  if (!online) return { status: "no_release", reason: "no_release" };
  const installed = client.installedVersion;
  const order = installed === undefined ? 1 : compareVersions(online.version, installed);
  return {
    status: "ok",
    reason: order === 0 ? "up_to_date" : order < 0 ? "rollback" : "online",
    version: online.version,
    package: online.package,
    rollback: order < 0,
  };
}
