import * as z from "zod";
import type { RefusalRule } from "../lifecycle";
import { isSemver } from "../semver";
import { ErrorBodySchema } from "./error";

export const AppIdSchema = z
  .string()
  .regex(/^gc[a-z2-7]{16,40}$/, "not an App ID")
  .meta({ example: "gcaaaabbbbccccddddeeeeff" });
export const IdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, "not an id");
export const SemverSchema = z
  .string()
  .max(20)
  .refine(isSemver, "must be a semantic version MAJOR.MINOR.PATCH, e.g. 1.2.0")
  .meta({ example: "1.2.0" });
export const OkSchema = z.object({ ok: z.literal(true) }).meta({ id: "Ok" });

/** Error responses every admin route can give; spread into `responses`. */
export const errorResponses = {
  400: {
    description: "Malformed or invalid request",
    content: { "application/json": { schema: ErrorBodySchema } },
  },
  401: {
    description: "Missing or invalid credentials",
    content: { "application/json": { schema: ErrorBodySchema } },
  },
  403: {
    description: "Your role, or your API token's scope, does not allow this",
    content: { "application/json": { schema: ErrorBodySchema } },
  },
  404: {
    description: "Not found, or not visible to you",
    content: { "application/json": { schema: ErrorBodySchema } },
  },
  409: {
    description: "Refused by a lifecycle rule",
    content: { "application/json": { schema: ErrorBodySchema } },
  },
  429: {
    description:
      "Rate limited (login attempts per address and account, writes per session or API token): retry after the `Retry-After` seconds",
    headers: {
      "Retry-After": { description: "seconds until the limit's window ends", schema: { type: "integer" } },
    },
    content: { "application/json": { schema: ErrorBodySchema } },
  },
} as const;

/** An error answer of one route, in the one error shape, described as what it is. */
export function errorResponse(description: string) {
  return { description, content: { "application/json": { schema: ErrorBodySchema } } } as const;
}

/** JSON body, required (Hono otherwise validates `{}` when the Content-Type is wrong). */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } }, required: true } as const;
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } } as const;
}

/** JWK members that carry private key material (RFC 7518 section 6). */
const PRIVATE_JWK_MEMBERS: readonly string[] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/**
 * A `superRefine` for registered public keys: refuses a private member (the key is exposed: the
 * message says where the private half belongs) and any member outside `known`, one issue each.
 */
export function publicJwkMembers(known: ReadonlySet<string>, privateKeyHolder: string) {
  return (jwk: object, ctx: z.RefinementCtx) => {
    for (const member of Object.keys(jwk)) {
      if (PRIVATE_JWK_MEMBERS.includes(member))
        ctx.addIssue({
          code: "custom",
          path: [member],
          message: `this is a private key: register the public JWK only, and keep the private key ${privateKeyHolder}`,
        });
      else if (!known.has(member))
        ctx.addIssue({ code: "custom", path: [member], message: "not a public JWK member" });
    }
  };
}

/**
 * A seed rule's limit checked by zod (documented limits equal the enforced ones, issue 11): a
 * value past it is refused with 400 and the error body names `rule` (core/contracts/validation.ts),
 * the same rule core's guard would name. `.meta()` the JSON Schema keyword the limit is, since a
 * custom check documents nothing by itself.
 */
export function seedLimit<T>(rule: RefusalRule, allows: (value: T) => boolean, message: string) {
  return (value: T, ctx: z.RefinementCtx) => {
    if (!allows(value)) ctx.addIssue({ code: "custom", message, params: { rule } });
  };
}
