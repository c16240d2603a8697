/**
 * Server domains (PRODUCT.md X1; docs/runtime-config.md "Domain rules"): list, add, remove and,
 * for business (web-view) domains, verify. The rules (https:// or wss://, no IP, no localhost, no
 * wildcard, no path, at most 200 per kind, no duplicates) are the server's: a refused domain exits
 * 1 with its message as sent, so the CLI never disagrees with the console.
 */
import { ok } from "../api/client";
import { CANCELLED } from "../cancel";
import { UsageError } from "../errors";
import { isoTime, type Output } from "../output";
import type { Context } from "../registry";
import { group, register } from "../registry";
import { APP_OPTION, appArg, type Schemas } from "./common";

group(
  "domains",
  "Server domains a mini program may reach (request, uploadFile, downloadFile, socket, business)",
);

type Domain = Schemas["Domain"];
type Kind = Domain["kind"];
const KINDS: Kind[] = ["request", "uploadFile", "downloadFile", "socket", "business"];

function kindArg(value: string | undefined): Kind {
  if (!value || !KINDS.includes(value as Kind))
    throw new UsageError(`${JSON.stringify(value ?? "")} is not a domain kind (${KINDS.join(", ")})`);
  return value as Kind;
}

/** How the server stores a domain (lower case, no scheme, no default port, no trailing dot or slash). */
function bare(domain: string): string {
  return domain
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, "")
    .replace(/\/$/, "")
    .replace(/:443$/, "")
    .replace(/\.$/, "");
}

async function listDomains(ctx: Context, appId: string) {
  return ok(ctx.api().GET("/v1/mini-programs/{appId}/domains", { params: { path: { appId } } }));
}

/** The listed domain a user names by its id, its URL or its host; a refusal-like usage error if none. */
async function findDomain(ctx: Context, appId: string, kind: Kind, name: string): Promise<Domain> {
  const { domains } = await listDomains(ctx, appId);
  const listed = domains[kind] ?? [];
  const found = listed.find((d) => d.id === name || d.domain === bare(name));
  if (!found)
    throw new UsageError(
      `${JSON.stringify(name)} is not a listed ${kind} domain of ${appId}`,
      `see \`graycast domains list --app ${appId}\``,
    );
  return found;
}

function verificationLines(d: Domain, out: Output) {
  if (!d.verification) return;
  const v = d.verification;
  out.fields([
    [
      "verification",
      v.state === "verified" ? out.paint("green", "verified") : out.paint("yellow", "pending"),
    ],
    ["token", v.token],
    ["file", v.fileUrl],
    ["verified", v.verifiedAt === null ? null : isoTime(v.verifiedAt)],
  ]);
  if (v.state === "pending")
    out.note(
      `Serve the token as the content of ${v.fileUrl}, then run \`graycast domains verify ${d.domain}\` (local runs: add --proof <token>).`,
    );
}

function showDomain(d: Domain, out: Output) {
  out.fields([
    ["ID", d.id],
    ["kind", d.kind],
    ["domain", d.url],
    ["added", `${isoTime(d.createdAt)} by ${d.createdBy}`],
  ]);
  verificationLines(d, out);
}

register(
  {
    name: "domains list",
    summary: "List the server domains of every kind, business domains with their verification token",
    options: APP_OPTION,
    examples: [
      "graycast domains list --app gc...",
      "graycast domains list --app gc... --json | jq '.domains.request'",
    ],
    async run(ctx) {
      return listDomains(ctx, appArg(ctx));
    },
    show(r: { domains: Record<string, Domain[]>; limitPerKind: number }, out: Output) {
      const rows = KINDS.flatMap((k) => r.domains[k] ?? []);
      out.table(
        ["KIND", "DOMAIN", "ID", "VERIFICATION", "TOKEN"],
        rows.map((d) => [d.kind, d.url, d.id, d.verification?.state ?? "", d.verification?.token ?? ""]),
      );
      out.note(`At most ${r.limitPerKind} per kind.`);
    },
  },
  {
    name: "domains add",
    summary:
      "Add a domain of a kind (https:// for request, uploadFile, downloadFile, business; wss:// for socket)",
    positionals: [
      { name: "kind", required: true, description: KINDS.join(" | ") },
      {
        name: "domain",
        required: true,
        description: "e.g. https://api.example.com or wss://live.example.com",
      },
    ],
    options: APP_OPTION,
    details:
      "A business (web-view) domain starts unverified and shows the token to serve at " +
      "https://{domain}/.well-known/graycast-domain-verification.txt; only verified ones reach clients.",
    examples: [
      "graycast domains add request https://api.example.com --app gc...",
      "graycast domains add socket wss://live.example.com --app gc...",
      "graycast domains add business https://m.example.com --app gc... --json | jq -r .verification.token",
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const kind = kindArg(ctx.positionals[0]);
      const domain = ctx.positionals[1]!;
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/domains/{kind}", {
          params: { path: { appId, kind } },
          body: { domain },
        }),
      );
    },
    show: showDomain,
  },
  {
    name: "domains remove",
    summary: "Remove a domain of a kind (by its URL, host or ID); clients stop reaching it",
    destructive: true,
    positionals: [
      { name: "kind", required: true, description: KINDS.join(" | ") },
      { name: "domain", required: true, description: "the domain as listed, or its ID" },
    ],
    options: APP_OPTION,
    examples: ["graycast domains remove request https://api.example.com --app gc... --yes"],
    async run(ctx) {
      const appId = appArg(ctx);
      const kind = kindArg(ctx.positionals[0]);
      const found = await findDomain(ctx, appId, kind, ctx.positionals[1]!);
      if (
        !(await ctx.confirm(`Remove the ${kind} domain ${found.url} of ${appId}? Clients stop reaching it.`))
      )
        return CANCELLED;
      await ok(
        ctx.api().DELETE("/v1/mini-programs/{appId}/domains/{kind}/{domainId}", {
          params: { path: { appId, kind, domainId: found.id } },
        }),
      );
      return { appId, kind, domain: found.domain, id: found.id, removed: true };
    },
    show(r: { kind: string; domain: string }, out: Output) {
      out.line(`Removed the ${r.kind} domain ${r.domain}.`);
    },
  },
  {
    name: "domains verify",
    summary: "Verify a business domain: the platform fetches its token file, or (local runs) checks --proof",
    positionals: [
      { name: "domain", required: true, description: "the business domain as listed, or its ID" },
    ],
    options: {
      ...APP_OPTION,
      proof: {
        type: "string",
        placeholder: "text",
        description: "the verification file's content, where the deployment does not fetch it itself",
      },
    },
    examples: [
      "graycast domains verify https://m.example.com --app gc...",
      'graycast domains verify m.example.com --app gc... --proof "$(curl -s https://m.example.com/.well-known/graycast-domain-verification.txt)"',
    ],
    async run(ctx) {
      const appId = appArg(ctx);
      const found = await findDomain(ctx, appId, "business", ctx.positionals[0]!);
      const proof = ctx.str("proof");
      return ok(
        ctx.api().POST("/v1/mini-programs/{appId}/domains/business/{domainId}/verify", {
          params: { path: { appId, domainId: found.id } },
          body: proof === undefined ? {} : { proof },
        }),
      );
    },
    show(r: Domain & { method: string }, out: Output) {
      out.line(
        `Verified ${r.url} (by ${r.method === "fetch" ? "fetching its token file" : "the proof given"}).`,
      );
    },
  },
);
