/**
 * Several grayscale tasks at once (PRODUCT.md G6: "a client matching several gets the highest
 * version"): verdicts for every task, highest version first, and a short explanation for the
 * "why does this client get this version" endpoint (G7).
 */
import type { ClientContext } from "../decide";
import { compareVersions } from "../semver";
import { evaluateTask, type RuleMemo } from "./rules";
import type { CompiledTask, ConditionName, Geo, TaskVerdict, WhitelistRef } from "./types";

/** Highest version first; equal versions by task id, as `compileSnapshot` orders tasks. */
function byVersionDesc(
  a: { version: string; taskId: string },
  b: { version: string; taskId: string },
): number {
  return compareVersions(b.version, a.version) || (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);
}

/**
 * Verdicts for all tasks, highest version first. The caller walks them in order: the first
 * eligible task whose counter admits the user (or any task the user holds an admission ticket
 * for) gives the version. Snapshot tasks are already in this order, so sorting is skipped then.
 */
export function rankTasks(
  tasks: readonly CompiledTask[],
  client: ClientContext,
  geo: Geo,
  now: number,
  whitelistMember: (ref: WhitelistRef) => boolean,
  memo?: RuleMemo,
): TaskVerdict[] {
  const verdicts = tasks.map((task) => evaluateTask(task, client, geo, now, whitelistMember, memo));
  let sorted = true;
  for (let i = 1; i < verdicts.length && sorted; i++) {
    sorted = byVersionDesc(verdicts[i - 1] as TaskVerdict, verdicts[i] as TaskVerdict) <= 0;
  }
  if (!sorted) verdicts.sort(byVersionDesc);
  return verdicts;
}

export interface TaskExplanation {
  taskId: string;
  version: string;
  eligible: boolean;
  stickyOnly: boolean;
  /** the conditions that failed, in evaluation order (empty when eligible) */
  failed: ConditionName[];
  /** one line, e.g. "1.3.0 (t1): not eligible: os_version (OS version 12 not in [13, -])" */
  summary: string;
}

/** One line per task (in the order given) saying whether and why the client qualifies. */
export function explainTasks(verdicts: readonly TaskVerdict[]): TaskExplanation[] {
  return verdicts.map((v) => {
    const failing = v.conditions.filter((c) => !c.pass);
    const head = `${v.version} (${v.taskId})`;
    const summary = v.eligible
      ? `${head}: eligible`
      : `${head}: not eligible: ${failing.map((c) => `${c.condition} (${c.detail})`).join("; ")}`;
    return {
      taskId: v.taskId,
      version: v.version,
      eligible: v.eligible,
      stickyOnly: v.stickyOnly,
      failed: failing.map((c) => c.condition),
      summary,
    };
  });
}
