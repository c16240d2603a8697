/**
 * Reading grayscale delivery without changing it: task progress (PRODUCT.md G4, seed: "Click
 * Grayscale Progress to view the delivery status of the current grayscale task") and the
 * "why does this client get this version" explanation (G7). Neither admits anyone.
 */
import type { ClientContext, Decision, GrayscaleChoice } from "../../../core/decide";
import { decideVersion, verifiedAccountOf } from "../../../core/decide";
import { ASSERTION_REFUSAL_TEXT, clientWithVerifiedUser, keysOfHostApp, verifyUserAssertion } from "../../../core/assertion";
import { notFound } from "../../../core/errors";
import { targetValue } from "../../../core/grayscale/match";
import { taskUserKey, userKeyOf } from "../../../core/grayscale/rules";
import { rankTasks } from "../../../core/grayscale/select";
import type { CompiledTask, Geo, TaskVerdict } from "../../../core/grayscale/types";
import { releaseFor } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { READ_ROLES, requireMiniProgram } from "./access";
import { type CounterNamespace, counterHasAdmitted, counterProgress } from "./grayscale-counter";
import { requireTask, statusOf, tasksOf } from "./grayscale-store";
import { whitelistHas } from "./grayscale-whitelists";
import { compileCurrentSnapshot } from "./snapshot";

const byCount = (record: Record<string, number>) => Object.entries(record).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));

/**
 * Admitted users against the cap, by host app, platform and hour, from the task's counter.
 * Uncapped tasks are not counted at all (the edge admits every eligible user without asking a
 * counter): `tracked: false` says so.
 */
export async function taskProgress(db: Db, counters: CounterNamespace, actor: Actor, appId: string, taskId: string) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const row = await requireTask(db, appId, taskId);
  const status = statusOf(row, Date.now());
  const base = { taskId: row.id, state: status.state, endReason: status.endReason, userCap: row.userCap };
  if (row.userCap === null) {
    return { ...base, tracked: false, admitted: null, leased: null, remaining: null, note: "tasks without a user cap are not counted: every eligible user gets the version", byHostApp: [], byPlatform: [], byHour: [] };
  }
  const p = await counterProgress(counters, row.id);
  return {
    ...base,
    tracked: true,
    admitted: p.admitted,
    leased: p.reserved + p.stranded,
    remaining: Math.max(0, row.userCap - p.admitted - p.reserved - p.stranded),
    note:
      p.admitted >= row.userCap
        ? "the cap is reached: no new user gets the version, admitted users keep it"
        : p.admitted + p.reserved + p.stranded >= row.userCap
          ? "every slot is admitted or held in admission leases (not yet settled, or stranded and counted as used): a new user gets the version only when a lease gives back slots it did not use"
          : null,
    byHostApp: byCount(p.byHostApp).map(([hostAppId, admitted]) => ({ hostAppId, admitted })),
    byPlatform: byCount(p.byPlatform).map(([platform, admitted]) => ({ platform, admitted })),
    byHour: p.byHour,
  };
}

type Outcome = "chosen" | "kept" | "cap_reached" | "not_eligible" | "sticky_not_admitted" | "sticky_unknown" | "not_considered" | "not_reviewed";

const OUTCOME_TEXT: Record<Outcome, string> = {
  chosen: "gives the version: every condition holds and the counter would admit this user",
  kept: "gives the version: this user was admitted before and keeps it (sticky)",
  cap_reached: "every condition holds, but the cap is reached and this user was not admitted before",
  not_eligible: "a condition fails",
  sticky_not_admitted: "the task admits no new users and this user was not admitted before",
  sticky_unknown: "the task admits no new users; clients admitted before keep it with their admission ticket (not visible here)",
  not_considered: "a task with a higher version was chosen first",
  not_reviewed: "this host app's auditor has not approved the task's version: none of its clients gets it, admitted before or not, until a binding audit approves it",
};

/**
 * Which version `client` would get now, and why: the snapshot compiled from D1 (not
 * published), uploaded whitelists resolved from R2 (Bloom filter, then shard), every task's
 * every condition (core `rankTasks`), counters read but never written, then core
 * `decideVersion`.
 */
