/**
 * A team's notification webhook (issue 15: "the team is notified in the change log and, if
 * configured, a webhook"): show, set (URL and events), rotate the signing secret, remove, and the
 * notifications that failed their last try. Team admins only, as the server decides. A new secret
 * is printed once, on stdout alone (for a secret store); docs/grayscale.md "Health guardrails".
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import type { Output } from "../output";
import { group, register } from "../registry";
import { intArg, type Schemas, teamArg } from "./common";

group("team", "A team's settings (team admins)");
group("team webhook", "Where the team's events (a guardrail suspended a grayscale task) are POSTed, signed");

const TEAM_OPTION = {
  team: { type: "string" as const, placeholder: "teamId", description: "the team (default: your only team)" },
};
type Hook = Schemas["TeamWebhook"];
type Event = Hook["events"][number];
const EVENTS: readonly Event[] = ["grayscale.guardrail_tripped"];

function showHook(h: Hook, out: Output) {
  if (h.secret !== undefined) {
    out.note(`Signing secret of the webhook of ${h.teamId}. It is shown once; store it now:`);
    out.line(h.secret);
    return;
  }
  out.fields([
    ["team", h.teamId],
    ["URL", h.url],
    ["events", h.events.join(", ")],
    ["secret set", new Date(h.secretSetAt).toISOString()],
    ["updated", `${new Date(h.updatedAt).toISOString()} by ${h.updatedBy}`],
  ]);
}

function eventsArg(given: string | undefined): Event[] | undefined {
  if (given === undefined) return undefined;
  const list = given
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  const unknown = list.filter((e) => !EVENTS.includes(e as Event));
  if (list.length === 0 || unknown.length > 0)
    throw new UsageError(`--events: a comma-separated list of ${EVENTS.join(", ")}`);
  return list as Event[];
}

register(
  {
    name: "team webhook show",
    summary: "The team's notification webhook: URL, events, when its secret was set (never the secret)",
    options: TEAM_OPTION,
    examples: ["graycast team webhook show --team team_demo_acme"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      return ok(ctx.api().GET("/v1/teams/{teamId}/webhook", { params: { path: { teamId } } }));
    },
    show: showHook,
  },
  {
    name: "team webhook set",
    summary: "Set the URL (https) and events; the first time, prints the new signing secret once",
    options: {
      ...TEAM_OPTION,
      url: { type: "string", placeholder: "url", description: "https URL the events are POSTed to" },
      events: {
        type: "string",
        placeholder: "list",
        description: `comma-separated events (default: all: ${EVENTS.join(", ")})`,
      },
    },
    examples: [
      "graycast team webhook set --url https://ops.acme.example/graycast/events",
      "graycast team webhook set --url https://ops.acme.example/hook --events grayscale.guardrail_tripped --json | jq -r .secret",
    ],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      const events = eventsArg(ctx.str("events"));
      return ok(
        ctx.api().PUT("/v1/teams/{teamId}/webhook", {
          params: { path: { teamId } },
          body: { url: ctx.need("url"), ...(events ? { events } : {}), rotateSecret: false },
        }),
      );
    },
    show: showHook,
  },
  {
    name: "team webhook rotate",
    summary: "Make a new signing secret (printed once); the old one stops signing at once",
    destructive: true,
    options: TEAM_OPTION,
    examples: ["graycast team webhook rotate --yes --json | jq -r .secret"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      const current = await ok(ctx.api().GET("/v1/teams/{teamId}/webhook", { params: { path: { teamId } } }));
      if (
        !(await ctx.confirm(
          `Rotate the webhook secret of ${teamId}? Its receiver must switch to the new one.`,
        ))
      )
        return CANCELLED;
      return ok(
        ctx.api().PUT("/v1/teams/{teamId}/webhook", {
          params: { path: { teamId } },
          body: { url: current.url, events: current.events, rotateSecret: true },
        }),
      );
    },
    show: showHook,
  },
  {
    name: "team webhook rm",
    summary: "Remove the webhook: events are no longer POSTed (the change log keeps them)",
    destructive: true,
    options: TEAM_OPTION,
    examples: ["graycast team webhook rm --yes"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      if (!(await ctx.confirm(`Remove the notification webhook of ${teamId}?`))) return CANCELLED;
      return ok(ctx.api().DELETE("/v1/teams/{teamId}/webhook", { params: { path: { teamId } } }));
    },
  },
  {
    name: "team webhook dead-letters",
    summary: "Notifications that failed their last try, newest first",
    options: {
      ...TEAM_OPTION,
      limit: { type: "string", placeholder: "n", description: "how many (1-100, default 50)" },
      cursor: { type: "string", placeholder: "cursor", description: "nextCursor of the previous page" },
    },
    examples: [
      "graycast team webhook dead-letters",
      "graycast team webhook dead-letters --json | jq '.deadLetters[].payload'",
    ],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      const limit = intArg(ctx, "limit");
      const cursor = ctx.str("cursor");
      return ok(
        ctx.api().GET("/v1/teams/{teamId}/webhook/dead-letters", {
          params: {
            path: { teamId },
            query: { ...(limit !== undefined ? { limit } : {}), ...(cursor ? { cursor } : {}) },
          },
        }),
      );
    },
    show(r: Schemas["TeamWebhookDeadLetterPage"], out: Output) {
      out.table(
        ["ID", "EVENT", "TRIES", "LAST ERROR", "FAILED", "URL"],
        r.deadLetters.map((d) => [
          d.id,
          d.type,
          d.attempts,
          d.lastError,
          new Date(d.failedAt).toISOString(),
          d.url,
        ]),
      );
      if (r.nextCursor) out.note(`more: --cursor ${r.nextCursor}`);
    },
  },
);
