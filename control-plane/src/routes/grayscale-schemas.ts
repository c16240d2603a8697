/**
 * Wire schemas of the grayscale task API (PRODUCT.md G1-G4, G7). The input mirrors core
 * `TaskDefinition` (see lib/grayscale-wire.ts for the conversion). zod checks shapes and
 * bounds, and the seed's limits on the request itself (name length, typed targets per kind, user
 * cap) with their documented maxima: 400 naming the rule. The rules that depend on state (end
 * time, version, bound host apps...) are checked by core `checkTaskDefinition`: 409 with the rule.
 */
import { z } from "@hono/zod-openapi";
import { NetworkSchema, PlatformSchema } from "../../../core/contracts/check";
import { AppIdSchema, IdSchema, SemverSchema, seedLimit } from "../../../core/contracts/common";
import {
  isValidName,
  MAX_CAP_SHARDS,
  MAX_INLINE_TARGETS,
  MAX_TASK_NAME,
  MAX_USER_CAP,
} from "../../../core/grayscale/definition";
import {
  ERROR_RATE_WINDOW_MINUTES,
  HEALTH_BUCKET_MS,
  MAX_CRASH_WINDOW_MINUTES,
} from "../../../core/grayscale/health";
import { TARGET_KINDS } from "../../../core/grayscale/types";
import { parseWhitelistLine } from "../../../core/grayscale/whitelist";
import { parseLooseVersion } from "../../../core/semver";

const LooseVersionSchema = z
  .string()
  .max(32)
  .refine((v) => parseLooseVersion(v) !== undefined, "must be dot-separated numbers, e.g. 8.0.1")
  .openapi({ example: "8.0.1" });

const TimeSchema = z
  .union([z.number().int().min(0).max(8_640_000_000_000_000), z.iso.datetime({ offset: true })])
  .openapi({
    description: "epoch milliseconds, or an ISO 8601 date-time with a zone",
    example: "2026-12-01T08:00:00Z",
  });

export const HostAppRuleSchema = z
  .object({
    hostAppId: IdSchema,
    minVersion: LooseVersionSchema.optional(),
    maxVersion: LooseVersionSchema.optional(),
  })
  .strict()
  .openapi("GrayscaleHostAppRule");

export const PlatformRuleSchema = z
  .object({
    platform: PlatformSchema,
    minOsVersion: LooseVersionSchema.optional(),
    maxOsVersion: LooseVersionSchema.optional(),
  })
  .strict()
  .openapi("GrayscalePlatformRule");

const TargetValueSchema = z.string().superRefine((v, ctx) => {
  const parsed = parseWhitelistLine(v);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
  else if (parsed.value !== v) ctx.addIssue({ code: "custom", message: "remove the surrounding whitespace" });
});
// seed limit: at most 1000 typed-in objects per kind; more go in an uploaded whitelist.
const TargetListSchema = z
  .array(TargetValueSchema)
  .superRefine(
    seedLimit(
      "task_too_many_targets",
      (l: readonly string[]) => l.length <= MAX_INLINE_TARGETS,
      `at most ${MAX_INLINE_TARGETS} target objects of each kind can be typed in: upload a txt whitelist for more`,
    ),
  )
  .meta({ maxItems: MAX_INLINE_TARGETS });

export const TargetsSchema = z
  .object({
    guids: TargetListSchema.optional(),
    deviceIds: TargetListSchema.optional(),
    accounts: TargetListSchema.optional(),
  })
  .strict()
  .openapi("GrayscaleTargets", {
    description:
      "typed-in target objects; a client matching any of them (or an uploaded whitelist) is a target",
  });

const RuleTextSchema = z.string().trim().min(1).max(64);
const IncludeExcludeSchema = z
  .object({
    include: z.array(RuleTextSchema).max(200).optional(),
    exclude: z.array(RuleTextSchema).max(200).optional(),
  })
  .strict()
  .openapi("IncludeExclude", { description: "case-insensitive; empty = no restriction" });

const unique = <T>(items: readonly T[], key: (item: T) => string) =>
  new Set(items.map(key)).size === items.length;

