/**
 * Version lifecycle rules (PRODUCT.md V1-V4, M4), as pure guards. Each returns `null` when
 * the step is allowed, or a refusal whose `rule` names the broken rule; the control plane
 * turns a refusal into a 409 with the message below and the rule in the error body's `rule`.
 *
 * States: development -> in_audit -> approved | rejected; approved -> released (was online);
 * a newer upload discards an unsubmitted development version. "Online" is not a state of the
 * version but a pointer on the mini program.
 */
import { compareVersions } from "./semver";

export type VersionStatus = "development" | "in_audit" | "approved" | "rejected" | "released" | "discarded";

export interface VersionFacts {
  id: string;
  version: string;
  status: VersionStatus;
}

export type RefusalRule =
  | "version_exists"
  | "version_not_higher"
  | "another_in_audit"
  | "not_submittable"
  | "no_bound_host_app"
  | "not_in_audit"
  | "already_decided"
  | "audit_closed"
  | "nothing_to_review"
  | "not_approved"
  | "not_higher_than_online"
  | "delisted"
  | "not_released"
  | "not_lower_than_online"
  | "continuous_rollback"
  | "rollback_too_old"
  | "nothing_online"
  // uploads signed by developer keys (control-plane/src/services/signing-keys.ts)
  | "revoked_signing_key"
  // grayscale tasks (core/grayscale/lifecycle.ts)
  | "task_delisted"
  | "task_version_invalid"
  | "task_version_not_approved"
  | "task_version_was_online"
  | "task_version_not_higher"
  | "task_name_invalid"
  | "task_time_invalid"
  | "task_end_in_past"
  | "task_cap_invalid"
  | "task_cap_shards_invalid"
  | "task_percentage_invalid"
  | "task_no_host_app"
  | "task_host_app_not_bound"
  | "task_range_invalid"
  | "task_no_platform"
  | "task_platform_invalid"
  | "task_target_invalid"
  | "task_too_many_targets"
  | "task_network_invalid"
  | "task_rule_list_invalid"
  | "task_ended"
  | "task_already_suspended"
  | "task_not_suspended"
  | "task_already_withdrawn"
  | "task_field_locked"
  | "task_cap_below_admitted"
  | "task_percentage_lowered";

export interface Refusal {
  rule: RefusalRule;
  message: string;
}

