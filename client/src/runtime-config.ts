/**
 * The runtime config in the reference client (PRODUCT.md D5, X1-X3, X7; issue 12): fetch
 * `GET /v1/config`, verify it like a manifest against the PINNED platform keys (typ
 * `graycast-config+jwt`, this app and host app, not expired), and never use an unsigned config or
 * one older than a config already accepted (lower `configRevision`, or the same with a lower
 * snapshot `revision`). Then answer what the mini program may do:
 *
 * - `isRequestAllowed(url, kind)`: the WeChat rule (core/runtime-config.ts): scheme of the kind,
 *   host in the list, unless the host app approved skipping domain verification;
 * - `isApiAllowed(name)`: the host app granted this sensitive API;
 * - `switch(key)`: the switch's value; task-aware: `refresh({ manifest })` shows the edge the
 *   signed check manifest, so a client admitted to a grayscale task gets that task's values, and
 *   a config naming a task is accepted only when the manifest sent names that task;
 * - `mustAccept(acceptedVersion)`: the user has to accept a newer privacy agreement version;
 *   `privacyText()` fetches its text and checks it against the signed sha256.
 *
 * Before any config is accepted, nothing is allowed (deny by default) and switches are unset.
 */
import type { JSONWebKeySet } from "jose";
import { decodeJwt } from "jose";
import {
  CONFIG_ISSUER,
  CONFIG_TYPE,
  type ConfigClaims,
  DOMAIN_KINDS,
  type DomainKind,
  isRequestAllowed,
  type SwitchType,
  type SwitchValue,
  switchValueError,
} from "../../core/runtime-config";
import { readCapped, sha256Hex } from "./bytes";
import type { Fetch } from "./download";
import { ClientError } from "./errors";
import { MAX_REVISION_JUMP, PinnedKeys } from "./manifest";

const MAX_CONFIG_ANSWER_BYTES = 256 * 1024;
/** A privacy agreement is a few KiB; anything near this is not one. */
const MAX_PRIVACY_TEXT_BYTES = 256 * 1024;

export interface RuntimeConfigOptions {
  /** the edge's origin, e.g. https://edge.example.com */
  edgeUrl: string;
  appId: string;
  hostAppId: string;
  /** the platform keys this app pins (the same as for manifests) */
  jwks: JSONWebKeySet;
  fetch: Fetch;
  /** ms since epoch; injected in tests */
  now?: () => number;
  clockSkewSeconds?: number;
  /** the highest config accepted before (persist `highest` across launches) */
  highest?: ConfigOrder;
}

/** What orders configs: a config lower than the highest accepted is refused as replayed. */
export interface ConfigOrder {
  configRevision: number;
  revision: number;
}

export class RuntimeConfigClient {
  readonly #options: RuntimeConfigOptions;
  readonly #keys: PinnedKeys;
  #config: ConfigClaims | undefined;
  #highest: ConfigOrder;

  constructor(options: RuntimeConfigOptions) {
    this.#options = options;
    this.#keys = new PinnedKeys(options.jwks);
    this.#highest = options.highest ?? { configRevision: 0, revision: 0 };
  }

  /** The config in use (verified), if any. */
  get config(): ConfigClaims | undefined {
    return this.#config;
  }

