/**
 * Sensitive API permissions (PRODUCT.md X3) and skip domain verification (X2), both faces:
 * the mini program's developer applies with a reason (`apis apply`, `skip-domain apply`); the host
 * app declares its sensitive APIs and its manager (or, for APIs, auditor) approves, rejects or
 * revokes (`host-app ...`). Who may do what is the server's decision; refusals exit 1 as sent.
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { isoTime, type Output } from "../output";
import { type Context, group, register } from "../registry";
import { APP_OPTION, appArg, HOST_APP_OPTION, hostAppArg, REASON_OPTION, type Schemas } from "./common";

type Application = Schemas["Application"];
const STATUSES = ["pending", "approved", "rejected", "revoked"] as const;
type Status = (typeof STATUSES)[number];

function statusArg(ctx: Context): Status | undefined {
  const s = ctx.str("status");
  if (s === undefined) return undefined;
  if (!STATUSES.includes(s as Status)) throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
  return s as Status;
}

const STATUS_OPTION = {
  status: {
    type: "string" as const,
    placeholder: "status",
    description: `only these (${STATUSES.join(", ")})`,
  },
};

const when = (ms: number | null) => (ms === null ? "" : isoTime(ms));

function applicationTable(apps: Application[], out: Output, withApi: boolean) {
  out.table(
    [
      "ID",
      "APP ID",
      "HOST APP",
      ...(withApi ? ["API"] : []),
      "STATUS",
      "REASON",
      "APPLIED",
      "DECIDED",
      "DECISION REASON",
    ],
    apps.map((a) => [
      a.id,
      a.appId,
      a.hostAppId,
      ...(withApi ? [a.apiName ?? ""] : []),
      a.status,
      a.reason,
      `${when(a.appliedAt)} ${a.appliedBy}`,
      a.decidedBy ? `${when(a.decidedAt)} ${a.decidedBy}` : "",
      a.decisionReason ?? "",
    ]),
  );
}

function showApplication(a: Application, out: Output) {
  out.fields([
    ["ID", a.id],
    ["App ID", a.appId],
    ["host app", a.hostAppId],
    ...(a.apiName ? ([["API", a.apiName]] as [string, unknown][]) : []),
    ["status", a.status],
    ["reason", a.reason],
    ["applied", `${isoTime(a.appliedAt)} by ${a.appliedBy}`],
    ["decided", a.decidedBy ? `${when(a.decidedAt)} by ${a.decidedBy}` : null],
    ["decision reason", a.decisionReason],
  ]);
}

const filter = (apps: Application[], status?: Status) =>
  status ? apps.filter((a) => a.status === status) : apps;

// ---- the developer's side ------------------------------------------------------------------------

group("apis", "Sensitive API permissions a mini program applies for, per host app");

register(
  {
    name: "apis apply",
    summary: "Apply for a host app's sensitive API (its manager or auditor decides)",
    positionals: [{ name: "api", required: true, description: "the API's name as the host app declared it" }],
    options: { ...APP_OPTION, ...HOST_APP_OPTION, ...REASON_OPTION },
    examples: [
      'graycast apis apply getLocation --app gc... --host-app ha_demo_superapp --reason "Find the nearest store"',
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const hostAppId = await hostAppArg(ctx);
      const reason = ctx.need("reason");
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/api-applications", {
          params: { path: { appId } },
          body: { hostAppId, apiName: ctx.positionals[0]!, reason },
        }),
      );
    },
    show: showApplication,
  },
  {
    name: "apis list",
    summary: "The mini program's API applications: pending, approved, rejected, revoked, with who and when",
    options: { ...APP_OPTION, ...STATUS_OPTION },
    examples: ["graycast apis list --app gc...", "graycast apis list --app gc... --status approved --json"],
    async run(ctx) {
      const appId = appArg(ctx);
      const status = statusArg(ctx);
      const r = await ok(
        ctx.api().GET("/v1/mini-programs/{appId}/api-applications", { params: { path: { appId } } }),
      );
      return { applications: filter(r.applications, status) };
    },
    show(r: { applications: Application[] }, out: Output) {
      applicationTable(r.applications, out, true);
    },
  },
);

group("skip-domain", "Skip domain verification: a mini program applies per host app with a reason");

register(
  {
    name: "skip-domain apply",
    summary: "Apply to skip the domain check in a host app (its manager decides)",
    options: { ...APP_OPTION, ...HOST_APP_OPTION, ...REASON_OPTION },
    examples: [
      'graycast skip-domain apply --app gc... --host-app ha_demo_superapp --reason "Internal test build"',
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const hostAppId = await hostAppArg(ctx);
      const reason = ctx.need("reason");
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/skip-domain-applications", {
          params: { path: { appId } },
          body: { hostAppId, reason },
        }),
      );
    },
    show: showApplication,
  },
  {
    name: "skip-domain list",
    summary: "The mini program's skip-domain applications, with who and when",
    options: { ...APP_OPTION, ...STATUS_OPTION },
    examples: ["graycast skip-domain list --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      const status = statusArg(ctx);
      const r = await ok(
        ctx.api().GET("/v1/mini-programs/{appId}/skip-domain-applications", { params: { path: { appId } } }),
      );
      return { applications: filter(r.applications, status) };
    },
    show(r: { applications: Application[] }, out: Output) {
      applicationTable(r.applications, out, false);
    },
  },
);

// ---- the host app's side -------------------------------------------------------------------------

group("host-app", "A host app's side: its sensitive APIs and the applications its manager decides");

register(
  {
    name: "host-app apis declare",
    summary: "Declare a sensitive API mini programs must apply for (host app manager)",
    positionals: [{ name: "name", required: true, description: "the API's name as clients call it" }],
    options: {
      ...HOST_APP_OPTION,
      description: {
        type: "string",
        short: "d",
        placeholder: "text",
        description: "what it gives access to",
      },
    },
    examples: [
      'graycast host-app apis declare getLocation --description "The user\'s precise location" --host-app ha_demo_superapp',
    ],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const description = ctx.need("description");
      return ok(
        ctx.api().POST("/v1/host-apps/{hostAppId}/sensitive-apis", {
          params: { path: { hostAppId } },
          body: { name: ctx.positionals[0]!, description },
        }),
      );
    },
    show(a: Schemas["SensitiveApi"], out: Output) {
      out.line(`Declared ${a.name} in ${a.hostAppId}.`);
    },
  },
  {
    name: "host-app apis list",
    summary: "The host app's declared sensitive APIs",
    options: HOST_APP_OPTION,
    examples: ["graycast host-app apis list --host-app ha_demo_superapp"],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      return ok(
        ctx.api().GET("/v1/host-apps/{hostAppId}/sensitive-apis", { params: { path: { hostAppId } } }),
      );
    },
    show(r: { apis: Schemas["SensitiveApi"][] }, out: Output) {
      out.table(
        ["NAME", "DESCRIPTION", "DECLARED"],
        r.apis.map((a) => [a.name, a.description, `${isoTime(a.createdAt)} ${a.createdBy}`]),
      );
    },
  },
  {
    name: "host-app applications list",
    summary: "API applications to the host app (--status pending: the ones to decide)",
    options: { ...HOST_APP_OPTION, ...STATUS_OPTION },
    examples: ["graycast host-app applications list --status pending --host-app ha_demo_superapp"],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const status = statusArg(ctx);
      return ok(
        ctx.api().GET("/v1/host-apps/{hostAppId}/api-applications", {
          params: { path: { hostAppId }, query: status ? { status } : {} },
        }),
      );
    },
    show(r: { applications: Application[] }, out: Output) {
      applicationTable(r.applications, out, true);
    },
  },
);

const DECISIONS = {
  approve: "Approve an API application: the mini program may call the API in this host app",
  reject: "Reject an API application, with a reason",
  revoke: "Revoke an approved API application, with a reason: clients lose the API",
} as const;

for (const decision of ["approve", "reject", "revoke"] as const)
  register({
    name: `host-app applications ${decision}`,
    summary: DECISIONS[decision],
    destructive: decision === "revoke",
    positionals: [{ name: "applicationId", required: true, description: "the application (see the list)" }],
    options: { ...HOST_APP_OPTION, ...REASON_OPTION },
    examples: [
      decision === "approve"
        ? "graycast host-app applications approve apa_123 --host-app ha_demo_superapp"
        : `graycast host-app applications ${decision} apa_123 --reason "Not needed for this feature"${decision === "revoke" ? " --yes" : ""}`,
    ],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const applicationId = ctx.positionals[0]!;
      const reason = ctx.str("reason");
      if (
        decision === "revoke" &&
        !(await ctx.confirm(`Revoke application ${applicationId}? The mini program loses the API at once.`))
      )
        return CANCELLED;
      return ok(
        ctx.api().POST("/v1/host-apps/{hostAppId}/api-applications/{applicationId}/{decision}", {
          params: { path: { hostAppId, applicationId, decision } },
          body: reason === undefined ? {} : { reason },
        }),
      );
    },
    show: showApplication,
  });

register({
  name: "host-app skip-domain list",
  summary: "Skip-domain applications to the host app",
  options: { ...HOST_APP_OPTION, ...STATUS_OPTION },
  examples: ["graycast host-app skip-domain list --status pending --host-app ha_demo_superapp"],
  async run(ctx) {
    const hostAppId = await hostAppArg(ctx);
    const status = statusArg(ctx);
    return ok(
      ctx.api().GET("/v1/host-apps/{hostAppId}/skip-domain-applications", {
        params: { path: { hostAppId }, query: status ? { status } : {} },
      }),
    );
  },
  show(r: { applications: Application[] }, out: Output) {
    applicationTable(r.applications, out, false);
  },
});

for (const decision of ["approve", "reject"] as const)
  register({
    name: `host-app skip-domain ${decision}`,
    summary:
      decision === "approve"
        ? "Approve a skip-domain application: the mini program skips the domain check in this host app"
        : "Reject a skip-domain application, with a reason",
    positionals: [{ name: "applicationId", required: true, description: "the application (see the list)" }],
    options: { ...HOST_APP_OPTION, ...REASON_OPTION },
    examples: [
      decision === "approve"
        ? "graycast host-app skip-domain approve sda_123 --host-app ha_demo_superapp"
        : 'graycast host-app skip-domain reject sda_123 --reason "Use the listed domains"',
    ],
    async run(ctx) {
      const hostAppId = await hostAppArg(ctx);
      const reason = ctx.str("reason");
      return ok(
        ctx.api().POST("/v1/host-apps/{hostAppId}/skip-domain-applications/{applicationId}/{decision}", {
          params: { path: { hostAppId, applicationId: ctx.positionals[0]!, decision } },
          body: reason === undefined ? {} : { reason },
        }),
      );
    },
    show: showApplication,
  });
