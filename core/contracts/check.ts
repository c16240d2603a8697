/**
 * Wire contract of the edge Worker's client API: `/v1/check` (the POST body; the GET query carries the same fields), the JWKS and package
 * downloads. The request schema mirrors `ClientContext` (core/decide.ts) plus the client's
 * admission tickets, which are transport, not client facts; the type assertion at the bottom
 * fails the build if the two drift apart.
 */
import * as z from "zod";
import { MAX_ASSERTION_LENGTH } from "../assertion";
import type { ClientContext } from "../decide";
import { parseLooseVersion } from "../semver";
import { AppIdSchema, IdSchema, SemverSchema } from "./common";

/**
 * Host app and OS versions are not always semver ("17.4", "14", "8.0.1.2"); grayscale rules
 * compare them as loose versions, so refuse what `parseLooseVersion` cannot read.
 */
export const LooseVersionSchema = z
  .string()
  .max(32)
  .refine((v) => parseLooseVersion(v) !== undefined, "must be dot-separated numbers, e.g. 17.4.1")
  .meta({ example: "8.0.50" });

/** Free-form client identifiers and device facts: printable, no control characters. */
export const ClientTextSchema = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\x00-\x1f\x7f-\x9f]+$/, "must not contain control characters");

/** Grayscale admission tickets: limits bound the HMAC work a single check can cause. */
export const MAX_TICKETS = 8;
export const MAX_TICKET_LENGTH = 512;

/**
 * An admission ticket as issued by the edge (`base64url(payload).base64url(hmac)`). Only size
 * and alphabet are checked here: a ticket that does not verify is ignored, never an error, so a
 * client with a stale or corrupted store still gets an answer.
 */
const TicketSchema = z
  .string()
  .min(1)
  .max(MAX_TICKET_LENGTH)
  .regex(/^[A-Za-z0-9_.-]+$/, "must be an admission ticket as issued by check");

/**
 * A host-app user assertion (core/assertion.ts, docs/trust.md): a compact JWS. Only its size and
 * alphabet are checked here; one that does not verify is ignored (the account stays unverified),
 * never an error, so a client with a stale assertion still gets an answer.
 */
export const AssertionSchema = z
  .string()
  .min(1)
  .max(MAX_ASSERTION_LENGTH)
  .regex(
    /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    "must be a compact JWS (header.claims.signature)",
  );

export const PlatformSchema = z.enum(["android", "ios"]);
export const NetworkSchema = z.enum(["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"]);

export const CheckRequestSchema = z
  .object({
    appId: AppIdSchema,
    hostAppId: IdSchema.meta({ example: "ha_aaaabbbbccccdddd" }),
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
    assertion: AssertionSchema.optional().meta({
      description: `A user assertion from the host app's server (docs/trust.md): a compact EdDSA JWS, at most ${MAX_ASSERTION_LENGTH} characters, naming the host app (iss), the account (sub) and optionally the device id (did). When it verifies, the account is vouched for: trial versions, account targets and verified-only grayscale tasks need that. \`account\` / \`deviceId\` sent beside it must equal its sub / did (400 otherwise). In a GET it travels only in the x-graycast-user header.`,
    }),
    /** admission tickets this client stored from earlier check answers for this mini program */
    tickets: z
      .array(TicketSchema)
      .max(MAX_TICKETS)
      .optional()
      .meta({
        description: `Grayscale admission tickets previously returned by check for this mini program (at most ${MAX_TICKETS}); a ticket lets an admitted user keep a capped or suspended grayscale version.`,
      }),
  })
  // Unknown keys are refused rather than dropped, so a client typo ("installedVersoin") is
  // reported instead of silently changing the answer.
  .strict()
  .meta({ id: "CheckRequest" });

export type CheckRequest = z.infer<typeof CheckRequestSchema>;

export const CheckResponseSchema = z
  .object({
    manifest: z.string().meta({
      description: "Compact JWS (EdDSA) of the manifest claims; verify with /.well-known/jwks.json",
    }),
    tickets: z.array(z.string()).optional().meta({
      description:
        "Grayscale admission tickets to store for this mini program and send back in `tickets` on later checks: a new ticket when the client was just admitted to a grayscale task, or the ticket that kept it there. Absent when there is nothing to store; keep earlier tickets (drop the oldest beyond 8).",
    }),
  })
  .meta({ id: "CheckResponse" });

export type CheckResponse = z.infer<typeof CheckResponseSchema>;

/** Packages are content-addressed: the key is the lowercase hex sha256 of the bytes. */
export const Sha256Schema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters")
  .meta({ example: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" });

export const PackageParamsSchema = z.object({
  sha256: Sha256Schema.meta({ param: { name: "sha256", in: "path" } }),
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
  .meta({ id: "PublicJwk" });

export type PublicJwk = z.infer<typeof PublicJwkSchema>;

export const JwksSchema = z.object({ keys: z.array(PublicJwkSchema) }).meta({ id: "Jwks" });

/** Splits a check request into the client's facts (what the domain decides on) and its tickets. */
export function splitCheckRequest(request: CheckRequest): {
  client: ClientContext;
  tickets: string[];
  assertion: string | undefined;
} {
  const { tickets = [], assertion, ...client } = request;
  return { client, tickets, assertion };
}

// Compile-time check that the wire schema (minus transport fields) and the domain type describe the same thing.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// `verifiedAccount` is the edge's finding, never the client's word: the wire has no such field.
const checkRequestMatchesClientContext: Same<
  Omit<CheckRequest, "tickets" | "assertion">,
  Omit<ClientContext, "verifiedAccount">
> = true;
void checkRequestMatchesClientContext;