const taskFields = {
  version: SemverSchema,
  // seed: "Fill in the grayscale task name to distinguish it, no more than 20 words."
  name: z
    .string()
    .trim()
    .superRefine(
      seedLimit(
        "task_name_invalid",
        isValidName,
        `the task name must have 1 to ${MAX_TASK_NAME} characters, without control characters`,
      ),
    )
    .meta({
      minLength: 1,
      maxLength: MAX_TASK_NAME,
      description: `1 to ${MAX_TASK_NAME} characters (Unicode code points), trimmed`,
    }),
  startAt: TimeSchema,
  endAt: TimeSchema,
  // seed: "Set the limit on the total number of grayscale users"
  userCap: z
    .number()
    .int()
    .min(1)
    .superRefine(
      seedLimit(
        "task_cap_invalid",
        (n: number) => n <= MAX_USER_CAP,
        `the user cap must be a whole number from 1 to ${MAX_USER_CAP.toLocaleString("en-US")}`,
      ),
    )
    .meta({ maximum: MAX_USER_CAP })
    .nullable()
    .optional()
    .openapi({ description: "total users admitted at most; null = no cap" }),
  percentage: z
    .number()
    .min(0.01)
    .max(100)
    .nullable()
    .optional()
    .openapi({ description: "share of eligible users, 0.01..100 (%)" }),
  hostApps: z
    .array(HostAppRuleSchema)
    .max(100)
    .refine((l) => unique(l, (h) => h.hostAppId), "each host app at most once"),
  platforms: z
    .array(PlatformRuleSchema)
    .max(2)
    .refine((l) => unique(l, (p) => p.platform), "each platform at most once"),
  targets: TargetsSchema.optional(),
  networks: z
    .array(NetworkSchema)
    .max(7)
    .refine((l) => unique(l, (n) => n), "each network at most once")
    .optional(),
  brands: IncludeExcludeSchema.nullable().optional(),
  models: IncludeExcludeSchema.nullable().optional(),
  countries: IncludeExcludeSchema.nullable().optional(),
  regions: IncludeExcludeSchema.nullable().optional(),
  cities: IncludeExcludeSchema.nullable().optional(),
  verifiedOnly: z.boolean().optional().openapi({
    description:
      "admit only clients whose account the host app vouched for with a user assertion, counted by that account (docs/trust.md); a capped task's slots then cannot be taken by invented GUIDs",
  }),
  capShards: z
    .number()
    .int()
    .min(1)
    .max(MAX_CAP_SHARDS)
    .optional()
    .openapi({
      description: `counter shards a capped task's cap is split over, 1..${MAX_CAP_SHARDS} (default 1): about one per 700 first admissions a second at the task's peak (docs/scale.md 5b). Only a pending task may change it; ignored while the task has no cap`,
      example: 1,
    }),
};

/** Health guardrails (PRODUCT.md G7; core/grayscale/health.ts, docs/grayscale.md "Health guardrails"). */
export const GuardrailsSchema = z
  .object({
    errorRate: z
      .object({
        maxPointsAboveOnline: z.number().min(0).max(100).openapi({
          description:
            "percentage points the gray version's error rate (share of sessions with an error entry) may exceed the online version's by",
          example: 5,
        }),
        minSessions: z.number().int().min(1).max(1_000_000).openapi({
          description:
            "sessions (distinct GUIDs) each version needs in the window before the rates are compared",
          example: 50,
        }),
        windowMinutes: z
          .literal(ERROR_RATE_WINDOW_MINUTES)
          .default(ERROR_RATE_WINDOW_MINUTES)
          .openapi({ description: "the window: one 10-minute bucket of the clock" }),
      })
      .strict()
      .optional()
      .openapi("ErrorRateGuardrail", {
        description:
          "suspend when the gray version's error rate exceeds the online version's by more than maxPointsAboveOnline points, both over at least minSessions sessions, in a 10-minute window",
      }),
    crashes: z
      .object({
        max: z.number().int().min(0).max(1_000_000).openapi({
          description: "crash reports of the gray version tolerated in the window; one more suspends",
          example: 10,
        }),
        windowMinutes: z
          .number()
          .int()
          .min(HEALTH_BUCKET_MS / 60_000)
          .max(MAX_CRASH_WINDOW_MINUTES)
          .multipleOf(HEALTH_BUCKET_MS / 60_000)
          .default(60)
          .openapi({ description: "whole 10-minute buckets, up to a day; default 60" }),
      })
      .strict()
      .optional()
      .openapi("CrashGuardrail", { description: "suspend on more than `max` crash reports in the window" }),
  })
  .strict()
  .refine((g) => g.errorRate !== undefined || g.crashes !== undefined, "set errorRate, crashes or both")
  .openapi("GrayscaleGuardrails", {
    description:
      "health guardrails: the task suspends itself (suspendCause guardrail) when one trips; null or absent = none",
  });

