/**
 * Grayscale tasks (PRODUCT.md G1-G4): create (every condition from flags or a JSON/YAML file),
 * whitelist upload / remove, list, show, progress [--watch], explain, suspend, resume, end, revert.
 */
import { readFileSync, statSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ok } from "../api/client";
import { type Sent, streamBody, transfer } from "../api/transfer";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { formatBytes, isTty, type Output } from "../output";
import { group, type OptionSpec, register } from "../registry";
import { APP_OPTION, appArg, intArg, type Schemas, sleep } from "./common";

group("gray", "Grayscale tasks: deliver a version to some users first");
group(
  "gray whitelist",
  "A grayscale task's uploaded txt whitelists (one GUID, device id or account per line)",
);

type Task = Schemas["GrayscaleTask"];
type CreateTask = Schemas["CreateGrayscaleTask"];

const NETWORKS = ["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"] as const;
const LISTS = ["brand", "model", "country", "region", "city"] as const;
const MAX_WHITELIST_LINES = 1_000_000;
const MAX_WHITELIST_BYTES = 64 * 1024 * 1024;

const s = (description: string, placeholder = "value", multiple = false): OptionSpec => ({
  type: "string",
  description,
  placeholder,
  ...(multiple ? { multiple: true } : {}),
});

/** Health guardrails (docs/grayscale.md "Health guardrails"): the task suspends itself when one trips. */
const GUARDRAIL_OPTIONS: Record<string, OptionSpec> = {
  "error-rate-points": s(
    "guardrail: suspend when the gray version's error rate exceeds the online version's by more than this many percentage points (0..100) in a 10-minute window",
    "points",
  ),
  "error-rate-min-sessions": s(
    "with --error-rate-points: sessions (GUIDs) each version needs in the window before rates are compared",
    "n",
  ),
  "crash-max": s("guardrail: suspend on more than this many crash reports of the gray version", "n"),
  "crash-window": s(
    "with --crash-max: the window in minutes, whole 10-minute steps up to 1440 (default 60)",
    "minutes",
  ),
  "clear-guardrails": {
    type: "boolean",
    description: "remove the task's guardrails (with a guardrail flag: replace them by the ones given)",
  },
};

type Guardrails = NonNullable<Schemas["GrayscaleGuardrails"]>;
type Trip = NonNullable<Schemas["GuardrailTrip"]>;

const GUARDRAIL_FLAGS = ["error-rate-points", "error-rate-min-sessions", "crash-max", "crash-window"];

/** Whether the command line says anything about guardrails (an edit then merges with the task's). */
export function guardrailFlagsGiven(ctx: Parameters<Parameters<typeof register>[0]["run"]>[0]): boolean {
  return GUARDRAIL_FLAGS.some((f) => ctx.str(f) !== undefined) || ctx.flag("clear-guardrails");
}

/**
 * The guardrails the flags describe, laid over `current` (the file's, or on an edit the task's):
 * a flag changes one figure and keeps the others, so `--crash-max 3` leaves the error-rate
 * guardrail as it was. `--clear-guardrails` starts from none; alone it means null (remove them).
 * A guardrail needs all of its required figures: the error rate its points and minimum sessions,
 * the crash guardrail its maximum. Ranges are the server's rule (answered 400 naming the field).
 */
export function guardrailsFrom(
  ctx: Parameters<Parameters<typeof register>[0]["run"]>[0],
  current: Guardrails | null | undefined,
): Guardrails | null {
  const base: Guardrails = ctx.flag("clear-guardrails") ? {} : { ...(current ?? {}) };
  const num = (name: string, whole: boolean): number | undefined => {
    const v = ctx.str(name);
    if (v === undefined) return undefined;
    if (!(whole ? /^\d+$/ : /^\d+(\.\d+)?$/).test(v))
      throw new UsageError(`--${name} must be a ${whole ? "whole number" : "number"}`);
    return Number(v);
  };
  const points = num("error-rate-points", false);
  const minSessions = num("error-rate-min-sessions", true);
  if (points !== undefined || minSessions !== undefined) {
    const merged = { ...base.errorRate, ...(points !== undefined ? { maxPointsAboveOnline: points } : {}) };
    if (minSessions !== undefined) merged.minSessions = minSessions;
    if (merged.maxPointsAboveOnline === undefined || merged.minSessions === undefined)
      throw new UsageError(
        "the error-rate guardrail needs both --error-rate-points and --error-rate-min-sessions",
      );
    base.errorRate = merged as Guardrails["errorRate"] & object;
  }
  const max = num("crash-max", true);
  const window = num("crash-window", true);
  if (max !== undefined || window !== undefined) {
    const merged = { ...base.crashes, ...(max !== undefined ? { max } : {}) };
    if (window !== undefined) merged.windowMinutes = window;
    if (merged.max === undefined) throw new UsageError("--crash-window goes with --crash-max");
    base.crashes = merged as Guardrails["crashes"] & object;
  }
  return base.errorRate || base.crashes ? base : null;
}

