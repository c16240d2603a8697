/**
 * Helpers for the real-time log tests (issue 15): batches as clients send them, the edge Worker
 * called with its real LOGS queue wrapped so a test sees what it enqueued, and the admin Worker's
 * real queue handler run on those messages.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import adminApp from "../../control-plane/src/index";
import type { LogBatch, LogEntry, LogQueueMessage } from "../../core/contracts/logs";
import edgeApp from "../../edge-worker/src/index";
import { testEnv } from "../env";
import { edgeEnv, HOST_APP, ORIGIN } from "./edge";

/** The log queue of the local configuration (wrangler.toml, control-plane/wrangler.toml). */
export const LOG_QUEUE = "graycast-logs-dev";

export function entry(overrides: Partial<LogEntry> = {}): LogEntry {
  return { time: Date.now(), level: "info", message: "hello", page: "pages/index/index", ...overrides };
}

export function logBatch(appId: string, overrides: Partial<LogBatch> = {}): LogBatch {
  return {
    appId,
    hostAppId: HOST_APP,
    hostAppVersion: "8.0.50",
    platform: "ios",
    osVersion: "17.4.1",
    guid: `guid-${crypto.randomUUID()}`,
    clientVersion: "1.0.0",
    baseLibraryVersion: "3.4.0",
    entries: [entry()],
    ...overrides,
  };
}

/**
 * The edge Worker with its real queue producer, every message it sends recorded on the way
 * (the queue still receives it).
 */
export function recordingEdge() {
  const sent: LogQueueMessage[] = [];
  const queue = edgeEnv.LOGS;
  const recorded = new Proxy(queue, {
    get(target, prop) {
      if (prop === "send")
        return (body: LogQueueMessage, options?: QueueSendOptions) => {
          sent.push(structuredClone(body));
          return target.send(body, options);
        };
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const env = { ...edgeEnv, LOGS: recorded };
  const post = (body: BodyInit | null, headers: Record<string, string> = {}, method = "POST") =>
    edgeApp.fetch(
      new Request(`${ORIGIN}/v1/logs`, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body,
      }),
      env,
      createExecutionContext(),
    );
  return {
    sent,
    post,
    postBatch: (batch: unknown, headers: Record<string, string> = {}) => post(JSON.stringify(batch), headers),
  };
}

/** gzip of `text` (CompressionStream, as the reference client would do). */
export async function gzip(data: string | Uint8Array): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Runs the admin Worker's queue handler on `bodies` as one delivery; returns acks and retries. */
export async function deliverLogs(bodies: unknown[]) {
  const batch = createMessageBatch<unknown>(
    LOG_QUEUE,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await (adminApp as ExportedHandler<AdminEnv>).queue!(batch as MessageBatch, testEnv, ctx);
  return getQueueResult(batch, ctx);
}
