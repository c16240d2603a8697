/**
 * The only definition of the control plane's D1 tables. Migrations in `migrations/` are
 * generated from this file by `npm run db:generate` (drizzle-kit). Times are ms since epoch.
 * See docs/storage.md for what each table holds and what is hashed.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Guardrails, GuardrailTrip } from "../../../core/grayscale/health";
import type { EndReason, TargetKind, TaskDefinition, TaskState } from "../../../core/grayscale/types";
import type { VersionStatus } from "../../../core/lifecycle";

const createdAt = () => integer("created_at").notNull();

export const users = sqliteTable("users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  name: text("name").notNull(),
  /** `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>` */
  passwordHash: text("password_hash").notNull(),
  isPlatformAdmin: integer("is_platform_admin", { mode: "boolean" }).notNull().default(false),
  /** set by a platform admin: no login, every session and API token of the user stops at once */
  disabledAt: integer("disabled_at"),
  createdAt: createdAt(),
});

/**
 * Console sessions (issue 10): one row per issued session JWT, keyed by its `jti`. A session is
 * valid only while its row exists, is not revoked and has not expired, so logout, a password
 * change and disabling the user end sessions at once. Holds no secret.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    /** the JWT's `jti` */
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    createdAt: createdAt(),
    expiresAt: integer("expires_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("sessions_user").on(t.userId)],
);

/** What an API token may do (issue 10). Sessions may do everything their user's roles allow. */
export type TokenScope = "read" | "write" | "publish" | "admin";

/** Long-lived tokens for scripts and CI; only the SHA-256 of the token is stored. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    name: text("name").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at"),
    lastUsedAt: integer("last_used_at"),
    revokedAt: integer("revoked_at"),
    /** tokens made before scopes existed acted with every right of their user, so they keep all four */
    scopes: text("scopes", { mode: "json" })
      .$type<TokenScope[]>()
      .notNull()
      .default(["read", "write", "publish", "admin"]),
    /** the session that created the token; revoking a credential revokes what it created */
    createdBySessionId: text("created_by_session_id"),
    /** the token that created this one (only tokens made before tokens were refused minting) */
    createdByTokenId: text("created_by_token_id"),
  },
  (t) => [
    index("api_tokens_user").on(t.userId),
    index("api_tokens_parent_session").on(t.createdBySessionId),
    index("api_tokens_parent_token").on(t.createdByTokenId),
  ],
);

export const teams = sqliteTable("teams", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: createdAt(),
});

export type TeamRole = "admin" | "developer" | "viewer";

export const teamMembers = sqliteTable(
  "team_members",
  {
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    role: text("role").$type<TeamRole>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.teamId, t.userId] }), index("team_members_user").on(t.userId)],
);

export const hostApps = sqliteTable("host_apps", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  createdAt: createdAt(),
});

export type HostAppRole = "manager" | "auditor";

/**
 * Public keys a host app's own server signs user assertions with (issue 10, PRODUCT.md S5):
 * Ed25519 JWKs, rotated like the platform keys. Active and retired keys reach the edge in every
 * bound mini program's snapshot; a retired key verifies until `retiredAt` + the longest assertion
 * life; a revoked key stops at once.
 */
export const hostAppKeys = sqliteTable(
  "host_app_keys",
  {
    /** the `kid` assertions name */
    id: text("id").primaryKey(),
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    name: text("name").notNull(),
    alg: text("alg").$type<"EdDSA">().notNull(),
    /** public JWK, JSON */
    publicJwk: text("public_jwk").notNull(),
    /** RFC 7638 thumbprint, to refuse registering one key twice */
    thumbprint: text("thumbprint").notNull(),
    status: text("status").$type<"active" | "retired" | "revoked">().notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    retiredAt: integer("retired_at"),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    index("host_app_keys_host_app").on(t.hostAppId),
    uniqueIndex("host_app_keys_thumbprint").on(t.hostAppId, t.thumbprint),
  ],
);