/** One line per guardrail, as people read them. */
export function guardrailText(g: Schemas["GrayscaleGuardrails"] | undefined): string {
  if (!g || (!g.errorRate && !g.crashes)) return "none";
  return [
    g.errorRate
      ? `error rate at most +${g.errorRate.maxPointsAboveOnline} points over online (${g.errorRate.minSessions}+ sessions each, ${g.errorRate.windowMinutes ?? 10} min)`
      : "",
    g.crashes ? `at most ${g.crashes.max} crash reports in ${g.crashes.windowMinutes ?? 60} min` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

const figures = (f: { sessions: number; errorSessions: number; errorRate: number; crashes: number }) =>
  `${f.sessions} sessions, ${f.errorSessions} with errors (${f.errorRate}%), ${f.crashes} crashes`;

/** The last trip: which guardrail, when, its sentence, and both versions' figures in its window. */
export function tripLines(t: Trip): string[] {
  return [
    `${t.guardrail} at ${when(t.at)}: ${t.summary}`,
    `gray ${t.gray.version}: ${figures(t.gray)}`,
    `online ${t.online.version ?? "(none)"}: ${figures(t.online)}`,
    `window ${when(t.window.from)} .. ${when(t.window.to)} (${t.window.minutes} min)`,
  ];
}

/** "suspended (guardrail)", "ended (manual)": the state and why. */
const stateWhy = (t: { state: string; endReason: string | null; suspendCause?: string | null }) =>
  `${t.state}${t.endReason ? ` (${t.endReason})` : t.state === "suspended" && t.suspendCause ? ` (${t.suspendCause})` : ""}`;

const CONDITION_OPTIONS: Record<string, OptionSpec> = {
  file: s(
    "read the task (any of the fields below, as the API names them) from a JSON or YAML file; flags override it",
    "file",
  ),
  version: s("the approved version to deliver", "x.y.z"),
  name: s("the task's name", "name"),
  start: s("when it starts: ISO 8601, epoch ms, now, or +30m / +2h / +7d (default: now)", "time"),
  end: s("when it ends (same forms)", "time"),
  cap: s("at most this many users (default: no cap)", "n"),
  "cap-shards": s(
    "split the cap over this many counter shards, 1..64 (default 1; ~1 per 700 first admissions/s; fixed once the task starts; docs/scale.md 5b)",
    "k",
  ),
  percentage: s("share of eligible users, 0.01..100", "pct"),
  "host-app": s("a host app, optionally with a version range: ha_x[:min[:max]]", "id[:min[:max]]", true),
  platform: s("android or ios, optionally with an OS range: android[:min[:max]]", "p[:min[:max]]", true),
  network: s(`a network: ${NETWORKS.join(", ")}`, "net", true),
  guid: s("a target GUID", "guid", true),
  "device-id": s("a target device id", "id", true),
  account: s("a target account", "account", true),
  ...Object.fromEntries(
    LISTS.flatMap((l) => [
      [l, s(`only this ${l}`, l, true)],
      [`exclude-${l}`, s(`not this ${l}`, l, true)],
    ]),
  ),
  "verified-only": {
    type: "boolean",
    description: "admit only accounts the host app vouches for (docs/trust.md)",
  },
  ...GUARDRAIL_OPTIONS,
};

/** ISO 8601, epoch ms, `now`, or `+<n><m|h|d>` from now, as epoch ms. */
export function parseTime(text: string, now = Date.now()): number {
  if (text === "now") return now;
  const rel = /^\+(\d+)([smhd])$/.exec(text);
  if (rel) return now + Number(rel[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[rel[2] as "s"];
  if (/^\d+$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new UsageError(`${JSON.stringify(text)} is not a time (ISO 8601, epoch ms, now, +2h, +7d)`);
  return t;
}

function readTaskFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new UsageError(
      `${path} is not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"}: ${(error as Error).message}`,
    );
  }
  if (!value || typeof value !== "object" || Array.isArray(value))
    throw new UsageError(`${path} must hold one object (the task)`);
  return value as Record<string, unknown>;
}

/** The task body from the file (if any) with every flag given laid over it. */
export function taskBody(
  ctx: Parameters<Parameters<typeof register>[0]["run"]>[0],
  edit = false,
): CreateTask {
  const file = ctx.str("file");
  const body: Record<string, unknown> = file ? readTaskFile(file) : {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  set("version", ctx.str("version"));
  set("name", ctx.str("name"));
  const start = ctx.str("start");
  const end = ctx.str("end");
  set(
    "startAt",
    start !== undefined
      ? parseTime(start)
      : typeof body.startAt === "string" && /^(now|\+)/.test(body.startAt)
        ? parseTime(body.startAt)
        : body.startAt,
  );
  set(
    "endAt",
    end !== undefined
      ? parseTime(end)
      : typeof body.endAt === "string" && /^\+/.test(body.endAt)
        ? parseTime(body.endAt)
        : body.endAt,
  );
  // A new task starts now unless told otherwise; an edit changes only what it names.
  if (body.startAt === undefined && !edit) body.startAt = Date.now();
  const cap = intArg(ctx, "cap");
  if (cap !== undefined) body.userCap = cap;
  const shards = intArg(ctx, "cap-shards");
  if (shards !== undefined) body.capShards = shards;
  const pct = ctx.str("percentage");
  if (pct !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(pct)) throw new UsageError("--percentage must be a number (0.01..100)");
    body.percentage = Number(pct);
  }
  const hostApps = ctx.list("host-app");
  if (hostApps.length)
    body.hostApps = hostApps.map((h) => {
      const [hostAppId, minVersion, maxVersion] = h.split(":");
      return { hostAppId, ...(minVersion ? { minVersion } : {}), ...(maxVersion ? { maxVersion } : {}) };
    });
  const platforms = ctx.list("platform");
  if (platforms.length)
    body.platforms = platforms.map((p) => {
      const [platform, minOsVersion, maxOsVersion] = p.split(":");
      if (platform !== "android" && platform !== "ios")
        throw new UsageError(`--platform ${p}: the platform is android or ios`);
      return {
        platform,
        ...(minOsVersion ? { minOsVersion } : {}),
        ...(maxOsVersion ? { maxOsVersion } : {}),
      };
    });
  const networks = ctx.list("network");
  for (const n of networks)
    if (!NETWORKS.includes(n as "wifi")) throw new UsageError(`--network ${n}: use ${NETWORKS.join(", ")}`);
  if (networks.length) body.networks = networks;
  const targets = {
    guids: ctx.list("guid"),
    deviceIds: ctx.list("device-id"),
    accounts: ctx.list("account"),
  };
  if (targets.guids.length || targets.deviceIds.length || targets.accounts.length)
    body.targets = {
      ...((body.targets as object) ?? {}),
      ...Object.fromEntries(Object.entries(targets).filter(([, v]) => v.length)),
    };
  for (const l of LISTS) {
    const include = ctx.list(l);
    const exclude = ctx.list(`exclude-${l}`);
    if (include.length || exclude.length)
      body[`${l === "country" ? "countries" : l === "city" ? "cities" : `${l}s`}`] = {
        ...(include.length ? { include } : {}),
        ...(exclude.length ? { exclude } : {}),
      };
  }
  if (ctx.flag("verified-only")) body.verifiedOnly = true;
  // On an edit the command merges with the task's own guardrails (it fetches them first).
  if (!edit && guardrailFlagsGiven(ctx))
    body.guardrails = guardrailsFrom(ctx, body.guardrails as Guardrails | null | undefined);
  return body as CreateTask;
}

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

function showTask(t: Task, out: Output) {
  const ie = (v: { include?: string[]; exclude?: string[] } | null | undefined) =>
    v
      ? [
          v.include?.length ? `only ${v.include.join(", ")}` : "",
          v.exclude?.length ? `not ${v.exclude.join(", ")}` : "",
        ]
          .filter(Boolean)
          .join("; ") || "-"
      : "-";
  const stateColor = t.state === "delivering" ? "green" : t.state === "ended" ? "dim" : "yellow";
  out.fields([
    ["task", t.id],
    ["name", t.name],
    ["version", t.version],
    [
      "state",
      out.paint(stateColor, t.state) +
        stateWhy(t).slice(t.state.length) +
        (t.state === "suspended" && t.suspendCause === "guardrail"
          ? out.paint("red", " — a guardrail tripped")
          : ""),
    ],
    ["window", `${when(t.startAt)} .. ${when(t.endAt)}`],
    ["cap", t.userCap ?? "none"],
    ...(t.capShards > 1 ? [["cap shards", t.capShards] as [string, number]] : []),
    ["percentage", t.percentage ?? "-"],
    [
      "host apps",
      t.hostApps
        .map(
          (h) =>
            `${h.hostAppId}${h.minVersion || h.maxVersion ? ` ${h.minVersion ?? ""}..${h.maxVersion ?? ""}` : ""}`,
        )
        .join(", "),
    ],
    [
      "platforms",
      t.platforms
        .map(
          (p) =>
            `${p.platform}${p.minOsVersion || p.maxOsVersion ? ` ${p.minOsVersion ?? ""}..${p.maxOsVersion ?? ""}` : ""}`,
        )
        .join(", "),
    ],
    ["networks", t.networks.join(", ") || "any"],
    [
      "targets",
      `${t.targets.guids.length} GUIDs, ${t.targets.deviceIds.length} device ids, ${t.targets.accounts.length} accounts`,
    ],
    ["whitelists", t.whitelists.map((w) => `${w.kind}: ${w.count}`).join(", ") || "-"],
    ["brands", ie(t.brands)],
    ["models", ie(t.models)],
    ["countries", ie(t.countries)],
    ["regions", ie(t.regions)],
    ["cities", ie(t.cities)],
    ["verified only", t.verifiedOnly ? "yes" : "no"],
    ["guardrails", guardrailText(t.guardrails)],
    ...(t.guardrailTrip
      ? tripLines(t.guardrailTrip).map((l, i): [string, string] => [i === 0 ? "last trip" : "", l])
      : []),
  ]);
}

const TASK_POSITIONAL = [
  { name: "taskId", required: true, description: "the task (from `graycast gray list`)" },
];

register(
  {
    name: "gray create",
    summary: "Create a grayscale task (conditions from flags or a JSON/YAML file)",
    options: { ...APP_OPTION, ...CONDITION_OPTIONS },
    details:
      "A file holds the API's CreateGrayscaleTask fields (version, name, startAt, endAt, userCap, percentage,\nhostApps, platforms, targets, networks, brands, models, countries, regions, cities, verifiedOnly,\ncapShards, guardrails); startAt / endAt may also be `now` or `+2h`-style. Flags given beside --file replace its fields.\nGuardrails (docs/grayscale.md \"Health guardrails\"): the task suspends itself (cause guardrail) when the gray\nversion's logs show an error rate more than --error-rate-points above the online version's, both over at\nleast --error-rate-min-sessions sessions in a 10-minute window, or more than --crash-max crash reports in\n--crash-window minutes.",
    examples: [
      'graycast gray create --app gc... --version 1.1.0 --name "Shenzhen beta" --end +7d --cap 1000 \\\n    --host-app ha_demo_superapp:8.0 --platform android:12 --network wifi --country CN --city Shenzhen',
      "graycast gray create --app gc... --file task.yaml",
      "graycast gray create --app gc... --file task.yaml --cap 500 --json | jq -r .id",
      "graycast gray create --app gc... --version 1.1.0 --name Checkout --end +1d --host-app ha_demo_superapp \\\n    --platform android --error-rate-points 5 --error-rate-min-sessions 50 --crash-max 10",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const body = taskBody(ctx);
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/grayscale-tasks", { params: { path: { appId } }, body }),
      );
    },
    show(t: Task, out: Output) {
      out.note(`${out.paint("green", "Created", true)} grayscale task ${t.id}`);
      showTask(t, out);
    },
  },
  {
    name: "gray list",
    summary: "List a mini program's grayscale tasks",
    options: APP_OPTION,
    examples: ["graycast gray list --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/grayscale-tasks", { params: { path: { appId } } }));
    },
    show(r: { tasks: Task[] }, out: Output) {
      out.table(
        ["TASK", "NAME", "VERSION", "STATE", "CAP", "STARTS", "ENDS"],
        r.tasks.map((t) => [t.id, t.name, t.version, stateWhy(t), t.userCap ?? "", t.startAt, t.endAt]),
      );
    },
  },
  {
    name: "gray show",
    summary: "Show a grayscale task and all its conditions",
    positionals: TASK_POSITIONAL,
    options: APP_OPTION,
    examples: ["graycast gray show gt_123 --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      const taskId = ctx.positionals[0]!;
      return ok(
        ctx
          .api()
          .GET("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}", { params: { path: { appId, taskId } } }),
      );
    },
    show: showTask,
  },
);

