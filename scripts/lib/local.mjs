// Shared by `npm start` and `npm run demo`: where local state lives and the demo accounts.
import { createPrivateKey, generateKeyPairSync, pbkdf2Sync, randomBytes, sign } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";

export const ROOT = new URL("../..", import.meta.url).pathname;
/**
 * Everything a local run keeps (state, dev registry, ports, demo ids, the host app key):
 * .graycast/ of this checkout, or GRAYCAST_LOCAL_DIR (the browser tests run a throwaway stack
 * there, console/test/run.mjs, and so do the CLI tests, cli/test/support/stack.ts: they never touch the
 * data of your own `npm start`).
 */
export const LOCAL_DIR = process.env.GRAYCAST_LOCAL_DIR || join(ROOT, ".graycast");
export const STATE_DIR = join(LOCAL_DIR, "state");
/**
 * The local ports, one config for `npm start` and the demos: EDGE_PORT / ADMIN_PORT / BUILDER_PORT
 * from the environment, else the ports the last `npm start` of this checkout used
 * (.graycast/ports.json, which it writes), else 8787 / 8788 / 8789. So `EDGE_PORT=9787 npm start`
 * followed by a plain `npm run demo` talks to that stack.
 */
export const PORTS_FILE = join(LOCAL_DIR, "ports.json");
const savedPorts = existsSync(PORTS_FILE) ? JSON.parse(readFileSync(PORTS_FILE, "utf8")) : {};
export const EDGE_PORT = Number(process.env.EDGE_PORT ?? savedPorts.edge ?? 8787);
export const ADMIN_PORT = Number(process.env.ADMIN_PORT ?? savedPorts.admin ?? 8788);
export const BUILDER_PORT = Number(process.env.BUILDER_PORT ?? savedPorts.builder ?? ADMIN_PORT + 1);
/** Records the ports of a running `npm start` for the demos (scripts/start.mjs). */
export function savePorts() {
  mkdirSync(LOCAL_DIR, { recursive: true });
  writeFileSync(
    PORTS_FILE,
    JSON.stringify({ edge: EDGE_PORT, admin: ADMIN_PORT, builder: BUILDER_PORT }, null, 2),
  );
}
export const EDGE_URL = `http://127.0.0.1:${EDGE_PORT}`;
export const ADMIN_URL = `http://127.0.0.1:${ADMIN_PORT}`;

/** Local-run plumbing for wrangler (scripts/start.mjs); see README "Local runs". */
export const REGISTRY_DIR = join(LOCAL_DIR, "registry");

/**
 * The environment of every wrangler process a local run starts. WRANGLER_REGISTRY_PATH: wrangler's
 * dev registry (how `wrangler dev` processes find each other's Workers, Durable Objects and
 * entrypoints by name) is machine-wide by default, so two checkouts running `npm start` bound each
 * other's Workers; each checkout gets its own under .graycast/. Metrics off, the banner (whose
 * update check asks the npm registry) hidden, and no download of the `Request.cf` placeholder
 * (CLOUDFLARE_CF_FETCH_ENABLED, read by Miniflare; offline it printed a getaddrinfo trace per
 * Worker, and local geolocation comes from the x-graycast-geo header): local runs make no outside calls.
 */
