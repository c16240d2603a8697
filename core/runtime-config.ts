/**
 * Runtime config (PRODUCT.md D5, issue 12): what a mini program may do inside one host app,
 * compiled into the delivery snapshot and answered by the edge as a signed JWS
 * (`GET /v1/config`, typ `graycast-config+jwt`). Pure rules shared by the control plane (domain
 * and switch validation, compilation), the edge (resolution per host app and task) and the
 * reference client (`isRequestAllowed`).
 *
 * Seed (Development Management, "Domain name settings"): "Mini programs need to set up
 * communication domain names in advance, and mini programs can only communicate with the
 * specified domain name. This includes ordinary HTTPS requests (wx.request), uploading files
 * (wx.uploadFile), downloading files (wx.downloadFile) and WebSocket communication
 * (wx.connectSocket) ... (business domain names)." PRODUCT.md X1: "https/wss only, no IP or
 * localhost, no wildcards, at most 200 per kind".
 */

export const CONFIG_TYPE = "graycast-config+jwt";
export const CONFIG_ISSUER = "graycast";

export const DOMAIN_KINDS = ["request", "uploadFile", "downloadFile", "socket", "business"] as const;
export type DomainKind = (typeof DOMAIN_KINDS)[number];

/** PRODUCT.md X1: "at most 200 per kind". */
export const MAX_DOMAINS_PER_KIND = 200;
/** RFC 1035: a host name is at most 253 characters. */
const MAX_HOST_LENGTH = 253;

