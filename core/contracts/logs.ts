/**
 * Wire contract of real-time logs (PRODUCT.md X4; issue 15): the batch a client sends to the edge
 * (`POST /v1/logs`) and the entry every later stage (queue, consumer, storage, query, health
 * guardrails) works on. The seed's query criteria name the fields an entry must carry: "time, log
 * level dimensions (all, info and above, warn and above, error and above), system type, Guid, page
 * link, filterMsg content, basic library version, and client version".
 *
 * Shared by the edge (validation before enqueueing), the admin Worker (consumer and query) and the
 * reference client's logger, so the three cannot drift apart.
 */
import * as z from "zod";
import { ClientTextSchema, LooseVersionSchema, PlatformSchema } from "./check";
import { AppIdSchema, IdSchema, SemverSchema } from "./common";

/** Levels in increasing severity; a query's "X and above" keeps entries at index >= X's. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export const LogLevelSchema = z.enum(LOG_LEVELS);
export type LogLevel = z.infer<typeof LogLevelSchema>;

/** Size limits (issue 15: "per-entry and per-batch size limits"). */
export const LOG_LIMITS = {
  /** characters of one entry's message */
  messageChars: 2048,
  /** characters of one entry's page path */
  pageChars: 256,
  /** filterMsg tags per entry, and characters per tag */
  filterTags: 5,
  filterTagChars: 64,
  /** entries per batch */
  batchEntries: 100,
  /** bytes of one request body after decompression */
  batchBytes: 256 * 1024,
  /** how far an entry's time may lie in the future (clock skew), ms */
  futureSkewMs: 5 * 60_000,
  /** how old an entry may be when it arrives: the retention, ms */
  maxAgeMs: 7 * 24 * 3_600_000,
} as const;

export const LogEntrySchema = z
  .object({
    /** when the client logged it, ms since the epoch */
    time: z.number().int().nonnegative(),
    level: LogLevelSchema,
    message: z.string().min(1).max(LOG_LIMITS.messageChars),
    /** the page path ("page link" in the seed), e.g. pages/order/detail */
    page: ClientTextSchema(LOG_LIMITS.pageChars),
    /** free tags the developer attaches so a query can find entries by "filterMsg content" */
    filterMsg: z.array(ClientTextSchema(LOG_LIMITS.filterTagChars)).max(LOG_LIMITS.filterTags).optional(),
    /**
     * The client reports an uncaught error that ended the mini program's session (health
     * guardrails count these as crash reports). Only meaningful with level "error".
     */
    crash: z.boolean().optional(),
  })
  .strict()
  .meta({ id: "LogEntry" });

export type LogEntry = z.infer<typeof LogEntrySchema>;

/**
 * One batch: the device facts are sent once per batch (they do not change between entries of one
 * session), the entries after them.
 */
export const LogBatchSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema.meta({ example: "ha_aaaabbbbccccdddd" }),
    hostAppVersion: LooseVersionSchema,
    platform: PlatformSchema,
    osVersion: LooseVersionSchema,
    guid: ClientTextSchema(128),
    /** the mini program version that wrote these entries ("client version" in the seed) */
    clientVersion: SemverSchema,
    /** the base library version ("basic library version" in the seed) */
    baseLibraryVersion: LooseVersionSchema,
    entries: z.array(LogEntrySchema).min(1).max(LOG_LIMITS.batchEntries),
  })
  .strict()
  .meta({ id: "LogBatch" });

export type LogBatch = z.infer<typeof LogBatchSchema>;

/** What the edge puts on the log queue: the validated batch and when the edge received it. */
export interface LogQueueMessage {
  batch: LogBatch;
  receivedAt: number;
}