export const hostAppMembers = sqliteTable(
  "host_app_members",
  {
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    userId: text("user_id")
      .notNull()
      .references(() => users.id),
    role: text("role").$type<HostAppRole>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.hostAppId, t.userId] }), index("host_app_members_user").on(t.userId)],
);

export const miniPrograms = sqliteTable(
  "mini_programs",
  {
    /** the App ID: unguessable, shown in details */
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    listed: integer("listed", { mode: "boolean" }).notNull().default(true),
    onlineVersionId: text("online_version_id"),
    /** how the online version got there; a rollback blocks the next rollback */
    lastReleaseVia: text("last_release_via").$type<"publish" | "rollback">(),
    trialPagePath: text("trial_page_path"),
    /** PRODUCT.md S3: packages and increments of versions uploaded while on are AES-GCM encrypted */
    encryptPackages: integer("encrypt_packages", { mode: "boolean" }).notNull().default(false),
    /**
     * bumped inside the D1 batch of every change clients can see; the edge keeps the highest it
     * has seen
     */
    snapshotRevision: integer("snapshot_revision").notNull().default(0),
    /** the highest revision written to R2; a sweep republishes every app where it lags behind */
    publishedRevision: integer("published_revision").notNull().default(0),
    /**
     * the runtime config's own revision (D5, issue 12): bumped with the snapshot revision by a
     * change to anything the runtime config holds, so clients can refuse an older config
     */
    configRevision: integer("config_revision").notNull().default(0),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("mini_programs_team").on(t.teamId)],
);

export const trialTesters = sqliteTable(
  "trial_testers",
  {
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    account: text("account").notNull(),
  },
  (t) => [primaryKey({ columns: [t.miniProgramId, t.account] })],
);

export type BindingStatus = "pending" | "approved" | "rejected";

export const bindings = sqliteTable(
  "bindings",
  {
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    status: text("status").$type<BindingStatus>().notNull(),
    requestedBy: text("requested_by").notNull(),
    decidedBy: text("decided_by"),
    createdAt: createdAt(),
    decidedAt: integer("decided_at"),
  },
  (t) => [
    primaryKey({ columns: [t.miniProgramId, t.hostAppId] }),
    index("bindings_host_app").on(t.hostAppId),
  ],
);

export type { VersionStatus } from "../../../core/lifecycle";

export const versions = sqliteTable(
  "versions",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    version: text("version").notNull(),
    /** zero-padded semver: string order equals version order */
    versionKey: text("version_key").notNull(),
    status: text("status").$type<VersionStatus>().notNull(),
    description: text("description").notNull().default(""),
    packageSha256: text("package_sha256").notNull(),
    packageSize: integer("package_size").notNull(),
    fileCount: integer("file_count").notNull(),
    unpackedSize: integer("unpacked_size").notNull(),
    /** `filesSha256` of the file list (core/increment.ts filesDigest) */
    filesSha256: text("files_sha256").notNull().default(""),
    /** PRODUCT.md S2: the developer's signature, when the team has registered keys */
    signatureKid: text("signature_kid"),
    signatureAlg: text("signature_alg").$type<"EdDSA" | "ES256">(),
    signature: text("signature"),
    /** PRODUCT.md S3: the encrypted copy clients download (`packages/{encSha256}`) */
    encSha256: text("enc_sha256"),
    encSize: integer("enc_size"),
    encIv: text("enc_iv"),
    /** the version's AES-256 key, wrapped (AES-GCM) under the PACKAGE_KEY_SECRET platform key */
    encKeyWrapped: text("enc_key_wrapped"),
    uploadedBy: text("uploaded_by").notNull(),
    createdAt: createdAt(),
    firstReleasedAt: integer("first_released_at"),
  },
  (t) => [
    uniqueIndex("versions_live_number").on(t.miniProgramId, t.version).where(sql`status <> 'discarded'`),
    // "At most one version in audit" and "one development version", enforced by D1 even under races.
    uniqueIndex("versions_one_in_audit").on(t.miniProgramId).where(sql`status = 'in_audit'`),
    uniqueIndex("versions_one_development").on(t.miniProgramId).where(sql`status = 'development'`),
    index("versions_app_key").on(t.miniProgramId, t.versionKey),
  ],
);

