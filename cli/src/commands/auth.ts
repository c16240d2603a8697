/** login, logout, whoami, profiles, tokens. Tokens are stored (0600) and never printed. */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { type Credential, DEFAULT_API_URL } from "../config";
import { UsageError } from "../errors";
import { askSecret, type Output, readAll } from "../output";
import { group, register } from "../registry";
import { intArg, me, type Schemas } from "./common";

register({
  name: "login",
  summary: "Log in with email and password (or store an API token) for this profile",
  noAuth: true,
  options: {
    email: { type: "string", short: "e", placeholder: "email", description: "your account's email" },
    "password-stdin": {
      type: "boolean",
      description: "read the password from stdin (else GRAYCAST_PASSWORD, else a prompt)",
    },
    "token-stdin": {
      type: "boolean",
      description: "store an API token read from stdin instead (checked first)",
    },
  },
  details:
    "The session or token is stored in $XDG_CONFIG_HOME/graycast/credentials.json (mode 0600) under the\nprofile; --api-url given here is saved as the profile's server. In CI, set GRAYCAST_TOKEN instead:\nevery command uses it and nothing is stored.",
  examples: [
    "graycast login --email dev@acme.local",
    'echo "$PASSWORD" | graycast login --email dev@acme.local --password-stdin',
    "graycast login --profile staging --api-url https://admin.staging.example.com --email dev@acme.com",
    'echo "$GRAYCAST_TOKEN" | graycast login --token-stdin --profile ci',
  ],
  async run(ctx) {
    const apiUrl = ctx.apiUrl;
    let token: string;
    let credential: Credential;
    if (ctx.flag("token-stdin")) {
      token = (await readAll(ctx.streams.stdin)).trim();
      if (!token) throw new UsageError("no token on stdin");
      const { adminClient } = await import("../api/client");
      const user = await ok(adminClient(apiUrl, token).GET("/v1/auth/me"));
      credential = { token, kind: "api-token", email: user.email, expiresAt: null };
    } else {
      const email = ctx.need("email", "give --email, or use --token-stdin with an API token");
      const password = ctx.flag("password-stdin")
        ? (await readAll(ctx.streams.stdin)).replace(/\r?\n$/, "")
        : (ctx.streams.env.GRAYCAST_PASSWORD ?? (await askSecret(ctx.streams, `Password for ${email}: `)));
      if (!password) throw new UsageError("empty password");
      const session = await ok(ctx.anonymous().POST("/v1/auth/login", { body: { email, password } }));
      token = session.token;
      credential = {
        token,
        kind: "session" as const,
        email: session.user.email,
        expiresAt: session.expiresAt,
      };
    }
    const profiles = ctx.config.read().profiles;
    if (ctx.str("api-url") || !profiles[ctx.profile])
      ctx.config.setProfile(ctx.profile, {
        apiUrl: ctx.str("api-url") ?? profiles[ctx.profile]?.apiUrl ?? apiUrl,
      });
    ctx.config.saveCredential(ctx.profile, credential);
    return {
      profile: ctx.profile,
      apiUrl,
      email: credential.email,
      kind: credential.kind,
      expiresAt: credential.expiresAt,
    };
  },
  show(r: { profile: string; apiUrl: string; email?: string; kind: string }, out: Output) {
    out.line(
      `${out.paint("green", "Logged in")} as ${r.email} on ${r.apiUrl} (profile ${r.profile}, ${r.kind})`,
    );
  },
});

