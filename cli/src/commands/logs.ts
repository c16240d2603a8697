/**
 * Real-time logs (issue 15; docs/storage.md "Real-time logs"): the admin API's query with every
 * seed filter (time range, level, system type, GUID, page link, FilterMsg tag, base library and
 * mini program version), one page at a time, or `--follow` to keep printing new entries as they
 * arrive (the query again from the newest time seen, entries already printed left out).
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import type { Output } from "../output";
import { group, register } from "../registry";
import { APP_OPTION, appArg, intArg, type Schemas, sleep } from "./common";

group("logs", "Real-time logs the mini program's clients sent (kept 7 days)");

type LogRecord = Schemas["LogRecord"];
type LogPage = Schemas["LogPage"];
const LEVELS = ["all", "info", "warn", "error"] as const;
type QueryLevel = (typeof LEVELS)[number];

/** `15m`, `2h`, `1d` (or plain seconds) before now, in ms since the epoch. */
export function sinceArg(text: string, now = Date.now()): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m)
    throw new UsageError(
      `--since must be a duration such as 30s, 15m, 2h or 1d (got ${JSON.stringify(text)})`,
    );
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as "" | "s" | "m" | "h" | "d"];
  return now - Number(m[1]) * unit * 1000;
}

/** `--from` / `--to`: ms since the epoch, or an ISO 8601 time (2026-12-05T21:00:00Z). */
export function timeArg(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return Number(text);
  // Only full ISO forms: Date.parse also reads "5" or "May 5", which a typo should not become.
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t))
    throw new UsageError(
      `--${name} must be ms since the epoch or an ISO 8601 time such as 2026-12-05T21:00:00Z (got ${JSON.stringify(text)})`,
    );
  return t;
}

const levelStyle = { debug: "dim", info: "dim", warn: "yellow", error: "red" } as const;

function entryLine(e: LogRecord, out: Output): string {
  const tags = e.filterMsg.length ? ` [${e.filterMsg.join(",")}]` : "";
  return [
    // Milliseconds kept: entries of one session are often within the same second.
    out.paint("dim", new Date(e.time).toISOString()),
    out.paint(levelStyle[e.level], e.level.padEnd(5)),
    `${e.crash ? out.paint("red", "CRASH ") : ""}${e.message}${tags}`,
    out.paint(
      "dim",
      `(${e.page || "-"} · ${e.guid} · ${e.platform} ${e.osVersion} · v${e.clientVersion} · base ${e.baseLibraryVersion})`,
    ),
  ].join("  ");
}

/**
 * What tells two stored entries apart: the record has no id, so every field. Two entries equal in
 * every field (one device logging the same message twice in one millisecond, in one batch) are
 * counted, not merged: see `Seen`.
 */
const entryKey = (e: LogRecord) =>
  JSON.stringify([
    e.time,
    e.guid,
    e.receivedAt,
    e.level,
    e.page,
    e.message,
    e.filterMsg,
    e.crash,
    e.clientVersion,
    e.baseLibraryVersion,
    e.platform,
    e.osVersion,
    e.hostAppId,
    e.hostAppVersion,
  ]);

/**
 * How far back each `--follow` query reaches behind the newest entry printed. Entries are stored
 * by the time the client logged them, and reach the query later: the client's logger batches
 * them, the edge queues them, the consumer writes them every few seconds, and a device that was
 * offline sends its backlog when it is back. So each query reads this window again and prints
 * what it had not printed; an entry that arrives more than this long after its own time is left
 * to a query without --follow.
 */
export const FOLLOW_LOOKBACK_MS = 120_000;

/** Entries already printed by `--follow`, as counts per key, forgotten once behind the window. */
class Seen {
  private readonly counts = new Map<string, { time: number; n: number }>();
  /** The entries of `found` not printed yet (an entry found n times was printed at most n times). */
  fresh(found: LogRecord[]): LogRecord[] {
    const here = new Map<string, number>();
    const out: LogRecord[] = [];
    for (const e of found) {
      const key = entryKey(e);
      const n = (here.get(key) ?? 0) + 1;
      here.set(key, n);
      const printed = this.counts.get(key)?.n ?? 0;
      if (n > printed) {
        out.push(e);
        this.counts.set(key, { time: e.time, n });
      }
    }
    return out;
  }
  forgetBefore(time: number): void {
    for (const [key, v] of this.counts) if (v.time < time) this.counts.delete(key);
  }
}

