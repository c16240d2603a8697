/** apps list|create|show|edit|delist|relist, bind / unbind / bindings. */
import { appIdOf } from "../api/app-id";
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import type { Output } from "../output";
import { group, register } from "../registry";
import { APP_OPTION, appArg, hostAppArg, type Schemas, teamArg } from "./common";

group("apps", "Mini programs: list, create, show, edit, take off and put back on the shelf");

const TEAM_OPTION = {
  team: { type: "string" as const, placeholder: "teamId", description: "the team (default: your only team)" },
};

type MiniProgram = Schemas["MiniProgram"];

function showApp(r: MiniProgram, out: Output) {
  out.fields([
    ["App ID", appIdOf(r)],
    ["name", r.name],
    ["team", r.teamId],
    ["listed", r.listed ? "yes" : out.paint("yellow", "no (delisted)")],
    ["online version", r.onlineVersion],
    ["bindings", r.bindings.map((b) => `${b.hostAppId} (${b.hostAppName}): ${b.status}`).join(", ") || "-"],
    ["created", r.createdAt],
  ]);
}

register(
  {
    name: "apps list",
    summary: "List the mini programs you can see",
    options: TEAM_OPTION,
    examples: ["graycast apps list", "graycast apps list --team team_demo_acme --json"],
    async run(ctx) {
      const teamId = ctx.str("team");
      const r = await ok(ctx.api().GET("/v1/mini-programs", { params: { query: teamId ? { teamId } : {} } }));
      // Every mini program carries `appId` in the CLI's JSON, whatever the answer named it.
      return { miniPrograms: r.miniPrograms.map((m) => ({ ...m, appId: appIdOf(m) })) };
    },
    show(r: { miniPrograms: Schemas["MiniProgramSummary"][] }, out: Output) {
      out.table(
        ["APP ID", "NAME", "TEAM", "LISTED", "UPDATED"],
        r.miniPrograms.map((m) => [appIdOf(m), m.name, m.teamId, m.listed ? "yes" : "no", m.updatedAt]),
      );
    },
  },
  {
    name: "apps create",
    summary: "Create a mini program; prints its App ID",
    options: {
      ...TEAM_OPTION,
      name: {
        type: "string",
        short: "n",
        placeholder: "name",
        description: "its name (at most 60 characters)",
      },
      description: { type: "string", placeholder: "text", description: "what it is" },
    },
    examples: [
      'graycast apps create --name "Demo Mall"',
      'APP=$(graycast apps create --team team_demo_acme --name "Demo Mall" --json | jq -r .appId)',
    ],
    async run(ctx) {
      const name = ctx.need("name");
      const teamId = await teamArg(ctx);
      const description = ctx.str("description");
      // `description` is accepted by the API although the document's schema omits it for now.
      const body = { teamId, name, ...(description !== undefined ? { description } : {}) };
      return ok(ctx.api().POST("/v1/mini-programs", { body }));
    },
    show(r: MiniProgram, out: Output) {
      out.note(`${out.paint("green", "Created", true)} ${r.name}`);
      showApp(r, out);
    },
  },
  {
    name: "apps show",
    summary: "Show a mini program: name, shelf, online version, bindings",
    positionals: [{ name: "appId", description: "the App ID (default: --app or GRAYCAST_APP)" }],
    options: APP_OPTION,
    examples: ["graycast apps show gcaaaabbbbccccddddeeeeff", "GRAYCAST_APP=gc... graycast apps show --json"],
    async run(ctx) {
      const appId = appArg(ctx, ctx.positionals[0]);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}", { params: { path: { appId } } }));
    },
    show: showApp,
  },
  {
    name: "apps edit",
    summary: "Rename a mini program",
    positionals: [{ name: "appId", description: "the App ID (default: --app or GRAYCAST_APP)" }],
    options: {
      ...APP_OPTION,
      name: { type: "string", short: "n", placeholder: "name", description: "the new name" },
    },
    examples: ['graycast apps edit gc... --name "Demo Mall Pro"'],
    async run(ctx) {
      const appId = appArg(ctx, ctx.positionals[0]);
      const name = ctx.need("name");
      return ok(
        ctx.api().PATCH("/v1/mini-programs/{appId}", { params: { path: { appId } }, body: { name } }),
      );
    },
    show: showApp,
  },
  {
    name: "apps delist",
    summary: "Take a mini program off the shelf: clients are told it is delisted",
    destructive: true,
    positionals: [{ name: "appId", description: "the App ID (default: --app or GRAYCAST_APP)" }],
    options: APP_OPTION,
    examples: ["graycast apps delist gc... --yes"],
    async run(ctx) {
      const appId = appArg(ctx, ctx.positionals[0]);
      if (!(await ctx.confirm(`Delist ${appId}? Every client will be told it is off the shelf.`)))
        return CANCELLED;
      return ok(
        ctx
          .api()
          .PUT("/v1/mini-programs/{appId}/shelf", { params: { path: { appId } }, body: { listed: false } }),
      );
    },
    show: showApp,
  },
  {
    name: "apps relist",
    summary: "Put a delisted mini program back on the shelf",
    positionals: [{ name: "appId", description: "the App ID (default: --app or GRAYCAST_APP)" }],
    options: APP_OPTION,
    examples: ["graycast apps relist gc..."],
    async run(ctx) {
      const appId = appArg(ctx, ctx.positionals[0]);
      return ok(
        ctx
          .api()
          .PUT("/v1/mini-programs/{appId}/shelf", { params: { path: { appId } }, body: { listed: true } }),
      );
    },
    show: showApp,
  },
);

