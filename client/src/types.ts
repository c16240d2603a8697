/**
 * The reference client's configuration, injected dependencies and results (client/src/client.ts
 * acts on them). Kept apart so an SDK port can read the contract without the implementation.
 */
import type { JSONWebKeySet } from "jose";
import type { ClientContext, DecisionReason, DecisionStatus } from "../../core/decide";
import type { Decompress } from "../../core/increment";
import type { ManifestClaims } from "../../core/manifest";
import type { CheckMethod } from "./check-request";
import type { Fetch } from "./download";
import type { ClientErrorCode } from "./errors";
import type { DeveloperSignatureCheck } from "./package";
import type { InstalledVersion, Store } from "./store";

export interface ClientConfig {
  /** base URL of the edge Worker, e.g. https://edge.example.com */
  edge: string;
  appId: string;
  hostAppId: string;
  /**
   * how checks are sent (client/src/check-request.ts): GET with the facts in the query (default;
   * cheaper for the edge), or POST with a JSON body, which keeps guid, deviceId and account out of
   * request URLs and so out of request logs. A GET query over 8 KiB is sent as POST anyway.
   */
  checkMethod?: CheckMethod;
  /** the device facts sent with every check (grayscale rules match on them) */
  device: Omit<ClientContext, "appId" | "hostAppId" | "installedVersion" | "verifiedAccount">;
  /**
   * The host app's user assertion for the signed-in user (docs/trust.md), asked for before each
   * check: a compact JWS the host app's own server minted (at most an hour long). Sent in the
   * x-graycast-user header (GET) or the body (POST), never in the URL. Trial versions, account
   * targets and verified-only grayscale tasks need it. Resolve undefined when nobody is signed
   * in; a provider that throws, or a value that is not a JWS of at most 2048 characters, is left
   * out (the check goes on, the account unverified).
   */
  userAssertion?: () => Promise<string | undefined>;
  /** the platform's manifest keys, pinned when the App is built (never fetched at run time) */
  platformKeys: JSONWebKeySet;
  /** developer public keys the App pins, by key id (PRODUCT.md S2) */
  developerKeys?: Record<string, JsonWebKey>;
  /** refuse packages without a developer signature from a pinned key */
  requireDeveloperSignature?: boolean;
  /** how far the device clock may be behind when judging `exp` (default 60 s) */
  clockSkewSeconds?: number;
  /** requests per download, the first one plus resumptions (default 3) */
  downloadAttempts?: number;
  /** largest package or increment accepted whatever a manifest says (default 64 MiB) */
  maxPackageBytes?: number;
  /** a request that brings no byte for this long is aborted (and a download resumed; default 30 s) */
  idleTimeoutMs?: number;
}

export interface ClientDeps {
  fetch: Fetch;
  store: Store;
  /** zstd with a raw-content dictionary (core/increment.ts `Decompress`) */
  decompress: Decompress;
  /** milliseconds since the epoch */
  now: () => number;
}

/** What a verified answer means for this device. */
export type Plan = "install" | "update" | "rollback" | "none" | "delisted" | "unavailable";

export interface CheckResult {
  plan: Plan;
  status: DecisionStatus;
  reason: DecisionReason;
  /** the version the answer names (status ok) */
  version?: string;
  /** the version installed when the check ran */
  installed: string | null;
  claims: ManifestClaims;
}

export interface UpdateResult extends CheckResult {
  /** whether a new version was activated */
  activated: boolean;
  /** how the new files were obtained */
  via?: "full" | "increment";
  /** with `via: "increment"`: 4 for the delta format (`incrementDelta`), 3 for `increment` */
  incrementFormat?: 3 | 4;
  /** why an offered increment was not used (a larger increment or the full package was downloaded instead) */
  fallback?: { code: ClientErrorCode; message: string };
  developerSignature?: DeveloperSignatureCheck;
  /** bytes received over the network */
  transferred: number;
  /** downloads continued with Range after a broken connection */
  resumed: number;
}

export interface PresetResult {
  /** false when the installed version is the preset's or newer (a preset never downgrades) */
  installed: boolean;
  version: string;
  developerSignature?: DeveloperSignatureCheck;
}

export interface OpenedVersion {
  version: string;
  files: InstalledVersion["list"];
  /** a file's bytes, checked against the signed file list */
  read(path: string): Promise<Uint8Array>;
}

/** A one-time login code (`client.login()`, PRODUCT.md X6). */
export interface LoginResult {
  /** hand it to the mini program's server, which exchanges it with /sns/jscode2session (once) */
  code: string;
  /** ms since the epoch (device clock) after which the server can no longer exchange it */
  expiresAt: number;
}
