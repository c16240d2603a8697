/**
 * Real-time logs of a mini program (PRODUCT.md X4, the seed's "real time log"; issue 15): the
 * query form has exactly the seed's criteria ("time, log level dimensions (all, info and above,
 * warn and above, error and above), system type, Guid, page link, filterMsg content, basic
 * library version, and client version"), entries newest first, "Load more" by the API's cursor,
 * and a "Follow" switch that polls for entries as clients send them. The filters live in the
 * URL (#/apps/<appId>/logs?level=warn&guid=...), so a view can be shared by its link.
 */
import { useEffect, useState } from "hono/jsx/dom";
import { type ApiError, api } from "../api";
import { navigate } from "../router";
import type { LogRecord, MiniProgram } from "../types";
import { asApiError, ErrorNote, Field, formValue, Loading } from "../ui";

/** The API's query parameters the form sets (core/contracts/logs.ts LogQuerySchema), in URL order. */
const FILTERS = [
  "from",
  "to",
  "level",
  "platform",
  "guid",
  "page",
  "filterMsg",
  "baseLibraryVersion",
  "clientVersion",
] as const;
type Filter = (typeof FILTERS)[number];

const LEVELS = [
  { id: "all", label: "All levels" },
  { id: "info", label: "Info and above" },
  { id: "warn", label: "Warn and above" },
  { id: "error", label: "Error and above" },
] as const;

/** How often "Follow" asks for new entries: queue delivery takes a few seconds anyway. */
const FOLLOW_EVERY_MS = 3_000;

/** "2026-12-05T08:30:05" in the user's zone, for datetime-local inputs. */
function localInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Log times to the second (and milliseconds: entries of one session are often that close). */
const fmtTime = (ms: number): string =>
  `${new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })}.${String(ms % 1000).padStart(3, "0")}`;

/** Entries have no id: these fields together tell a polled entry from one already shown. */
const keyOf = (e: LogRecord): string =>
  [e.receivedAt, e.time, e.guid, e.level, e.page, e.message].join("\u0000");

const newestFirst = (a: LogRecord, b: LogRecord): number => b.time - a.time || b.receivedAt - a.receivedAt;

/** The filters of the URL, as the API's query string (empty values left out). */
function apiQuery(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const f of FILTERS) {
    const v = query.get(f);
    if (v) out.set(f, v);
  }
  return out;
}

