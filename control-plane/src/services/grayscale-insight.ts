/**
 * Reading grayscale delivery without changing it: task progress (PRODUCT.md G4, seed: "Click
 * Grayscale Progress to view the delivery status of the current grayscale task") and the
 * "why does this client get this version" explanation (G7). Neither admits anyone.
 */

import {
  ASSERTION_REFUSAL_TEXT,
  clientWithVerifiedUser,
  ImportedKeys,
  keysOfHostApp,
  verifyUserAssertion,
} from "../../../core/assertion";
import type { ClientContext, DecidePorts, Decision, TaskOutcome } from "../../../core/decide";
import { candidateTasks, decide, verifiedAccountOf } from "../../../core/decide";
import { notFound } from "../../../core/errors";
import { capShardsOf } from "../../../core/grayscale/lifecycle";
import { targetValue } from "../../../core/grayscale/match";
import { evaluateTask, taskUserKey, userKeyOf } from "../../../core/grayscale/rules";
import type { CompiledTask, Geo, WhitelistRef } from "../../../core/grayscale/types";
import { releaseFor } from "../../../core/snapshot";
import type { Actor } from "../auth/actor";
import type { Db } from "../db/client";
import { READ_ROLES, requireMiniProgram } from "./access";
import {
  type CounterNamespace,
  type CounterProgress,
  counterHasAdmitted,
  counterProgress,
} from "./grayscale-counter";
import { definitionOf, requireTask, statusOf, tasksOf } from "./grayscale-store";
import { whitelistHas } from "./grayscale-whitelists";
import { healthProgress } from "./health";
import { compileCurrentSnapshot } from "./snapshot";

/** This isolate's imported host-app keys for explain's assertions (core `ImportedKeys`). */
const importedKeys = new ImportedKeys();

const byCount = (record: Record<string, number>) =>
  Object.entries(record).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));

/**
 * Admitted users against the cap, by host app, platform and hour, from the task's counter.
 * Uncapped tasks are not counted at all (the edge admits every eligible user without asking a
 * counter): `tracked: false` says so.
 */
export async function taskProgress(
  db: Db,
  counters: CounterNamespace,
  actor: Actor,
  appId: string,
  taskId: string,
) {
  await requireMiniProgram(db, actor, appId, READ_ROLES);
  const row = await requireTask(db, appId, taskId);
  const status = statusOf(row, Date.now());
  const base = { taskId: row.id, state: status.state, endReason: status.endReason, userCap: row.userCap };
  // Health figures are kept for every task, capped or not (services/health.ts).
  const health = await healthProgress(counters, row, status.state);
  if (row.userCap === null) {
    return {
      ...base,
      health,
      tracked: false,
      admitted: null,
      leased: null,
      remaining: null,
      note: "tasks without a user cap are not counted: every eligible user gets the version",
      byHostApp: [],
      byPlatform: [],
      byHour: [],
    };
  }
  const p = await counterProgress(counters, row.id, capShardsOf(definitionOf(row)));
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
    health,
  };
}

type Outcome =
  | "chosen"
  | "kept"
  | "cap_reached"
  | "not_eligible"
  | "sticky_not_admitted"
  | "sticky_unknown"
  | "not_considered"
  | "not_reviewed"
  | "superseded";

const OUTCOME_TEXT: Record<Outcome, string> = {
  chosen: "gives the version: every condition holds and the counter would admit this user",
  kept: "gives the version: this user was admitted before and keeps it (sticky)",
  cap_reached: "every condition holds, but the cap is reached and this user was not admitted before",
  not_eligible: "a condition fails",
  sticky_not_admitted: "the task admits no new users and this user was not admitted before",
  sticky_unknown:
    "the task admits no new users; clients admitted before keep it with their admission ticket (not visible here)",
  not_considered:
    "not reached: a task with a higher version gave the version first, or the answer does not depend on grayscale (delisted, not bound or trial)",
  not_reviewed:
    "this host app's auditor has not approved the task's version: none of its clients gets it, admitted before or not, until a binding audit approves it",
  superseded: "a release of the same or a higher version is online: the task's version is never delivered",
};

/** What explain says about each outcome of the core walk. */
const WALK_OUTCOME: Record<TaskOutcome, Outcome> = {
  not_reviewed: "not_reviewed",
  ticket: "kept",
  sticky_admitted: "kept",
  sticky_not_admitted: "sticky_not_admitted",
  sticky_closed: "sticky_unknown",
  not_eligible: "not_eligible",
  admitted: "chosen",
  refused: "cap_reached",
};

interface CounterView {
  userCap: number;
  admitted: number;
  admittedBefore: boolean;
}

/**
 * The read-only ports of explain for core `decide`: whitelist membership resolved beforehand
 * from R2 (Bloom filter, then shard; the same values the edge asks), no admission tickets (a
 * client's tickets are not visible here), counters read through the counter service and never
 * written: `admit` answers whether the counter would admit this user now (admitted before, or a
 * slot neither admitted nor leased to an edge isolate is free). Records what the walk did.
 */
class ExplainPorts implements DecidePorts {
  readonly tickets = { presented: 0, valid: () => false, issue: () => undefined };
  readonly admission = this;
  readonly outcomes = new Map<string, TaskOutcome>();
  readonly counterViews = new Map<string, Promise<{ progress: CounterProgress; admittedBefore: boolean }>>();

  constructor(
    readonly counters: CounterNamespace,
    readonly membership: ReadonlyMap<string, boolean>,
  ) {}

  member(ref: WhitelistRef): boolean {
    return this.membership.get(ref.id) ?? false;
  }

