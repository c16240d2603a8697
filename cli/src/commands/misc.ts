/** increments, offline download, keys (developer signing keys), log (the change log). */
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { ok, refusal } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { formatBytes, type Output } from "../output";
import { group, register } from "../registry";
import { APP_OPTION, appArg, hostAppArg, intArg, me, type Schemas, teamArg } from "./common";

group("increments", "Increment packages (deltas between versions) built for clients");

register(
  {
    name: "increments",
    summary: "List the increments built from earlier versions to newer ones",
    options: APP_OPTION,
    examples: ["graycast increments --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      return ok(ctx.api().GET("/v1/mini-programs/{appId}/increments", { params: { path: { appId } } }));
    },
    show(r: { increments: Schemas["Increment"][] }, out: Output) {
      out.table(
        ["ID", "FROM", "TO", "STATUS", "SIZE", "FULL", "SHARE", "ATTEMPTS", "DETAIL"],
        r.increments.map((i) => [
          i.id,
          i.fromVersion,
          i.toVersion,
          i.status,
          i.size === null ? "" : formatBytes(i.size),
          formatBytes(i.fullSize),
          i.share === null ? "" : `${Math.round(i.share * 100)}%`,
          i.attempts,
          i.detail,
        ]),
      );
    },
  },
  {
    name: "increments retry",
    summary: "Build a failed increment again",
    positionals: [{ name: "incrementId", required: true, description: "the increment" }],
    options: APP_OPTION,
    examples: ["graycast increments retry inc_123 --app gc..."],
    async run(ctx) {
      const appId = appArg(ctx);
      const incrementId = ctx.positionals[0]!;
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/increments/{incrementId}/retry", {
          params: { path: { appId, incrementId } },
        }),
      );
    },
  },
);

group("offline", "Offline packages (.apkg) a host app ships preinstalled");

register({
  name: "offline download",
  summary: "Download the online version as an offline package (.apkg) for a host app",
  options: {
    ...APP_OPTION,
    "host-app": {
      type: "string",
      placeholder: "hostAppId",
      description: "the host app that ships it (default: your only one)",
    },
    output: {
      type: "string",
      short: "o",
      placeholder: "file",
      description: "where to write it (default: the server's file name)",
    },
    force: { type: "boolean", description: "overwrite an existing file" },
  },
  examples: ["graycast offline download --app gc... --host-app ha_demo_superapp -o demo.apkg"],
  async run(ctx) {
    const appId = appArg(ctx);
    const hostAppId = await hostAppArg(ctx);
    const { data, error, response } = await ctx.api().GET("/v1/mini-programs/{appId}/offline-package", {
      params: { path: { appId }, query: { hostAppId } },
      parseAs: "arrayBuffer",
    });
    if (!response.ok) throw refusal(response.status, error);
    const bytes = new Uint8Array(data as unknown as ArrayBuffer);
    const named = /filename="?([^";]+)"?/.exec(response.headers.get("content-disposition") ?? "")?.[1];
    const file = ctx.str("output") ?? (named && !/[\\/]/.test(named) ? named : `${appId}.apkg`);
    if (existsSync(file) && !ctx.flag("force"))
      throw new UsageError(`${file} exists; pass --force to overwrite it`);
    writeFileSync(file, bytes);
    return { appId, hostAppId, file, size: bytes.byteLength };
  },
  show(r: { file: string; size: number }, out: Output) {
    out.line(`Wrote ${r.file} (${formatBytes(r.size)})`);
  },
});

group("keys", "Developer signing keys: a team with an active key only accepts signed uploads");

const TEAM_OPTION = {
  team: { type: "string" as const, placeholder: "teamId", description: "the team (default: your only team)" },
};
type SigningKey = Schemas["SigningKey"];

function keyTable(keys: SigningKey[], out: Output) {
  out.table(
    ["ID", "NAME", "ALG", "STATUS", "THUMBPRINT", "CREATED", "REVOKED"],
    keys.map((k) => [k.id, k.name, k.alg, k.status, k.thumbprint, k.createdAt, k.revokedAt]),
  );
}

