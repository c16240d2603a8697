/**
 * Real-time log storage (PRODUCT.md X4, the seed's "real time log"; issue 15; docs/storage.md):
 * the queue consumer's writes, the query with the seed's criteria ("time, log level dimensions
 * (all, info and above, warn and above, error and above), system type, Guid, page link, filterMsg
 * content, basic library version, and client version"), and the 7-day retention.
 *
 * Storage: the log database (binding LOGS_DB, not the control plane's DB) holds one table per UTC
 * day of the entries' time, `logs_YYYYMMDD`, created on its first write. A day's table is indexed
 * by (app_id, time, then every filter column but guid) — every query's range, read newest first,
 * filtered in the index — and (app_id, guid, time) for the one filter that picks a few rows out of many. Retention drops whole tables (no row-by-row
 * delete of a day) and deletes the rows of the boundary day once an hour; queries never read
 * past the retention whatever is still stored. Why this layout and what it holds: docs/storage.md.
 */
import {
  LOG_LEVELS,
  LOG_LIMITS,
  type LogBatch,
  LogBatchSchema,
  type LogQuery,
  type LogQueueMessage,
  type LogRecord,
  minLevelIndex,
} from "../../../core/contracts/logs";
import { ApiError } from "../../../core/errors";

const DAY_MS = 86_400_000;

/** Table of the UTC day holding `time`: logs_YYYYMMDD. */
export function logTableOf(time: number): string {
  return `logs_${new Date(time).toISOString().slice(0, 10).replaceAll("-", "")}`;
}

/** Start of a table's day, ms; undefined for a name that is not a day table. */
function dayStartOf(table: string): number | undefined {
  const m = /^logs_(\d{4})(\d{2})(\d{2})$/.exec(table);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(t) ? t : undefined;
}

/**
 * The DDL of one day's table. STRICT, so a wrong type is an error rather than a silently stored
 * string. `filter_msg` holds the tags joined by U+001F: tags cannot contain control characters
 * (ClientTextSchema), so a substring search of the joined text never spans two tags.
 */
function createStatements(db: D1Database, table: string): D1PreparedStatement[] {
  return [
    db.prepare(
      `CREATE TABLE IF NOT EXISTS ${table} (
        id INTEGER PRIMARY KEY,
        app_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        level INTEGER NOT NULL,
        message TEXT NOT NULL,
        page TEXT NOT NULL,
        filter_msg TEXT NOT NULL,
        crash INTEGER NOT NULL,
        guid TEXT NOT NULL,
        platform TEXT NOT NULL,
        os_version TEXT NOT NULL,
        base_library_version TEXT NOT NULL,
        client_version TEXT NOT NULL,
        host_app_id TEXT NOT NULL,
        host_app_version TEXT NOT NULL,
        received_at INTEGER NOT NULL
      ) STRICT`,
    ),
    // Every filter column but guid after (app_id, time): a filtered page is found by reading this
    // index alone, in time order, and only the rows of the page are then read from the table.
    // Measured (bench/logs.mjs): a filterMsg nobody logged over a 1,000,000-entry day took 8.4 s
    // with an (app_id, time) index and a table lookup per row.
    db.prepare(
      `CREATE INDEX IF NOT EXISTS ${table}_app_time_filters ON ${table}
        (app_id, time, level, platform, client_version, base_library_version, page, filter_msg)`,
    ),
    db.prepare(`CREATE INDEX IF NOT EXISTS ${table}_app_guid_time ON ${table} (app_id, guid, time)`),
  ];
}

const TAG_SEPARATOR = "\u001f";

/** Bytes of JSON rows per insert statement: one bound parameter, well under D1's 2 MB value limit. */
const INSERT_CHUNK_BYTES = 512 * 1024;

/** One row as the insert's JSON array holds it (order = the SELECT list of insertStatement). */
type Row = [
  appId: string,
  time: number,
  level: number,
  message: string,
  page: string,
  filterMsg: string,
  crash: number,
  guid: string,
  platform: string,
  osVersion: string,
  baseLibraryVersion: string,
  clientVersion: string,
  hostAppId: string,
  hostAppVersion: string,
  receivedAt: number,
];

/**
 * Many rows in one statement: the rows travel as one JSON array parameter and `json_each`
 * unpacks them, so a statement is not limited by D1's 100 bound parameters.
 */
function insertStatement(db: D1Database, table: string, rowsJson: string): D1PreparedStatement {
  const col = (i: number) => `value ->> ${i}`;
  return db
    .prepare(
      `INSERT INTO ${table} (app_id, time, level, message, page, filter_msg, crash, guid, platform,
        os_version, base_library_version, client_version, host_app_id, host_app_version, received_at)
       SELECT ${Array.from({ length: 15 }, (_, i) => col(i)).join(", ")} FROM json_each(?1)`,
    )
    .bind(rowsJson);
}

