/**
 * Per-isolate cache of parsed delivery snapshots (ARCHITECTURE.md "The hot path", step 2).
 *
 * - An entry is trusted for `ttlMs` (SNAPSHOT_TTL_MS), which bounds change reach.
 * - After that it is revalidated with a conditional R2 get (`etagDoesNotMatch`), so an
 *   unchanged snapshot costs a metadata round trip and no body read.
 * - A snapshot with a lower `revision` never replaces a cached higher one. The control plane
 *   writes R2 only forward (a conditional put, docs/storage.md "Snapshot publication"), but two
 *   loads in one isolate can still finish out of order.
 * - "No snapshot" (unknown app) is cached too, for the same TTL, so probing app ids does not
 *   turn into one R2 read per request.
 * - Concurrent loads of one app share a single R2 read.
 */
import { SNAPSHOT_SCHEMA, type Snapshot, snapshotKey } from "../../core/snapshot";
import { TIMED_OUT, withTimeout } from "./timeout";

interface Entry {
  /** null: R2 holds no snapshot for this app (negative entry) */
  snapshot: Snapshot | null;
  /** R2 etag of the object last read, for the next conditional get */
  etag: string | undefined;
  checkedAt: number;
}

interface Load {
  promise: Promise<Snapshot | null>;
  startedAt: number;
}

/** Bounds memory when clients send many distinct (possibly made-up) app ids. */
const MAX_ENTRIES = 10_000;
/**
 * How long a request waits on another request's load before loading itself. workerd cancels
 * the continuations of a request awaiting a promise whose creating request has ended (e.g. the
 * client went away), so a shared load must never be waited on without a fallback.
 */
const COALESCE_WAIT_MS = 2_000;

export class SnapshotCache {
  readonly #entries = new Map<string, Entry>();
  readonly #loads = new Map<string, Load>();

  /**
   * The cached snapshot while it is fresh (null: fresh knowledge that the app has none), or
   * undefined when it must be (re)loaded with `get`. Synchronous: the hot path's common case.
   */
  peek(appId: string, ttlMs: number, now: number): Snapshot | null | undefined {
    const entry = this.#entries.get(appId);
    return entry && now - entry.checkedAt < ttlMs ? entry.snapshot : undefined;
  }

  /** The snapshot of `appId`, or null when the app has none (unknown or never compiled). */
  async get(bucket: R2Bucket, appId: string, ttlMs: number, now = Date.now()): Promise<Snapshot | null> {
    const entry = this.#entries.get(appId);
    if (entry && now - entry.checkedAt < ttlMs) return entry.snapshot;

    const pending = this.#loads.get(appId);
    const waitMs = pending ? pending.startedAt + COALESCE_WAIT_MS - now : 0;
    if (pending && waitMs > 0) {
      const shared = await withTimeout(pending.promise, waitMs);
      if (shared !== TIMED_OUT) return shared;
    }

    const load: Load = { promise: this.#revalidate(bucket, appId), startedAt: now };
    this.#loads.set(appId, load);
    try {
      return await load.promise;
    } finally {
      if (this.#loads.get(appId) === load) this.#loads.delete(appId);
    }
  }

  async #revalidate(bucket: R2Bucket, appId: string): Promise<Snapshot | null> {
    const before = this.#entries.get(appId);
    const key = snapshotKey(appId);
    const object =
      before?.snapshot && before.etag !== undefined
        ? await bucket.get(key, { onlyIf: { etagDoesNotMatch: before.etag } })
        : await bucket.get(key);
    const checkedAt = Date.now();

    if (object === null) {
      this.#store(appId, { snapshot: null, etag: undefined, checkedAt });
      return null;
    }
    // Precondition failed: R2 answers with metadata only, i.e. the snapshot is unchanged.
    if (!hasBody(object)) {
      const snapshot = before?.snapshot ?? null;
      this.#store(appId, { snapshot, etag: before?.etag, checkedAt });
      return snapshot;
    }

    // Another load may have stored a newer snapshot while this one was in flight.
    const current = this.#entries.get(appId)?.snapshot ?? before?.snapshot ?? null;
    const read = parseSnapshot(await object.text(), appId);
    if (!read) {
      // A corrupt write is a control-plane bug; the last good snapshot serves clients better
      // than an error. Without one, the request fails loudly.
      if (!current) throw new Error(`snapshot of ${appId} is unreadable`);
      console.error("unreadable snapshot, keeping the cached one", { appId, revision: current.revision });
      return current;
    }
    const keep = current && current.revision > read.revision ? current : read;
    // Remember the etag just read even when its snapshot is older, so the next revalidation
    // is a cheap "unchanged" until a newer one is written.
    this.#store(appId, { snapshot: keep, etag: object.etag, checkedAt });
    return keep;
  }

  #store(appId: string, entry: Entry) {
    // Delete then set moves the app to the end, so eviction drops the least recently stored.
    this.#entries.delete(appId);
    this.#entries.set(appId, entry);
    if (this.#entries.size > MAX_ENTRIES) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
  }
}

/** Parses a stored snapshot; undefined when it is not one this edge can serve for `appId`. */
function parseSnapshot(text: string, appId: string): Snapshot | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const s = value as Partial<Snapshot>;
  const ok =
    s.schema === SNAPSHOT_SCHEMA &&
    s.appId === appId &&
    Number.isSafeInteger(s.revision) &&
    Array.isArray(s.hostApps);
  return ok ? (value as Snapshot) : undefined;
}

function hasBody(object: R2Object | R2ObjectBody): object is R2ObjectBody {
  return "body" in object;
}

/** The isolate's cache, shared by every request the isolate serves. */
export const snapshotCache = new SnapshotCache();
