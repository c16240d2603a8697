/**
 * Health guardrails of a grayscale task (PRODUCT.md G7, issue 15: "suspend if the error rate of
 * the gray version exceeds the online version's by more than X points over at least N sessions in
 * a 10-minute window" and "suspend on more than K crash reports"). Pure: the figures come from the
 * task's counter object (durable-objects/grayscale-counter.ts), which asks `judgeHealth` whether a
 * guardrail trips; the admin Worker then suspends the task (control-plane/src/services/health.ts).
 *
 * Definitions (docs/grayscale.md "Health guardrails"):
 * - a session is one GUID seen in log batches of a version within one window (distinct GUIDs,
 *   counted exactly);
 * - an error session is a session with at least one entry of level "error" (crash reports are
 *   error entries too);
 * - the error rate is error sessions / sessions, in percent; "points" are percentage points;
 * - a crash report is one entry with `crash: true` (the same GUID and entry time count once, so a
 *   batch the queue delivers twice is not counted twice).
 * Sessions and error sessions are sets, so they are idempotent under redelivery as well.
 */

/** Width of a health bucket: the error-rate window and the unit of the progress figures. */
export const HEALTH_BUCKET_MS = 600_000;
export const ERROR_RATE_WINDOW_MINUTES = 10;
/** Crash windows are whole buckets, up to a day. */
export const MAX_CRASH_WINDOW_MINUTES = 1_440;
/** How long bucket tallies are kept for progress (and crash reports for the crash window). */
export const HEALTH_KEEP_MS = 48 * 3_600_000;

export interface ErrorRateGuardrail {
  /** percentage points the gray version's error rate may exceed the online version's by */
  maxPointsAboveOnline: number;
  /** sessions each version needs in the window before the rates are compared */
  minSessions: number;
  windowMinutes: typeof ERROR_RATE_WINDOW_MINUTES;
}

export interface CrashGuardrail {
  /** crash reports of the gray version tolerated in the window; one more trips */
  max: number;
  windowMinutes: number;
}

export interface Guardrails {
  errorRate?: ErrorRateGuardrail;
  crashes?: CrashGuardrail;
}

/** Which version a log batch belongs to, for one task. */
export type HealthRole = "gray" | "online";

export interface VersionHealth {
  sessions: number;
  errorSessions: number;
  /** error sessions / sessions in percent, two decimals; 0 without sessions */
  errorRate: number;
  crashes: number;
}

/** The figures that tripped a guardrail, stored with the suspension and shown by the API. */
export interface GuardrailTrip {
  guardrail: "error_rate" | "crashes";
  /** when it tripped (ms epoch) */
  at: number;
  /** the window the figures cover: [from, to) in ms epoch */
  window: { from: number; to: number; minutes: number };
  gray: VersionHealth & { version: string };
  online: VersionHealth & { version: string | null };
  /** the guardrail as configured when it tripped */
  limit: ErrorRateGuardrail | CrashGuardrail;
  /** why, in words */
  summary: string;
}

export const bucketOf = (at: number) => Math.floor(at / HEALTH_BUCKET_MS) * HEALTH_BUCKET_MS;

export function errorRateOf(sessions: number, errorSessions: number): number {
  return sessions === 0 ? 0 : Math.round((errorSessions / sessions) * 10_000) / 100;
}

export function versionHealth(sessions: number, errorSessions: number, crashes: number): VersionHealth {
  return { sessions, errorSessions, errorRate: errorRateOf(sessions, errorSessions), crashes };
}

/** The figures of one window the guardrails are judged on (versions are added by the caller). */
export interface HealthWindow {
  errorWindow: { from: number; to: number; gray: VersionHealth; online: VersionHealth };
  crashWindow: { from: number; to: number; grayCrashes: number };
}

export type TripFigures = Omit<GuardrailTrip, "gray" | "online" | "summary" | "at"> & {
  gray: VersionHealth;
  online: VersionHealth;
};

/**
 * Whether a guardrail trips on these figures (crashes first: a crash is the stronger signal).
 * Error rate: both versions need `minSessions` sessions in the window (a comparison with a
 * handful of sessions on either side is noise), then the gray rate must exceed the online rate
 * by strictly more than `maxPointsAboveOnline` points. Crashes: strictly more than `max`.
 */
export function judgeHealth(guardrails: Guardrails, w: HealthWindow): TripFigures | null {
  const { errorWindow: e, crashWindow: c } = w;
  if (guardrails.crashes && c.grayCrashes > guardrails.crashes.max) {
    return {
      guardrail: "crashes",
      window: { from: c.from, to: c.to, minutes: guardrails.crashes.windowMinutes },
      gray: { ...e.gray, crashes: c.grayCrashes },
      online: e.online,
      limit: guardrails.crashes,
    };
  }
  const rule = guardrails.errorRate;
  if (
    rule &&
    e.gray.sessions >= rule.minSessions &&
    e.online.sessions >= rule.minSessions &&
    e.gray.errorRate - e.online.errorRate > rule.maxPointsAboveOnline
  ) {
    return {
      guardrail: "error_rate",
      window: { from: e.from, to: e.to, minutes: rule.windowMinutes },
      gray: e.gray,
      online: e.online,
      limit: rule,
    };
  }
  return null;
}

/** The trip in words (change log, explain). */
export function describeTrip(t: Omit<GuardrailTrip, "summary">): string {
  const online = t.online.version ?? "online";
  if (t.guardrail === "crashes") {
    const limit = t.limit as CrashGuardrail;
    return `version ${t.gray.version} sent ${t.gray.crashes} crash reports in ${t.window.minutes} minutes (more than the ${limit.max} allowed)`;
  }
  const limit = t.limit as ErrorRateGuardrail;
  return `error rate of version ${t.gray.version} was ${t.gray.errorRate}% over ${t.gray.sessions} sessions against ${t.online.errorRate}% over ${t.online.sessions} sessions of ${online} in ${t.window.minutes} minutes (more than ${limit.maxPointsAboveOnline} points above)`;
}