register({
  name: "gray edit",
  summary: "Change a task's conditions (the fields its state allows: see `gray show`)",
  positionals: TASK_POSITIONAL,
  options: { ...APP_OPTION, ...CONDITION_OPTIONS },
  details:
    "Only the fields given (flags, or a file's fields) are sent; each replaces the task's value. Which\nfields a task in its state may change is the server's rule (the task's `editableFields`).",
  examples: [
    "graycast gray edit gt_123 --app gc... --cap 5000 --end +14d",
    "graycast gray edit gt_123 --app gc... --file changes.yaml",
    "graycast gray edit gt_123 --app gc... --crash-max 5 --crash-window 30",
    "graycast gray edit gt_123 --app gc... --clear-guardrails",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const taskId = ctx.positionals[0]!;
    const body = taskBody(ctx, true) as Schemas["EditGrayscaleTask"];
    if (guardrailFlagsGiven(ctx)) {
      // A flag changes one figure: the others are the file's, else the task's as it is now.
      const current =
        body.guardrails !== undefined
          ? body.guardrails
          : ctx.flag("clear-guardrails")
            ? null
            : (
                await ok(
                  ctx.api().GET("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}", {
                    params: { path: { appId, taskId } },
                  }),
                )
              ).guardrails;
      body.guardrails = guardrailsFrom(ctx, current);
    }
    if (!Object.keys(body).length) throw new UsageError("nothing to change: give a condition flag or --file");
    return ok(
      ctx.api().PATCH("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}", {
        params: { path: { appId, taskId } },
        body,
      }),
    );
  },
  show: showTask,
});