export type AuditStatus = "pending" | "approved" | "rejected" | "withdrawn";
/**
 * "version": the normal audit of a development version (moves the version's status);
 * "binding": an approved or released version sent to host apps bound after its audit, which
 * have not reviewed it (issue 10, audit scope); it records their decisions only.
 */
export type AuditKind = "version" | "binding";

export const audits = sqliteTable(
  "audits",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    versionId: text("version_id")
      .notNull()
      .references(() => versions.id),
    kind: text("kind").$type<AuditKind>().notNull().default("version"),
    status: text("status").$type<AuditStatus>().notNull(),
    note: text("note").notNull().default(""),
    submittedBy: text("submitted_by").notNull(),
    submittedAt: integer("submitted_at").notNull(),
    closedAt: integer("closed_at"),
  },
  (t) => [
    index("audits_app").on(t.miniProgramId, t.submittedAt),
    // At most one audit in progress per mini program, even when submits race.
    uniqueIndex("audits_one_pending").on(t.miniProgramId).where(sql`status = 'pending'`),
  ],
);

/** One row per host app an audit was sent to; filled in by that host app's auditor. */
export const auditReviews = sqliteTable(
  "audit_reviews",
  {
    auditId: text("audit_id")
      .notNull()
      .references(() => audits.id),
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    decision: text("decision").$type<"approve" | "reject">(),
    reason: text("reason"),
    auditorId: text("auditor_id"),
    decidedAt: integer("decided_at"),
  },
  (t) => [primaryKey({ columns: [t.auditId, t.hostAppId] }), index("audit_reviews_host_app").on(t.hostAppId)],
);

/** Release history: every publish and rollback. */
export const releases = sqliteTable(
  "releases",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    /** 1, 2, 3... per mini program; unique, so two racing releases cannot both land */
    seq: integer("seq").notNull(),
    versionId: text("version_id")
      .notNull()
      .references(() => versions.id),
    version: text("version").notNull(),
    via: text("via").$type<"publish" | "rollback">().notNull(),
    fromVersion: text("from_version"),
    releasedBy: text("released_by").notNull(),
    releasedAt: integer("released_at").notNull(),
  },
  (t) => [uniqueIndex("releases_app_seq").on(t.miniProgramId, t.seq)],
);

/**
 * Grayscale tasks (PRODUCT.md G1-G4). `definition` is the whole core `TaskDefinition` as JSON;
 * name, version, times, cap and percentage are also columns (the cron scans by state and time)
 * and are written together with it; on read the columns win.
 */
export const grayscaleTasks = sqliteTable(
  "grayscale_tasks",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    versionId: text("version_id")
      .notNull()
      .references(() => versions.id),
    version: text("version").notNull(),
    name: text("name").notNull(),
    definition: text("definition", { mode: "json" }).$type<TaskDefinition>().notNull(),
    /** as last persisted; readers apply `effectiveStatus` for the time-derived transitions */
    state: text("state").$type<TaskState>().notNull(),
    endReason: text("end_reason").$type<EndReason>(),
    startAt: integer("start_at").notNull(),
    endAt: integer("end_at").notNull(),
    userCap: integer("user_cap"),
    percentageBp: integer("percentage_bp"),
    /** suspended because the mini program went off the shelf (ARCHITECTURE.md: "Delisting suspends running tasks") */
    suspendedByDelisting: integer("suspended_by_delisting", { mode: "boolean" }).notNull().default(false),
    /** health guardrails (PRODUCT.md G7; core/grayscale/health.ts); null = none */
    guardrails: text("guardrails", { mode: "json" }).$type<Guardrails>(),
    /** log sightings before this (ms epoch) do not count towards a guardrail: a manual resume moves it */
    healthSince: integer("health_since").notNull().default(0),
    /** suspended because a guardrail tripped (the figures in `guardrail_trip`) */
    suspendedByGuardrail: integer("suspended_by_guardrail", { mode: "boolean" }).notNull().default(false),
    /** the figures of the last guardrail trip, kept after a resume for the record */
    guardrailTrip: text("guardrail_trip", { mode: "json" }).$type<GuardrailTrip>(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    index("grayscale_tasks_app").on(t.miniProgramId, t.createdAt),
    index("grayscale_tasks_state").on(t.state),
  ],
);

