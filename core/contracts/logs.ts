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

/** What the edge answers a batch it took (202): entries queued, and entries left out as too old or too far ahead. */
export const LogAcceptedSchema = z
  .object({
    accepted: z.number().int().nonnegative(),
    dropped: z
      .number()
      .int()
      .nonnegative()
      .meta({ description: "entries older than the retention, or more than 5 minutes in the future" }),
  })
  .meta({ id: "LogAccepted" });

export type LogAccepted = z.infer<typeof LogAcceptedSchema>;

// ------------------------------------------------------------------------------------------------
// The query (admin API `GET /v1/mini-programs/{appId}/logs`): exactly the seed's criteria.

/** Page sizes of the query. */
export const LOG_QUERY_LIMITS = { defaultPageSize: 50, maxPageSize: 200, cursorChars: 200 } as const;

/** "all" keeps every level (debug included); "info" / "warn" / "error" mean that level and above. */
export const LOG_QUERY_LEVELS = ["all", "info", "warn", "error"] as const;
export const LogQueryLevelSchema = z.enum(LOG_QUERY_LEVELS);

/** The lowest level index a query level keeps (LOG_LEVELS order). */
export function minLevelIndex(level: (typeof LOG_QUERY_LEVELS)[number]): number {
  return level === "all" ? 0 : LOG_LEVELS.indexOf(level);
}

const msQuery = (description: string) =>
  z.coerce.number().int().nonnegative().max(8.64e15).optional().meta({ description });

export const LogQuerySchema = z
  .object({
    from: msQuery("oldest entry time, ms since the epoch (inclusive); default: the retention's start"),
    to: msQuery("newest entry time, ms since the epoch (inclusive); default: now"),
    level: LogQueryLevelSchema.default("all").meta({
      description: "all, or info / warn / error meaning that level and above",
    }),
    platform: PlatformSchema.optional().meta({ description: "system type" }),
    guid: ClientTextSchema(128).optional().meta({ description: "one device, exact" }),
    page: ClientTextSchema(LOG_LIMITS.pageChars)
      .optional()
      .meta({ description: "page link (path), exact, e.g. pages/order/detail" }),
    filterMsg: ClientTextSchema(LOG_LIMITS.filterTagChars)
      .optional()
      .meta({ description: "text contained in one of the entry's filterMsg tags (case-sensitive)" }),
    baseLibraryVersion: LooseVersionSchema.optional().meta({ description: "base library version, exact" }),
    clientVersion: SemverSchema.optional().meta({ description: "mini program version, exact" }),
    cursor: z
      .string()
      .min(1)
      .max(LOG_QUERY_LIMITS.cursorChars)
      .regex(/^[A-Za-z0-9_-]+$/, "not a cursor")
      .optional()
      .meta({ description: "the previous page's nextCursor; send the same filters with it" }),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(LOG_QUERY_LIMITS.maxPageSize)
      .default(LOG_QUERY_LIMITS.defaultPageSize)
      .meta({ description: `entries per page (1-${LOG_QUERY_LIMITS.maxPageSize})` }),
  })
  .strict();

export type LogQuery = z.infer<typeof LogQuerySchema>;

/** One stored entry as the query answers it: the entry and its batch's device facts. */
export const LogRecordSchema = z
  .object({
    time: z.number(),
    level: LogLevelSchema,
    message: z.string(),
    page: z.string(),
    filterMsg: z.array(z.string()),
    crash: z.boolean(),
    guid: z.string(),
    platform: PlatformSchema,
    osVersion: z.string(),
    baseLibraryVersion: z.string(),
    clientVersion: z.string(),
    hostAppId: z.string(),
    hostAppVersion: z.string(),
    /** when the edge received the batch, ms */
    receivedAt: z.number(),
  })
  .meta({ id: "LogRecord" });

export type LogRecord = z.infer<typeof LogRecordSchema>;

export const LogPageSchema = z
  .object({
    entries: z.array(LogRecordSchema).meta({ description: "newest first" }),
    nextCursor: z.string().nullable().meta({ description: "null on the last page" }),
  })
  .meta({ id: "LogPage" });