type ProgressData = Schemas["GrayscaleProgress"];

function progressLines(p: ProgressData, out: Output): string[] {
  const cap = p.userCap ?? null;
  const admitted = p.admitted ?? 0;
  const pct = cap ? Math.min(100, Math.floor((admitted / cap) * 100)) : null;
  const bar =
    pct !== null ? `${"█".repeat(Math.round(pct / 5))}${"░".repeat(20 - Math.round(pct / 5))} ${pct}% ` : "";
  return [
    `${p.taskId}  ${out.paint(p.state === "delivering" ? "green" : "yellow", p.state)}${p.endReason ? ` (${p.endReason})` : p.health.suspendedByGuardrail ? " (guardrail)" : ""}`,
    `admitted ${bar}${admitted}${cap ? ` of ${cap}` : ""}${p.remaining !== null ? `, ${p.remaining} left` : ""}${p.leased ? `, ${p.leased} leased` : ""}`,
    ...(p.byHostApp.length
      ? [`by host app: ${p.byHostApp.map((h) => `${h.hostAppId} ${h.admitted}`).join(", ")}`]
      : []),
    ...(p.byPlatform.length
      ? [`by platform: ${p.byPlatform.map((h) => `${h.platform} ${h.admitted}`).join(", ")}`]
      : []),
    ...(p.note ? [`note: ${p.note}`] : []),
    ...healthLines(p.health, out),
  ];
}

