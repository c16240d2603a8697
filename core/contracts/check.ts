/**
 * Wire contract of the edge Worker's client API: `POST /v1/check`, the JWKS and package
 * downloads. The request schema mirrors `ClientContext` (core/decide.ts); the type assertion
 * at the bottom fails the build if the two drift apart.
 */
import { z } from "@hono/zod-openapi";
import type { ClientContext } from "../decide";
import { parseLooseVersion } from "../semver";
import { AppIdSchema, IdSchema, SemverSchema } from "./common";

/**
 * Host app and OS versions are not always semver ("17.4", "14", "8.0.1.2"); grayscale rules
 * compare them as loose versions, so refuse what `parseLooseVersion` cannot read.
 */
const LooseVersionSchema = z
  .string()
  .max(32)
  .refine((v) => parseLooseVersion(v) !== undefined, "must be dot-separated numbers, e.g. 17.4.1")
  .openapi({ example: "8.0.50" });

/** Free-form client identifiers and device facts: printable, no control characters. */
const ClientTextSchema = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]+$/u, "must not contain control characters");

export const PlatformSchema = z.enum(["android", "ios"]);
export const NetworkSchema = z.enum(["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"]);

export const CheckRequestSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema.openapi({ example: "ha_aaaabbbbccccdddd" }),
    hostAppVersion: LooseVersionSchema,
    platform: PlatformSchema,
    osVersion: LooseVersionSchema,
    guid: ClientTextSchema(128).optional(),
    deviceId: ClientTextSchema(128).optional(),
    account: ClientTextSchema(128).optional(),
    network: NetworkSchema.optional(),
    brand: ClientTextSchema(64).optional(),
    model: ClientTextSchema(64).optional(),
    /** the mini program version the client runs now, if any */
    installedVersion: SemverSchema.optional(),
    baseLibraryVersion: LooseVersionSchema.optional(),
    /** asks for the trial version; granted to the team's testers only */
    trial: z.boolean().optional(),
  })
  // Unknown keys are refused rather than dropped, so a client typo ("installedVersoin") is
  // reported instead of silently changing the answer.
  .strict()
  .openapi("CheckRequest");

export type CheckRequest = z.infer<typeof CheckRequestSchema>;

export const CheckResponseSchema = z
  .object({
    manifest: z.string().openapi({ description: "Compact JWS (EdDSA) of the manifest claims; verify with /.well-known/jwks.json" }),
  })
  .openapi("CheckResponse");

export type CheckResponse = z.infer<typeof CheckResponseSchema>;

/** Packages are content-addressed: the key is the lowercase hex sha256 of the bytes. */
export const Sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters")
  .openapi({ example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" });

export const PackageParamsSchema = z.object({
  sha256: Sha256Schema.openapi({ param: { name: "sha256", in: "path" } }),
});

/** A public Ed25519 key as published in the JWKS (never a private `d`). */
export const PublicJwkSchema = z
  .object({
    kty: z.literal("OKP"),
    crv: z.literal("Ed25519"),
    x: z.string().min(1).max(64),
    kid: z.string().min(1).max(128),
    alg: z.literal("EdDSA"),
    use: z.literal("sig"),
  })
  .openapi("PublicJwk");

export type PublicJwk = z.infer<typeof PublicJwkSchema>;

export const JwksSchema = z.object({ keys: z.array(PublicJwkSchema) }).openapi("Jwks");

// Compile-time check that the wire schema and the domain type describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checkRequestMatchesClientContext: Same<CheckRequest, ClientContext> = true;
void checkRequestMatchesClientContext;