  /** The highest config accepted, to persist so a restart cannot be fed an older one. */
  get highest(): ConfigOrder {
    return { ...this.#highest };
  }

  /**
   * Fetches and accepts the current config. `manifest`: the signed check manifest this client
   * holds, so a grayscale task's switch values apply when it was admitted to one. A refusal
   * leaves the config in use unchanged.
   */
  async refresh(input: { manifest?: string } = {}): Promise<ConfigClaims> {
    const { edgeUrl, appId, hostAppId } = this.#options;
    const url = `${edgeUrl.replace(/\/$/, "")}/v1/config?appId=${encodeURIComponent(appId)}&hostAppId=${encodeURIComponent(hostAppId)}`;
    let res: Response;
    try {
      res = await this.#options.fetch(url, {
        headers: input.manifest !== undefined ? { "x-graycast-manifest": input.manifest } : {},
      });
    } catch (error) {
      throw new ClientError("check_failed", "the edge did not answer the config request", { cause: error });
    }
    const text = await res.text();
    if (res.status !== 200)
      throw new ClientError("check_failed", `the config request answered HTTP ${res.status}`);
    if (text.length > MAX_CONFIG_ANSWER_BYTES)
      throw new ClientError("bad_manifest", "the config answer is too large");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ClientError("bad_manifest", "the config answer is not JSON");
    }
    const jws = (body as { config?: unknown } | null)?.config;
    if (typeof jws !== "string")
      throw new ClientError("bad_manifest", "the config answer carries no signed config");
    return this.accept(jws, input.manifest);
  }

  /** Verifies a signed config and uses it; `manifest` is the one sent with the request, if any. */
  async accept(jws: string, manifest?: string): Promise<ConfigClaims> {
    const claims = await this.#keys.verify(jws, CONFIG_TYPE);
    const config = this.#check(claims, manifest);
    this.#config = config;
    this.#highest = { configRevision: config.configRevision, revision: config.revision };
    return config;
  }

  #check(claims: Record<string, unknown>, manifest: string | undefined): ConfigClaims {
    const { appId, hostAppId, clockSkewSeconds = 60 } = this.#options;
    const now = Math.floor((this.#options.now ?? Date.now)() / 1000);
    if (claims.iss !== CONFIG_ISSUER) throw new ClientError("mix_and_match", "the config has another issuer");
    if (claims.sub !== appId)
      throw new ClientError("mix_and_match", `the config is for mini program ${JSON.stringify(claims.sub)}`);
    if (claims.aud !== hostAppId)
      throw new ClientError("mix_and_match", `the config is for host app ${JSON.stringify(claims.aud)}`);
    const { iat, exp, revision, configRevision } = claims;
    if (!isCount(iat) || !isCount(exp) || !isCount(revision) || !isCount(configRevision))
      throw new ClientError(
        "bad_manifest",
        "iat, exp, revision and configRevision must be non-negative integers",
      );
    if (exp + clockSkewSeconds <= now) throw new ClientError("expired", "the config has expired");
    if (iat > now + clockSkewSeconds)
      throw new ClientError("bad_manifest", "the config was issued in the future");
    const high = this.#highest;
    if (
      configRevision < high.configRevision ||
      (configRevision === high.configRevision && revision < high.revision)
    )
      throw new ClientError(
        "replayed",
        `config revision ${configRevision}.${revision} is older than ${high.configRevision}.${high.revision} already accepted`,
      );
    if (high.configRevision > 0 && configRevision > high.configRevision + MAX_REVISION_JUMP)
      throw new ClientError("bad_manifest", "the config revision jumps implausibly far");
    checkShape(claims);
    // A task's values only for the task this client showed it was admitted to.
    if (claims.taskId !== undefined && claims.taskId !== taskIdOf(manifest))
      throw new ClientError(
        "mix_and_match",
        "the config carries a grayscale task this client did not show admission to",
      );
    return claims as unknown as ConfigClaims;
  }

  isRequestAllowed(url: string, kind: DomainKind): boolean {
    const config = this.#config;
    return config !== undefined && isRequestAllowed(config, url, kind);
  }

  isApiAllowed(name: string): boolean {
    return this.#config?.apis.includes(name) ?? false;
  }

  /** The switch's value (task-aware), or undefined when unset or no config is in use. */
  switch(key: string): SwitchValue | undefined {
    const config = this.#config;
    if (config === undefined || !Object.hasOwn(config.switches, key)) return undefined;
    return config.switches[key]?.value;
  }

  /**
   * Whether the user must accept the published privacy agreement: one is published and the user
   * accepted none, or an older version. Throws before any config is in use (unknown is not "no").
   */
  mustAccept(acceptedVersion: number | null | undefined): boolean {
    const config = this.#config;
    if (config === undefined) throw new ClientError("check_failed", "no runtime config yet: refresh first");
    if (config.privacy === null) return false;
    return (
      acceptedVersion === null || acceptedVersion === undefined || acceptedVersion < config.privacy.version
    );
  }

  /**
   * Whether to refresh: no config yet, or a verified check manifest describes a newer snapshot
   * (`revision`) than the config came from. Every config change bumps the snapshot revision, so a
   * client that checks regularly learns of one without polling `/v1/config`.
   */
  isStale(manifestRevision: number): boolean {
    return this.#config === undefined || manifestRevision > this.#config.revision;
  }

  /** The published privacy agreement's text, verified against the signed config (null: none). */
  privacyText(): Promise<string | null> {
    return fetchPrivacyText(this, this.#options.fetch);
  }
}

/**
 * The text of the published privacy agreement, checked against the sha256 the signed config
 * names (the URL and the network are not trusted). Null when none is published.
 */
export async function fetchPrivacyText(client: RuntimeConfigClient, fetch: Fetch): Promise<string | null> {
  const privacy = client.config?.privacy;
  if (privacy === undefined) throw new ClientError("check_failed", "no runtime config yet: refresh first");
  if (privacy === null) return null;
  let res: Response;
  try {
    res = await fetch(privacy.url);
  } catch (error) {
    throw new ClientError("download_failed", "the privacy agreement could not be fetched", { cause: error });
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new ClientError("download_failed", `the privacy agreement answered HTTP ${res.status}`);
  }
  const bytes = await readCapped(res, MAX_PRIVACY_TEXT_BYTES, "too_large", "the privacy agreement");
  if ((await sha256Hex(bytes)) !== privacy.sha256)
    throw new ClientError(
      "hash_mismatch",
      "the privacy agreement text is not the one the signed config names",
    );
  return new TextDecoder().decode(bytes);
}

/** The grayscale task a check manifest names (the edge verified it; the client only compares). */
function taskIdOf(manifest: string | undefined): string | undefined {
  if (manifest === undefined) return undefined;
  try {
    const claims = decodeJwt(manifest);
    return claims.reason === "grayscale" && typeof claims.taskId === "string" ? claims.taskId : undefined;
  } catch {
    return undefined;
  }
}

const SWITCH_TYPES: ReadonlySet<string> = new Set(["string", "number", "boolean", "json"]);
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");

function checkShape(claims: Record<string, unknown>): void {
  const bad = (what: string): never => {
    throw new ClientError("bad_manifest", `the config is malformed: ${what}`);
  };
  const domains = claims.domains;
  if (!isObject(domains) || !DOMAIN_KINDS.every((k) => isStrings(domains[k]))) bad("domains");
  if (typeof claims.skipDomainCheck !== "boolean") bad("skipDomainCheck");
  if (!isStrings(claims.apis)) bad("apis");
  const privacy = claims.privacy;
  if (
    privacy !== null &&
    (!isObject(privacy) ||
      !isCount(privacy.version) ||
      typeof privacy.sha256 !== "string" ||
      typeof privacy.url !== "string")
  )
    bad("privacy");
  if (claims.trialPagePath !== null && typeof claims.trialPagePath !== "string") bad("trialPagePath");
  const switches = claims.switches;
  if (!isObject(switches)) bad("switches");
  for (const [key, entry] of Object.entries(switches as Record<string, unknown>)) {
    if (!isObject(entry) || typeof entry.type !== "string" || !SWITCH_TYPES.has(entry.type))
      bad(`switch ${key}`);
    const typed = entry as { type: SwitchType; value: unknown };
    if (switchValueError(typed.type, typed.value) !== undefined) bad(`switch ${key}`);
  }
  if (claims.taskId !== undefined && typeof claims.taskId !== "string") bad("taskId");
}
