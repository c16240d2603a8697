/**
 * Helpers for the edge Worker's tests: they call the real Worker (`exports.default`) in
 * workerd and write snapshots, packages and whitelists straight into its real R2 bucket.
 */
import { env, exports } from "cloudflare:workers";
import { createLocalJWKSet, decodeJwt, type JWTVerifyResult, jwtVerify } from "jose";
import { compileTask, type TaskStatus } from "../../core/grayscale/lifecycle";
import type { CompiledTask, TargetKind, TaskDefinition, WhitelistRef } from "../../core/grayscale/types";
import { bloomHas } from "../../core/grayscale/whitelist";
import { buildWhitelist, buildWhitelistV2, shardText } from "../../core/grayscale/whitelist-build";
import { fingerprintBloomHas, valueFingerprint } from "../../core/grayscale/whitelist-v2";
import type { ManifestClaims } from "../../core/manifest";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../../core/manifest";
import {
  compileSnapshot,
  type PackageRef,
  packageKey,
  type Snapshot,
  type SnapshotSource,
  snapshotKey,
  whitelistBloomKey,
  whitelistShardKey,
} from "../../core/snapshot";
import type { GrayscaleCounter } from "../../durable-objects/grayscale-counter";
import { edgeTestKey, snapshotKeyOf } from "./assertions";

/** The test env is typed loosely (all Workers' bindings); the edge sees these. */
export const edgeEnv = env as unknown as EdgeEnv;

// `exports` is typed from GlobalProps, which `wrangler types` has not generated for this repo.
const worker = (exports as unknown as { default: Fetcher }).default;

export const ORIGIN = "https://edge.test";

export function edgeFetch(path: string, init?: RequestInit): Promise<Response> {
  return worker.fetch(new Request(`${ORIGIN}${path}`, init));
}

