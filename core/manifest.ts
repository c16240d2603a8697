/**
 * The claims of a signed check manifest (JWS, Ed25519). Clients verify the signature against
 * pinned platform keys, then these claims: `sub` and `aud` bind the manifest to one mini
 * program and one host app (no mix-and-match), `exp` bounds replay (anti-freeze), and
 * `rollback` is the only way a client accepts a version older than the one it runs.
 */
import type { ClientContext, Decision, DecisionReason, DecisionStatus } from "./decide";
import type { DeveloperSignature, PackageEncryption, StoredEncryption } from "./snapshot";

export const MANIFEST_ISSUER = "graycast";
export const MANIFEST_TYPE = "graycast-manifest+jwt";

export interface ManifestPackage {
  url: string;
  /** bytes to download; a client stops reading past it (endless-data defence) */
  size: number;
  sha256: string;
  /** `filesSha256` of the unpacked files (core/increment.ts): what an increment must produce */
  files?: string;
  signature?: DeveloperSignature;
  encryption?: PackageEncryption;
}

/** An increment offered instead of the full package (PRODUCT.md D3). */
export interface ManifestIncrement {
  url: string;
  size: number;
  sha256: string;
  /** the installed version it starts from */
  fromVersion: string;
  /** `filesSha256` of that installed version */
  from: string;
  encryption?: PackageEncryption;
}

export interface ManifestClaims {
  iss: typeof MANIFEST_ISSUER;
  /** mini program App ID */
  sub: string;
  /** host app id */
  aud: string;
  iat: number;
  exp: number;
  status: DecisionStatus;
  reason: DecisionReason;
  version?: string;
  package?: ManifestPackage;
  /** only when the client reported an installed version that has one, and it is smaller */
  increment?: ManifestIncrement;
  /**
   * The same increment in format 4 (the delta format, core/increment.ts), when it is smaller than
   * `increment` (or `increment` is absent because it saves nothing). A separate claim so clients
   * that predate format 4 never see it and keep using `increment`; clients that read format 4
   * prefer this one.
   */
  incrementDelta?: ManifestIncrement;
  rollback?: boolean;
  pagePath?: string;
  /** grayscale task id when reason is "grayscale" */
  taskId?: string;
  /** echoed so a client can tell the answer was computed for its own state */
  installedVersion?: string;
  /** snapshot revision the answer came from (debugging, monotonic per mini program) */
  revision: number;
}

export function buildManifestClaims(input: {
  decision: Decision;
  client: ClientContext;
  revision: number;
  nowMs: number;
  ttlSeconds: number;
  packageUrl: (sha256: string) => string;
  incrementUrl: (sha256: string) => string;
  /** base64url raw key of the decided version, when its objects are encrypted (unwrapped by the caller) */
  encryptionKey?: string;
}): ManifestClaims {
  const { decision, client } = input;
  const iat = Math.floor(input.nowMs / 1000);
  const claims: ManifestClaims = {
    iss: MANIFEST_ISSUER,
    sub: client.appId,
    aud: client.hostAppId,
    iat,
    exp: iat + input.ttlSeconds,
    status: decision.status,
    reason: decision.reason,
    revision: input.revision,
    ...(client.installedVersion !== undefined ? { installedVersion: client.installedVersion } : {}),
  };
  if (decision.status !== "ok") return claims;
  const pkg = decision.package;
  const reveal = (stored: StoredEncryption): PackageEncryption => {
    if (input.encryptionKey === undefined) throw new Error("an encrypted package needs its unwrapped key");
    return {
      alg: stored.alg,
      key: input.encryptionKey,
      iv: stored.iv,
      plainSha256: stored.plainSha256,
      plainSize: stored.plainSize,
    };
  };
  // An own-key lookup, so "__proto__" and friends miss.
  const increment =
    client.installedVersion !== undefined &&
    pkg.increments &&
    Object.hasOwn(pkg.increments, client.installedVersion) &&
    client.installedVersion !== decision.version
      ? pkg.increments[client.installedVersion]
      : undefined;
  // Each format offered only when it saves bytes; format 4 only when also smaller than format 3.
  const offerIncrements = (): Pick<ManifestClaims, "increment" | "incrementDelta"> => {
    if (increment === undefined) return {};
    const offer = (o: {
      sha256: string;
      size: number;
      encryption?: StoredEncryption;
    }): ManifestIncrement => ({
      url: input.incrementUrl(o.sha256),
      size: o.size,
      sha256: o.sha256,
      fromVersion: client.installedVersion!,
      from: increment.from,
      ...(o.encryption !== undefined ? { encryption: reveal(o.encryption) } : {}),
    });
    const zstd = increment.size < pkg.size ? offer(increment) : undefined;
    const delta =
      increment.delta !== undefined &&
      increment.delta.size < pkg.size &&
      (zstd === undefined || increment.delta.size < zstd.size)
        ? offer(increment.delta)
        : undefined;
    return {
      ...(zstd !== undefined ? { increment: zstd } : {}),
      ...(delta !== undefined ? { incrementDelta: delta } : {}),
    };
  };
  return {
    ...claims,
    version: decision.version,
    package: {
      url: input.packageUrl(pkg.sha256),
      size: pkg.size,
      sha256: pkg.sha256,
      ...(pkg.files !== undefined ? { files: pkg.files } : {}),
      ...(pkg.signature !== undefined ? { signature: pkg.signature } : {}),
      ...(pkg.encryption !== undefined ? { encryption: reveal(pkg.encryption) } : {}),
    },
    ...offerIncrements(),
    rollback: decision.rollback,
    ...(decision.pagePath !== undefined ? { pagePath: decision.pagePath } : {}),
    ...(decision.taskId !== undefined ? { taskId: decision.taskId } : {}),
  };
}