/**
 * Uploaded txt whitelists of target objects: the values live in R2 (`whitelists/{id}/...`, see
 * core/grayscale/types.ts WhitelistRef), immutable per id. A new upload gets a new id and marks
 * the previous one replaced; the cron deletes replaced objects once no edge can still use them.
 */
export const whitelists = sqliteTable(
  "whitelists",
  {
    id: text("id").primaryKey(),
    taskId: text("task_id")
      .notNull()
      .references(() => grayscaleTasks.id),
    kind: text("kind").$type<TargetKind>().notNull(),
    /** unique values */
    count: integer("count").notNull(),
    seed: integer("seed").notNull(),
    bloomBits: integer("bloom_bits").notNull(),
    bloomHashes: integer("bloom_hashes").notNull(),
    shards: integer("shards").notNull(),
    /** storage format of its R2 objects (core WhitelistRef.format): 1 = lists uploaded before issue 17, 2 = fingerprint tables */
    format: integer("format").notNull().default(1),
    uploadedBy: text("uploaded_by").notNull(),
    createdAt: createdAt(),
    /** set when a newer upload or a delete replaced it; null = the current one */
    replacedAt: integer("replaced_at"),
  },
  (t) => [
    // One current whitelist per (task, kind), even when uploads race.
    uniqueIndex("whitelists_current").on(t.taskId, t.kind).where(sql`replaced_at is null`),
    index("whitelists_replaced").on(t.replacedAt),
  ],
);

/** Audit trail of every control-plane change: who, what, when (PRODUCT.md O2). */
export const changeLog = sqliteTable(
  "change_log",
  {
    id: text("id").primaryKey(),
    at: integer("at").notNull(),
    actorId: text("actor_id").notNull(),
    action: text("action").notNull(),
    teamId: text("team_id"),
    targetType: text("target_type").notNull(),
    targetId: text("target_id").notNull(),
    /** JSON; never holds a secret */
    detail: text("detail").notNull().default("{}"),
  },
  (t) => [
    index("change_log_team").on(t.teamId, t.at),
    index("change_log_target").on(t.targetType, t.targetId, t.at),
  ],
);

export type IncrementStatus = "queued" | "building" | "built" | "skipped" | "failed";

/**
 * Incremental packages (PRODUCT.md D3): one row per (target package, base package), planned when
 * a version is approved or released and built off the hot path (control-plane/src/increments).
 * `skipped` rows were built but not smaller than the full package, or the pair is too large.
 */