/** The scheme each kind must use: wss:// for sockets, https:// for the rest. */
export function schemeOf(kind: DomainKind): "https" | "wss" {
  return kind === "socket" ? "wss" : "https";
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Validates a domain as a team enters it (`https://api.example.com`, `wss://ws.example.com:8443`)
 * and returns its stored form (`api.example.com`, `ws.example.com:8443`: lower case, no scheme,
 * the port only when it is not the default 443), or the reason it is refused: the wrong scheme,
 * an IP address, localhost, a wildcard, a path, query, fragment or credentials, or a name that
 * is not a public host name.
 */
export function normaliseDomain(kind: DomainKind, input: string): { domain: string } | { error: string } {
  const scheme = schemeOf(kind);
  const text = input.trim();
  const prefix = `${scheme}://`;
  if (!text.toLowerCase().startsWith(prefix)) return { error: `a ${kind} domain must start with ${prefix}` };
  // A single trailing "/" is the root, which every console accepts; anything after it is a path.
  let rest = text.slice(prefix.length).replace(/\/$/, "");
  if (rest.includes("*")) return { error: "wildcards are not allowed; list each domain" };
  if (/[/?#\\]/.test(rest))
    return { error: "no path, query or fragment: only the scheme and the host (and port)" };
  if (rest.includes("@")) return { error: "no user name or password in a domain" };
  if (rest.startsWith("[")) return { error: "IP addresses are not allowed; use a domain name" };
  let port = "";
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    port = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)
      return { error: "the port must be a number from 1 to 65535" };
    port = String(Number(port));
  }
  const host = rest.toLowerCase().replace(/\.$/, "");
  if (host.length === 0 || host.length > MAX_HOST_LENGTH) return { error: "not a host name" };
  if (host === "localhost" || host.endsWith(".localhost"))
    return { error: "localhost is not allowed; use a public domain name" };
  const labels = host.split(".");
  const last = labels[labels.length - 1] ?? "";
  if (labels.every((l) => /^[0-9]+$/.test(l)) || /^[0-9]+$/.test(last) || /^0x/i.test(host))
    return { error: "IP addresses are not allowed; use a domain name" };
  if (labels.length < 2) return { error: "a domain needs at least two labels, e.g. example.com" };
  if (!labels.every((l) => LABEL.test(l)))
    return { error: "not a host name (letters, digits and hyphens; internationalised names in punycode)" };
  return { domain: port !== "" && port !== "443" ? `${host}:${port}` : host };
}

/** The file a business domain serves to prove the team controls it (the console shows the token). */
export const DOMAIN_VERIFICATION_PATH = "/.well-known/graycast-domain-verification.txt";

// ---------------------------------------------------------------------------------------------
// Switch configuration (mPaaS "switch configuration")
// ---------------------------------------------------------------------------------------------

export type SwitchType = "string" | "number" | "boolean" | "json";
export type SwitchValue = string | number | boolean | null | SwitchValue[] | { [key: string]: SwitchValue };

export const SWITCH_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
export const MAX_SWITCH_STRING = 1024;
/** JSON values as stored (their JSON text). */
export const MAX_SWITCH_JSON_BYTES = 4096;
/** Rows (base, per host app, per task) per mini program. */
export const MAX_SWITCHES = 500;

/** Whether `value` is of `type`; the reason when not. */
export function switchValueError(type: SwitchType, value: unknown): string | undefined {
  switch (type) {
    case "string":
      if (typeof value !== "string") return "a string switch needs a string value";
      if (value.length > MAX_SWITCH_STRING)
        return `string values are at most ${MAX_SWITCH_STRING} characters`;
      return undefined;
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? undefined
        : "a number switch needs a finite number";
    case "boolean":
      return typeof value === "boolean" ? undefined : "a boolean switch needs true or false";
    case "json": {
      if (value === undefined) return "a json switch needs a value";
      const text = JSON.stringify(value);
      if (new TextEncoder().encode(text).length > MAX_SWITCH_JSON_BYTES)
        return `json values are at most ${MAX_SWITCH_JSON_BYTES} bytes as JSON text`;
      return undefined;
    }
  }
}

/** One switch row as compiled: no host app / task means every host app / every user. */
export interface SwitchEntry {
  key: string;
  type: SwitchType;
  value: SwitchValue;
  hostAppId?: string;
  taskId?: string;
}

export interface TypedValue {
  type: SwitchType;
  value: SwitchValue;
}

// ---------------------------------------------------------------------------------------------
// What the snapshot carries, and what a client gets
// ---------------------------------------------------------------------------------------------

export type DomainLists = Record<DomainKind, string[]>;

/** The runtime config of a mini program for every bound host app, as stored in the snapshot. */
export interface SnapshotConfig {
  /** `mini_programs.config_revision`: grows with every change of what this holds */
  revision: number;
  domains: DomainLists;
  /** host apps that approved skipping domain verification (X2) */
  skipDomainCheck: string[];
  /** granted sensitive APIs, by host app (X3) */
  apis: Record<string, string[]>;
  /** the latest published privacy agreement (X7) */
  privacy: { version: number; sha256: string } | null;
  /** the trial version's page path (V5) */
  trialPagePath: string | null;
  /** every switch row of live tasks, host apps and the base */
  switches: SwitchEntry[];
}

export interface SnapshotConfigSource {
  revision: number;
  domains: readonly { kind: DomainKind; domain: string; verified: boolean }[];
  skipDomainCheck: readonly string[];
  apis: readonly { hostAppId: string; name: string }[];
  privacy: { version: number; sha256: string } | null;
  trialPagePath: string | null;
  switches: readonly SwitchEntry[];
  /** grayscale tasks still in the snapshot: switch rows of other tasks are left out */
  liveTaskIds: readonly string[];
  /** host apps with an approved binding: decisions of others are left out */
  hostApps: readonly string[];
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compiles the stored form; pure and ordered, so the same state gives the same bytes. Business
 * domains reach clients only once verified.
 */
export function compileConfig(source: SnapshotConfigSource): SnapshotConfig {
  const domains = Object.fromEntries(DOMAIN_KINDS.map((k) => [k, [] as string[]])) as DomainLists;
  for (const d of source.domains) if (d.kind !== "business" || d.verified) domains[d.kind].push(d.domain);
  for (const k of DOMAIN_KINDS) domains[k] = [...new Set(domains[k])].sort(byText);
  const bound = new Set(source.hostApps);
  const apis: Record<string, string[]> = {};
  for (const a of [...source.apis].sort((x, y) => byText(x.hostAppId, y.hostAppId) || byText(x.name, y.name)))
    if (bound.has(a.hostAppId)) (apis[a.hostAppId] ??= []).push(a.name);
  const live = new Set(source.liveTaskIds);
  const switches = source.switches
    .filter(
      (s) =>
        (s.taskId === undefined || live.has(s.taskId)) &&
        (s.hostAppId === undefined || bound.has(s.hostAppId)),
    )
    .map((s) => ({
      key: s.key,
      type: s.type,
      value: s.value,
      ...(s.hostAppId !== undefined ? { hostAppId: s.hostAppId } : {}),
      ...(s.taskId !== undefined ? { taskId: s.taskId } : {}),
    }))
    .sort(
      (a, b) =>
        byText(a.key, b.key) ||
        byText(a.hostAppId ?? "", b.hostAppId ?? "") ||
        byText(a.taskId ?? "", b.taskId ?? ""),
    );
  return {
    revision: source.revision,
    domains,
    skipDomainCheck: [...new Set(source.skipDomainCheck.filter((h) => bound.has(h)))].sort(byText),
    apis,
    privacy: source.privacy,
    trialPagePath: source.trialPagePath,
    switches,
  };
}

/** The config one client gets: for one host app, with its grayscale task's switches when admitted. */
export interface ResolvedConfig {
  configRevision: number;
  domains: DomainLists;
  skipDomainCheck: boolean;
  apis: string[];
  privacy: { version: number; sha256: string; url: string } | null;
  trialPagePath: string | null;
  switches: Record<string, TypedValue>;
  /** the grayscale task whose switch values apply, when the client proved admission to one */
  taskId?: string;
}

/** Claims of the signed runtime config. */
export interface ConfigClaims extends ResolvedConfig {
  iss: typeof CONFIG_ISSUER;
  /** App ID */
  sub: string;
  /** host app id */
  aud: string;
  iat: number;
  exp: number;
  /** snapshot revision the config came from */
  revision: number;
}

/**
 * How specific a switch row is for (host app, task): task and host app > task > host app >
 * base; -1 when it does not apply.
 */
function specificity(s: SwitchEntry, hostAppId: string, taskId: string | undefined): number {
  if (s.hostAppId !== undefined && s.hostAppId !== hostAppId) return -1;
  if (s.taskId !== undefined && s.taskId !== taskId) return -1;
  return (s.taskId !== undefined ? 2 : 0) + (s.hostAppId !== undefined ? 1 : 0);
}

/**
 * The config for `hostAppId`; `taskId` only when the client proved it was admitted to that task
 * (the edge checks the proof). A task without a switch row of its own gets no `taskId`.
 */
export function resolveConfig(
  config: SnapshotConfig,
  hostAppId: string,
  taskId: string | undefined,
  privacyUrl: (sha256: string) => string,
): ResolvedConfig {
  const switches: Record<string, TypedValue> = {};
  const rank: Record<string, number> = {};
  let usedTask = false;
  for (const s of config.switches) {
    const r = specificity(s, hostAppId, taskId);
    if (r < 0 || (Object.hasOwn(rank, s.key) && (rank[s.key] as number) >= r)) continue;
    rank[s.key] = r;
    switches[s.key] = { type: s.type, value: s.value };
    if (s.taskId !== undefined) usedTask = true;
  }
  return {
    configRevision: config.revision,
    domains: config.domains,
    skipDomainCheck: config.skipDomainCheck.includes(hostAppId),
    apis: Object.hasOwn(config.apis, hostAppId) ? (config.apis[hostAppId] ?? []) : [],
    privacy: config.privacy ? { ...config.privacy, url: privacyUrl(config.privacy.sha256) } : null,
    trialPagePath: config.trialPagePath,
    switches,
    ...(usedTask && taskId !== undefined ? { taskId } : {}),
  };
}

/** Whether the config names a switch row of `taskId` (so the edge checks admission only then). */
export function hasTaskSwitches(config: SnapshotConfig, taskId: string): boolean {
  return config.switches.some((s) => s.taskId === taskId);
}

/**
 * Whether a mini program may reach `url` with an API of `kind` (the WeChat rule): the scheme of
 * the kind, and the host (with its port when not 443) in the list, or the host app approved
 * skipping the check. Anything unparsable is refused.
 */
export function isRequestAllowed(
  config: Pick<ResolvedConfig, "domains" | "skipDomainCheck">,
  url: string,
  kind: DomainKind,
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== `${schemeOf(kind)}:`) return false;
  if (config.skipDomainCheck) return true;
  const host = parsed.hostname.toLowerCase().replace(/\.$/, "");
  const key = parsed.port !== "" && parsed.port !== "443" ? `${host}:${parsed.port}` : host;
  return (config.domains[kind] ?? []).includes(key);
}

// ---------------------------------------------------------------------------------------------
// Privacy agreement (seed "Settings": "Set up a user privacy protection agreement and modify it
// directly based on the provided template")
// ---------------------------------------------------------------------------------------------

export interface PrivacyFields {
  developerName: string;
  contact: string;
  dataCollected: string[];
  purposes: string[];
  thirdParties: string[];
  retention: string;
}

export const PRIVACY_PLACEHOLDERS = [
  "developerName",
  "contact",
  "dataCollected",
  "purposes",
  "thirdParties",
  "retention",
] as const satisfies readonly (keyof PrivacyFields)[];

/** The platform's template; `{{name}}` placeholders are filled from the team's fields. */
export const PRIVACY_TEMPLATE = `Privacy Agreement of {{miniProgramName}}

This agreement is provided by {{developerName}} ("we"), the developer of the mini program {{miniProgramName}}. It explains which personal information we process when you use the mini program, why, and for how long.

1. Information we collect
{{dataCollected}}

2. Why we use it
{{purposes}}

3. Third parties we share it with
{{thirdParties}}

4. How long we keep it
{{retention}}

5. Contact
For questions, corrections or deletion requests, contact us at {{contact}}.

Version {{version}}`;

const bullets = (items: readonly string[], none: string) =>
  items.length === 0 ? `- ${none}` : items.map((i) => `- ${i}`).join("\n");

/** The agreement's text for `fields` (published text is immutable: its sha256 addresses it). */
export function renderPrivacy(
  fields: PrivacyFields,
  miniProgramName: string,
  version: number | null,
): string {
  const values: Record<string, string> = {
    miniProgramName,
    developerName: fields.developerName,
    contact: fields.contact,
    dataCollected: bullets(fields.dataCollected, "No personal information."),
    purposes: bullets(fields.purposes, "None."),
    thirdParties: bullets(fields.thirdParties, "None."),
    retention: fields.retention,
    version: version === null ? "(draft)" : String(version),
  };
  // One pass over the template: a value containing "{{...}}" is not expanded again.
  return PRIVACY_TEMPLATE.replace(/\{\{([A-Za-z]+)\}\}/g, (m, name: string) =>
    Object.hasOwn(values, name) ? (values[name] as string) : m,
  );
}

export const privacyKey = (sha256: string) => `privacy/${sha256}`;
