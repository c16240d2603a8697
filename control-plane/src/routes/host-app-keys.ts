/**
 * Host-app keys (issue 10; docs/trust.md): the public Ed25519 keys that verify the user
 * assertions a host app's server mints. Register, list, retire (rotation with overlap), revoke.
 * Mounted under /v1/host-apps.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { MAX_ASSERTION_LIFETIME_SECONDS } from "../../../core/assertion";
import {
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  publicJwkMembers,
} from "../../../core/contracts/common";
import { createRouter } from "../app";
import {
  listHostAppKeys,
  MAX_HOST_APP_KEYS,
  registerHostAppKey,
  retireHostAppKey,
  revokeHostAppKey,
} from "../services/host-app-keys";

export const hostAppKeyRoutes = createRouter();

/** 32 bytes in unpadded base64url (an Ed25519 public key). */
const Bytes32 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, "32 bytes, base64url without padding");
/** Members only private (or symmetric) JWKs have. */
const KNOWN_MEMBERS = new Set(["kty", "crv", "x", "kid", "alg", "use", "key_ops", "ext"]);

/**
 * A public Ed25519 JWK. Checks: kty "OKP", crv "Ed25519" (not X25519 / Ed448), `x` 32 bytes,
 * `alg` (if any) EdDSA, no private member (`d`...), nothing unknown. Tooling extras (`kid`,
 * `use`, `key_ops`, `ext`) are accepted and dropped: the key id is assigned here.
 */
export const HostAppJwkSchema = z
  .looseObject({
    kty: z.literal("OKP", { error: "only Ed25519 keys (kty OKP)" }),
    crv: z.literal("Ed25519", { error: "OKP keys must be Ed25519 (not X25519 or Ed448)" }),
    x: Bytes32,
    alg: z.enum(["EdDSA", "Ed25519"]).optional(),
    kid: z.string().max(128).optional(),
    use: z.literal("sig").optional(),
    key_ops: z.array(z.literal("verify")).max(1).optional(),
    ext: z.boolean().optional(),
  })
  .superRefine(publicJwkMembers(KNOWN_MEMBERS, "on the host app's server"))
  .openapi("HostAppKeyJwk", {
    example: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
  });

const RegisterSchema = z
  .object({ name: z.string().trim().min(1).max(80), jwk: HostAppJwkSchema })
  .openapi("RegisterHostAppKey");
export type RegisterHostAppKeyInput = z.infer<typeof RegisterSchema>;
const HostAppKeySchema = z
  .object({
    id: z.string().openapi({ description: "the key id: the `kid` header of the assertions it signs" }),
    name: z.string(),
    alg: z.literal("EdDSA"),
    publicJwk: z.object({ kty: z.literal("OKP"), crv: z.literal("Ed25519"), x: z.string() }),
    thumbprint: z.string().openapi({ description: "RFC 7638 JWK thumbprint (SHA-256, base64url)" }),
    status: z.enum(["active", "retired", "revoked"]),
    createdBy: z.string(),
    createdAt: z.number(),
    retiredAt: z.number().nullable(),
    revokedAt: z.number().nullable(),
    verifiesUntil: z.number().nullable().openapi({
      description:
        "when the key stops verifying assertions (ms): null while active, retiredAt + overlap once retired, revokedAt once revoked",
    }),
  })
  .openapi("HostAppKey");
const HostParams = z.object({ hostAppId: IdSchema });
const KeyParams = HostParams.extend({ keyId: IdSchema });

// Register a public key that verifies this host app's user assertions (manager or platform admin).
hostAppKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/keys",
    tags: ["host apps"],
    summary: "Register a user-assertion key",
    description: `A public Ed25519 JWK (never the private \`d\`). At most ${MAX_HOST_APP_KEYS} active or retired keys per host app; a key already registered (same RFC 7638 thumbprint) is refused with 409. Reaches the edge with the snapshots of the host app's bound mini programs.`,
    request: { params: HostParams, body: jsonBody(RegisterSchema) },
    responses: {
      201: jsonResponse(
        HostAppKeySchema,
        "Registered; assertions signed with it and naming its id as kid verify at the edge",
      ),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await registerHostAppKey(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        c.req.valid("param").hostAppId,
        c.req.valid("json"),
      ),
      201,
    ),
);

// List the host app's keys, newest first (managers, auditors, platform admins).
hostAppKeyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{hostAppId}/keys",
    tags: ["host apps"],
    summary: "List user-assertion keys",
    description: "List the host app's keys, newest first (managers, auditors, platform admins).",
    request: { params: HostParams },
    responses: {
      200: jsonResponse(z.object({ keys: z.array(HostAppKeySchema) }), "Keys, newest first"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ keys: await listHostAppKeys(c.var.db, c.var.actor, c.req.valid("param").hostAppId) }, 200),
);

// Retire a key: it keeps verifying assertions it already signed for the overlap (manager or platform admin).
hostAppKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/keys/{keyId}/retire",
    tags: ["host apps"],
    summary: "Retire a user-assertion key (rotation)",
    description: `The key keeps verifying for ${MAX_ASSERTION_LIFETIME_SECONDS} s (+ clock skew) after retirement, the longest an assertion it signed can live; then it stops. Mint new assertions with another key.`,
    request: { params: KeyParams },
    responses: { 200: jsonResponse(HostAppKeySchema, "Retired"), ...errorResponses },
  }),
  async (c) => {
    const { hostAppId, keyId } = c.req.valid("param");
    return c.json(await retireHostAppKey(c.var.db, c.env.PACKAGES, c.var.actor, hostAppId, keyId), 200);
  },
);

// Revoke a key: its assertions stop verifying at once (manager or platform admin).
hostAppKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{hostAppId}/keys/{keyId}/revoke",
    tags: ["host apps"],
    summary: "Revoke a user-assertion key (leaked key)",
    description:
      "Assertions signed with it stop verifying as soon as the edge has the republished snapshots (seconds).",
    request: { params: KeyParams },
    responses: { 200: jsonResponse(HostAppKeySchema, "Revoked"), ...errorResponses },
  }),
  async (c) => {
    const { hostAppId, keyId } = c.req.valid("param");
    return c.json(await revokeHostAppKey(c.var.db, c.env.PACKAGES, c.var.actor, hostAppId, keyId), 200);
  },
);