/** How many 10-minute buckets progress shows (the API answers the last 24 hours). */
const HEALTH_BUCKETS_SHOWN = 6;

/** Guardrails, the last trip's figures, and both versions' figures in the latest buckets with logs. */
function healthLines(h: Schemas["GrayscaleHealth"], out: Output): string[] {
  const lines = [`guardrails: ${guardrailText(h.guardrails)}`];
  if (h.suspendedByGuardrail) lines.push(out.paint("red", "suspended by a guardrail"));
  if (h.trip) lines.push(...tripLines(h.trip).map((l, i) => (i === 0 ? `last trip: ${l}` : `  ${l}`)));
  const recent = h.buckets.filter((b) => b.gray.sessions || b.online.sessions).slice(-HEALTH_BUCKETS_SHOWN);
  if (recent.length) {
    lines.push(`health per ${h.bucketMinutes} min (gray | online):`);
    for (const b of recent) lines.push(`  ${when(b.bucket)}  ${figures(b.gray)} | ${figures(b.online)}`);
  }
  return lines;
}

register({
  name: "gray progress",
  summary: "Admitted users against the cap, by host app and platform; --watch to follow",
  positionals: TASK_POSITIONAL,
  options: {
    ...APP_OPTION,
    watch: { type: "boolean", short: "w", description: "keep showing it until the task ends (Ctrl-C stops)" },
    interval: {
      type: "string",
      placeholder: "seconds",
      description: "between refreshes with --watch (default 5)",
    },
  },
  details: "With --watch and --json, one JSON document per line (NDJSON) each time it changes.",
  examples: [
    "graycast gray progress gt_123 --app gc...",
    "graycast gray progress gt_123 --app gc... --watch --interval 2",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const taskId = ctx.positionals[0]!;
    const fetchOnce = () =>
      ok(
        ctx.api().GET("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/progress", {
          params: { path: { appId, taskId } },
        }),
      );
    if (!ctx.flag("watch")) return fetchOnce();
    const interval = Math.max(1, intArg(ctx, "interval") ?? 5) * 1000;
    const tty = isTty(ctx.streams.stdout, ctx.streams.env) && !ctx.out.json;
    let drawn = 0;
    let previous = "";
    for (;;) {
      const p = await fetchOnce();
      const text = JSON.stringify(p);
      if (text !== previous) {
        if (ctx.out.json) ctx.streams.stdout.write(`${text}\n`);
        else {
          const lines = progressLines(p, ctx.out);
          // On a terminal the block is redrawn in place; otherwise each change is printed below the last.
          if (tty && drawn) ctx.streams.stdout.write(`\u001b[${drawn}A\u001b[0J`);
          ctx.streams.stdout.write(`${lines.join("\n")}\n`);
          drawn = lines.length;
        }
        previous = text;
      }
      if (p.state === "ended") return CANCELLED;
      await sleep(interval);
    }
  },
  show(p: ProgressData, out: Output) {
    for (const l of progressLines(p, out)) out.line(l);
  },
});

