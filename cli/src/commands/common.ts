/** Options and look-ups several commands share. */
import type { components } from "../api/admin-api";
import { ok } from "../api/client";
import { UsageError } from "../errors";
import type { Context, OptionSpec } from "../registry";

export type Schemas = components["schemas"];

export const APP_OPTION: Record<string, OptionSpec> = {
  app: {
    type: "string",
    short: "a",
    placeholder: "appId",
    description: "the mini program's App ID (default: GRAYCAST_APP)",
  },
};

export const VERSION_OPTION: Record<string, OptionSpec> = {
  version: { type: "string", short: "v", placeholder: "x.y.z", description: "the version" },
};

const APP_ID = /^gc[a-z2-7]{16,40}$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** --app, else GRAYCAST_APP, else the first positional when `positional` says so. */
export function appArg(ctx: Context, positional?: string): string {
  const value = positional ?? ctx.str("app") ?? ctx.streams.env.GRAYCAST_APP;
  if (!value) throw new UsageError("which mini program? give --app <appId> (or set GRAYCAST_APP)");
  if (!APP_ID.test(value)) throw new UsageError(`${JSON.stringify(value)} is not an App ID (gc...)`);
  return value;
}

export function versionArg(ctx: Context, name = "version"): string {
  const value = ctx.need(name);
  if (!SEMVER.test(value) || value.length > 20)
    throw new UsageError(`${JSON.stringify(value)} is not a version MAJOR.MINOR.PATCH (e.g. 1.2.0)`);
  return value;
}

export async function me(ctx: Context): Promise<Schemas["Me"]> {
  return ok(ctx.api().GET("/v1/auth/me"));
}

/** --team, else the user's only team. */
export async function teamArg(ctx: Context): Promise<string> {
  const given = ctx.str("team");
  if (given) return given;
  const { teams } = await me(ctx);
  if (teams.length === 1) return teams[0]!.id;
  throw new UsageError(
    teams.length
      ? `you are in ${teams.length} teams; give --team (${teams.map((t) => t.id).join(", ")})`
      : "you are in no team; give --team",
  );
}

/** --host-app, else the user's only host app. */
export async function hostAppArg(ctx: Context, name = "host-app"): Promise<string> {
  const given = ctx.str(name);
  if (given) return given;
  const { hostApps } = await me(ctx);
  if (hostApps.length === 1) return hostApps[0]!.id;
  throw new UsageError(
    hostApps.length
      ? `you are in ${hostApps.length} host apps; give --${name} (${hostApps.map((h) => h.id).join(", ")})`
      : `give --${name}`,
  );
}

export function intArg(ctx: Context, name: string): number | undefined {
  const v = ctx.str(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number`);
  return Number(v);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