function rowsOf(message: LogQueueMessage, batch: LogBatch, oldest: number): Row[] {
  const rows: Row[] = [];
  for (const e of batch.entries) {
    if (e.time < oldest) continue;
    rows.push([
      batch.appId,
      e.time,
      LOG_LEVELS.indexOf(e.level),
      e.message,
      e.page,
      (e.filterMsg ?? []).join(TAG_SEPARATOR),
      e.crash ? 1 : 0,
      batch.guid,
      batch.platform,
      batch.osVersion,
      batch.baseLibraryVersion,
      batch.clientVersion,
      batch.hostAppId,
      batch.hostAppVersion,
      message.receivedAt,
    ]);
  }
  return rows;
}

export interface ConsumeResult {
  /** entries written */
  stored: number;
  /** entries left out: older than the retention by the time they were consumed */
  expired: number;
  /** messages that were not a LogQueueMessage (dropped, never retried) */
  malformed: number;
}

/**
 * The log queue consumer's work for one delivery: every entry of `messages` written to its day's
 * table in ONE D1 batch (a transaction), so a failed delivery that the queue retries never leaves
 * half of it stored to be written twice. Messages that do not parse are dropped and counted: the
 * edge validated them, so they can only come from a bug, and retrying would not fix them.
 *
 * Kept as one exported function so later per-batch work (health guardrails) is one more call here.
 */
export async function consumeLogBatches(
  env: { LOGS_DB: D1Database },
  messages: readonly unknown[],
  now = Date.now(),
): Promise<ConsumeResult> {
  const db = env.LOGS_DB;
  const oldest = now - LOG_LIMITS.maxAgeMs;
  const byTable = new Map<string, Row[]>();
  const result: ConsumeResult = { stored: 0, expired: 0, malformed: 0 };
  for (const body of messages) {
    const message = parseMessage(body);
    if (!message) {
      result.malformed++;
      continue;
    }
    const rows = rowsOf(message, message.batch, oldest);
    result.expired += message.batch.entries.length - rows.length;
    for (const row of rows) {
      const table = logTableOf(row[1]);
      let list = byTable.get(table);
      if (!list) byTable.set(table, (list = []));
      list.push(row);
    }
    result.stored += rows.length;
  }
  if (byTable.size === 0) return result;
  const statements: D1PreparedStatement[] = [];
  for (const [table, rows] of byTable) {
    statements.push(...createStatements(db, table));
    let chunk: string[] = [];
    let bytes = 0;
    for (const row of rows) {
      const json = JSON.stringify(row);
      if (chunk.length > 0 && bytes + json.length * 3 > INSERT_CHUNK_BYTES) {
        statements.push(insertStatement(db, table, `[${chunk.join(",")}]`));
        chunk = [];
        bytes = 0;
      }
      chunk.push(json);
      bytes += json.length * 3;
    }
    if (chunk.length > 0) statements.push(insertStatement(db, table, `[${chunk.join(",")}]`));
  }
  await db.batch(statements);
  return result;
}

/** A queue message's body as the edge enqueued it, or undefined when it does not parse. */
export function parseMessage(body: unknown): LogQueueMessage | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const { batch, receivedAt } = body as Partial<LogQueueMessage>;
  if (typeof receivedAt !== "number" || !Number.isFinite(receivedAt)) return undefined;
  const parsed = LogBatchSchema.safeParse(batch);
  return parsed.success ? { batch: parsed.data, receivedAt } : undefined;
}

// ------------------------------------------------------------------------------------------------
// Query

/** The day tables that exist, newest first. */
async function dayTables(db: D1Database): Promise<{ name: string; start: number }[]> {
  const { results } = await db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name GLOB 'logs_[0-9]*'")
    .all<{ name: string }>();
  const tables: { name: string; start: number }[] = [];
  for (const { name } of results) {
    const start = dayStartOf(name);
    if (start !== undefined) tables.push({ name, start });
  }
  return tables.sort((a, b) => b.start - a.start);
}

/** The position after the last entry of a page: (time, id) of that entry, descending order. */
interface Cursor {
  time: number;
  id: number;
}

