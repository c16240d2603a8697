/**
 * `GET /v1/config?appId&hostAppId` and `GET /v1/privacy/{sha256}` (PRODUCT.md D5, X7; issue 12):
 * the runtime config of a mini program in one host app, signed like a manifest (Ed25519 JWS with
 * the manifest signing key, typ `graycast-config+jwt`, carrying `configRevision`), and the
 * published privacy agreement text, content-addressed. Reads only the snapshot and R2, never D1.
 *
 * Grayscale task switches: a client admitted to a task shows the signed check manifest that says
 * so (header `x-graycast-manifest`); the edge verifies its own signature and claims (this app and
 * host app, not expired, `reason: grayscale`, a task still in the snapshot) and then applies that
 * task's switch values. A manifest that does not verify is ignored (base values, never an error),
 * as the check ignores a user assertion that does not verify; the answer header says why.
 */
import { compactVerify, decodeProtectedHeader, importJWK, SignJWT } from "jose";
import {
  ConfigQuerySchema,
  MANIFEST_HEADER,
  ManifestHeaderSchema,
  PrivacySha256Schema,
  TASK_STATUS_HEADER,
} from "../../../core/contracts/config";
import { validationError } from "../../../core/contracts/validation";
import { ApiError, notFound } from "../../../core/errors";
import { MANIFEST_ISSUER, MANIFEST_TYPE } from "../../../core/manifest";
import {
  CONFIG_ISSUER,
  CONFIG_TYPE,
  type ConfigClaims,
  hasTaskSwitches,
  privacyKey,
  resolveConfig,
} from "../../../core/runtime-config";
import type { Snapshot } from "../../../core/snapshot";
import { readNumberVar } from "../env";
import { JSON_NO_STORE_HEADERS } from "../headers";
import { limitCheck } from "../rate-limit";
import { createRouter } from "../router";
import { keyRing, loadSigner, manifestWindowStart } from "../signing";
import { snapshotCache } from "../snapshot-cache";
import { originOf } from "./check";

export const configRoutes = createRouter();
export const privacyRoutes = createRouter();

const DEFAULT_SNAPSHOT_TTL_MS = 2_000;
const DEFAULT_CONFIG_TTL_SECONDS = 3_600;
const QUERY_LIMIT = 1024;

/** The query, strictly: appId and hostAppId, each once, nothing else. */
function readQuery(url: string) {
  const mark = url.indexOf("?");
  const query = mark < 0 ? "" : url.slice(mark + 1);
  if (query.length > QUERY_LIMIT)
    throw new ApiError("uri_too_long", `config queries are limited to ${QUERY_LIMIT} characters`);
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(query)) {
    if (Object.hasOwn(fields, name))
      throw validationError({ issues: [{ path: [name.slice(0, 64)], message: "given more than once" }] });
    fields[name] = value;
  }
  const parsed = ConfigQuerySchema.safeParse(fields);
  if (!parsed.success) throw validationError(parsed.error);
  return parsed.data;
}

// Imported public keys of the ring, by kid, per isolate (the ring itself is cached by signing.ts).
const verifyKeys = new Map<string, CryptoKey | Uint8Array>();

/**
 * The grayscale task the client proved admission to with its check manifest, or why not. Only
 * keys of the edge's own ring verify (the signing key, and retired keys until their retireAfter).
 */
async function admittedTask(
  manifest: string,
  snapshot: Snapshot,
  appId: string,
  hostAppId: string,
  env: { MANIFEST_SIGNING_KEY: string; MANIFEST_VERIFY_KEYS?: string },
  nowMs: number,
): Promise<{ taskId: string } | { ignored: string }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(manifest);
  } catch {
    return { ignored: "malformed" };
  }
  if (header.alg !== "EdDSA" || header.typ !== MANIFEST_TYPE) return { ignored: "malformed" };
  const ring = await keyRing(env.MANIFEST_SIGNING_KEY, env.MANIFEST_VERIFY_KEYS);
  const entry = ring.find(
    (k) =>
      k.jwk.kid === header.kid &&
      k.status !== "upcoming" &&
      (k.status !== "retired" || nowMs < k.retireAfterMs),
  );
  if (!entry) return { ignored: "unknown_key" };
  let key = verifyKeys.get(entry.jwk.kid);
  if (key === undefined) {
    key = await importJWK(entry.jwk, "EdDSA");
    verifyKeys.set(entry.jwk.kid, key);
  }
  let claims: Record<string, unknown>;
  try {
    const { payload } = await compactVerify(manifest, key, { algorithms: ["EdDSA"] });
    claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch {
    return { ignored: "bad_signature" };
  }
  if (claims.iss !== MANIFEST_ISSUER || claims.sub !== appId || claims.aud !== hostAppId)
    return { ignored: "wrong_app" };
  if (typeof claims.exp !== "number" || claims.exp * 1000 <= nowMs) return { ignored: "expired" };
  const taskId = claims.taskId;
  if (claims.reason !== "grayscale" || typeof taskId !== "string") return { ignored: "not_in_task" };
  if (!snapshot.tasks.some((t) => t.id === taskId)) return { ignored: "task_gone" };
  return { taskId };
}

