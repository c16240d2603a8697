/**
 * Audit scope (issue 10): a version reaches the clients of a host app only when that host app's
 * auditor approved it. seed: "Submit the current development version to the application
 * administrator for audit"; "Publication: When the audit process is completed, it can be
 * published". An audit is sent to the host apps bound at the time it is submitted, so a host app
 * bound later has not reviewed the versions audited before: it needs its own (binding) audit of
 * them, and until then its clients get the newest release it did approve, or nothing.
 *
 * Pure: the control plane feeds it the approvals and the release history from D1 and puts the
 * result in the snapshot (core/snapshot.ts `hostAppReleases`); the edge reads it with
 * `releaseFor`.
 */
import { compareVersions } from "./semver";

/** Host apps whose auditor approved each version, by version number. */
export type Approvals = ReadonlyMap<string, ReadonlySet<string>>;

/** Whether `hostAppId`'s auditor approved `version` in some audit of it (version or binding audit). */
export function isApprovedBy(approvals: Approvals, version: string, hostAppId: string): boolean {
  return approvals.get(version)?.has(hostAppId) === true;
}

/** The bound host apps that have not approved `version` (sorted): who a binding audit goes to. */
export function unreviewedHostApps(
  approvals: Approvals,
  version: string,
  boundHostApps: readonly string[],
): string[] {
  return [...new Set(boundHostApps)].filter((h) => !isApprovedBy(approvals, version, h)).sort();
}

/**
 * The exceptions to "every bound host app runs the online version": for each bound host app
 * that has not approved the online version, the release it may run instead: the most recent
 * release (`history`, newest first) of a version it approved and not above the online version
 * (a rollback withdraws the higher versions from everyone), or null when there is none (its
 * clients get `not_bound`). Host apps that approved the online version are left out, so a
 * snapshot where every host app reviewed the online version carries no exception at all.
 */
export function pickHostAppReleases<R extends { version: string }>(input: {
  boundHostApps: readonly string[];
  online: R | null;
  /** releases, newest first (a version may appear more than once) */
  history: readonly R[];
  approvals: Approvals;
}): Record<string, R | null> {
  const { online, approvals } = input;
  const exceptions: Record<string, R | null> = {};
  if (online === null) return exceptions;
  for (const hostAppId of unreviewedHostApps(approvals, online.version, input.boundHostApps)) {
    const fallback = input.history.find(
      (r) => compareVersions(r.version, online.version) <= 0 && isApprovedBy(approvals, r.version, hostAppId),
    );
    exceptions[hostAppId] = fallback ?? null;
  }
  return exceptions;
}
