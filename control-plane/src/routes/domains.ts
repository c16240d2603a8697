/**
 * Server domains of a mini program (PRODUCT.md X1; seed "Development Management", "Domain name
 * settings"): list, add and remove per kind (request, uploadFile, downloadFile, socket, business),
 * and verify business (web-view) domains. Mounted under /v1/mini-programs. Rules in
 * core/runtime-config.ts, logic in services/domains.ts.
 */
import { createRoute, z } from "@hono/zod-openapi";
import {
  AppIdSchema,
  errorResponses,
  IdSchema,
  jsonBody,
  jsonResponse,
  OkSchema,
} from "../../../core/contracts/common";
import { DOMAIN_KINDS, DOMAIN_VERIFICATION_PATH, MAX_DOMAINS_PER_KIND } from "../../../core/runtime-config";
import { createRouter } from "../app";
import { addDomain, listDomains, removeDomain, verifyBusinessDomain } from "../services/domains";

export const domainRoutes = createRouter();

const KindSchema = z.enum(DOMAIN_KINDS).openapi({ description: "which API the domain is for" });
const DomainSchema = z
  .object({
    id: z.string(),
    kind: KindSchema,
    domain: z.string().openapi({ description: "host (and port when not 443), lower case" }),
    url: z.string().openapi({ example: "https://api.example.com" }),
    verification: z
      .object({
        state: z.enum(["pending", "verified"]),
        token: z.string().openapi({ description: "what the verification file must hold" }),
        fileUrl: z.string().openapi({ description: "where the team places the verification file" }),
        verifiedAt: z.number().nullable(),
      })
      .optional()
      .openapi({ description: "business domains only" }),
    createdBy: z.string(),
    createdAt: z.number(),
  })
  .openapi("Domain");
const AppParams = z.object({ appId: AppIdSchema });
const KindParams = AppParams.extend({ kind: KindSchema });
const DomainParams = KindParams.extend({ domainId: IdSchema });
const AddSchema = z
  .object({
    domain: z.string().min(1).max(300).openapi({
      example: "https://api.example.com",
      description: "https:// (wss:// for socket) and the host",
    }),
  })
  .strict()
  .openapi("AddDomain");
const VerifySchema = z
  .object({
    proof: z.string().min(1).max(200).optional().openapi({
      description: "the verification file's content; required where the platform does not fetch it",
    }),
  })
  .strict()
  .openapi("VerifyDomain");

domainRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{appId}/domains",
    tags: ["development"],
    summary: "List server domains",
    description:
      "Every domain by kind, with who added it and when; business domains with their verification token and state. Any team member.",
    request: { params: AppParams },
    responses: {
      200: jsonResponse(
        z.object({
          domains: z.record(z.string(), z.array(DomainSchema)),
          limitPerKind: z.number(),
        }),
        "Domains by kind",
      ),
      ...errorResponses,
    },
  }),
  async (c) => c.json(await listDomains(c.var.db, c.var.actor, c.req.valid("param").appId), 200),
);

domainRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/domains/{kind}",
    tags: ["development"],
    summary: "Add a server domain",
    description: `https:// for request, uploadFile, downloadFile and business; wss:// for socket. No IP address, no localhost, no wildcard, no path, query or credentials; at most ${MAX_DOMAINS_PER_KIND} per kind (409 past it); a domain already listed for the kind is refused with 409. A business domain is answered with a verification token to serve at \`https://{domain}${DOMAIN_VERIFICATION_PATH}\`; it reaches clients once verified. Team admin or developer. Reaches the edge's runtime config in seconds.`,
    request: { params: KindParams, body: jsonBody(AddSchema) },
    responses: { 201: jsonResponse(DomainSchema, "Added"), ...errorResponses },
  }),
  async (c) => {
    const { appId, kind } = c.req.valid("param");
    return c.json(
      await addDomain(c.var.db, c.env.PACKAGES, c.var.actor, appId, kind, c.req.valid("json").domain),
      201,
    );
  },
);

domainRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{appId}/domains/{kind}/{domainId}",
    tags: ["development"],
    summary: "Remove a server domain",
    description:
      "Clients stop reaching it as soon as they refresh their runtime config. Team admin or developer.",
    request: { params: DomainParams },
    responses: { 200: jsonResponse(OkSchema, "Removed"), ...errorResponses },
  }),
  async (c) => {
    const { appId, kind, domainId } = c.req.valid("param");
    return c.json(await removeDomain(c.var.db, c.env.PACKAGES, c.var.actor, appId, kind, domainId), 200);
  },
);

domainRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{appId}/domains/business/{domainId}/verify",
    tags: ["development"],
    summary: "Verify a business (web-view) domain",
    description: `Where the deployment allows outbound fetches (var DOMAIN_VERIFICATION_FETCH = "on"), the platform fetches \`https://{domain}${DOMAIN_VERIFICATION_PATH}\` (no redirects, 1 KiB at most) and compares it with the token; elsewhere (local runs) the caller sends the file's content as \`proof\`. The answer says which \`method\` verified it. A wrong file or proof, or an already verified domain, is refused with 409. Team admin or developer.`,
    request: { params: AppParams.extend({ domainId: IdSchema }), body: jsonBody(VerifySchema) },
    responses: {
      200: jsonResponse(DomainSchema.extend({ method: z.enum(["fetch", "proof"]) }), "Verified"),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { appId, domainId } = c.req.valid("param");
    return c.json(
      await verifyBusinessDomain(
        c.var.db,
        c.env.PACKAGES,
        c.var.actor,
        appId,
        domainId,
        c.req.valid("json"),
        c.env.DOMAIN_VERIFICATION_FETCH === "on",
      ),
      200,
    );
  },
);