register({
  name: "logs",
  summary: "Query the real-time logs by time, level, device, page, tag and version; --follow to tail",
  options: {
    ...APP_OPTION,
    since: {
      type: "string",
      placeholder: "duration",
      description: "only entries newer than this, e.g. 15m, 2h, 1d",
    },
    from: {
      type: "string",
      placeholder: "time",
      description: "oldest entry time: ms since the epoch or ISO 8601",
    },
    to: {
      type: "string",
      placeholder: "time",
      description: "newest entry time: ms since the epoch or ISO 8601",
    },
    level: {
      type: "string",
      placeholder: "level",
      description: "all (default, debug included), or info / warn / error meaning that level and above",
    },
    platform: { type: "string", placeholder: "android|ios", description: "system type" },
    guid: { type: "string", placeholder: "guid", description: "one device" },
    page: { type: "string", placeholder: "path", description: "page link, exact, e.g. pages/order/detail" },
    filter: {
      type: "string",
      placeholder: "text",
      description: "text within one of the entry's filterMsg tags (case-sensitive)",
    },
    "base-library": { type: "string", placeholder: "version", description: "base library version, exact" },
    "client-version": { type: "string", placeholder: "x.y.z", description: "mini program version, exact" },
    limit: { type: "string", placeholder: "n", description: "entries per page (1-200, default 50)" },
    cursor: { type: "string", placeholder: "cursor", description: "the previous page's next cursor" },
    follow: { type: "boolean", short: "f", description: "keep printing new entries (Ctrl-C stops)" },
    interval: {
      type: "string",
      placeholder: "seconds",
      description: "between queries with --follow (default 3)",
    },
    for: { type: "string", placeholder: "seconds", description: "with --follow: stop after this long" },
  },
  details: [
    "Without --follow: one page, newest first, and the cursor of the next page (pass it back with",
    "--cursor and the same filters). With --json, the page as the API answers it ({entries, nextCursor}).",
    "With --follow: the newest page oldest first, then each new entry as it arrives, until Ctrl-C or",
    "--for; with --json one JSON entry per line (NDJSON). Entries reach the query a few seconds after",
    "the client sends them (the edge queues them in batches); --follow also prints entries that arrive",
    `up to ${FOLLOW_LOOKBACK_MS / 60_000} minutes after their own time (a device's late batch), below newer ones.`,
  ].join("\n"),
  examples: [
    "graycast logs --app gc... --since 1h --level error",
    "graycast logs --app gc... --guid device-42 --page pages/order/detail",
    "graycast logs --app gc... --client-version 1.1.0 --base-library 2.30.0 --platform android",
    "graycast logs --app gc... --filter checkout --follow",
    "graycast logs --app gc... --json | jq '.entries[].message'",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const level = ctx.str("level") ?? "all";
    if (!LEVELS.includes(level as QueryLevel))
      throw new UsageError(
        `--level must be one of ${LEVELS.join(", ")} (info, warn, error: that level and above)`,
      );
    const platform = ctx.str("platform");
    if (platform !== undefined && platform !== "android" && platform !== "ios")
      throw new UsageError("--platform must be android or ios");
    const since = ctx.str("since");
    if (since !== undefined && ctx.str("from") !== undefined)
      throw new UsageError("--since and --from say the same thing: give one");
    const filters = {
      level: level as QueryLevel,
      ...(platform ? { platform: platform as LogRecord["platform"] } : {}),
      ...(ctx.str("guid") ? { guid: ctx.str("guid") } : {}),
      ...(ctx.str("page") ? { page: ctx.str("page") } : {}),
      ...(ctx.str("filter") ? { filterMsg: ctx.str("filter") } : {}),
      ...(ctx.str("base-library") ? { baseLibraryVersion: ctx.str("base-library") } : {}),
      ...(ctx.str("client-version") ? { clientVersion: ctx.str("client-version") } : {}),
    };
    const limit = intArg(ctx, "limit");
    const from = since !== undefined ? sinceArg(since) : timeArg("from", ctx.str("from"));
    const to = timeArg("to", ctx.str("to"));
    const query = (q: { from?: number | undefined; to?: number | undefined; cursor?: string | undefined }) =>
      ok(
        ctx.api().GET("/v1/mini-programs/{appId}/logs", {
          params: {
            path: { appId },
            query: {
              ...filters,
              ...(q.from !== undefined ? { from: q.from } : {}),
              ...(q.to !== undefined ? { to: q.to } : {}),
              ...(q.cursor ? { cursor: q.cursor } : {}),
              ...(limit !== undefined ? { limit } : {}),
            },
          },
        }),
      ) as Promise<LogPage>;
    if (!ctx.flag("follow")) {
      for (const name of ["interval", "for"])
        if (ctx.str(name) !== undefined) throw new UsageError(`--${name} goes with --follow`);
      return query({ from, to, cursor: ctx.str("cursor") });
    }
    if (to !== undefined || ctx.str("cursor"))
      throw new UsageError("--follow reads up to now: leave out --to and --cursor");

    const interval = Math.max(1, intArg(ctx, "interval") ?? 3) * 1000;
    const forSeconds = intArg(ctx, "for");
    const stopAt = forSeconds !== undefined ? Date.now() + forSeconds * 1000 : Infinity;
    const print = (e: LogRecord) =>
      ctx.streams.stdout.write(`${ctx.out.json ? JSON.stringify(e) : entryLine(e, ctx.out)}\n`);
    const seen = new Seen();

    // First the newest page, as `tail -f` starts with the last lines. Older entries than that page
    // shows are history, not news: later queries never reach below its oldest entry.
    const first = await query({ from });
    for (const e of seen.fresh(first.entries).reverse()) print(e);
    let floor = first.nextCursor && first.entries.length ? first.entries.at(-1)!.time : (from ?? 0);

    while (Date.now() + interval <= stopAt) {
      await sleep(interval);
      // Every page of the window behind now (late arrivals land there), newest first; what was not
      // printed yet is printed oldest first. The window follows this machine's clock, not the
      // newest entry's time: one device whose clock runs ahead must not hide everyone else's.
      const lower = Math.max(floor, Date.now() - FOLLOW_LOOKBACK_MS);
      const found: LogRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await query({ from: lower, cursor });
        found.push(...page.entries);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      for (const e of seen.fresh(found).reverse()) print(e);
      floor = lower;
      seen.forgetBefore(lower);
    }
    return CANCELLED;
  },
  show(p: LogPage, out: Output) {
    if (!p.entries.length) out.line(out.paint("dim", "(no entries)"));
    for (const e of p.entries) out.line(entryLine(e, out));
    if (p.nextCursor) out.line(out.paint("dim", `more: --cursor ${p.nextCursor}`));
  },
});