const MESSAGES: Record<RefusalRule, string> = {
  version_exists: "this version number is already used by this mini program",
  version_not_higher: "a new version must be higher than every version released so far",
  another_in_audit: "another version of this mini program is in audit; withdraw it or wait for the decision",
  not_submittable:
    "only the development version (or a rejected one) can be submitted for audit; an approved or released version only to the bound host apps that have not approved it yet (binding audit)",
  no_bound_host_app: "bind the mini program to at least one host app before submitting for audit",
  not_in_audit: "this version is not in audit",
  already_decided: "this host app has already decided on this audit",
  audit_closed: "this audit is closed: it was decided or withdrawn",
  nothing_to_review:
    "every host app bound to this mini program has already approved this version: there is nothing for a binding audit to review",
  not_approved: "only a version that passed the audit can be published",
  not_higher_than_online: "the version must be higher than the online version",
  delisted: "the mini program is off the shelf: it cannot release new versions",
  not_released: "only a previously released version can be rolled back to",
  not_lower_than_online: "roll back to a version lower than the online version",
  continuous_rollback: "continuous rollback is not supported: publish a new version first",
  rollback_too_old: "only the last 5 released versions can be rolled back to",
  nothing_online: "the mini program has no online version",
  revoked_signing_key:
    "the version was signed with a key that has been revoked: upload it again signed with an active key",
  task_delisted: "the mini program is off the shelf: no grayscale task can be started",
  task_version_invalid: "the grayscale version must be a semantic version (MAJOR.MINOR.PATCH)",
  task_version_not_approved: "the grayscale version must have passed the mini program audit",
  task_version_was_online: "the grayscale version must not have been online yet",
  task_version_not_higher: "the grayscale version must be higher than the online version",
  task_name_invalid: "the task name must have 1 to 20 characters",
  task_time_invalid: "the start time must be before the end time",
  task_end_in_past: "the end time cannot be earlier than the time the task is confirmed",
  task_cap_invalid: "the user cap must be a whole number from 1 to 100,000,000",
  task_cap_shards_invalid: "the cap shard count must be a whole number from 1 to 64",
  task_percentage_invalid: "the percentage must be a whole number of basis points from 1 to 10000",
  task_no_host_app: "choose at least one host app",
  task_host_app_not_bound: "host apps must be chosen from the apps this mini program is associated with",
  task_range_invalid:
    "a version range is dotted numbers (e.g. 8.0.1), with the minimum not above the maximum",
  task_no_platform: "choose at least one platform (Android or iOS)",
  task_platform_invalid: "platforms are android and ios",
  task_target_invalid:
    "target objects are GUIDs, device ids or accounts of at most 128 characters, without spaces or control characters",
  task_too_many_targets:
    "at most 1000 target objects of each kind can be typed in: upload a txt whitelist for more",
  task_network_invalid: "network types are wifi, 5g, 4g, 3g, 2g, ethernet and other",
  task_rule_list_invalid:
    "brand, model, country, region and city lists hold at most 200 entries of 1 to 64 characters",
  task_ended: "the grayscale task has ended",
  task_already_suspended: "the grayscale task is already suspended",
  task_not_suspended: "only a suspended grayscale task can be resumed",
  task_already_withdrawn: "the grayscale version has already been withdrawn from every user",
  task_field_locked: "once a task has started only its name, end time, user cap and percentage can change",
  task_cap_below_admitted:
    "the user cap cannot be lower than the number of users already admitted (counting the slots edge isolates hold in admission leases)",
  task_percentage_lowered:
    "the percentage cannot be lowered once the task has started: admitted users would lose the version",
};

/** Every refusal rule id, for the error schema that documents `rule` (core/contracts/error.ts). */
export const REFUSAL_RULES = Object.keys(MESSAGES) as [RefusalRule, ...RefusalRule[]];

const refuse = (rule: RefusalRule): Refusal => ({ rule, message: MESSAGES[rule] });

/** The refusal for `rule` with its message (for guards outside this file, e.g. core/grayscale). */
export function refusalOf(rule: RefusalRule): Refusal {
  return refuse(rule);
}

/** How many earlier releases a rollback may reach (PRODUCT.md V4: "last 5 offered"). */
export const ROLLBACK_DEPTH = 5;

/**
 * A new upload: the number is unused and higher than every released version (so a client that
 * once ran a release is never offered a lower "new" version).
 */
export function checkUpload(version: string, existing: readonly VersionFacts[]): Refusal | null {
  const live = existing.filter((v) => v.status !== "discarded");
  if (live.some((v) => v.version === version)) return refuse("version_exists");
  const released = live.filter((v) => v.status === "released");
  if (released.some((v) => compareVersions(version, v.version) <= 0)) return refuse("version_not_higher");
  return null;
}

/**
 * What an audit is of: a "version" audit decides whether a development (or rejected) version
 * passes, and goes to every bound host app; a "binding" audit sends a version that already
 * passed (approved or released) to the bound host apps that have not approved it, typically
 * ones bound after it was submitted (audit scope, core/audit-scope.ts). Null: nothing to submit.
 */
export type AuditKind = "version" | "binding";

export function auditKindFor(target: VersionFacts): AuditKind | null {
  if (target.status === "development" || target.status === "rejected") return "version";
  if (target.status === "approved" || target.status === "released") return "binding";
  return null;
}

/**
 * seed: "Submit the current development version to the application administrator for audit."
 * Checks, in order: the version can be audited (development or rejected for a version audit,
 * approved or released for a binding audit); no audit of the mini program is in progress (one
 * at a time, whichever its kind); someone reviews it (a bound host app; for a binding audit a
 * bound host app that has not approved the version). `reviewers` counts those host apps.
 */
