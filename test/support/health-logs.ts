/**
 * Log queue messages for the health guardrail tests, shaped and validated by the real contract
 * (core/contracts/logs.ts), as the edge enqueues them.
 */
import { LogBatchSchema, type LogQueueMessage } from "../../core/contracts/logs";

export interface SessionSpec {
  appId: string;
  hostAppId: string;
  version: string;
  guid: string;
  /** error entries in the batch (besides one info entry) */
  errors?: number;
  /** of the error entries, how many are crash reports */
  crashes?: number;
  receivedAt: number;
  /** entry times start here (a redelivered batch keeps them) */
  time?: number;
}

export function logMessage(s: SessionSpec): LogQueueMessage {
  const time = s.time ?? s.receivedAt - 1000;
  const errors = s.errors ?? 0;
  const crashes = s.crashes ?? 0;
  const entries = [
    { time, level: "info", message: "page shown", page: "pages/index" },
    ...Array.from({ length: errors }, (_, i) => ({
      time: time + 1 + i,
      level: "error",
      message: "TypeError: cannot read properties of undefined",
      page: "pages/order/detail",
      ...(i < crashes ? { crash: true } : {}),
    })),
  ];
  const batch = LogBatchSchema.parse({
    appId: s.appId,
    hostAppId: s.hostAppId,
    hostAppVersion: "8.0.1",
    platform: "ios",
    osVersion: "17.4",
    guid: s.guid,
    clientVersion: s.version,
    baseLibraryVersion: "2.30.0",
    entries,
  });
  return { batch, receivedAt: s.receivedAt };
}

/**
 * `count` sessions of one version (GUIDs `${prefix}-0`...), the first `failing` of them with an
 * error entry.
 */
export function sessions(
  base: Omit<SessionSpec, "guid" | "errors">,
  prefix: string,
  count: number,
  failing = 0,
): LogQueueMessage[] {
  return Array.from({ length: count }, (_, i) =>
    logMessage({ ...base, guid: `${prefix}-${i}`, errors: i < failing ? 1 : 0 }),
  );
}