export const increments = sqliteTable(
  "increments",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    fromVersion: text("from_version").notNull(),
    toVersion: text("to_version").notNull(),
    fromPackageSha256: text("from_package_sha256").notNull(),
    toPackageSha256: text("to_package_sha256").notNull(),
    status: text("status").$type<IncrementStatus>().notNull(),
    /** `filesSha256` of the base, once built */
    fromFilesSha256: text("from_files_sha256"),
    /** the increment object (`increments/{sha256}`), once built */
    sha256: text("sha256"),
    size: integer("size"),
    /** bytes of the full package it replaces, for the "only when smaller" rule and reports */
    fullSize: integer("full_size").notNull(),
    /** AES-GCM IV when the target version is encrypted (same key as the target's package) */
    encIv: text("enc_iv"),
    encSha256: text("enc_sha256"),
    encSize: integer("enc_size"),
    /**
     * The same increment in format 4 (the delta format, core/increment.ts), when it is smaller
     * than format 3: offered as the manifest's `incrementDelta` to clients that read it. The
     * encrypted copy has its own IV under the same key.
     */
    deltaSha256: text("delta_sha256"),
    deltaSize: integer("delta_size"),
    deltaEncIv: text("delta_enc_iv"),
    deltaEncSha256: text("delta_enc_sha256"),
    deltaEncSize: integer("delta_enc_size"),
    attempts: integer("attempts").notNull().default(0),
    detail: text("detail").notNull().default(""),
    createdAt: createdAt(),
    /** when the current (or last) build attempt started */
    startedAt: integer("started_at"),
    /** when it finished: built, skipped or failed */
    builtAt: integer("built_at"),
  },
  (t) => [
    uniqueIndex("increments_pair").on(t.miniProgramId, t.toPackageSha256, t.fromPackageSha256),
    index("increments_status").on(t.status),
  ],
);

/**
 * Public keys a team registered for custom signature verification (PRODUCT.md S2). While a team
 * has an active key, every upload of its mini programs must carry a valid signature by one.
 */
export const teamSigningKeys = sqliteTable(
  "team_signing_keys",
  {
    /** the key id clients and uploads name */
    id: text("id").primaryKey(),
    teamId: text("team_id")
      .notNull()
      .references(() => teams.id),
    name: text("name").notNull(),
    alg: text("alg").$type<"EdDSA" | "ES256">().notNull(),
    /** public JWK, JSON */
    publicJwk: text("public_jwk").notNull(),
    /** SHA-256 (hex) of the JWK thumbprint input, to refuse registering one key twice */
    thumbprint: text("thumbprint").notNull(),
    status: text("status").$type<"active" | "revoked">().notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [
    index("team_signing_keys_team").on(t.teamId),
    uniqueIndex("team_signing_keys_thumbprint").on(t.teamId, t.thumbprint),
  ],
);

/**
 * Offline packages downloaded from the console (PRODUCT.md D4): the versions host apps may
 * carry as presets, so increments are also built from them.
 */
export const offlinePackages = sqliteTable(
  "offline_packages",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    versionId: text("version_id")
      .notNull()
      .references(() => versions.id),
    version: text("version").notNull(),
    packageSha256: text("package_sha256").notNull(),
    downloadedBy: text("downloaded_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("offline_packages_app").on(t.miniProgramId, t.createdAt)],
);

// ---------------------------------------------------------------------------------------------
// Development management, key management, login and settings (issue 12; PRODUCT.md X1-X3,
// X5-X7, D5). What clients see of it is compiled into the runtime config (D5).
// ---------------------------------------------------------------------------------------------

export type DomainKind = "request" | "uploadFile" | "downloadFile" | "socket" | "business";

/**
 * Server domains a mini program may reach (PRODUCT.md X1), one row per (kind, domain). Business
 * (web-view) domains carry a verification token the team places on the domain; the others have
 * no verification state.
 */
export const miniProgramDomains = sqliteTable(
  "mini_program_domains",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    kind: text("kind").$type<DomainKind>().notNull(),
    /** lower-case host name (and port when not the default), no scheme or path */
    domain: text("domain").notNull(),
    /** business domains only: the file content the team serves to prove control */
    verificationToken: text("verification_token"),
    verifiedAt: integer("verified_at"),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("mini_program_domains_unique").on(t.miniProgramId, t.kind, t.domain)],
);

/** The life of an application a host app decides on (X2 skip-domain, X3 sensitive APIs). */
export type ApplicationStatus = "pending" | "approved" | "rejected" | "revoked";

/** X2: a developer asks a host app to skip domain verification for a mini program. */
export const skipDomainApplications = sqliteTable(
  "skip_domain_applications",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    status: text("status").$type<ApplicationStatus>().notNull(),
    reason: text("reason").notNull(),
    appliedBy: text("applied_by").notNull(),
    appliedAt: integer("applied_at").notNull(),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at"),
    decisionReason: text("decision_reason"),
  },
  (t) => [
    index("skip_domain_applications_app").on(t.miniProgramId, t.hostAppId),
    index("skip_domain_applications_host_app").on(t.hostAppId, t.status),
  ],
);

