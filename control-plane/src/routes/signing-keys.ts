/**
 * Team signing keys for custom signature verification (PRODUCT.md S2): register a public JWK
 * (Ed25519 or P-256), list, revoke. Mounted under /v1/teams. The upload header those keys
 * verify (`x-graycast-signature`) is declared here and used by routes/versions.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  publicJwkMembers,
} from "../../../core/contracts/common";
import { createRouter } from "../app";
import {
  listSigningKeys,
  registerSigningKey,
  revokeSigningKey,
  SIGNATURE_HEADER_PATTERN,
} from "../services/signing-keys";

export const signingKeyRoutes = createRouter();

/** 32 bytes in unpadded base64url (an Ed25519 key, a P-256 coordinate). */
const Bytes32 = z
  .string()
  .regex(/^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/, "32 bytes, base64url without padding");
/** Members that only private (or symmetric) JWKs have. */
const KNOWN_MEMBERS = new Set(["kty", "crv", "x", "y", "kid", "alg", "use", "key_ops", "ext"]);

// Harmless members that JWK tooling adds; `kid` is ignored (the key id is assigned here).
const extras = {
  kid: z.string().max(128).optional(),
  use: z.literal("sig").optional(),
  key_ops: z.array(z.literal("verify")).max(1).optional(),
  ext: z.boolean().optional(),
};
const Ed25519Jwk = z.looseObject({
  kty: z.literal("OKP"),
  crv: z.literal("Ed25519", { error: "OKP keys must be Ed25519 (not X25519 or Ed448)" }),
  x: Bytes32,
  alg: z.enum(["EdDSA", "Ed25519"]).optional(),
  ...extras,
});
const P256Jwk = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256", { error: "EC keys must be P-256 (ES256)" }),
  x: Bytes32,
  y: Bytes32,
  alg: z.literal("ES256").optional(),
  ...extras,
});

export const PublicJwkSchema = z
  .discriminatedUnion("kty", [Ed25519Jwk, P256Jwk], {
    error: "only Ed25519 (kty OKP) and P-256 (kty EC) public keys",
  })
  .superRefine(publicJwkMembers(KNOWN_MEMBERS, "with the signer"))
  .openapi("SigningKeyJwk", {
    example: { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" },
  });

const RegisterSchema = z
  .object({ name: z.string().trim().min(1).max(80), jwk: PublicJwkSchema })
  .openapi("RegisterSigningKey");
export type RegisterSigningKeyInput = z.infer<typeof RegisterSchema>;
const SigningKeySchema = z
  .object({
    id: z.string().openapi({ description: "the key id (kid) uploads name in x-graycast-signature" }),
    name: z.string(),
    alg: z.enum(["EdDSA", "ES256"]),
    publicJwk: z.record(z.string(), z.string()),
    thumbprint: z.string().openapi({ description: "hex SHA-256 of the RFC 7638 thumbprint input" }),
    status: z.enum(["active", "revoked"]),
    createdBy: z.string(),
    createdAt: z.number(),
    revokedAt: z.number().nullable(),
  })
  .openapi("SigningKey");
const TeamParams = z.object({ teamId: IdSchema });
const KeyParams = TeamParams.extend({ keyId: IdSchema });

/** The optional upload header, declared in the upload route's OpenAPI request. */
export const SignatureHeaderSchema = z
  .string()
  .regex(SIGNATURE_HEADER_PATTERN, "expected <keyId>:<EdDSA|ES256>:<base64url signature>")
  .openapi({
    description:
      "Developer signature (PRODUCT.md S2): `<keyId>:<alg>:<sig>`, sig = base64url of the 64-byte Ed25519 or ES256 (raw r||s) signature over core/signature.ts packageSigningInput(appId, version, filesSha256). Required while the team has an active signing key; scripts/sign-package.mjs prints it.",
  });

// Register a public key (team admin).
signingKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{teamId}/signing-keys",
    tags: ["signing keys"],
    summary: "Register a package signing key",
    description:
      "Register a developer's public key (team admin); uploads are then signed with its private half (x-graycast-signature).",
    request: { params: TeamParams, body: jsonBody(RegisterSchema) },
    responses: {
      201: jsonResponse(
        SigningKeySchema,
        "Registered; uploads of the team's mini programs must now be signed",
      ),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json(
      await registerSigningKey(c.var.db, c.var.actor, c.req.valid("param").teamId, c.req.valid("json")),
      201,
    ),
);

// List the team's keys, newest first (any member).
signingKeyRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{teamId}/signing-keys",
    tags: ["signing keys"],
    summary: "List package signing keys",
    description: "List the team's keys, newest first (any member).",
    request: { params: TeamParams },
    responses: {
      200: jsonResponse(z.object({ keys: z.array(SigningKeySchema) }), "Keys"),
      ...errorResponses,
    },
  }),
  async (c) =>
    c.json({ keys: await listSigningKeys(c.var.db, c.var.actor, c.req.valid("param").teamId) }, 200),
);

// Revoke a key (team admin, or a platform admin responding to an incident).
signingKeyRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{teamId}/signing-keys/{keyId}/revoke",
    tags: ["signing keys"],
    summary: "Revoke a package signing key",
    description: "Revoke a key (team admin, or a platform admin responding to an incident).",
    request: { params: KeyParams },
    responses: {
      200: jsonResponse(
        SigningKeySchema,
        "Revoked: uploads signed by it are refused, and the versions it signed are no longer published, rolled back to, put in a grayscale task or offered offline (what is already delivered stays until the next release or task change)",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { teamId, keyId } = c.req.valid("param");
    return c.json(await revokeSigningKey(c.var.db, c.var.actor, teamId, keyId), 200);
  },
);