function encodeCursor(c: Cursor): string {
  return btoa(`1.${c.time}.${c.id}`).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(text: string): Cursor {
  let plain: string;
  try {
    plain = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    throw badCursor();
  }
  const m = /^1\.(\d{1,16})\.(\d{1,16})$/.exec(plain);
  if (!m) throw badCursor();
  return { time: Number(m[1]), id: Number(m[2]) };
}

const badCursor = () => new ApiError("bad_request", "cursor: not a cursor this API gave out");

interface StoredRow {
  id: number;
  time: number;
  level: number;
  message: string;
  page: string;
  filter_msg: string;
  crash: number;
  guid: string;
  platform: string;
  os_version: string;
  base_library_version: string;
  client_version: string;
  host_app_id: string;
  host_app_version: string;
  received_at: number;
}

function recordOf(r: StoredRow): LogRecord {
  return {
    time: r.time,
    level: LOG_LEVELS[r.level] ?? "error",
    message: r.message,
    page: r.page,
    filterMsg: r.filter_msg === "" ? [] : r.filter_msg.split(TAG_SEPARATOR),
    crash: r.crash === 1,
    guid: r.guid,
    platform: r.platform as LogRecord["platform"],
    osVersion: r.os_version,
    baseLibraryVersion: r.base_library_version,
    clientVersion: r.client_version,
    hostAppId: r.host_app_id,
    hostAppVersion: r.host_app_version,
    receivedAt: r.received_at,
  };
}

/**
 * One page of a mini program's entries matching `q`, newest first (time, then arrival order).
 * Reads day tables from the newest the range reaches down to the oldest, each with one indexed
 * range query, and stops as soon as the page is full: a page costs one query per day it spans.
 * The range is clamped to the retention, so entries past 7 days are never answered even before
 * the cron deleted them.
 */
export async function queryLogs(
  env: { LOGS_DB: D1Database },
  appId: string,
  q: LogQuery,
  now = Date.now(),
): Promise<{ entries: LogRecord[]; nextCursor: string | null }> {
  const db = env.LOGS_DB;
  const from = Math.max(q.from ?? 0, now - LOG_LIMITS.maxAgeMs);
  const to = q.to ?? now + LOG_LIMITS.futureSkewMs;
  if (q.from !== undefined && q.to !== undefined && q.from > q.to)
    throw new ApiError("bad_request", "from must not be after to");
  let upper: Cursor = { time: to, id: Number.MAX_SAFE_INTEGER };
  if (q.cursor !== undefined) {
    const c = decodeCursor(q.cursor);
    if (c.time < upper.time || (c.time === upper.time && c.id < upper.id)) upper = c;
  }
  if (from > upper.time) return { entries: [], nextCursor: null };

  const where = ["app_id = ?1", "time >= ?2", "time <= ?3", "(time, id) < (?3, ?4)"];
  const params: (string | number)[] = [appId, from, upper.time, upper.id];
  const add = (clause: (n: number) => string, value: string | number) => {
    params.push(value);
    where.push(clause(params.length));
  };
  const minLevel = minLevelIndex(q.level);
  if (minLevel > 0) add((n) => `level >= ?${n}`, minLevel);
  if (q.platform !== undefined) add((n) => `platform = ?${n}`, q.platform);
  if (q.guid !== undefined) add((n) => `guid = ?${n}`, q.guid);
  if (q.page !== undefined) add((n) => `page = ?${n}`, q.page);
  if (q.filterMsg !== undefined) add((n) => `instr(filter_msg, ?${n}) > 0`, q.filterMsg);
  if (q.baseLibraryVersion !== undefined) add((n) => `base_library_version = ?${n}`, q.baseLibraryVersion);
  if (q.clientVersion !== undefined) add((n) => `client_version = ?${n}`, q.clientVersion);

  const want = q.limit + 1;
  const rows: StoredRow[] = [];
  for (const table of await dayTables(db)) {
    if (table.start > upper.time) continue;
    if (table.start + DAY_MS <= from) break;
    // A guid names a device: its index finds its few rows. Otherwise the filters index answers
    // which ids make the page (it holds every column the filters read) and only those rows are read.
    const order = `ORDER BY time DESC, id DESC LIMIT ${want - rows.length}`;
    const sql =
      q.guid !== undefined
        ? `SELECT * FROM ${table.name} INDEXED BY ${table.name}_app_guid_time WHERE ${where.join(" AND ")} ${order}`
        : `SELECT * FROM ${table.name} WHERE id IN (SELECT id FROM ${table.name} INDEXED BY ${table.name}_app_time_filters
            WHERE ${where.join(" AND ")} ${order}) ORDER BY time DESC, id DESC`;
    const { results } = await db
      .prepare(sql)
      .bind(...params)
      .all<StoredRow>();
    rows.push(...results);
    if (rows.length >= want) break;
  }
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  return {
    entries: page.map(recordOf),
    nextCursor: rows.length > q.limit && last ? encodeCursor({ time: last.time, id: last.id }) : null,
  };
}

// ------------------------------------------------------------------------------------------------
// Retention

/**
 * The 7-day retention (issue 15), run by the cron: drops every day table wholly older than the
 * retention, and, when `boundary` (once an hour), deletes the expired rows of the day that
 * straddles it (a scan of that day's table, hence not every minute). Readers never see expired
 * rows meanwhile: queryLogs clamps its range to the retention.
 */
export async function sweepLogs(
  env: { LOGS_DB: D1Database },
  now = Date.now(),
  boundary = true,
): Promise<{ dropped: string[]; deleted: number }> {
  const db = env.LOGS_DB;
  const cutoff = now - LOG_LIMITS.maxAgeMs;
  const dropped: string[] = [];
  let deleted = 0;
  for (const table of await dayTables(db)) {
    if (table.start + DAY_MS <= cutoff) {
      await db.prepare(`DROP TABLE IF EXISTS ${table.name}`).run();
      dropped.push(table.name);
    } else if (boundary && table.start <= cutoff) {
      const r = await db.prepare(`DELETE FROM ${table.name} WHERE time < ?1`).bind(cutoff).run();
      deleted += r.meta.changes;
    }
  }
  return { dropped, deleted };
}