export function LogsPage(props: { appId: string; mp: MiniProgram; query: URLSearchParams }) {
  const { appId } = props;
  const filters = apiQuery(props.query);
  const filterKey = filters.toString();
  const base = `/v1/mini-programs/${appId}/logs`;
  const [entries, setEntries] = useState<LogRecord[] | undefined>(undefined);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [follow, setFollow] = useState(false);
  const [arrived, setArrived] = useState(0);
  const [followedAt, setFollowedAt] = useState<number | null>(null);

  // The first page of the filters in the URL, again whenever they change.
  useEffect(() => {
    let live = true;
    setEntries(undefined);
    setArrived(0);
    api<{ entries: LogRecord[]; nextCursor: string | null }>("GET", `${base}?${filterKey}`).then(
      (page) => live && (setEntries(page.entries), setCursor(page.nextCursor), setError(undefined)),
      (e) => live && (setEntries([]), setCursor(null), setError(asApiError(e))),
    );
    return () => {
      live = false;
    };
  }, [appId, filterKey]);

  // Follow: the newest page again every few seconds, merged into what is shown. The newest page
  // rather than "since the newest shown", because entry times are the clients' clocks and a batch
  // can arrive after a later one: whatever is new among the newest entries is added in its place.
  const to = filters.get("to");
  useEffect(() => {
    if (!follow || to) return;
    let live = true;
    const tick = async () => {
      try {
        const page = await api<{ entries: LogRecord[] }>("GET", `${base}?${filterKey}`);
        if (!live) return;
        setEntries((shown) => {
          const have = new Set((shown ?? []).map(keyOf));
          const fresh = page.entries.filter((e) => !have.has(keyOf(e)));
          if (fresh.length === 0) return shown;
          setArrived((n) => n + fresh.length);
          return [...fresh, ...(shown ?? [])].sort(newestFirst);
        });
        setFollowedAt(Date.now());
        setError(undefined);
      } catch (e) {
        if (live) setError(asApiError(e));
      }
    };
    const timer = setInterval(tick, FOLLOW_EVERY_MS);
    tick();
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [follow, appId, filterKey]);

  const loadMore = async () => {
    if (!cursor) return;
    setBusy(true);
    try {
      const q = new URLSearchParams(filters);
      q.set("cursor", cursor);
      const page = await api<{ entries: LogRecord[]; nextCursor: string | null }>("GET", `${base}?${q}`);
      setEntries((shown) => {
        const have = new Set((shown ?? []).map(keyOf));
        return [...(shown ?? []), ...page.entries.filter((e) => !have.has(keyOf(e)))];
      });
      setCursor(page.nextCursor);
      setError(undefined);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const q = new URLSearchParams();
    for (const f of FILTERS) {
      let v = formValue(form, f);
      if ((f === "from" || f === "to") && v) {
        const ms = new Date(v).getTime();
        // An unreadable date goes to the API as typed, which names the field in its answer.
        v = Number.isNaN(ms) ? v : String(ms);
      }
      if (f === "level" && v === "all") v = "";
      if (v) q.set(f, v);
    }
    const qs = q.toString();
    navigate(`/apps/${appId}/logs${qs ? `?${qs}` : ""}`);
  };

  const value = (f: Filter): string => {
    const v = filters.get(f) ?? "";
    if ((f === "from" || f === "to") && /^\d+$/.test(v)) return localInput(Number(v));
    return v;
  };
  const level = filters.get("level") ?? "all";
  const platform = filters.get("platform") ?? "";
  const active = [...filters.keys()].length;
  return (
    <section>
      <div class="head">
        <h2>Real-time logs</h2>
      </div>
      <p class="hint">
        What the mini program's clients log, newest first; an entry appears a few seconds after the client
        sent it. Entries are kept 7 days.
      </p>
      <form class="card" aria-label="Log filters" onSubmit={submit} novalidate>
        <div class="row">
          <Field
            name="from"
            label="From"
            type="datetime-local"
            step="1"
            value={value("from")}
            error={error}
            hint="Empty: 7 days ago."
          />
          <Field
            name="to"
            label="To"
            type="datetime-local"
            step="1"
            value={value("to")}
            error={error}
            hint="Empty: now."
          />
          <div class="field">
            <label for="f-level">Level</label>
            <select id="f-level" name="level">
              {LEVELS.map((l) => (
                <option value={l.id} selected={l.id === level}>
                  {l.label}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="f-platform">System type</label>
            <select id="f-platform" name="platform">
              <option value="" selected={platform === ""}>
                Any
              </option>
              <option value="android" selected={platform === "android"}>
                Android
              </option>
              <option value="ios" selected={platform === "ios"}>
                iOS
              </option>
            </select>
          </div>
        </div>
        <div class="row">
          <Field name="guid" label="GUID" value={value("guid")} error={error} hint="One device, exact." />
          <Field
            name="page"
            label="Page link"
            value={value("page")}
            error={error}
            placeholder="pages/order/detail"
            hint="Exact page path."
          />
          <Field
            name="filterMsg"
            label="filterMsg content"
            value={value("filterMsg")}
            error={error}
            hint="Text within one of the entry's filterMsg tags."
          />
        </div>
        <div class="row">
          <Field
            name="baseLibraryVersion"
            label="Base library version"
            value={value("baseLibraryVersion")}
            error={error}
            placeholder="2.30.0"
          />
          <Field
            name="clientVersion"
            label="Client version"
            value={value("clientVersion")}
            error={error}
            placeholder="1.1.0"
            hint="The mini program version."
          />
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Search logs
          </button>
          {active > 0 && (
            <a class="button" href={`#/apps/${appId}/logs`}>
              Clear filters
            </a>
          )}
        </div>
      </form>
      <div class="head">
        <label class="check">
          <input
            type="checkbox"
            name="follow"
            checked={follow}
            disabled={Boolean(to)}
            aria-describedby="follow-hint"
            onChange={(e: Event) => {
              setArrived(0);
              setFollow((e.target as HTMLInputElement).checked);
            }}
          />{" "}
          Follow: show new entries as they arrive
        </label>
        <small id="follow-hint" class="hint">
          {to
            ? "Following needs an open end: clear “To”."
            : follow
              ? `Checking every ${FOLLOW_EVERY_MS / 1000} s${followedAt ? ` · last ${new Date(followedAt).toLocaleTimeString()}` : ""}`
              : ""}
        </small>
      </div>
      <p class="hint" role="status" aria-live="polite">
        {follow && arrived > 0
          ? `${arrived} new ${arrived === 1 ? "entry" : "entries"} since you started following.`
          : ""}
      </p>
      <ErrorNote error={error} fields={[...FILTERS]} />
      {entries === undefined ? (
        <Loading />
      ) : entries.length === 0 ? (
        <p id="logs-empty">No log entry matches{active > 0 ? " these filters" : " yet"}.</p>
      ) : (
        <LogTable entries={entries} />
      )}
      {entries !== undefined && cursor && (
        <div class="actions">
          <button type="button" onClick={loadMore} disabled={busy}>
            {busy ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
      {entries !== undefined && entries.length > 0 && !cursor && (
        <p class="hint">
          {entries.length} {entries.length === 1 ? "entry" : "entries"}: that is all.
        </p>
      )}
    </section>
  );
}

function LogTable(props: { entries: LogRecord[] }) {
  return (
    <div class="table-wrap">
      <table aria-label="Log entries, newest first">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Level</th>
            <th scope="col">Message</th>
            <th scope="col">Page</th>
            <th scope="col">filterMsg</th>
            <th scope="col">Device</th>
            <th scope="col">Versions</th>
          </tr>
        </thead>
        <tbody>
          {props.entries.map((e) => (
            <tr class={`log-${e.level}`}>
              <td class="nowrap">{fmtTime(e.time)}</td>
              <td>
                <span class={`badge lvl-${e.level}`}>{e.level}</span>
                {e.crash ? <span class="badge lvl-error">crash</span> : null}
              </td>
              <td class="log-message">{e.message}</td>
              <td>
                <code>{e.page}</code>
              </td>
              <td>{e.filterMsg.join(", ")}</td>
              <td>
                <code>{e.guid}</code>
                <small class="block">
                  {e.platform} {e.osVersion} · {e.hostAppId} {e.hostAppVersion}
                </small>
              </td>
              <td>
                <span class="version">{e.clientVersion}</span>
                <small class="block">base library {e.baseLibraryVersion}</small>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