const HOST_APP_OPTION = {
  "host-app": { type: "string" as const, placeholder: "hostAppId", description: "the host app" },
};

register(
  {
    name: "bind",
    summary: "Ask a host app to carry a mini program (its manager approves)",
    options: { ...APP_OPTION, ...HOST_APP_OPTION },
    examples: ["graycast bind --app gc... --host-app ha_demo_superapp"],
    async run(ctx) {
      const appId = appArg(ctx);
      const hostAppId = ctx.need("host-app");
      const r = await ok(
        ctx
          .api()
          .POST("/v1/mini-programs/{appId}/bindings", { params: { path: { appId } }, body: { hostAppId } }),
      );
      return { ...r, appId: appIdOf(r) };
    },
  },
  {
    name: "unbind",
    summary: "Remove a mini program's binding to a host app (team admins)",
    destructive: true,
    options: { ...APP_OPTION, ...HOST_APP_OPTION },
    examples: ["graycast unbind --app gc... --host-app ha_demo_superapp --yes"],
    async run(ctx) {
      const appId = appArg(ctx);
      const hostAppId = ctx.need("host-app");
      if (!(await ctx.confirm(`Unbind ${appId} from ${hostAppId}? Its users there lose it.`)))
        return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/mini-programs/{appId}/bindings/{hostAppId}", {
          params: { path: { appId, hostAppId } },
        }),
      );
      return { appId, hostAppId, unbound: true };
    },
  },
  {
    name: "bindings",
    summary: "A mini program's bindings (--app), or a host app's binding requests (--host-app)",
    details:
      "Host app managers decide with `graycast bindings approve <appId>` and `graycast bindings reject <appId>`.",
    options: {
      ...APP_OPTION,
      ...HOST_APP_OPTION,
      status: {
        type: "string",
        placeholder: "status",
        description: "with --host-app: pending, approved or rejected",
      },
    },
    examples: [
      "graycast bindings --app gc...",
      "graycast bindings --host-app ha_demo_superapp --status pending",
    ],
    async run(ctx) {
      const hostAppId = ctx.str("host-app");
      if (hostAppId) {
        const status = ctx.str("status");
        if (status !== undefined && !["pending", "approved", "rejected"].includes(status))
          throw new UsageError("--status must be pending, approved or rejected");
        const r = await ok(
          ctx.api().GET("/v1/host-apps/{hostAppId}/bindings", {
            params: { path: { hostAppId }, query: status ? { status: status as "pending" } : {} },
          }),
        );
        return {
          bindings: r.bindings.map((b) => ({
            appId: appIdOf(b),
            name: b.name,
            hostAppId,
            status: b.status,
            createdAt: b.createdAt,
            decidedAt: b.decidedAt,
          })),
        };
      }
      const appId = appArg(ctx);
      const app = await ok(ctx.api().GET("/v1/mini-programs/{appId}", { params: { path: { appId } } }));
      return {
        bindings: app.bindings.map((b) => ({
          appId,
          name: b.hostAppName,
          hostAppId: b.hostAppId,
          status: b.status,
          createdAt: b.createdAt,
          decidedAt: b.decidedAt,
        })),
      };
    },
    show(
      r: {
        bindings: { appId: string; name: string; hostAppId: string; status: string; createdAt: number }[];
      },
      out: Output,
    ) {
      out.table(
        ["APP ID", "HOST APP", "NAME", "STATUS", "REQUESTED"],
        r.bindings.map((b) => [b.appId, b.hostAppId, b.name, b.status, b.createdAt]),
      );
    },
  },
);

for (const decision of ["approve", "reject"] as const)
  register({
    name: `bindings ${decision}`,
    summary: `${decision === "approve" ? "Approve" : "Reject"} a mini program's binding request (host app managers)`,
    positionals: [{ name: "appId", required: true, description: "the mini program asking" }],
    options: {
      "host-app": {
        type: "string",
        placeholder: "hostAppId",
        description: "your host app (default: your only one)",
      },
    },
    examples: [`graycast bindings ${decision} gc... --host-app ha_demo_superapp`],
    async run(ctx) {
      const appId = appArg(ctx, ctx.positionals[0]);
      const hostAppId = await hostAppArg(ctx);
      const r = await ok(
        ctx.api().POST("/v1/host-apps/{hostAppId}/bindings/{appId}/{decision}", {
          params: { path: { hostAppId, appId, decision } },
        }),
      );
      return { ...r, appId: appIdOf(r) };
    },
  });