/** X3: the sensitive APIs a host app declares (name as clients call it, and what it does). */
export const hostAppSensitiveApis = sqliteTable(
  "host_app_sensitive_apis",
  {
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    name: text("name").notNull(),
    description: text("description").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.hostAppId, t.name] })],
);

/** X3: a mini program's application for one sensitive API of one host app, and its decision. */
export const sensitiveApiApplications = sqliteTable(
  "sensitive_api_applications",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    hostAppId: text("host_app_id")
      .notNull()
      .references(() => hostApps.id),
    apiName: text("api_name").notNull(),
    status: text("status").$type<ApplicationStatus>().notNull(),
    reason: text("reason").notNull(),
    appliedBy: text("applied_by").notNull(),
    appliedAt: integer("applied_at").notNull(),
    decidedBy: text("decided_by"),
    decidedAt: integer("decided_at"),
    decisionReason: text("decision_reason"),
  },
  (t) => [
    index("sensitive_api_applications_app").on(t.miniProgramId, t.hostAppId, t.apiName),
    index("sensitive_api_applications_host_app").on(t.hostAppId, t.status),
  ],
);

export type SwitchType = "string" | "number" | "boolean" | "json";

/**
 * Switch configuration (D5, mPaaS "switch configuration"): typed key/values per mini program,
 * optionally narrowed to one host app and/or one grayscale task ("" = every host app / no task,
 * so the unique index holds; SQLite treats NULLs as distinct).
 */
export const switches = sqliteTable(
  "switches",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    hostAppId: text("host_app_id").notNull().default(""),
    taskId: text("task_id").notNull().default(""),
    key: text("key").notNull(),
    type: text("type").$type<SwitchType>().notNull(),
    /** JSON text of the value */
    value: text("value").notNull(),
    updatedBy: text("updated_by").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [uniqueIndex("switches_unique").on(t.miniProgramId, t.hostAppId, t.taskId, t.key)],
);