interface SignedAnswer {
  body: string;
  windowStart: number;
}
/** Signed answers per isolate: one signature per (app, host app, task, revision, origin) per window. */
const answers = new Map<string, SignedAnswer>();
const MAX_ANSWERS = 1_000;

configRoutes.get("/", async (c) => {
  const request = c.req.raw;
  const url = request.url;
  const { appId, hostAppId } = readQuery(url);
  const rawManifest = request.headers.get(MANIFEST_HEADER);
  let manifest: string | undefined;
  if (rawManifest !== null) {
    const checked = ManifestHeaderSchema.safeParse(rawManifest);
    if (!checked.success)
      throw validationError({ issues: checked.error.issues.map((i) => ({ ...i, path: [MANIFEST_HEADER] })) });
    manifest = checked.data;
  }
  // The check's per-address limit: after validation, before any R2 read or signature.
  const refused = await limitCheck(request, c.env);
  if (refused) return refused;
  const now = Date.now();
  const ttlMs = readNumberVar(c.env.SNAPSHOT_TTL_MS, DEFAULT_SNAPSHOT_TTL_MS);
  const snapshot =
    snapshotCache.peek(appId, ttlMs, now) ?? (await snapshotCache.get(c.env.PACKAGES, appId, ttlMs, now));
  if (!snapshot?.config) throw notFound("mini program");
  if (!snapshot.hostApps.includes(hostAppId)) throw notFound("binding of this mini program to the host app");
  const config = snapshot.config;

  let taskId: string | undefined;
  let taskStatus: string | undefined;
  if (manifest !== undefined) {
    const admitted = await admittedTask(manifest, snapshot, appId, hostAppId, c.env, now);
    if ("ignored" in admitted) taskStatus = admitted.ignored;
    else if (!hasTaskSwitches(config, admitted.taskId)) taskStatus = "no_task_switches";
    else {
      taskId = admitted.taskId;
      taskStatus = "applied";
    }
  }

  const origin = originOf(url);
  const windowStart = manifestWindowStart(now);
  const key = `${appId}|${hostAppId}|${taskId ?? ""}|${snapshot.revision}|${origin}`;
  let answer = answers.get(key);
  if (answer === undefined || answer.windowStart !== windowStart) {
    const iat = Math.floor(windowStart / 1000);
    const claims: ConfigClaims = {
      iss: CONFIG_ISSUER,
      sub: appId,
      aud: hostAppId,
      iat,
      exp: iat + readNumberVar(c.env.MANIFEST_TTL_SECONDS, DEFAULT_CONFIG_TTL_SECONDS),
      revision: snapshot.revision,
      ...resolveConfig(config, hostAppId, taskId, (sha) => `${origin}/v1/privacy/${sha}`),
    };
    const signer = await loadSigner(c.env.MANIFEST_SIGNING_KEY);
    const jws = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "EdDSA", kid: signer.kid, typ: CONFIG_TYPE })
      .sign(signer.key);
    answer = { body: JSON.stringify({ config: jws }), windowStart };
    answers.delete(key);
    answers.set(key, answer);
    if (answers.size > MAX_ANSWERS) {
      const oldest = answers.keys().next();
      if (!oldest.done) answers.delete(oldest.value);
    }
  }
  const headers = new Headers(JSON_NO_STORE_HEADERS);
  if (taskStatus !== undefined) headers.set(TASK_STATUS_HEADER, taskStatus);
  return new Response(answer.body, { headers });
});

/** Published privacy texts never change (content-addressed): caches may keep them for a year. */
const IMMUTABLE = "public, max-age=31536000, immutable";

privacyRoutes.get("/:sha256", async (c) => {
  const parsed = PrivacySha256Schema.safeParse(c.req.param("sha256"));
  if (!parsed.success)
    throw validationError({ issues: parsed.error.issues.map((i) => ({ ...i, path: ["sha256"] })) });
  const sha256 = parsed.data;
  const etag = `"${sha256}"`;
  if (c.req.header("if-none-match") === etag)
    return new Response(null, { status: 304, headers: { etag, "cache-control": IMMUTABLE } });
  const object = await c.env.PACKAGES.get(privacyKey(sha256));
  if (!object) throw notFound("privacy agreement");
  return new Response(object.body, {
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": IMMUTABLE,
      etag,
      ...(object.size !== undefined ? { "content-length": String(object.size) } : {}),
    },
  });
});
