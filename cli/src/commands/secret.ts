/**
 * The AppSecret of a mini program (PRODUCT.md X5; README "AppSecret, login and the server API"):
 * status, generate and reset (the secret is printed once, on stdout alone), freeze, unfreeze.
 * Team admins only, as the server decides.
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import type { Output } from "../output";
import { group, register } from "../registry";
import { APP_OPTION, appArg, type Schemas } from "./common";

group("secret", "A mini program's AppSecret (team admins): its back end's credential for the server API");

type Status = Schemas["AppSecretStatus"];

function showStatus(s: Status, out: Output) {
  out.fields([
    ["App ID", s.appId],
    ["AppSecret", s.exists ? `exists (ends ${s.hint ?? "?"}, generation ${s.generation})` : "none"],
    [
      "frozen",
      s.frozen ? out.paint("yellow", `yes (since ${new Date(s.frozenAt ?? 0).toISOString()})`) : "no",
    ],
    ["created", s.createdAt],
    ["reset", s.resetAt],
  ]);
}

/** The new secret alone on stdout (for a secret store), what it is on stderr. */
function showNew(s: Schemas["NewAppSecret"], out: Output) {
  out.note(`AppSecret generation ${s.generation} for ${s.appId}. It is shown once; store it now:`);
  out.line(s.secret);
}

register(
  {
    name: "secret show",
    summary: "Whether the AppSecret exists, its last characters, frozen or not (never the secret)",
    options: APP_OPTION,
    examples: ["graycast secret show --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/secret", { params: { path: { appId } } }));
    },
    show: showStatus,
  },
  {
    name: "secret generate",
    summary: "Make the first AppSecret; printed once, on stdout only",
    options: APP_OPTION,
    examples: [
      "graycast secret generate --app gc... --profile lead",
      "graycast secret generate --app gc... --json | jq -r .secret   # into your secret store",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().POST("/v1/mini-programs/{appId}/secret/generate", { params: { path: { appId } } }));
    },
    show: showNew,
  },
  {
    name: "secret reset",
    summary: "Replace the AppSecret: the old one stops working at once; the new one is printed once",
    destructive: true,
    options: APP_OPTION,
    examples: ["graycast secret reset --app gc... --yes --json | jq -r .secret"],
    async run(ctx) {
      const appId = appArg(ctx);
      if (
        !(await ctx.confirm(
          `Reset the AppSecret of ${appId}? Its back end's current secret stops working at once.`,
        ))
      )
        return CANCELLED;
      return ok(ctx.api().POST("/v1/mini-programs/{appId}/secret/reset", { params: { path: { appId } } }));
    },
    show: showNew,
  },
  {
    name: "secret freeze",
    summary: "Freeze the AppSecret: every server API call with it is refused until unfrozen",
    destructive: true,
    options: APP_OPTION,
    examples: ["graycast secret freeze --app gc... --yes"],
    async run(ctx) {
      const appId = appArg(ctx);
      if (
        !(await ctx.confirm(
          `Freeze the AppSecret of ${appId}? Its back end's logins fail until it is unfrozen.`,
        ))
      )
        return CANCELLED;
      return ok(ctx.api().POST("/v1/mini-programs/{appId}/secret/freeze", { params: { path: { appId } } }));
    },
    show: showStatus,
  },
  {
    name: "secret unfreeze",
    summary: "Unfreeze the AppSecret",
    options: APP_OPTION,
    examples: ["graycast secret unfreeze --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().POST("/v1/mini-programs/{appId}/secret/unfreeze", { params: { path: { appId } } }));
    },
    show: showStatus,
  },
);