const ACTIONS = [
  ["suspend", "suspend", "Suspend a task: no new users; admitted users keep the version", false, ""],
  ["resume", "resume", "Resume a suspended task", false, ""],
  [
    "end",
    "end",
    "End a task: admitted users keep the version until the next release",
    true,
    "End grayscale task %s",
  ],
  [
    "revert",
    "end-and-revert",
    "End a task and send everyone back to the online version (signed rollback)",
    true,
    "End grayscale task %s and send every admitted user back to the online version",
  ],
] as const;

for (const [word, action, summary, destructive, question] of ACTIONS)
  register({
    name: `gray ${word}`,
    summary,
    destructive,
    positionals: TASK_POSITIONAL,
    options: APP_OPTION,
    examples: [`graycast gray ${word} gt_123 --app gc...${destructive ? " --yes" : ""}`],
    async run(ctx) {
      const appId = appArg(ctx);
      const taskId = ctx.positionals[0]!;
      if (destructive && !(await ctx.confirm(`${question.replace("%s", taskId)}?`))) return CANCELLED;
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/{action}", {
          params: { path: { appId, taskId, action } },
        }),
      );
    },
    show(t: Task, out: Output) {
      out.line(`${t.id}: ${stateWhy(t)}`);
    },
  });

const KIND_OPTION: Record<string, OptionSpec> = {
  task: s("the task", "taskId"),
  kind: s("what the lines are: guid, deviceId or account (default guid)", "kind"),
};

