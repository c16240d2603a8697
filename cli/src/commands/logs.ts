/**
 * Real-time logs (issue 15; docs/storage.md "Real-time logs"): the admin API's query with every
 * seed filter (time range, level, system type, GUID, page link, FilterMsg tag, base library and
 * mini program version), one page at a time, or `--follow` to keep printing new entries as they
 * arrive (the query again from the newest time seen, entries already printed left out).
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { isoTime, type Output } from "../output";
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

const levelStyle = { debug: "dim", info: "dim", warn: "yellow", error: "red" } as const;

function entryLine(e: LogRecord, out: Output): string {
  const tags = e.filterMsg.length ? ` [${e.filterMsg.join(",")}]` : "";
  return [
    out.paint("dim", isoTime(e.time)),
    out.paint(levelStyle[e.level], e.level.padEnd(5)),
    `${e.crash ? out.paint("red", "CRASH ") : ""}${e.message}${tags}`,
    out.paint("dim", `(${e.page || "-"} · ${e.guid} · ${e.platform} ${e.osVersion} · v${e.clientVersion})`),
  ].join("  ");
}

/** The same entry twice (a follow query starts at the newest time already printed). */
const entryKey = (e: LogRecord) => JSON.stringify([e.time, e.guid, e.receivedAt, e.page, e.message]);

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
    from: { type: "string", placeholder: "ms", description: "oldest entry time, ms since the epoch" },
    to: { type: "string", placeholder: "ms", description: "newest entry time, ms since the epoch" },
    level: {
      type: "string",
      placeholder: "level",
      description: "all (default), or info / warn / error and above",
    },
    platform: { type: "string", placeholder: "ios|android|harmony", description: "system type" },
    guid: { type: "string", placeholder: "guid", description: "one device" },
    page: { type: "string", placeholder: "path", description: "page link, e.g. pages/order/detail" },
    filter: { type: "string", placeholder: "text", description: "text in one of the entry's FilterMsg tags" },
    "base-library": { type: "string", placeholder: "version", description: "base library version" },
    "client-version": { type: "string", placeholder: "version", description: "mini program version" },
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
    "Without --follow: one page, newest first, and the cursor of the next page.",
    "With --follow: the newest page oldest first, then each new entry as it arrives; with --json one",
    "JSON entry per line (NDJSON). Entries reach the query a few seconds after the client sends them",
    "(the edge queues them in batches).",
  ].join("\n"),
  examples: [
    "graycast logs --app gc... --since 1h --level error",
    "graycast logs --app gc... --guid device-42 --page pages/order/detail",
    "graycast logs --app gc... --filter checkout --follow",
    "graycast logs --app gc... --json | jq '.entries[].message'",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const level = ctx.str("level") ?? "all";
    if (!LEVELS.includes(level as QueryLevel))
      throw new UsageError(`--level must be one of ${LEVELS.join(", ")}`);
    const since = ctx.str("since");
    if (since !== undefined && ctx.str("from") !== undefined)
      throw new UsageError("--since and --from say the same thing: give one");
    const platform = ctx.str("platform");
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
    const from = since !== undefined ? sinceArg(since) : intArg(ctx, "from");
    const to = intArg(ctx, "to");
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
    if (!ctx.flag("follow")) return query({ from, to, cursor: ctx.str("cursor") });
    if (to !== undefined || ctx.str("cursor"))
      throw new UsageError("--follow reads up to now: leave out --to and --cursor");

    const interval = Math.max(1, intArg(ctx, "interval") ?? 3) * 1000;
    const stopAt = ctx.str("for") !== undefined ? Date.now() + (intArg(ctx, "for") ?? 0) * 1000 : Infinity;
    const print = (e: LogRecord) =>
      ctx.streams.stdout.write(`${ctx.out.json ? JSON.stringify(e) : entryLine(e, ctx.out)}\n`);
    // Entries at the newest time printed so far: the next query starts at that time (inclusive).
    let newest = from;
    let atNewest = new Set<string>();
    for (let first = true; ; first = false) {
      // Every page since the newest time seen, newest first; printed oldest first.
      const fresh: LogRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await query({ from: newest, cursor });
        fresh.push(...page.entries);
        cursor = page.nextCursor ?? undefined;
        // The first query shows one page only (the newest), as `tail -f` does.
      } while (cursor && !first);
      for (const e of fresh.reverse()) {
        const key = entryKey(e);
        if (newest !== undefined && e.time === newest && atNewest.has(key)) continue;
        print(e);
        if (newest === undefined || e.time > newest) {
          newest = e.time;
          atNewest = new Set();
        }
        if (e.time === newest) atNewest.add(key);
      }
      if (newest === undefined) newest = Date.now() - 60_000;
      if (Date.now() + interval > stopAt) return CANCELLED;
      await sleep(interval);
    }
  },
  show(p: LogPage, out: Output) {
    if (!p.entries.length) out.line(out.paint("dim", "(no entries)"));
    for (const e of p.entries) out.line(entryLine(e, out));
    if (p.nextCursor) out.line(out.paint("dim", `more: --cursor ${p.nextCursor}`));
  },
});
