/**
 * The reference client's public surface, runtime-agnostic (no Node imports): construct a
 * `GraycastClient` with a config (pinned keys, ids, device facts) and injected dependencies.
 * Node bindings live in ./node.ts.
 */
export { GraycastClient } from "./client";
export type { CheckResult, ClientConfig, ClientDeps, OpenedVersion, Plan, PresetResult, UpdateResult } from "./types";
export { CHECK_QUERY_LIMIT, CHECK_USER_HEADER, checkQuery, type CheckMethod } from "./check-request";
export type { Fetch } from "./download";
export { ClientError, type ClientErrorCode } from "./errors";
export type { DeveloperSignatureCheck } from "./package";
export { emptyState, MemoryStore, STATE_FORMAT, type InstalledVersion, type Store, type TrustedState } from "./store";