export async function explainClient(
  db: Db,
  bucket: R2Bucket,
  counters: CounterNamespace,
  actor: Actor,
  appId: string,
  claimed: ClientContext,
  geo: Geo,
  identity: { assertion: string } | { verifiedAccount: boolean } = { verifiedAccount: false },
) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const now = Date.now();
  const snapshot = await compileCurrentSnapshot(db, appId, now);
  if (!snapshot) throw notFound("mini program");

  // Who the user is, as the edge would judge it (edge-worker/src/routes/check.ts), with the keys
  // the current state compiles to.
  let client: ClientContext = { ...claimed, verifiedAccount: false };
  let assertionStatus: string | null = null;
  if ("assertion" in identity) {
    const result = await verifyUserAssertion(identity.assertion, claimed.hostAppId, keysOfHostApp(snapshot.hostAppKeys, claimed.hostAppId), now);
    if (result.ok) client = clientWithVerifiedUser(claimed, result);
    assertionStatus = result.ok ? "verified" : result.reason;
  } else if (identity.verifiedAccount) client = { ...claimed, verifiedAccount: true };
  const user = describeUser(client, assertionStatus);

  const membership = new Map<string, boolean>();
  for (const ref of snapshot.tasks.flatMap((t) => t.targets?.whitelists ?? [])) {
    // The edge's own rule: an account is looked up only when verified.
    const value = targetValue(client, ref.kind);
    membership.set(ref.id, value !== undefined && (await whitelistHas(bucket, ref, value)));
  }
  const verdicts = rankTasks(snapshot.tasks, client, geo, now, (ref) => membership.get(ref.id) ?? false);
  const names = new Map((await tasksOf(db, appId)).map((t) => [t.id, t.name]));
  const compiled = new Map(snapshot.tasks.map((t) => [t.id, t]));
  const userKey = userKeyOf(client);

  let choice: GrayscaleChoice | null = null;
  const tasks = [];
  for (const verdict of verdicts) {
    const task = compiled.get(verdict.taskId) as CompiledTask;
    // As the edge walk: a task of a version this host app has not approved is skipped first (audit scope).
    const { outcome, counter } = task.unreviewedHostApps?.includes(client.hostAppId)
      ? { outcome: "not_reviewed" as const, counter: null }
      : choice
        ? { outcome: "not_considered" as const, counter: null }
        : await outcomeOf(task, verdict, counters, taskUserKey(task, client));
    if (outcome === "chosen" || outcome === "kept") choice = { taskId: task.id, version: task.version, package: task.package };
    tasks.push({ taskId: verdict.taskId, name: names.get(verdict.taskId) ?? null, version: verdict.version, phase: task.phase, eligible: verdict.eligible, stickyOnly: verdict.stickyOnly, outcome, why: OUTCOME_TEXT[outcome], counter, conditions: verdict.conditions });
  }
  const decision: Decision = decideVersion(snapshot, client, now, choice);
  return {
    appId,
    at: now,
    revision: snapshot.revision,
    listed: snapshot.listed,
    onlineVersion: snapshot.online?.version ?? null,
    hostAppRelease: releaseFor(snapshot, client.hostAppId)?.version ?? null,
    userKey: userKey ?? null,
    user,
    decision: {
      status: decision.status,
      reason: decision.reason,
      version: decision.status === "ok" ? decision.version : null,
      rollback: decision.status === "ok" ? decision.rollback : false,
      taskId: decision.status === "ok" ? (decision.taskId ?? null) : null,
    },
    tasks,
  };
}

/** Who the edge takes the user to be, in words (docs/trust.md). */
function describeUser(client: ClientContext, assertionStatus: string | null) {
  const account = client.account ?? null;
  const verified = verifiedAccountOf(client) !== undefined;
  const refused = assertionStatus !== null && assertionStatus !== "verified" ? ASSERTION_REFUSAL_TEXT[assertionStatus as keyof typeof ASSERTION_REFUSAL_TEXT] : undefined;
  const why = verified
    ? `account ${account} is vouched for by host app ${client.hostAppId}: trial versions, account targets and verified-only tasks apply`
    : `${refused !== undefined ? `the user assertion is ignored (${refused}); ` : ""}${account !== null ? `account ${account} is not verified` : "no account"}: no trial version, no account target, no verified-only task`;
  return { account, verified, assertion: assertionStatus, why };
}

/**
 * What a task does for this user. Capped tasks ask their counter (read only): a user admitted
 * before keeps the version whatever the conditions say now (sticky), as a ticket holder does.
 */
async function outcomeOf(task: CompiledTask, verdict: TaskVerdict, counters: CounterNamespace, userKey: string | undefined) {
  if (task.userCap === null) {
    if (verdict.eligible) return { outcome: "chosen" as const, counter: null };
    return { outcome: verdict.stickyOnly ? ("sticky_unknown" as const) : ("not_eligible" as const), counter: null };
  }
  const [progress, admittedBefore] = await Promise.all([counterProgress(counters, task.id), userKey ? counterHasAdmitted(counters, task.id, userKey) : Promise.resolve(false)]);
  const counter = { userCap: task.userCap, admitted: progress.admitted, admittedBefore };
  if (admittedBefore) return { outcome: "kept" as const, counter };
  if (verdict.stickyOnly) return { outcome: "sticky_not_admitted" as const, counter };
  if (!verdict.eligible) return { outcome: "not_eligible" as const, counter };
  // Slots leased to edge isolates are not free for this user either.
  return { outcome: progress.admitted + progress.reserved + progress.stranded < task.userCap ? ("chosen" as const) : ("cap_reached" as const), counter };
}
