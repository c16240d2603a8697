/**
 * The health figures of one grayscale task (PRODUCT.md G7, issue 15), kept in the task's
 * GrayscaleCounter object next to its admissions: per version role (the task's gray version, the
 * mini program's online version) and per 10-minute bucket, the sessions seen, the sessions with an
 * error and the crash reports. The log consumer (control-plane/src/services/health.ts) reports
 * what it read from each batch of log messages; one object per task serialises the reports, so
 * concurrent consumers count exactly, and it decides whether a guardrail trips (core
 * `judgeHealth`). D1 is never touched here.
 *
 * Storage (the counter object's SQLite, see MIGRATIONS there):
 *   health_seen(role, bucket, guid, last_at, last_error_at)  one row per session of a bucket: an
 *                                                            exact set of GUIDs (see below); kept
 *                                                            for the current and previous bucket
 *   health_bucket(role, bucket, sessions, error_sessions,    the tallies of each bucket, kept in
 *                 crashes)                                   step with the sets (48 h, progress)
 *   health_crash(role, bucket, guid, at, received_at)        one row per crash report (the same
 *                                                            GUID and entry time once); a day
 *
 * Exact sets rather than an estimator (HyperLogLog): a guardrail suspends a release, so its
 * figures must be exact and explainable, and the set lives in the object's SQLite storage, not
 * in memory. Its size is the sessions of one version in 20 minutes (~60 bytes a row); rows of
 * older buckets are deleted on every report. A set also makes a redelivered batch count once.
 *
 * Window restart: every report carries `since` (the task's `health_since`, moved to the resume
 * time by a manual resume); only sightings at or after it count towards a guardrail, so a resumed
 * task is not suspended again on the figures that suspended it. Progress shows every bucket.
 */
import {
  bucketOf,
  type Guardrails,
  HEALTH_BUCKET_MS,
  HEALTH_KEEP_MS,
  type HealthRole,
  judgeHealth,
  MAX_CRASH_WINDOW_MINUTES,
  type TripFigures,
  versionHealth,
} from "../core/grayscale/health";

export const HEALTH_MIGRATION = `
  CREATE TABLE health_seen (role TEXT NOT NULL, bucket INTEGER NOT NULL, guid TEXT NOT NULL,
    last_at INTEGER NOT NULL, last_error_at INTEGER, PRIMARY KEY (role, bucket, guid)) WITHOUT ROWID;
  CREATE TABLE health_bucket (role TEXT NOT NULL, bucket INTEGER NOT NULL, sessions INTEGER NOT NULL,
    error_sessions INTEGER NOT NULL, crashes INTEGER NOT NULL, PRIMARY KEY (role, bucket)) WITHOUT ROWID;
  CREATE TABLE health_crash (role TEXT NOT NULL, bucket INTEGER NOT NULL, guid TEXT NOT NULL,
    at INTEGER NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (role, bucket, guid, at)) WITHOUT ROWID;`;

/** What one log batch (or several of the same GUID and bucket) showed of one session. */
export interface HealthObservation {
  role: HealthRole;
  guid: string;
  /** when the edge received the batch, ms epoch (its bucket) */
  at: number;
  /** at least one entry of level "error" */
  errored: boolean;
  /** entry times of the crash reports */
  crashTimes: number[];
}

export interface HealthReport {
  /** sightings before this (ms epoch) do not count towards a guardrail */
  since: number;
  /** the task's guardrails when it is delivering; null: count only (suspended, or none set) */
  guardrails: Guardrails | null;
  observations: HealthObservation[];
}

export interface HealthBucket {
  bucket: number;
  role: HealthRole;
  sessions: number;
  errorSessions: number;
  crashes: number;
}

/** Observations per report (the caller splits larger ones). */
export const MAX_HEALTH_OBSERVATIONS = 1_000;
const MAX_GUID = 128;
const MAX_CRASHES_PER_OBSERVATION = 1_000;

function checkReport(report: HealthReport): void {
  if (!Number.isSafeInteger(report?.since) || report.since < 0)
    throw new RangeError("since must be a ms epoch");
  if (!Array.isArray(report.observations) || report.observations.length > MAX_HEALTH_OBSERVATIONS)
    throw new RangeError(`at most ${MAX_HEALTH_OBSERVATIONS} observations per report`);
  for (const o of report.observations) {
    if (o.role !== "gray" && o.role !== "online") throw new RangeError("role must be gray or online");
    if (typeof o.guid !== "string" || o.guid.length === 0 || o.guid.length > MAX_GUID)
      throw new RangeError(`guid must be 1..${MAX_GUID} characters`);
    if (!Number.isSafeInteger(o.at) || o.at < 0) throw new RangeError("at must be a ms epoch");
    if (!Array.isArray(o.crashTimes) || o.crashTimes.length > MAX_CRASHES_PER_OBSERVATION)
      throw new RangeError("crashTimes must be an array");
  }
  const g = report.guardrails;
  if (g?.crashes) {
    const w = g.crashes.windowMinutes;
    if (!Number.isSafeInteger(w) || w < 10 || w > MAX_CRASH_WINDOW_MINUTES || w % 10 !== 0)
      throw new RangeError("crash window must be whole 10-minute buckets up to a day");
  }
}

export class HealthLedger {
  constructor(private readonly sql: SqlStorage) {}

  /** Records a report and judges the buckets it touched; call inside the object's transaction. */
  record(report: HealthReport, now: number): TripFigures | null {
    checkReport(report);
    const touched = new Set<number>();
    for (const o of report.observations) {
      const bucket = bucketOf(o.at);
      touched.add(bucket);
      this.#see(o, bucket);
    }
    this.#prune(now);
    if (report.guardrails === null) return null;
    for (const bucket of [...touched].sort((a, b) => b - a)) {
      const trip = judgeHealth(report.guardrails, this.#window(report.guardrails, bucket, report.since));
      if (trip) return trip;
    }
    return null;
  }