register(
  {
    name: "keys list",
    summary: "List the team's signing keys",
    options: TEAM_OPTION,
    examples: ["graycast keys list --team team_demo_acme"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      return ok(ctx.api().GET("/v1/teams/{teamId}/signing-keys", { params: { path: { teamId } } }));
    },
    show: (r: { keys: SigningKey[] }, out: Output) => keyTable(r.keys, out),
  },
  {
    name: "keys generate",
    summary: "Make a developer key pair in a file (mode 0600); prints only the public JWK",
    options: {
      out: {
        type: "string",
        placeholder: "file",
        description: "where to write {alg, private, public} (never overwritten)",
      },
      alg: { type: "string", placeholder: "alg", description: "EdDSA (default) or ES256" },
    },
    noAuth: true,
    examples: [
      "graycast keys generate --out dev-key.json",
      "graycast keys generate --out dev-key.json --alg ES256",
    ],
    async run(ctx) {
      const file = ctx.need("out");
      const alg = ctx.str("alg") ?? "EdDSA";
      if (alg !== "EdDSA" && alg !== "ES256") throw new UsageError("--alg must be EdDSA or ES256");
      if (existsSync(file)) throw new UsageError(`${file} exists; a key file is never overwritten`);
      const { privateKey } =
        alg === "EdDSA" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
      const priv = privateKey.export({ format: "jwk" }) as Record<string, string>;
      const { d: _d, ...pub } = priv;
      writeFileSync(file, `${JSON.stringify({ alg, private: priv, public: pub }, null, 2)}\n`, {
        mode: 0o600,
        flag: "wx",
      });
      return { file, alg, public: pub };
    },
  },
  {
    name: "keys add",
    summary: "Register a public key for the team (team admins)",
    options: {
      ...TEAM_OPTION,
      name: { type: "string", placeholder: "name", description: "what it is for" },
      key: {
        type: "string",
        placeholder: "file",
        description: "a public JWK, or a file from `keys generate` (only its public half is sent)",
      },
    },
    examples: ["graycast keys add --name ci --key dev-key.json"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      const file = ctx.need("key");
      let jwk: Record<string, unknown>;
      try {
        const parsed = JSON.parse(readFileSync(file, "utf8")) as { public?: Record<string, unknown> };
        jwk = parsed.public ?? (parsed as Record<string, unknown>);
      } catch (error) {
        throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
      }
      // Never the private half: "d" is dropped even from a private JWK given by mistake.
      const { d: _d, ...publicJwk } = jwk;
      return ok(
        ctx.api().POST("/v1/teams/{teamId}/signing-keys", {
          params: { path: { teamId } },
          body: { name: ctx.need("name"), jwk: publicJwk as Schemas["RegisterSigningKey"]["jwk"] },
        }),
      );
    },
    show(k: SigningKey, out: Output) {
      out.line(
        `Registered ${k.alg} key ${out.paint("bold", k.id)} (${k.name}); sign uploads with --sign-key FILE --key-id ${k.id}`,
      );
    },
  },
  {
    name: "keys revoke",
    summary: "Revoke a signing key (it can never be registered again)",
    destructive: true,
    positionals: [{ name: "keyId", required: true, description: "the key (sk_...)" }],
    options: TEAM_OPTION,
    examples: ["graycast keys revoke sk_abcdefghijklmnop --yes"],
    async run(ctx) {
      const teamId = await teamArg(ctx);
      const keyId = ctx.positionals[0]!;
      if (
        !(await ctx.confirm(`Revoke signing key ${keyId}? Uploads signed with it are refused from now on.`))
      )
        return CANCELLED;
      return ok(
        ctx
          .api()
          .POST("/v1/teams/{teamId}/signing-keys/{keyId}/revoke", { params: { path: { teamId, keyId } } }),
      );
    },
  },
);

register({
  name: "log",
  summary: "The change log: who changed what, newest first",
  options: {
    ...TEAM_OPTION,
    limit: { type: "string", placeholder: "n", description: "how many entries (default: the server's)" },
    before: {
      type: "string",
      placeholder: "ms",
      description: "entries before this time, epoch ms (the next page: the last entry's `at`)",
    },
    app: {
      type: "string",
      short: "a",
      placeholder: "appId",
      description: "only entries about this mini program",
    },
  },
  examples: ["graycast log --limit 20", "graycast log --team team_demo_acme --json | jq '.entries[].action'"],
  async run(ctx) {
    // A platform admin sees every team's entries; anyone else reads their team's (--team, or their only one).
    const teamId = ctx.str("team") ?? ((await me(ctx)).isPlatformAdmin ? undefined : await teamArg(ctx));
    const before = intArg(ctx, "before");
    const limit = intArg(ctx, "limit");
    const r = await ok(
      ctx.api().GET("/v1/change-log", {
        params: {
          query: {
            ...(teamId ? { teamId } : {}),
            ...(before !== undefined ? { before } : {}),
            ...(limit !== undefined ? { limit } : {}),
          },
        },
      }),
    );
    const app = ctx.str("app");
    return app
      ? { entries: r.entries.filter((e) => e.targetId === app || JSON.stringify(e.detail).includes(app)) }
      : r;
  },
  show(r: { entries: Schemas["ChangeLogEntry"][] }, out: Output) {
    out.table(
      ["AT", "ACTOR", "ACTION", "TARGET", "DETAIL"],
      r.entries.map((e) => [e.at, e.actorId, e.action, `${e.targetType} ${e.targetId}`, e.detail]),
    );
  },
});
