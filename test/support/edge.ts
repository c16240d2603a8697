/**
 * Helpers for the edge Worker's tests: they call the real Worker (`exports.default`) in
 * workerd and write snapshots and packages straight into its real R2 bucket.
 */
import { env, exports } from "cloudflare:workers";
import { createLocalJWKSet, jwtVerify, type JWTVerifyResult } from "jose";
import type { ManifestClaims } from "../../core/manifest";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../../core/manifest";
import { compileSnapshot, packageKey, snapshotKey, type PackageRef, type Snapshot, type SnapshotSource } from "../../core/snapshot";

/** The test env is typed loosely (all Workers' bindings); the edge sees these. */
export const edgeEnv = env as unknown as Cloudflare.EdgeEnv;

// `exports` is typed from GlobalProps, which `wrangler types` has not generated for this repo.
const worker = (exports as unknown as { default: Fetcher }).default;

export const ORIGIN = "https://edge.test";

export function edgeFetch(path: string, init?: RequestInit): Promise<Response> {
  return worker.fetch(new Request(`${ORIGIN}${path}`, init));
}

export function postCheck(body: unknown): Promise<Response> {
  return edgeFetch("/v1/check", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh App ID: the isolate's snapshot cache outlives a single test, so tests never share apps. */
export function newAppId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `gc${Array.from(bytes, (b) => BASE32[b & 31]).join("")}`;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Stores `bytes` as a package under its content address, as the control plane does. */
export async function putPackage(bytes: Uint8Array): Promise<PackageRef> {
  const sha256 = await sha256Hex(bytes);
  await edgeEnv.PACKAGES.put(packageKey(sha256), bytes);
  return { sha256, size: bytes.byteLength };
}

export function packageRef(seed: string, size = 1000): PackageRef {
  return { sha256: seed.repeat(64).slice(0, 64), size };
}

export const HOST_APP = "ha_testhostapp01";

/** Compiles and writes a snapshot; defaults describe a listed app bound to HOST_APP. */
export async function putSnapshot(source: Partial<SnapshotSource> & { appId: string }): Promise<Snapshot> {
  const snapshot = compileSnapshot(
    { revision: 1, listed: true, hostApps: [HOST_APP], online: null, trial: null, ...source },
    Date.now(),
  );
  await edgeEnv.PACKAGES.put(snapshotKey(snapshot.appId), JSON.stringify(snapshot));
  return snapshot;
}

export function online(version: string, pkg: PackageRef) {
  return { version, package: pkg, releasedAt: Date.now(), via: "publish" as const };
}

/** A valid client context for `appId`; override fields per test. */
export function client(appId: string, extra: Record<string, unknown> = {}) {
  return { appId, hostAppId: HOST_APP, hostAppVersion: "8.0.1", platform: "android", osVersion: "14", ...extra };
}

/** Verifies a manifest against the Worker's own JWKS, as a client does. */
export async function verifyManifest(manifest: string): Promise<JWTVerifyResult<ManifestClaims>> {
  const res = await edgeFetch("/.well-known/jwks.json");
  const jwks = createLocalJWKSet(await res.json());
  return jwtVerify<ManifestClaims>(manifest, jwks, { issuer: MANIFEST_ISSUER, typ: MANIFEST_TYPE, algorithms: ["EdDSA"] });
}

/** POST /v1/check, expects 200, returns the verified claims. */
export async function checkClaims(body: unknown): Promise<ManifestClaims> {
  const res = await postCheck(body);
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const { manifest } = await res.json<{ manifest: string }>();
  return (await verifyManifest(manifest)).payload;
}
