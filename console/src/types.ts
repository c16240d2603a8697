/** The shapes of the admin API answers the console reads (GET /openapi.json has them all). */
import type { HasAppId } from "./app-id";

export interface Me {
  id: string;
  email: string;
  name: string;
  isPlatformAdmin: boolean;
  teams: { id: string; name: string; role: string }[];
  hostApps: { id: string; name: string; role: string }[];
}
export interface MiniProgramSummary extends HasAppId {
  teamId: string;
  name: string;
  description: string;
  listed: boolean;
  createdAt: number;
  updatedAt: number;
}
export interface Binding {
  hostAppId: string;
  hostAppName: string;
  status: "pending" | "approved" | "rejected";
  createdAt: number;
  decidedAt: number | null;
}
export interface MiniProgram extends MiniProgramSummary {
  onlineVersion: string | null;
  bindings: Binding[];
  ideDownloadUrl: string;
  edge: { revision: number; publishedRevision: number; pending: boolean };
}
export interface Version {
  id: string;
  version: string;
  status: string;
  online: boolean;
  description: string;
  package: { sha256: string; size: number; fileCount: number; unpackedSize: number };
  encrypted: boolean;
  uploadedBy: string;
  createdAt: number;
  firstReleasedAt: number | null;
  awaitingAudit?: string[];
}
export interface Release {
  seq: number;
  version: string;
  via: "publish" | "rollback";
  fromVersion: string | null;
  releasedBy: string;
  releasedAt: number;
}
export interface Overview {
  listed: boolean;
  online: (Version & { via?: string }) | null;
  inAudit:
    | (Version & { progress: { auditId: string; submittedAt: number; reviews: Review[] } | null })
    | null;
  bindingAudit: unknown;
  development: Version | null;
  approved: Version[];
  rollbackCandidates: string[];
  rollbackAllowed: boolean;
  releases: Release[];
}
export interface Review {
  hostAppId: string;
  decision: "approve" | "reject" | null;
  reason: string | null;
  decidedAt: number | null;
}
export interface AuditRecord {
  id: string;
  kind: "version" | "binding";
  version: string;
  status: string;
  note: string;
  submittedBy: string;
  submittedAt: number;
  closedAt: number | null;
  reviews: Review[];
}
export interface Trial {
  pagePath: string | null;
  testers: string[];
  version: string | null;
}
export interface IncludeExclude {
  include?: string[];
  exclude?: string[];
}
export interface Task {
  id: string;
  version: string;
  name: string;
  state: "pending" | "delivering" | "suspended" | "ended";
  endReason: string | null;
  suspendedByDelisting: boolean;
  /** why a suspended task is suspended (null unless suspended) */
  suspendCause: "manual" | "delisted" | "guardrail" | null;
  guardrails: Guardrails | null;
  /** the figures of the last guardrail trip, kept after a resume */
  guardrailTrip: GuardrailTrip | null;
  startAt: number;
  endAt: number;
  userCap: number | null;
  percentage: number | null;
  hostApps: { hostAppId: string; minVersion?: string; maxVersion?: string }[];
  platforms: { platform: string; minOsVersion?: string; maxOsVersion?: string }[];
  targets: { guids: string[]; deviceIds: string[]; accounts: string[] };
  networks: string[];
  brands: IncludeExclude | null;
  models: IncludeExclude | null;
  countries: IncludeExclude | null;
  regions: IncludeExclude | null;
  cities: IncludeExclude | null;
  verifiedOnly: boolean;
  /** counter shards the cap is split over (1 = one counter) */
  capShards: number;
  whitelists: { id: string; kind: string; count: number; uploadedBy: string; createdAt: number }[];
  /** fields PATCH may change in the current state */
  editableFields: string[];
  createdAt: number;
}
export interface Progress {
  taskId: string;
  state: string;
  userCap: number | null;
  tracked: boolean;
  admitted: number | null;
  remaining: number | null;
  note: string | null;
  byHostApp: { hostAppId: string; admitted: number }[];
  byPlatform: { platform: string; admitted: number }[];
  byHour: { hour: number; admitted: number }[];
  health: {
    guardrails: Guardrails | null;
    suspendedByGuardrail: boolean;
    trip: GuardrailTrip | null;
    /** logs received before this count in the figures but not towards a guardrail */
    windowSince: number;
    bucketMinutes: number;
    buckets: { bucket: number; gray: HealthFigures; online: HealthFigures }[];
  };
}
/** Health guardrails of a grayscale task (docs/grayscale.md "Health guardrails"). */
export interface Guardrails {
  errorRate?: { maxPointsAboveOnline: number; minSessions: number; windowMinutes: number };
  crashes?: { max: number; windowMinutes: number };
}
export interface HealthFigures {
  sessions: number;
  errorSessions: number;
  /** percent */
  errorRate: number;
  crashes: number;
}
export interface GuardrailTrip {
  guardrail: "error_rate" | "crashes";
  at: number;
  window: { from: number; to: number; minutes: number };
  gray: HealthFigures & { version: string };
  online: HealthFigures & { version: string | null };
  limit: Record<string, number>;
  summary: string;
}
/** One real-time log entry as GET /v1/mini-programs/{appId}/logs answers it. */
export interface LogRecord {
  time: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  page: string;
  filterMsg: string[];
  crash: boolean;
  guid: string;
  platform: string;
  osVersion: string;
  baseLibraryVersion: string;
  clientVersion: string;
  hostAppId: string;
  hostAppVersion: string;
  receivedAt: number;
}
export interface Increment {
  id: string;
  fromVersion: string;
  toVersion: string;
  status: string;
  size: number | null;
  fullSize: number;
  share: number | null;
  encrypted: boolean;
  attempts: number;
  detail: string;
  createdAt: number;
}
export interface HostApp {
  id: string;
  name: string;
  createdAt: number;
}