/** X7: the team's working copy of the privacy agreement (template fields), before publishing. */
export const privacyDrafts = sqliteTable("privacy_drafts", {
  miniProgramId: text("mini_program_id")
    .primaryKey()
    .references(() => miniPrograms.id),
  /** JSON of the template's fields */
  fields: text("fields").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** X7: published, numbered privacy agreement versions (1, 2, ...), immutable once published. */
export const privacyAgreements = sqliteTable(
  "privacy_agreements",
  {
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    version: integer("version").notNull(),
    /** JSON of the template's fields as published */
    fields: text("fields").notNull(),
    /** the rendered text clients show */
    text: text("text").notNull(),
    sha256: text("sha256").notNull(),
    publishedBy: text("published_by").notNull(),
    publishedAt: integer("published_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.miniProgramId, t.version] })],
);

/**
 * X5: a mini program's AppSecret, kept only as a keyed, salted hash (HMAC with a platform
 * key over salt and secret). `generation` grows on every reset, so access tokens minted from an
 * older secret die with it.
 */
export const appSecrets = sqliteTable("app_secrets", {
  miniProgramId: text("mini_program_id")
    .primaryKey()
    .references(() => miniPrograms.id),
  salt: text("salt").notNull(),
  secretHash: text("secret_hash").notNull(),
  generation: integer("generation").notNull(),
  frozen: integer("frozen", { mode: "boolean" }).notNull().default(false),
  createdBy: text("created_by").notNull(),
  createdAt: createdAt(),
  resetAt: integer("reset_at"),
  frozenAt: integer("frozen_at"),
});

/** X6: login codes already exchanged (a code works once); rows are swept after they expire. */
export const usedLoginCodes = sqliteTable(
  "used_login_codes",
  {
    codeId: text("code_id").primaryKey(),
    miniProgramId: text("mini_program_id").notNull(),
    usedAt: integer("used_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("used_login_codes_expiry").on(t.expiresAt)],
);

/** X6: server access tokens (`/cgi-bin/token`), stored as SHA-256 hashes, 7200 s. */
export const serverAccessTokens = sqliteTable(
  "server_access_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    /** the AppSecret generation it was minted from; a reset kills it */
    secretGeneration: integer("secret_generation").notNull(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    index("server_access_tokens_app").on(t.miniProgramId),
    index("server_access_tokens_expiry").on(t.expiresAt),
  ],
);

// ---------------------------------------------------------------- subscription messages (issue 14)

/**
 * T2 "My Template": a mini program's template, chosen from the public library
 * (core/message-templates.ts) with 1 to 5 keywords in order. Title, type and the chosen keywords
 * are copied, so a library edit never changes what a mini program sends with. `keywordSet` is the
 * sorted keys: the unique index refuses the same public template with the same keyword set twice
 * (seed: "the keywords cannot be repeated").
 */
export const messageTemplates = sqliteTable(
  "message_templates",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id")
      .notNull()
      .references(() => miniPrograms.id),
    publicTemplateId: text("public_template_id").notNull(),
    keywordSet: text("keyword_set").notNull(),
    title: text("title").notNull(),
    category: text("category").notNull(),
    type: text("type").$type<"one-time" | "long-term">().notNull(),
    /** JSON `[{ key, name, type, example }]` in the chosen order */
    keywords: text("keywords").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("message_templates_keyword_set").on(t.miniProgramId, t.publicTemplateId, t.keywordSet)],
);

/**
 * T3: a user's subscription to one template, keyed by the template and the user's openid (per mini
 * program and host-app account). One-time: `credits` messages may still be sent (each accept adds
 * one, each send takes one). Long-term: `status` accept allows up to 5 a day (messageQuota).
 * `lastMessageId` is set by the statement that takes a credit, so the inbox insert in the same
 * batch happens only when that statement did (services/messages.ts). `accountSealed` is the
 * host-app account, AES-GCM sealed, for the host app's push webhook only.
 */
export const messageSubscriptions = sqliteTable(
  "message_subscriptions",
  {
    templateId: text("template_id")
      .notNull()
      .references(() => messageTemplates.id, { onDelete: "cascade" }),
    openid: text("openid").notNull(),
    miniProgramId: text("mini_program_id").notNull(),
    hostAppId: text("host_app_id").notNull(),
    accountSealed: text("account_sealed").notNull(),
    type: text("type").$type<"one-time" | "long-term">().notNull(),
    status: text("status").$type<"accept" | "reject">().notNull(),
    credits: integer("credits").notNull().default(0),
    lastMessageId: text("last_message_id"),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.templateId, t.openid] })],
);

/**
 * T4: long-term sends per template, user and quota day (China Standard Time, core/messages.ts
 * quotaDay). `used` only grows through `used < 5` conditional upserts, so concurrent sends never
 * pass the limit. Rows older than the retention are swept with the inbox.
 */
export const messageQuota = sqliteTable(
  "message_quota",
  {
    templateId: text("template_id").notNull(),
    openid: text("openid").notNull(),
    day: text("day").notNull(),
    used: integer("used").notNull(),
    lastMessageId: text("last_message_id").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.templateId, t.openid, t.day] }),
    index("message_quota_updated").on(t.updatedAt),
  ],
);