function kindArg(value: string | undefined): "guid" | "deviceId" | "account" {
  const kind = value ?? "guid";
  if (kind !== "guid" && kind !== "deviceId" && kind !== "account")
    throw new UsageError("--kind must be guid, deviceId or account");
  return kind;
}

register(
  {
    name: "gray whitelist upload",
    summary: "Upload (replace) a task's txt whitelist, with progress; up to 1,000,000 lines",
    positionals: [{ name: "file", required: true, description: "UTF-8 text, one value per line" }],
    options: {
      ...APP_OPTION,
      ...KIND_OPTION,
      "dry-run": { type: "boolean", description: "count and check the lines, but do not upload" },
    },
    details:
      "Checked before sending: at most 1,000,000 lines and 64 MiB. Duplicate lines collapse on the server.",
    examples: [
      "graycast gray whitelist upload guids.txt --app gc... --task gt_123",
      "graycast gray whitelist upload accounts.txt --app gc... --task gt_123 --kind account",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const taskId = ctx.need("task");
      const kind = kindArg(ctx.str("kind"));
      const file = ctx.positionals[0]!;
      const size = statSync(file, { throwIfNoEntry: false })?.size;
      if (size === undefined) throw new UsageError(`${file}: no such file`);
      if (size > MAX_WHITELIST_BYTES)
        throw new UsageError(
          `${file} is ${formatBytes(size)}; a whitelist is at most ${formatBytes(MAX_WHITELIST_BYTES)}`,
        );
      const bytes = new Uint8Array(readFileSync(file));
      let lines = 0;
      for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) lines++;
      if (bytes.length && bytes[bytes.length - 1] !== 10) lines++;
      if (lines > MAX_WHITELIST_LINES)
        throw new UsageError(
          `${file} has ${lines.toLocaleString("en-US")} lines; a whitelist is at most ${MAX_WHITELIST_LINES.toLocaleString("en-US")}`,
        );
      ctx.out.note(`${file}: ${lines.toLocaleString("en-US")} lines, ${formatBytes(bytes.length)}`);
      if (ctx.flag("dry-run")) return { file, kind, lines, bytes: bytes.length, dryRun: true };
      const api = ctx.api({ retry: false });
      // Replacing a whitelist is idempotent: a retry after a broken connection simply sends it again.
      return transfer<Schemas["WhitelistUpload"]>({
        streams: ctx.streams,
        label: `Uploading ${kind} whitelist`,
        bytes,
        baseUrl: ctx.apiUrl,
        send: (body) =>
          api.PUT("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/whitelists/{kind}", {
            params: { path: { appId, taskId, kind } },
            body,
            ...streamBody("text/plain; charset=utf-8"),
          } as never) as Promise<Sent<Schemas["WhitelistUpload"]>>,
      });
    },
    show(r: Schemas["WhitelistUpload"] | { dryRun: true; lines: number; kind: string }, out: Output) {
      if ("dryRun" in r) {
        out.line(
          `Dry run: ${r.lines.toLocaleString("en-US")} ${r.kind} lines within the limits; nothing uploaded`,
        );
        return;
      }
      out.line(
        `Stored ${r.kind} whitelist ${r.id}: ${r.count} values from ${r.lines} lines (${r.duplicates} duplicates), ${r.shards} shards`,
      );
    },
  },
  {
    name: "gray whitelist remove",
    summary: "Remove a task's uploaded whitelist of one kind",
    destructive: true,
    options: { ...APP_OPTION, ...KIND_OPTION },
    examples: ["graycast gray whitelist remove --app gc... --task gt_123 --kind guid --yes"],
    async run(ctx) {
      const appId = appArg(ctx);
      const taskId = ctx.need("task");
      const kind = kindArg(ctx.str("kind"));
      if (!(await ctx.confirm(`Remove the ${kind} whitelist of ${taskId}?`))) return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/mini-programs/{appId}/grayscale-tasks/{taskId}/whitelists/{kind}", {
          params: { path: { appId, taskId, kind } },
        }),
      );
      return { taskId, kind, removed: true };
    },
  },
);

