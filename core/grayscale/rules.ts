/**
 * Pure evaluation of one compiled grayscale task for one client (seed: "The intersection
 * between multiple grayscale conditions is taken"). TO BE IMPLEMENTED (signatures fixed).
 */
import type { ClientContext } from "../decide";
import type { CompiledTask, Geo, TaskVerdict, WhitelistRef } from "./types";

/**
 * The identity a task counts and hashes: the GUID, else the custom device id, else the account,
 * prefixed by kind ("g:", "d:", "a:"); undefined when the client sent none.
 */
export function userKeyOf(client: ClientContext): string | undefined {
  throw new Error("not implemented");
}

/** Stable bucket 0..9999 of a user in a task (same inputs, same bucket; uniform). */
export function rolloutBucket(taskId: string, userKey: string): number {
  throw new Error("not implemented");
}

/**
 * Evaluates every condition of `task` for `client` at `now` and reports each one.
 * `whitelistMember(ref)` tells whether the client's value of `ref.kind` is in that uploaded
 * whitelist (resolved by the caller, which may need I/O).
 */
export function evaluateTask(task: CompiledTask, client: ClientContext, geo: Geo, now: number, whitelistMember: (ref: WhitelistRef) => boolean): TaskVerdict {
  throw new Error("not implemented");
}