register({
  name: "logout",
  summary: "End this profile's session and forget its credentials",
  noAuth: true,
  examples: ["graycast logout", "graycast logout --profile staging"],
  async run(ctx) {
    const stored = ctx.config.credential(ctx.profile);
    if (!stored) return { profile: ctx.profile, loggedOut: false };
    // A session is ended on the server too; an API token stays valid (revoke it with `tokens revoke`).
    if (stored.kind === "session") {
      const { adminClient } = await import("../api/client");
      try {
        await adminClient(ctx.apiUrl, stored.token).POST("/v1/auth/logout");
      } catch {
        // Offline or expired: the local credentials are removed all the same.
      }
    }
    ctx.config.clearCredential(ctx.profile);
    return { profile: ctx.profile, loggedOut: true };
  },
  show(r: { profile: string; loggedOut: boolean }, out: Output) {
    out.line(r.loggedOut ? `Logged out (profile ${r.profile})` : `Not logged in (profile ${r.profile})`);
  },
});

register({
  name: "whoami",
  summary: "Show who you are on the server, and your teams and host apps",
  examples: ["graycast whoami", "graycast whoami --json | jq -r .email"],
  async run(ctx) {
    const user = await me(ctx);
    return { ...user, profile: ctx.profile, apiUrl: ctx.apiUrl };
  },
  show(r: Schemas["Me"] & { profile: string; apiUrl: string }, out: Output) {
    out.fields([
      ["email", r.email],
      ["name", r.name],
      ["id", r.id],
      ["server", `${r.apiUrl} (profile ${r.profile})`],
      ["platform admin", r.isPlatformAdmin ? "yes" : "no"],
      ["teams", r.teams.map((t) => `${t.id} (${t.name}, ${t.role})`).join(", ") || "-"],
      ["host apps", r.hostApps.map((h) => `${h.id} (${h.name}, ${h.role})`).join(", ") || "-"],
    ]);
  },
});

group("profiles", "Named servers (local, staging, production) and which one is current");

register(
  {
    name: "profiles list",
    summary: "List profiles, their servers and whether they are logged in",
    noAuth: true,
    examples: ["graycast profiles list"],
    async run(ctx) {
      const c = ctx.config.read();
      const names = [...new Set([c.current, ...Object.keys(c.profiles)])];
      return {
        current: c.current,
        profiles: names.map((name) => {
          const cred = ctx.config.credential(name);
          return {
            name,
            apiUrl: c.profiles[name]?.apiUrl ?? DEFAULT_API_URL,
            loggedIn: Boolean(cred),
            email: cred?.email ?? null,
          };
        }),
      };
    },
    show(
      r: {
        current: string;
        profiles: { name: string; apiUrl: string; loggedIn: boolean; email: string | null }[];
      },
      out: Output,
    ) {
      out.table(
        ["", "PROFILE", "SERVER", "LOGGED IN AS"],
        r.profiles.map((p) => [
          p.name === r.current ? "*" : "",
          p.name,
          p.apiUrl,
          p.email ?? (p.loggedIn ? "(token)" : ""),
        ]),
      );
    },
  },
  {
    name: "profiles add",
    summary: "Add or change a profile's server URL",
    noAuth: true,
    positionals: [
      { name: "name", required: true, description: "the profile's name (local, staging, production, ...)" },
    ],
    options: {
      url: { type: "string", placeholder: "url", description: "the admin API's URL" },
      use: { type: "boolean", description: "make it the current profile" },
    },
    examples: [
      "graycast profiles add staging --url https://admin.staging.example.com",
      "graycast profiles add local --url http://127.0.0.1:8788 --use",
    ],
    async run(ctx) {
      const name = ctx.positionals[0]!;
      const url = ctx.need("url");
      const { Config } = await import("../config");
      // Validated as the profile's server the way every command reads it.
      new Config({ ...ctx.streams.env, GRAYCAST_API_URL: undefined }).apiUrl(name, url);
      ctx.config.setProfile(name, { apiUrl: url.replace(/\/+$/, "") }, ctx.flag("use"));
      return { name, apiUrl: url.replace(/\/+$/, ""), current: ctx.flag("use") };
    },
  },
  {
    name: "profiles use",
    summary: "Make a profile the current one",
    noAuth: true,
    positionals: [{ name: "name", required: true, description: "the profile" }],
    examples: ["graycast profiles use production"],
    async run(ctx) {
      ctx.config.useProfile(ctx.positionals[0]!);
      return { current: ctx.positionals[0] };
    },
  },
  {
    name: "profiles remove",
    summary: "Remove a profile and its stored credentials",
    noAuth: true,
    destructive: true,
    positionals: [{ name: "name", required: true, description: "the profile" }],
    examples: ["graycast profiles remove staging --yes"],
    async run(ctx) {
      const name = ctx.positionals[0]!;
      if (!(await ctx.confirm(`Remove profile ${name} and its credentials?`))) return CANCELLED;
      return { name, removed: ctx.config.removeProfile(name) };
    },
  },
);

