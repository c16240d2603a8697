/**
 * The claims of a signed check manifest (JWS, Ed25519). Clients verify the signature against
 * pinned platform keys, then these claims: `sub` and `aud` bind the manifest to one mini
 * program and one host app (no mix-and-match), `exp` bounds replay (anti-freeze), and
 * `rollback` is the only way a client accepts a version older than the one it runs.
 */
import type { ClientContext, Decision, DecisionReason, DecisionStatus } from "./decide";

export const MANIFEST_ISSUER = "graycast";
export const MANIFEST_TYPE = "graycast-manifest+jwt";

export interface ManifestPackage {
  url: string;
  size: number;
  sha256: string;
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
  return {
    ...claims,
    version: decision.version,
    package: { url: input.packageUrl(decision.package.sha256), size: decision.package.size, sha256: decision.package.sha256 },
    rollback: decision.rollback,
    ...(decision.pagePath !== undefined ? { pagePath: decision.pagePath } : {}),
    ...(decision.taskId !== undefined ? { taskId: decision.taskId } : {}),
  };
}