/** T5: a delivered message in the user's inbox (per mini program and openid); kept 30 days. */
export const messageInbox = sqliteTable(
  "message_inbox",
  {
    id: text("id").primaryKey(),
    miniProgramId: text("mini_program_id").notNull(),
    hostAppId: text("host_app_id").notNull(),
    openid: text("openid").notNull(),
    templateId: text("template_id").notNull(),
    title: text("title").notNull(),
    page: text("page"),
    /** JSON `[{ key, name, value }]` in the template's order */
    lines: text("lines").notNull(),
    createdAt: createdAt(),
    readAt: integer("read_at"),
    /** the host app's push webhook: none configured, pending, delivered or failed (dead-lettered) */
    pushState: text("push_state").$type<"none" | "pending" | "delivered" | "failed">().notNull(),
    pushAttempts: integer("push_attempts").notNull().default(0),
    /** the last push attempt's failure (status or error), for the dead-letter record */
    pushError: text("push_error"),
  },
  (t) => [
    index("message_inbox_user").on(t.miniProgramId, t.openid, t.createdAt),
    index("message_inbox_created").on(t.createdAt),
  ],
);

/**
 * T5: a host app's push webhook. The signing secret is needed to sign, so it is stored AES-GCM
 * encrypted under a key derived from the MESSAGE_WEBHOOK_KEY Worker secret, never in clear.
 */
export const messageWebhooks = sqliteTable("message_webhooks", {
  hostAppId: text("host_app_id")
    .primaryKey()
    .references(() => hostApps.id),
  url: text("url").notNull(),
  secretSealed: text("secret_sealed").notNull(),
  secretSetAt: integer("secret_set_at").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** T5: a push that failed its last try (the webhook queue's dead-letter consumer writes it). */
export const messageDeadLetters = sqliteTable(
  "message_dead_letters",
  {
    id: text("id").primaryKey(),
    hostAppId: text("host_app_id").notNull(),
    messageId: text("message_id").notNull(),
    miniProgramId: text("mini_program_id").notNull(),
    url: text("url").notNull(),
    attempts: integer("attempts").notNull(),
    lastError: text("last_error").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("message_dead_letters_host").on(t.hostAppId, t.createdAt),
    uniqueIndex("message_dead_letters_message").on(t.messageId),
  ],
);

/** Events a team's notification webhook can subscribe to (issue 15). */
export type TeamWebhookEvent = "grayscale.guardrail_tripped";

/**
 * A team's notification webhook (issue 15: "the team is notified in the change log and, if
 * configured, a webhook"). The signing secret is sealed as the host apps' message webhook's is
 * (services/message-seal.ts, its own key derivation), never stored in clear.
 */
export const teamWebhooks = sqliteTable("team_webhooks", {
  teamId: text("team_id")
    .primaryKey()
    .references(() => teams.id),
  url: text("url").notNull(),
  events: text("events", { mode: "json" }).$type<TeamWebhookEvent[]>().notNull(),
  secretSealed: text("secret_sealed").notNull(),
  secretSetAt: integer("secret_set_at").notNull(),
  updatedBy: text("updated_by").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/**
 * One notification to a team's webhook: written when the event is queued, its delivery state kept
 * up to date by the builder's consumer; `failed` rows are the dead letters (after the last try, or
 * at once when the queue refused the event).
 */
export const teamWebhookEvents = sqliteTable(
  "team_webhook_events",
  {
    id: text("id").primaryKey(),
    teamId: text("team_id").notNull(),
    type: text("type").$type<TeamWebhookEvent>().notNull(),
    /** the body POSTed (JSON), so a retry sends what the event was, whatever changed since */
    payload: text("payload").notNull(),
    /** the URL at the last attempt (or at queueing) */
    url: text("url").notNull(),
    state: text("state").$type<"pending" | "delivered" | "failed">().notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    createdAt: createdAt(),
    failedAt: integer("failed_at"),
  },
  (t) => [index("team_webhook_events_team").on(t.teamId, t.state, t.createdAt)],
);
