/**
 * Switch configuration (PRODUCT.md D5; docs/runtime-config.md "Switches") and the runtime-config
 * preview: typed key/value pairs for every host app or one, for every user or one grayscale task's
 * users; `config` shows what a client of a host app (and task) receives.
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { isoTime, type Output } from "../output";
import { type Context, group, register } from "../registry";
import { APP_OPTION, appArg, hostAppArg, type Schemas } from "./common";

group("switches", "Switch configuration: typed key/value pairs per host app and grayscale task");

type Switch = Schemas["Switch"];
type SwitchType = Switch["type"];
const TYPES: SwitchType[] = ["string", "number", "boolean", "json"];

const SCOPE_OPTIONS = {
  "host-app": {
    type: "string" as const,
    placeholder: "hostAppId",
    description: "only in this host app (default: every host app)",
  },
  task: {
    type: "string" as const,
    placeholder: "taskId",
    description: "only for this grayscale task's users (default: every user)",
  },
};

/** The value as its type: the server checks the limits, the CLI only reads the words. */
export function typedValue(type: SwitchType, text: string): unknown {
  switch (type) {
    case "string":
      return text;
    case "number": {
      const n = text.trim() === "" ? Number.NaN : Number(text);
      if (!Number.isFinite(n)) throw new UsageError(`${JSON.stringify(text)} is not a number`);
      return n;
    }
    case "boolean":
      if (text === "true") return true;
      if (text === "false") return false;
      throw new UsageError(`${JSON.stringify(text)} is not a boolean (true or false)`);
    case "json":
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new UsageError(`the value is not JSON: ${(error as Error).message}`);
      }
  }
}

function typeArg(ctx: Context): SwitchType {
  const t = ctx.need("type", TYPES.join(" | "));
  if (!TYPES.includes(t as SwitchType)) throw new UsageError(`--type must be one of ${TYPES.join(", ")}`);
  return t as SwitchType;
}

const scope = (s: { hostAppId: string | null; taskId: string | null }) =>
  [
    s.hostAppId ? `host app ${s.hostAppId}` : "every host app",
    s.taskId ? `task ${s.taskId}` : "every user",
  ].join(", ");