export function checkSubmit(
  target: VersionFacts,
  all: readonly VersionFacts[],
  reviewers: number,
  auditInProgress = false,
): Refusal | null {
  const kind = auditKindFor(target);
  if (kind === null) return refuse("not_submittable");
  if (auditInProgress || all.some((v) => v.status === "in_audit")) return refuse("another_in_audit");
  if (reviewers === 0) return refuse(kind === "version" ? "no_bound_host_app" : "nothing_to_review");
  return null;
}

/** A version audit is withdrawn while its version is in audit; a binding audit while it is pending. */
export function checkWithdraw(target: VersionFacts, bindingAuditPending = false): Refusal | null {
  return target.status === "in_audit" || bindingAuditPending ? null : refuse("not_in_audit");
}

/** An auditor's decision for one host app of an audit. */
export function checkAuditDecision(target: VersionFacts, alreadyDecidedForHostApp: boolean): Refusal | null {
  if (target.status !== "in_audit") return refuse("not_in_audit");
  if (alreadyDecidedForHostApp) return refuse("already_decided");
  return null;
}

/**
 * A decision on a binding audit: the audit is still open and this host app has not decided.
 * The version's own status plays no part (it stays approved or released whatever the decision).
 */
export function checkBindingDecision(
  auditPending: boolean,
  alreadyDecidedForHostApp: boolean,
): Refusal | null {
  if (!auditPending) return refuse("audit_closed");
  if (alreadyDecidedForHostApp) return refuse("already_decided");
  return null;
}

/**
 * A binding audit closes once every host app it was sent to has decided, each for itself: a
 * rejection by one never takes the version from another. Approved when all approved.
 */
export function bindingAuditOutcome(
  required: readonly string[],
  decisions: ReadonlyMap<string, "approve" | "reject">,
): "approved" | "rejected" | "pending" {
  if (!required.every((h) => decisions.has(h))) return "pending";
  return required.every((h) => decisions.get(h) === "approve") ? "approved" : "rejected";
}

/**
 * The outcome of an audit once a decision lands: any rejection rejects; approval needs every
 * host app the audit was sent to.
 */
export function auditOutcome(
  required: readonly string[],
  decisions: ReadonlyMap<string, "approve" | "reject">,
): "approved" | "rejected" | "pending" {
  for (const d of decisions.values()) if (d === "reject") return "rejected";
  return required.every((h) => decisions.get(h) === "approve") ? "approved" : "pending";
}

/** seed: "When the audit process is completed, it can be published"; delisted: "will not be able to release new versions". */
export function checkPublish(
  target: VersionFacts,
  online: VersionFacts | null,
  listed: boolean,
): Refusal | null {
  if (!listed) return refuse("delisted");
  if (target.status !== "approved") return refuse("not_approved");
  if (online && compareVersions(target.version, online.version) <= 0) return refuse("not_higher_than_online");
  return null;
}

/**
 * seed: "Roll back the online version of the mini program to a previously released historical
 * version. Continuous rollback is not supported."
 * `releasedBelowOnline` lists released versions lower than online, newest first.
 */
export function checkRollback(input: {
  target: VersionFacts;
  online: VersionFacts | null;
  lastReleaseVia: "publish" | "rollback" | null;
  listed: boolean;
  releasedBelowOnline: readonly string[];
}): Refusal | null {
  const { target, online } = input;
  if (!input.listed) return refuse("delisted");
  if (!online) return refuse("nothing_online");
  if (input.lastReleaseVia === "rollback") return refuse("continuous_rollback");
  if (target.status !== "released") return refuse("not_released");
  if (compareVersions(target.version, online.version) >= 0) return refuse("not_lower_than_online");
  const rank = input.releasedBelowOnline.indexOf(target.version);
  if (rank < 0 || rank >= ROLLBACK_DEPTH) return refuse("rollback_too_old");
  return null;
}