const guardrailsField = { guardrails: GuardrailsSchema.nullable().optional() };

export const CreateTaskSchema = z
  .object({ ...taskFields, ...guardrailsField })
  .strict()
  .openapi("CreateGrayscaleTask");

export const EditTaskSchema = z
  .object({ ...taskFields, ...guardrailsField })
  .partial()
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), "change at least one field")
  .openapi("EditGrayscaleTask");

export const TaskStateSchema = z.enum(["pending", "delivering", "suspended", "ended"]);
export const EndReasonSchema = z.enum([
  "manual",
  "end_time",
  "cap_reached",
  "released",
  "reverted",
  "delisted",
]);
export const TargetKindSchema = z
  .enum(TARGET_KINDS as [string, ...string[]])
  .openapi({ param: { name: "kind", in: "path" }, example: "guid" });

const WhitelistSummarySchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    count: z.number(),
    uploadedBy: z.string(),
    createdAt: z.number(),
  })
  .openapi("WhitelistSummary");

const VersionHealthSchema = z.object({
  sessions: z.number(),
  errorSessions: z.number(),
  errorRate: z.number().openapi({ description: "error sessions / sessions, percent" }),
  crashes: z.number(),
});

export const GuardrailTripSchema = z
  .object({
    guardrail: z.enum(["error_rate", "crashes"]),
    at: z.number(),
    window: z.object({ from: z.number(), to: z.number(), minutes: z.number() }),
    gray: VersionHealthSchema.extend({ version: z.string() }),
    online: VersionHealthSchema.extend({ version: z.string().nullable() }),
    limit: z.record(z.string(), z.number()),
    summary: z.string(),
  })
  .openapi("GuardrailTrip");

export const TaskSchema = z
  .object({
    id: z.string(),
    appId: z.string(),
    version: z.string(),
    name: z.string(),
    state: TaskStateSchema.openapi({
      description: "effective now: a pending task past its start is delivering, past its end it has ended",
    }),
    endReason: EndReasonSchema.nullable(),
    suspendedByDelisting: z.boolean(),
    suspendCause: z.enum(["manual", "delisted", "guardrail"]).nullable().openapi({
      description: "why a suspended task is suspended; null unless suspended",
    }),
    guardrails: GuardrailsSchema.nullable(),
    guardrailTrip: GuardrailTripSchema.nullable().openapi({
      description: "the figures of the last guardrail trip (kept after a resume); null if none ever tripped",
    }),
    startAt: z.number(),
    endAt: z.number(),
    userCap: z.number().nullable(),
    percentage: z.number().nullable(),
    hostApps: z.array(HostAppRuleSchema),
    platforms: z.array(PlatformRuleSchema),
    targets: z.object({
      guids: z.array(z.string()),
      deviceIds: z.array(z.string()),
      accounts: z.array(z.string()),
    }),
    networks: z.array(z.string()),
    brands: IncludeExcludeSchema.nullable(),
    models: IncludeExcludeSchema.nullable(),
    countries: IncludeExcludeSchema.nullable(),
    regions: IncludeExcludeSchema.nullable(),
    cities: IncludeExcludeSchema.nullable(),
    verifiedOnly: z.boolean(),
    capShards: z
      .number()
      .int()
      .openapi({ description: "counter shards the cap is split over (1 = one counter)" }),
    whitelists: z.array(WhitelistSummarySchema),
    editableFields: z
      .array(z.string())
      .openapi({ description: "fields PATCH may change in the current state" }),
    createdBy: z.string(),
    createdAt: z.number(),
    updatedAt: z.number(),
  })
  .openapi("GrayscaleTask");

export const AppParams = z.object({ appId: AppIdSchema });
export const TaskParams = AppParams.extend({
  taskId: IdSchema.meta({ param: { name: "taskId", in: "path" } }),
});
export const WhitelistParams = TaskParams.extend({ kind: TargetKindSchema });
