/**
 * The reference client's public surface, runtime-agnostic (no Node imports): construct a
 * `GraycastClient` with a config (pinned keys, ids, device facts) and injected dependencies.
 * Node bindings live in ./node.ts.
 */

export { CHECK_QUERY_LIMIT, CHECK_USER_HEADER, type CheckMethod, checkQuery } from "./check-request";
export { GraycastClient } from "./client";
export type { Fetch } from "./download";
export { ClientError, type ClientErrorCode } from "./errors";
export {
  type FlushResult,
  LOGGER_DEFAULTS,
  LOGGER_EDGE_LIMITS,
  LOGGER_LEVELS,
  type LogFields,
  Logger,
  type LoggerDeps,
  type LoggerLevel,
  type LoggerOptions,
  type LoggerStats,
  type LoggerTimers,
} from "./logger";
export { type InboxMessage, type MessagesOptions, SubscriptionMessages } from "./messages";
export type { DeveloperSignatureCheck } from "./package";
export { type ConfigOrder, RuntimeConfigClient, type RuntimeConfigOptions } from "./runtime-config";
export {
  emptyState,
  type InstalledVersion,
  MemoryStore,
  STATE_FORMAT,
  type Store,
  type TrustedState,
} from "./store";
export type {
  CheckResult,
  ClientConfig,
  ClientDeps,
  LoginResult,
  OpenedVersion,
  Plan,
  PresetResult,
  UpdateResult,
} from "./types";
