/**
 * Grayscale task rules: creation checks, the state machine, time-derived states, what may be
 * edited in which state, and compilation into the snapshot form. TO BE IMPLEMENTED.
 */
import type { Refusal } from "../lifecycle";
import type { PackageRef } from "../snapshot";
import type { CompiledTask, EndReason, TaskDefinition, TaskState, WhitelistRef } from "./types";

export const MAX_TASK_NAME = 20;

export interface TaskFacts {
  /** status of the chosen version (core/lifecycle VersionStatus) */
  versionStatus: string;
  /** version ever online (released) */
  versionEverReleased: boolean;
  onlineVersion: string | null;
  /** host apps with an approved binding */
  boundHostApps: readonly string[];
  listed: boolean;
}

/** Checks a new task (or a full edit of a pending one) against the seed rules; null = allowed. */
export function checkTaskDefinition(def: TaskDefinition, facts: TaskFacts, now: number): Refusal | null {
  throw new Error("not implemented");
}

export type TaskAction = "suspend" | "resume" | "end" | "end_and_revert";

export interface TaskStatus {
  state: TaskState;
  endReason: EndReason | null;
}

/** The state the task is really in at `now` (pending past its start delivers; past its end it ended). */
export function effectiveStatus(status: TaskStatus, startAt: number, endAt: number, now: number): TaskStatus {
  throw new Error("not implemented");
}

/** Applies a manual action; a Refusal when the state does not allow it. */
export function applyAction(status: TaskStatus, action: TaskAction, startAt: number, endAt: number, now: number): TaskStatus | Refusal {
  throw new Error("not implemented");
}

/** Fields of TaskDefinition a developer may change in each state. */
export function editableFields(state: TaskState): readonly (keyof TaskDefinition)[] {
  throw new Error("not implemented");
}

/** The snapshot form of a task, or null when clients can no longer get it. */
export function compileTask(
  input: { id: string; definition: TaskDefinition; status: TaskStatus; package: PackageRef; whitelists: readonly WhitelistRef[] },
  now: number,
): CompiledTask | null {
  throw new Error("not implemented");
}