export function localWranglerEnv() {
  return {
    ...process.env,
    // wrangler needs Node 22: the `node` package's binary first on PATH, as under `npm start`,
    // also when a script is run as `node scripts/....mjs` from an older system Node.
    PATH: `${join(ROOT, "node_modules", ".bin")}${delimiter}${process.env.PATH ?? ""}`,
    WRANGLER_REGISTRY_PATH: REGISTRY_DIR,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_HIDE_BANNER: "true",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
}

/** Demo accounts (local only). Their passwords are printed by `npm start`. */
export const DEMO_USERS = [
  {
    id: "usr_demo_platform",
    email: "admin@graycast.local",
    name: "Platform Admin",
    password: "platform-admin-pass",
    platformAdmin: true,
  },
  {
    id: "usr_demo_team_admin",
    email: "lead@acme.local",
    name: "Acme Team Admin",
    password: "team-admin-pass",
    team: "admin",
  },
  {
    id: "usr_demo_developer",
    email: "dev@acme.local",
    name: "Acme Developer",
    password: "developer-pass",
    team: "developer",
  },
  {
    id: "usr_demo_manager",
    email: "manager@superapp.local",
    name: "SuperApp Manager",
    password: "manager-pass",
    hostApp: "manager",
  },
  {
    id: "usr_demo_auditor",
    email: "auditor@superapp.local",
    name: "SuperApp Auditor",
    password: "auditor-pass",
    hostApp: "auditor",
  },
];
/** @typedef {(typeof DEMO_USERS)[number]} DemoUser */
/**
 * The demo account `pred` picks (DEMO_USERS holds one per role the scripts log in as).
 * @param {(user: DemoUser) => boolean} pred
 * @returns {DemoUser}
 */
export function demoUser(pred) {
  const user = DEMO_USERS.find(pred);
  if (!user) throw new Error("no such demo account in DEMO_USERS");
  return user;
}
export const DEMO_TEAM = { id: "team_demo_acme", name: "Acme" };
export const DEMO_HOST_APP = { id: "ha_demo_superapp", name: "SuperApp" };
/** The demo mini program's trial tester (an account of the demo host app). */
export const DEMO_TESTER = "tester-001";

/**
 * The demo host app's user-assertion key (docs/trust.md): the private JWK plays the host app's
 * server and stays in `.graycast/host-app-key.json` (git-ignored, mode 600) with the `kid` the
 * control plane assigned; only the public `x` is registered. Undefined until `npm start` made it.
 */
export const HOST_APP_KEY_FILE = join(LOCAL_DIR, "host-app-key.json");
export function readHostAppKey() {
  return existsSync(HOST_APP_KEY_FILE) ? JSON.parse(readFileSync(HOST_APP_KEY_FILE, "utf8")) : undefined;
}
export function newHostAppKey() {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" });
}
/** @param {JsonWebKey & { kid?: string }} jwk */
export function saveHostAppKey(jwk) {
  mkdirSync(LOCAL_DIR, { recursive: true });
  writeFileSync(HOST_APP_KEY_FILE, JSON.stringify(jwk, null, 2), { mode: 0o600 });
}

/**
 * A user assertion as the host app's server mints it: compact EdDSA JWS, node:crypto only.
 * @param {JsonWebKey & { kid?: string }} jwk the host app's private Ed25519 key
 * @param {{ iss?: string, sub: string, did?: string, lifetimeSeconds?: number }} claims
 */
export function mintUserAssertion(jwk, { iss = DEMO_HOST_APP.id, sub, did, lifetimeSeconds = 600 }) {
  /** @param {unknown} value */
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: "EdDSA", kid: jwk.kid })}.${b64({ iss, sub, ...(did ? { did } : {}), aud: "graycast", iat, exp: iat + lifetimeSeconds })}`;
  const key = createPrivateKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d }, format: "jwk" });
  return `${input}.${sign(null, Buffer.from(input), key).toString("base64url")}`;
}

/**
 * Same format as control-plane/src/auth/password.ts.
 * @param {string} password
 */
export function hashPassword(password) {
  const salt = randomBytes(16);
  const hash = pbkdf2Sync(password, salt, 100_000, 32, "sha256");
  return `pbkdf2-sha256$100000$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * Each Worker's configuration, its local secrets file and the secrets it holds (the names in the
 * `.dev.vars.example` beside each config): wrangler dev reads the `.dev.vars` beside the config.
 * The admin Worker never holds the manifest signing key or the ticket secret (it signs through the
 * edge's EdgeSigner entrypoint).
 */
export const WORKERS = {
  edge: {
    config: "wrangler.toml",
    devVars: ".dev.vars",
    secrets: ["MANIFEST_SIGNING_KEY", "ADMISSION_TICKET_SECRET", "PACKAGE_KEY_SECRET", "LOGIN_CODE_KEY"],
  },
  admin: {
    config: "control-plane/wrangler.toml",
    devVars: "control-plane/.dev.vars",
    secrets: [
      "JWT_SECRET",
      "PACKAGE_KEY_SECRET",
      "APP_SECRET_HASH_KEY",
      "USER_ID_KEY",
      "LOGIN_CODE_KEY",
      "MESSAGE_WEBHOOK_KEY",
    ],
  },
  builder: {
    config: "control-plane/builder/wrangler.toml",
    devVars: "control-plane/builder/.dev.vars",
    secrets: ["PACKAGE_KEY_SECRET", "MESSAGE_WEBHOOK_KEY"],
  },
};

/**
 * The value of `name` in a dotenv-style file's text (quotes removed), or undefined.
 * @param {string} text
 * @param {string} name
 */
function devVar(text, name) {
  const m = new RegExp(`^${name}=(.*)$`, "m").exec(text);
  return m?.[1] !== undefined ? m[1].replace(/^(['"])(.*)\1$/, "$2") : undefined;
}

/**
 * Creates each Worker's local secrets file with fresh values, and adds any secret a newer version
 * needs to an existing one; restarts keep them (and the data). PACKAGE_KEY_SECRET is one value in
 * all three Workers (each derives the same package keys from it), LOGIN_CODE_KEY one value in the
 * edge and admin Workers (the edge seals login codes, the admin Worker opens them). An older checkout's single
 * root `.dev.vars` (all secrets of all Workers) is reduced to the edge's; its values are kept.
 */
export function ensureDevVars(root = ROOT) {
  /** @param {string} file */
  const read = (file) => (existsSync(join(root, file)) ? readFileSync(join(root, file), "utf8") : undefined);
  const texts = Object.fromEntries(Object.entries(WORKERS).map(([worker, w]) => [worker, read(w.devVars)]));
  /** @param {string} name */
  const known = (name) =>
    Object.values(texts)
      .map((t) => t && devVar(t, name))
      .find((v) => v);
  /** @type {Record<string, () => string>} */
  const fresh = {
    MANIFEST_SIGNING_KEY: () =>
      `'${JSON.stringify({ ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: `local-${randomBytes(4).toString("hex")}` })}'`,
  };
  /** @type {Record<string, string>} */
  const values = {};
  for (const w of Object.values(WORKERS)) {
    for (const name of w.secrets) {
      if (values[name]) continue;
      const value = known(name);
      values[name] = value
        ? name === "MANIFEST_SIGNING_KEY"
          ? `'${value}'`
          : `"${value}"`
        : (fresh[name]?.() ?? `"${randomBytes(32).toString("hex")}"`);
    }
  }
  for (const [worker, w] of Object.entries(WORKERS)) {
    // Another Worker's secret is removed (an older checkout's root .dev.vars held all of them);
    // any other line (a var or MANIFEST_VERIFY_KEYS set by hand) is kept.
    const foreign = new Set(
      Object.values(WORKERS)
        .flatMap((o) => o.secrets)
        .filter((name) => !w.secrets.includes(name)),
    );
    const text =
      texts[worker] ??
      `# Local secrets of the ${worker} Worker (${w.config}) for wrangler dev, generated by npm start. Never commit.\n`;
    const lines = text.replace(/\n$/, "").split("\n");
    const kept = lines.filter((line) => !foreign.has(/^([A-Z0-9_]+)=/.exec(line)?.[1] ?? ""));
    const missing = w.secrets.filter((name) => devVar(text, name) === undefined);
    if (texts[worker] !== undefined && kept.length === lines.length && !missing.length) continue;
    writeFileSync(
      join(root, w.devVars),
      `${[...kept, ...missing.map((name) => `${name}=${values[name]}`)].join("\n")}\n`,
      { mode: 0o600 },
    );
  }
}

export function seedSql() {
  const now = Date.now();
  /** @param {unknown} s */
  const q = (s) => `'${String(s).replaceAll("'", "''")}'`;
  const lines = [];
  for (const u of DEMO_USERS) {
    lines.push(
      `INSERT OR IGNORE INTO users (id, email, name, password_hash, is_platform_admin, created_at) VALUES (${q(u.id)}, ${q(u.email)}, ${q(u.name)}, ${q(hashPassword(u.password))}, ${u.platformAdmin ? 1 : 0}, ${now});`,
    );
  }
  lines.push(
    `INSERT OR IGNORE INTO teams (id, name, created_at) VALUES (${q(DEMO_TEAM.id)}, ${q(DEMO_TEAM.name)}, ${now});`,
  );
  lines.push(
    `INSERT OR IGNORE INTO host_apps (id, name, created_at) VALUES (${q(DEMO_HOST_APP.id)}, ${q(DEMO_HOST_APP.name)}, ${now});`,
  );
  for (const u of DEMO_USERS) {
    if (u.team)
      lines.push(
        `INSERT OR IGNORE INTO team_members (team_id, user_id, role, created_at) VALUES (${q(DEMO_TEAM.id)}, ${q(u.id)}, ${q(u.team)}, ${now});`,
      );
    if (u.hostApp)
      lines.push(
        `INSERT OR IGNORE INTO host_app_members (host_app_id, user_id, role, created_at) VALUES (${q(DEMO_HOST_APP.id)}, ${q(u.id)}, ${q(u.hostApp)}, ${now});`,
      );
  }
  return lines.join("\n");
}

/**
 * @param {string} name a file under .graycast/
 * @param {unknown} value
 */
export function writeState(name, value) {
  mkdirSync(LOCAL_DIR, { recursive: true });
  writeFileSync(join(LOCAL_DIR, name), JSON.stringify(value, null, 2));
}

/** @param {string} name a file under .graycast/ */
export function readState(name) {
  const path = join(LOCAL_DIR, name);
  return existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : undefined;
}