export function postCheck(body: unknown): Promise<Response> {
  return edgeFetch("/v1/check", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
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

/**
 * Compiles and writes a snapshot; defaults describe a listed app bound to HOST_APP, whose user
 * assertions the test key verifies (support/assertions.ts `userAssertion`).
 */
export async function putSnapshot(source: Partial<SnapshotSource> & { appId: string }): Promise<Snapshot> {
  const hostAppKeys = { [HOST_APP]: [snapshotKeyOf(await edgeTestKey())] };
  const snapshot = compileSnapshot(
    { revision: 1, listed: true, hostApps: [HOST_APP], online: null, trial: null, hostAppKeys, ...source },
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
  return {
    appId,
    hostAppId: HOST_APP,
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
    ...extra,
  };
}

/** Verifies a manifest against the Worker's own JWKS, as a client does. */
export async function verifyManifest(manifest: string): Promise<JWTVerifyResult<ManifestClaims>> {
  const res = await edgeFetch("/.well-known/jwks.json");
  const jwks = createLocalJWKSet(await res.json());
  return jwtVerify<ManifestClaims>(manifest, jwks, {
    issuer: MANIFEST_ISSUER,
    typ: MANIFEST_TYPE,
    algorithms: ["EdDSA"],
  });
}

/** POST /v1/check, expects 200, returns the verified claims. */
export async function checkClaims(body: unknown): Promise<ManifestClaims> {
  const res = await postCheck(body);
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const { manifest } = await res.json<{ manifest: string }>();
  return (await verifyManifest(manifest)).payload;
}

// ------------------------------------------------------------------ grayscale

/** A fresh task id: Durable Object storage outlives a single test, so tests never share counters. */
export function newTaskId(): string {
  return `gt_${Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => BASE32[b & 31]).join("")}`;
}

const DAY = 24 * 3_600_000;

/**
 * A compiled task as the control plane puts it in the snapshot: by default admitting, started
 * an hour ago, ending in a day, no cap, no percentage, HOST_APP at any version, both platforms at
 * any OS version, every user. Ranges are given parsed, lists lower-cased (as compileTask does).
 */
export function compiledTask(
  version: string,
  pkg: PackageRef,
  extra: Partial<CompiledTask> = {},
): CompiledTask {
  const now = Date.now();
  return {
    id: newTaskId(),
    version,
    package: pkg,
    phase: "admitting",
    startAt: now - 3_600_000,
    endAt: now + DAY,
    userCap: null,
    percentageBp: null,
    hostApps: { [HOST_APP]: [null, null] },
    platforms: { android: [null, null], ios: [null, null] },
    targets: null,
    networks: null,
    brands: null,
    models: null,
    countries: null,
    regions: null,
    cities: null,
    ...extra,
  };
}

/**
 * A task compiled from a developer's definition by the control plane's own compiler
 * (`compileTask`); defaults as in `compiledTask`. Status defaults to delivering.
 */
export function definedTask(
  def: Partial<TaskDefinition> & { version: string },
  pkg: PackageRef,
  {
    status = { state: "delivering", endReason: null },
    whitelists = [],
  }: { status?: TaskStatus; whitelists?: WhitelistRef[] } = {},
): CompiledTask {
  const now = Date.now();
  const definition: TaskDefinition = {
    name: "test task",
    startAt: now - 3_600_000,
    endAt: now + DAY,
    userCap: null,
    percentageBp: null,
    hostApps: { [HOST_APP]: {} },
    platforms: { android: {}, ios: {} },
    targets: {},
    ...def,
  };
  const task = compileTask({ id: newTaskId(), definition, status, package: pkg, whitelists }, now);
  if (!task) throw new Error("compileTask withdrew the task");
  return task;
}

/** A whitelist stored in R2 by `putWhitelist`: its ref, and what its Bloom filter says of a value. */
export interface StoredWhitelist {
  ref: WhitelistRef;
  /** the Bloom filter's answer (false = surely not a member; true for members and ~1% of others) */
  bloomSays(value: string): boolean;
}

/**
 * Builds an uploaded whitelist with the core functions and stores its Bloom filter and shards in
 * R2: in storage format 2, as uploads write it (core `buildWhitelistV2`), or in format 1, as
 * lists uploaded before format 2 were (core `buildWhitelist`; a ref without `format`).
 */
export async function putWhitelist(
  kind: TargetKind,
  values: readonly string[],
  seed = 12345,
  format: 1 | 2 = 2,
): Promise<StoredWhitelist> {
  const id = `wl_${newTaskId().slice(3)}`;
  if (format === 1) {
    const built = buildWhitelist({ id, kind, seed, values });
    await edgeEnv.PACKAGES.put(whitelistBloomKey(id), built.bloom);
    await Promise.all(
      built.shards.map((shard, i) => edgeEnv.PACKAGES.put(whitelistShardKey(id, i), shardText(shard))),
    );
    return { ref: built.ref, bloomSays: (value) => bloomHas(built.bloom, built.ref, value) };
  }
  const built = buildWhitelistV2({ id, kind, seed, values });
  await edgeEnv.PACKAGES.put(whitelistBloomKey(id), built.bloom);
  await Promise.all(built.shards.map((shard, i) => edgeEnv.PACKAGES.put(whitelistShardKey(id, i), shard)));
  const words = new Uint32Array(built.bloom.slice().buffer);
  return {
    ref: built.ref,
    bloomSays: (value) => {
      const fp = valueFingerprint(built.ref, value);
      return fingerprintBloomHas(words, fp.h0, fp.h1);
    },
  };
}

export interface CheckAnswer {
  claims: ManifestClaims;
  tickets: string[];
}

/**
 * POST /v1/check with an optional `x-graycast-geo` header; expects 200; the claims (verified
 * against the JWKS unless `verify` is false, for load tests) and tickets.
 */
export async function check(body: unknown, geo?: string, { verify = true } = {}): Promise<CheckAnswer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (geo !== undefined) headers["x-graycast-geo"] = geo;
  const res = await edgeFetch("/v1/check", { method: "POST", headers, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const { manifest, tickets } = await res.json<{ manifest: string; tickets?: string[] }>();
  if (!verify) return { claims: decodeJwt<ManifestClaims>(manifest), tickets: tickets ?? [] };
  jwks ??= createLocalJWKSet(await (await edgeFetch("/.well-known/jwks.json")).json());
  const { payload } = await jwtVerify<ManifestClaims>(manifest, jwks, {
    issuer: MANIFEST_ISSUER,
    typ: MANIFEST_TYPE,
    algorithms: ["EdDSA"],
  });
  return { claims: payload, tickets: tickets ?? [] };
}

/** The Worker's JWKS, fetched once per test file (the signing key does not change in a run). */
let jwks: ReturnType<typeof createLocalJWKSet> | undefined;

/** The real counter of a task (the binding's generated type does not name the class). */
export function counterOf(taskId: string) {
  return (edgeEnv.GRAYSCALE_COUNTER as DurableObjectNamespace<GrayscaleCounter>).getByName(taskId);
}

// ------------------------------------------------------------------ check by GET

/**
 * The query form of a check body (GET /v1/check), form-encoded as a client does: each field once,
 * `ticket` once per admission ticket, booleans as `true` / `false`.
 */
export function checkQuery(body: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) {
    if (value === undefined) continue;
    if (name === "tickets" && Array.isArray(value))
      for (const ticket of value) params.append("ticket", String(ticket));
    else params.append(name, String(value));
  }
  return params.toString();
}

/** GET /v1/check with `body` as its query (see `checkQuery`), optionally with an `x-graycast-geo` header. */
export function getCheck(body: Record<string, unknown>, geo?: string): Promise<Response> {
  return edgeFetch(
    `/v1/check?${checkQuery(body)}`,
    geo !== undefined ? { headers: { "x-graycast-geo": geo } } : undefined,
  );
}