register(
  {
    name: "switches list",
    summary: "List every switch row: key, type, value and where it applies",
    options: APP_OPTION,
    examples: [
      "graycast switches list --app gc...",
      "graycast switches list --app gc... --json | jq '.switches[].key'",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/switches", { params: { path: { appId } } }));
    },
    show(r: { switches: Switch[]; limit: number }, out: Output) {
      out.table(
        ["KEY", "TYPE", "VALUE", "HOST APP", "TASK", "UPDATED"],
        r.switches.map((s) => [
          s.key,
          s.type,
          JSON.stringify(s.value),
          s.hostAppId ?? "*",
          s.taskId ?? "*",
          `${isoTime(s.updatedAt)} ${s.updatedBy}`,
        ]),
      );
      out.note(`${r.switches.length} of at most ${r.limit} rows.`);
    },
  },
  {
    name: "switches set",
    summary: "Set a switch (for every host app and user, or one host app, or one grayscale task's users)",
    positionals: [
      { name: "key", required: true, description: "a letter, then letters, digits, _ . or -" },
      { name: "value", required: true, description: "read as --type says (json: a JSON text)" },
    ],
    options: {
      ...APP_OPTION,
      type: { type: "string", short: "t", placeholder: TYPES.join("|"), description: "the value's type" },
      ...SCOPE_OPTIONS,
    },
    details:
      "A client gets, per key, the most specific row: task and host app > task > host app > every one.\n" +
      "A value starting with '-' goes last, after '--' (see the last example).",
    examples: [
      'graycast switches set banner "Winter sale" --type string --app gc...',
      "graycast switches set maxItems 20 --type number --host-app ha_demo_superapp --app gc...",
      "graycast switches set newCheckout true --type boolean --task gt_123 --app gc...",
      `graycast switches set theme '{"dark":true}' --type json --app gc... --json`,
      "graycast switches set offset --type number --app gc... -- -5",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const type = typeArg(ctx);
      const [key, text] = ctx.positionals as [string, string];
      const hostAppId = ctx.str("host-app");
      const taskId = ctx.str("task");
      return ok(
        ctx.api().PUT("/v1/mini-programs/{appId}/switches/{key}", {
          params: { path: { appId, key } },
          body: {
            type,
            value: typedValue(type, text),
            ...(hostAppId ? { hostAppId } : {}),
            ...(taskId ? { taskId } : {}),
          },
        }),
      );
    },
    show(s: Switch, out: Output) {
      out.line(`${s.key} = ${JSON.stringify(s.value)} (${s.type}; ${scope(s)})`);
    },
  },
  {
    name: "switches unset",
    summary: "Remove one switch row (the one for --host-app / --task, else the one for everyone)",
    destructive: true,
    positionals: [{ name: "key", required: true, description: "the switch" }],
    options: { ...APP_OPTION, ...SCOPE_OPTIONS },
    examples: [
      "graycast switches unset banner --app gc... --yes",
      "graycast switches unset newCheckout --task gt_123 --app gc... --yes",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const key = ctx.positionals[0]!;
      const hostAppId = ctx.str("host-app") ?? null;
      const taskId = ctx.str("task") ?? null;
      if (!(await ctx.confirm(`Remove the switch ${key} (${scope({ hostAppId, taskId })}) of ${appId}?`)))
        return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/mini-programs/{appId}/switches/{key}", {
          params: {
            path: { appId, key },
            query: { ...(hostAppId ? { hostAppId } : {}), ...(taskId ? { taskId } : {}) },
          },
        }),
      );
      return { appId, key, hostAppId, taskId, removed: true };
    },
    show(r: { key: string; hostAppId: string | null; taskId: string | null }, out: Output) {
      out.line(`Removed ${r.key} (${scope(r)}).`);
    },
  },
);

group("config", "The runtime config a host app's clients receive (signed at the edge)");

register({
  name: "config",
  summary:
    "Preview the runtime config of a host app (and a grayscale task): domains, APIs, privacy, switches",
  options: {
    ...APP_OPTION,
    "host-app": {
      type: "string",
      placeholder: "hostAppId",
      description: "the host app (default: your only one)",
    },
    task: { type: "string", placeholder: "taskId", description: "as that grayscale task's users get it" },
  },
  examples: [
    "graycast config --app gc... --host-app ha_demo_superapp",
    "graycast config --app gc... --host-app ha_demo_superapp --task gt_123 --json | jq .switches",
  ],
  async run(ctx) {
    const appId = appArg(ctx);
    const hostAppId = await hostAppArg(ctx);
    const taskId = ctx.str("task");
    return ok(
      ctx.api().GET("/v1/mini-programs/{appId}/runtime-config", {
        params: { path: { appId }, query: { hostAppId, ...(taskId ? { taskId } : {}) } },
      }),
    );
  },
  show(c: Schemas["RuntimeConfigPreview"], out: Output) {
    const list = (v: string[] | undefined) => (v?.length ? v.join(", ") : "(none)");
    out.fields([
      ["config revision", c.configRevision],
      ["snapshot revision", c.revision],
      ...Object.entries(c.domains).map(([k, v]) => [`domains ${k}`, list(v)] as [string, unknown]),
      ["skip domain check", c.skipDomainCheck ? "yes" : "no"],
      ["APIs", list(c.apis)],
      ["privacy", c.privacy ? `version ${c.privacy.version} ${c.privacy.url}` : "(none published)"],
      ["trial page", c.trialPagePath],
      ...(c.taskId ? ([["task", c.taskId]] as [string, unknown][]) : []),
    ]);
    const switches = Object.entries(c.switches);
    if (switches.length)
      out.table(
        ["SWITCH", "TYPE", "VALUE"],
        switches.map(([k, s]) => [k, s.type, JSON.stringify(s.value)]),
      );
  },
});