  /** Tallies of every kept bucket at or after `from`, oldest first. */
  buckets(from: number): HealthBucket[] {
    return this.sql
      .exec<{ bucket: number; role: HealthRole; sessions: number; error_sessions: number; crashes: number }>(
        "SELECT bucket, role, sessions, error_sessions, crashes FROM health_bucket WHERE bucket >= ? ORDER BY bucket, role",
        from,
      )
      .toArray()
      .map((r) => ({
        bucket: r.bucket,
        role: r.role,
        sessions: r.sessions,
        errorSessions: r.error_sessions,
        crashes: r.crashes,
      }));
  }

  #see(o: HealthObservation, bucket: number): void {
    const sql = this.sql;
    const seen = sql
      .exec<{ last_at: number; last_error_at: number | null }>(
        "SELECT last_at, last_error_at FROM health_seen WHERE role = ? AND bucket = ? AND guid = ?",
        o.role,
        bucket,
        o.guid,
      )
      .toArray()[0];
    let newSession = 0;
    let newError = 0;
    if (seen === undefined) {
      sql.exec(
        "INSERT INTO health_seen (role, bucket, guid, last_at, last_error_at) VALUES (?, ?, ?, ?, ?)",
        o.role,
        bucket,
        o.guid,
        o.at,
        o.errored ? o.at : null,
      );
      newSession = 1;
      newError = o.errored ? 1 : 0;
    } else {
      const lastError = o.errored ? Math.max(seen.last_error_at ?? 0, o.at) : seen.last_error_at;
      sql.exec(
        "UPDATE health_seen SET last_at = ?, last_error_at = ? WHERE role = ? AND bucket = ? AND guid = ?",
        Math.max(seen.last_at, o.at),
        lastError,
        o.role,
        bucket,
        o.guid,
      );
      newError = o.errored && seen.last_error_at === null ? 1 : 0;
    }
    let crashes = 0;
    for (const at of new Set(o.crashTimes)) {
      // Keyed by the receive bucket, the GUID and the entry's own time: a redelivered batch adds nothing.
      crashes += sql.exec(
        "INSERT INTO health_crash (role, bucket, guid, at, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        o.role,
        bucket,
        o.guid,
        at,
        o.at,
      ).rowsWritten;
    }
    if (newSession + newError + crashes === 0) return;
    sql.exec(
      `INSERT INTO health_bucket (role, bucket, sessions, error_sessions, crashes) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (role, bucket) DO UPDATE SET sessions = sessions + excluded.sessions,
         error_sessions = error_sessions + excluded.error_sessions, crashes = crashes + excluded.crashes`,
      o.role,
      bucket,
      newSession,
      newError,
      crashes,
    );
  }

  /** Sets are needed for the current and previous bucket only; tallies and crashes for their windows. */
  #prune(now: number): void {
    const current = bucketOf(now);
    this.sql.exec("DELETE FROM health_seen WHERE bucket < ?", current - HEALTH_BUCKET_MS);
    this.sql.exec("DELETE FROM health_crash WHERE bucket < ?", current - MAX_CRASH_WINDOW_MINUTES * 60_000);
    this.sql.exec("DELETE FROM health_bucket WHERE bucket < ?", current - HEALTH_KEEP_MS);
  }

  /** Sessions and error sessions of a role in a bucket, counting only sightings at or after `since`. */
  #sessions(role: HealthRole, bucket: number, since: number): { sessions: number; errorSessions: number } {
    if (since <= bucket) {
      const t = this.sql
        .exec<{ sessions: number; error_sessions: number }>(
          "SELECT sessions, error_sessions FROM health_bucket WHERE role = ? AND bucket = ?",
          role,
          bucket,
        )
        .toArray()[0];
      return { sessions: t?.sessions ?? 0, errorSessions: t?.error_sessions ?? 0 };
    }
    // The window restarted inside this bucket: count the set's rows seen since (one bucket's sessions).
    const r = this.sql
      .exec<{ sessions: number; errors: number | null }>(
        `SELECT count(*) AS sessions, sum(CASE WHEN last_error_at >= ? THEN 1 ELSE 0 END) AS errors
         FROM health_seen WHERE role = ? AND bucket = ? AND last_at >= ?`,
        since,
        role,
        bucket,
        since,
      )
      .one();
    return { sessions: r.sessions, errorSessions: r.errors ?? 0 };
  }

  #crashes(role: HealthRole, from: number, to: number, since: number): number {
    return this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM health_crash WHERE role = ? AND bucket >= ? AND bucket < ? AND received_at >= ?",
        role,
        from,
        to,
        since,
      )
      .one().n;
  }

  #window(guardrails: Guardrails, bucket: number, since: number) {
    const end = bucket + HEALTH_BUCKET_MS;
    const crashMinutes = guardrails.crashes?.windowMinutes ?? 10;
    const crashFrom = end - crashMinutes * 60_000;
    const gray = this.#sessions("gray", bucket, since);
    const online = this.#sessions("online", bucket, since);
    return {
      errorWindow: {
        from: Math.max(bucket, since),
        to: end,
        gray: versionHealth(gray.sessions, gray.errorSessions, this.#crashes("gray", bucket, end, since)),
        online: versionHealth(
          online.sessions,
          online.errorSessions,
          this.#crashes("online", bucket, end, since),
        ),
      },
      crashWindow: {
        from: Math.max(crashFrom, since),
        to: end,
        grayCrashes: this.#crashes("gray", crashFrom, end, since),
      },
    };
  }
}