group("tokens", "API tokens for CI (GRAYCAST_TOKEN)");

const SCOPES = ["read", "write", "publish", "admin"] as const;
type Scope = (typeof SCOPES)[number];

register(
  {
    name: "tokens list",
    summary: "List your API tokens (never their secrets)",
    examples: ["graycast tokens list"],
    async run(ctx) {
      return ok(ctx.api().GET("/v1/auth/tokens"));
    },
    show(r: { tokens: Schemas["ApiToken"][] }, out: Output) {
      out.table(
        ["ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED", "REVOKED"],
        r.tokens.map((t) => [
          t.id,
          t.name,
          t.scopes.join(","),
          t.createdAt,
          t.expiresAt,
          t.lastUsedAt,
          t.revokedAt,
        ]),
      );
    },
  },
  {
    name: "tokens create",
    summary: "Create an API token; its secret is printed once, on stdout only",
    options: {
      name: { type: "string", placeholder: "name", description: "what it is for (e.g. github-actions)" },
      scope: {
        type: "string",
        multiple: true,
        placeholder: "scope",
        description: `read, write, publish or admin (default: the server's)`,
      },
      "expires-in-days": { type: "string", placeholder: "days", description: "1..365 (default: never)" },
    },
    details:
      "This is the one time a secret is printed: it goes to stdout alone (or as `token` in --json) so\nit can be piped into your CI's secret store. Store it as GRAYCAST_TOKEN.",
    examples: [
      "graycast tokens create --name github-actions --scope read --scope write --scope publish",
      "graycast tokens create --name ci --expires-in-days 90 --json | jq -r .token | gh secret set GRAYCAST_TOKEN",
    ],
    async run(ctx) {
      const scopes = ctx.list("scope");
      for (const s of scopes)
        if (!SCOPES.includes(s as Scope))
          throw new UsageError(`unknown scope ${JSON.stringify(s)}; use ${SCOPES.join(", ")}`);
      const days = intArg(ctx, "expires-in-days");
      return ok(
        ctx.api().POST("/v1/auth/tokens", {
          body: {
            name: ctx.need("name"),
            ...(scopes.length ? { scopes: scopes as Scope[] } : {}),
            ...(days !== undefined ? { expiresInDays: days } : {}),
          },
        }),
      );
    },
    show(r: Schemas["NewApiToken"], out: Output) {
      out.note(`Created API token ${r.id} (${r.name}; scopes ${r.scopes.join(", ")}). It is shown once:`);
      out.line(r.token);
    },
  },
  {
    name: "tokens revoke",
    summary: "Revoke an API token",
    destructive: true,
    positionals: [{ name: "tokenId", required: true, description: "the token's id (from `tokens list`)" }],
    examples: ["graycast tokens revoke tok_abc --yes"],
    async run(ctx) {
      const tokenId = ctx.positionals[0]!;
      if (!(await ctx.confirm(`Revoke API token ${tokenId}? CI jobs using it will stop working.`)))
        return CANCELLED;
      await ok(ctx.api().DELETE("/v1/auth/tokens/{tokenId}", { params: { path: { tokenId } } }));
      return { tokenId, revoked: true };
    },
  },
);