  /** Progress and membership of `userKey`, read once per task. */
  read(task: CompiledTask, userKey: string | undefined) {
    let view = this.counterViews.get(task.id);
    if (view === undefined) {
      view = Promise.all([
        counterProgress(this.counters, task.id, task.capShards ?? 1),
        userKey !== undefined
          ? counterHasAdmitted(this.counters, task.id, userKey, task.capShards ?? 1)
          : false,
      ]).then(([progress, admittedBefore]) => ({ progress, admittedBefore }));
      this.counterViews.set(task.id, view);
    }
    return view;
  }

  async admit(task: CompiledTask, userKey: string): Promise<boolean> {
    const { progress, admittedBefore } = await this.read(task, userKey);
    // Slots leased to edge isolates are not free for this user either.
    return (
      admittedBefore || progress.admitted + progress.reserved + progress.stranded < (task.userCap as number)
    );
  }

  async isAdmitted(task: CompiledTask, userKey: string): Promise<boolean> {
    return (await this.read(task, userKey)).admittedBefore;
  }

  trace(task: CompiledTask, outcome: TaskOutcome): void {
    this.outcomes.set(task.id, outcome);
  }
}

/**
 * Which version `client` would get now, and why: the snapshot compiled from D1 (not
 * published), then core `decide` (the edge's own decision) with read-only ports, and every
 * task's every condition (core `evaluateTask`) beside what the walk did with it.
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
    const result = await verifyUserAssertion(
      identity.assertion,
      claimed.hostAppId,
      keysOfHostApp(snapshot.hostAppKeys, claimed.hostAppId),
      now,
      importedKeys,
    );
    if (result.ok) client = clientWithVerifiedUser(claimed, result);
    assertionStatus = result.ok ? "verified" : result.reason;
  } else if (identity.verifiedAccount) client = { ...claimed, verifiedAccount: true };
  const user = describeUser(client, assertionStatus);

  // Every list of every task, so each condition can be shown; the walk asks the same answers.
  const membership = new Map<string, boolean>();
  for (const ref of snapshot.tasks.flatMap((t) => t.targets?.whitelists ?? [])) {
    if (membership.has(ref.id)) continue;
    // The edge's own rule: an account is looked up only when verified.
    const value = targetValue(client, ref.kind);
    membership.set(ref.id, value !== undefined && (await whitelistHas(bucket, ref, value)));
  }
  const ports = new ExplainPorts(counters, membership);
  const decision: Decision = await decide(snapshot, client, now, ports, geo);

  const rows = new Map((await tasksOf(db, appId)).map((t) => [t.id, t]));
  const walked = new Set(candidateTasks(snapshot).map((t) => t.id));
  const chosen = decision.status === "ok" ? decision.taskId : undefined;
  const tasks = await Promise.all(
    snapshot.tasks.map(async (task) => {
      const verdict = evaluateTask(task, client, geo, now, (ref) => membership.get(ref.id) ?? false);
      const userKey = taskUserKey(task, client);
      const counter = task.userCap === null ? null : await counterView(ports, task, userKey);
      const traced = ports.outcomes.get(task.id);
      const row = rows.get(task.id);
      // A task a guardrail suspended says so, with the figures (PRODUCT.md G7).
      const tripped =
        row?.suspendedByGuardrail && statusOf(row, now).state === "suspended"
          ? (row.guardrailTrip ?? null)
          : null;
      const outcome: Outcome =
        traced === "admitted" && counter?.admittedBefore === true
          ? "kept"
          : traced !== undefined
            ? WALK_OUTCOME[traced]
            : !walked.has(task.id)
              ? "superseded"
              : chosen === undefined && verdict.stickyOnly
                ? "sticky_unknown"
                : "not_considered";
      return {
        taskId: task.id,
        name: row?.name ?? null,
        version: task.version,
        phase: task.phase,
        eligible: verdict.eligible,
        stickyOnly: verdict.stickyOnly,
        outcome,
        why:
          tripped !== null
            ? `suspended by a health guardrail (${tripped.summary}); ${OUTCOME_TEXT[outcome]}`
            : OUTCOME_TEXT[outcome],
        counter,
        guardrailTrip: tripped,
        conditions: verdict.conditions,
      };
    }),
  );
  return {
    appId,
    at: now,
    revision: snapshot.revision,
    listed: snapshot.listed,
    onlineVersion: snapshot.online?.version ?? null,
    hostAppRelease: releaseFor(snapshot, client.hostAppId)?.version ?? null,
    userKey: userKeyOf(client) ?? null,
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

/** A capped task's counter as explain shows it (read by the walk, or now for display). */
async function counterView(
  ports: ExplainPorts,
  task: CompiledTask,
  userKey: string | undefined,
): Promise<CounterView> {
  const { progress, admittedBefore } = await ports.read(task, userKey);
  return { userCap: task.userCap as number, admitted: progress.admitted, admittedBefore };
}

/** Who the edge takes the user to be, in words (docs/trust.md). */
function describeUser(client: ClientContext, assertionStatus: string | null) {
  const account = client.account ?? null;
  const verified = verifiedAccountOf(client) !== undefined;
  const refused =
    assertionStatus !== null && assertionStatus !== "verified"
      ? ASSERTION_REFUSAL_TEXT[assertionStatus as keyof typeof ASSERTION_REFUSAL_TEXT]
      : undefined;
  const why = verified
    ? `account ${account} is vouched for by host app ${client.hostAppId}: trial versions, account targets and verified-only tasks apply`
    : `${refused !== undefined ? `the user assertion is ignored (${refused}); ` : ""}${account !== null ? `account ${account} is not verified` : "no account"}: no trial version, no account target, no verified-only task`;
  return { account, verified, assertion: assertionStatus, why };
}