register({
  name: "gray explain",
  summary: "Explain which version a client would get, and why (every task, every condition)",
  options: {
    ...APP_OPTION,
    file: s("the whole ExplainRequest ({client, geo, verifiedAccount}) as JSON or YAML", "file"),
    "host-app": s("the client's host app", "hostAppId"),
    "host-app-version": s("its host app version", "x.y"),
    platform: s("android or ios", "platform"),
    "os-version": s("its OS version", "x.y"),
    guid: s("its GUID", "guid"),
    "device-id": s("its device id", "id"),
    account: s("its account", "account"),
    network: s(`its network (${NETWORKS.join(", ")})`, "net"),
    brand: s("its brand", "brand"),
    model: s("its model", "model"),
    "installed-version": s("the version it runs now", "x.y.z"),
    trial: { type: "boolean", description: "it asks for the trial version" },
    "verified-account": { type: "boolean", description: "treat the account as vouched for by the host app" },
    country: s("its country (geo)", "CC"),
    region: s("its region (geo)", "region"),
    city: s("its city (geo)", "city"),
  },
  examples: [
    "graycast gray explain --app gc... --host-app ha_demo_superapp --host-app-version 8.2.0 --platform android \\\n    --os-version 14 --guid device-004 --network wifi --country CN --city Shenzhen",
    "graycast gray explain --app gc... --file client.yaml --json",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const file = ctx.str("file");
    const body: Record<string, unknown> = file ? readTaskFile(file) : {};
    const client: Record<string, unknown> = { ...((body.client as object) ?? {}) };
    const map: [string, string][] = [
      ["host-app", "hostAppId"],
      ["host-app-version", "hostAppVersion"],
      ["platform", "platform"],
      ["os-version", "osVersion"],
      ["guid", "guid"],
      ["device-id", "deviceId"],
      ["account", "account"],
      ["network", "network"],
      ["brand", "brand"],
      ["model", "model"],
      ["installed-version", "installedVersion"],
    ];
    for (const [flag, field] of map) if (ctx.str(flag) !== undefined) client[field] = ctx.str(flag);
    if (ctx.flag("trial")) client.trial = true;
    body.client = client;
    if (ctx.flag("verified-account")) body.verifiedAccount = true;
    const geo = { ...((body.geo as object) ?? {}) } as Record<string, string>;
    for (const g of ["country", "region", "city"]) if (ctx.str(g) !== undefined) geo[g] = ctx.str(g)!;
    if (Object.keys(geo).length) body.geo = geo;
    return ok(
      ctx.api().POST("/v1/mini-programs/{appId}/explain", {
        params: { path: { appId } },
        body: body as Schemas["ExplainRequest"],
      }),
    );
  },
  show(r: Schemas["Explanation"], out: Output) {
    const d = r.decision;
    out.line(
      `${out.paint("bold", "decision")}: ${d.status} ${d.version ?? "-"} (${d.reason}${d.rollback ? ", rollback" : ""}${d.taskId ? `, task ${d.taskId}` : ""})`,
    );
    out.line(`online ${r.onlineVersion ?? "-"}, listed ${r.listed ? "yes" : "no"}; user: ${r.user.why}`);
    for (const t of r.tasks) {
      out.line(`task ${t.taskId} (${t.version}): ${t.outcome} — ${t.why}`);
      for (const c of t.conditions as { condition: string; pass: boolean; detail?: string }[])
        out.line(
          `  ${c.pass ? out.paint("green", "✓") : out.paint("red", "✗")} ${c.condition}${c.detail ? `: ${c.detail}` : ""}`,
        );
    }
  },
});
