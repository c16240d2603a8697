/**
 * What an API token may do (issue 10: "API tokens get scopes (read, write, publish, admin)"), in
 * one table. A session is not scope-limited: its user's roles decide (services/access.ts). A token
 * needs its scope AND its user's role; scopes only ever take rights away.
 *
 * - `read`: every GET and HEAD (but AppSecret status, READ_ROUTE_SCOPES), and the read-only POSTs
 *   `explain` and the privacy agreement preview.
 * - `write`: changes a mini program's content without changing what clients are served (create,
 *   edit, upload, submit, withdraw, ask for a binding, retry an increment build, apply for skipping
 *   domain verification or a sensitive API, save the privacy draft).
 * - `publish`: changes what clients are served or decides a release: publish, rollback, trial,
 *   shelf, grayscale tasks (create, edit, suspend/resume/end/revert, whitelists), audit decisions,
 *   binding decisions and removals, and the runtime config (issue 12): domains, switches, privacy
 *   publish, skip-domain and sensitive API decisions.
 * - `admin`: accounts and trust: users, teams and members, host apps and members, signing keys,
 *   package encryption, API tokens, AppSecrets (status included), a host app's sensitive APIs.
 *
 * A write route missing from the table needs `admin` (fail closed); test/admin-token-scopes.test.ts
 * checks that every write route of the OpenAPI document is in the table and nothing else is.
 */
import type { TokenScope } from "../db/schema";

export const TOKEN_SCOPES = ["read", "write", "publish", "admin"] as const satisfies readonly TokenScope[];

/** `METHOD path` (the path as Hono registers it, `:param`) of every write route -> its scope. */
export const WRITE_ROUTE_SCOPES: Readonly<Record<string, TokenScope>> = {
  // auth: logout and password changes refuse API tokens in the route itself (services/auth.ts)
  "POST /v1/auth/logout": "read",
  "POST /v1/auth/password": "admin",
  "POST /v1/auth/tokens": "admin",
  "DELETE /v1/auth/tokens/:tokenId": "admin",
  // accounts and organisation
  "POST /v1/users": "admin",
  "POST /v1/users/:userId/disable": "admin",
  "POST /v1/users/:userId/enable": "admin",
  "POST /v1/teams": "admin",
  "POST /v1/teams/:teamId/members": "admin",
  "DELETE /v1/teams/:teamId/members/:userId": "admin",
  "POST /v1/teams/:teamId/signing-keys": "admin",
  "POST /v1/teams/:teamId/signing-keys/:keyId/revoke": "admin",
  "POST /v1/host-apps": "admin",
  "POST /v1/host-apps/:hostAppId/members": "admin",
  "POST /v1/host-apps/:hostAppId/keys": "admin",
  "POST /v1/host-apps/:hostAppId/keys/:keyId/retire": "admin",
  "POST /v1/host-apps/:hostAppId/keys/:keyId/revoke": "admin",
  "PUT /v1/mini-programs/:appId/encryption": "admin",
  "POST /v1/host-apps/:hostAppId/sensitive-apis": "admin",
  // a host app's message push webhook: its signing secret is trust material (issue 14)
  "PUT /v1/host-apps/:hostAppId/message-webhook": "admin",
  "DELETE /v1/host-apps/:hostAppId/message-webhook": "admin",
  // a team's notification webhook (issue 15): the same trust material
  "PUT /v1/teams/:teamId/webhook": "admin",
  "DELETE /v1/teams/:teamId/webhook": "admin",
  // key management (PRODUCT.md X5: team admin only)
  "POST /v1/mini-programs/:appId/secret/generate": "admin",
  "POST /v1/mini-programs/:appId/secret/reset": "admin",
  "POST /v1/mini-programs/:appId/secret/freeze": "admin",
  "POST /v1/mini-programs/:appId/secret/unfreeze": "admin",
  // releases and what clients are served
  "POST /v1/host-apps/:hostAppId/bindings/:appId/:decision": "publish",
  "DELETE /v1/mini-programs/:appId/bindings/:hostAppId": "publish",
  "PUT /v1/mini-programs/:appId/shelf": "publish",
  "POST /v1/audits/:auditId/decision": "publish",
  "POST /v1/mini-programs/:appId/versions/:version/publish": "publish",
  "POST /v1/mini-programs/:appId/rollback": "publish",
  "PUT /v1/mini-programs/:appId/trial": "publish",
  "POST /v1/mini-programs/:appId/grayscale-tasks": "publish",
  "PATCH /v1/mini-programs/:appId/grayscale-tasks/:taskId": "publish",
  "POST /v1/mini-programs/:appId/grayscale-tasks/:taskId/:action": "publish",
  "PUT /v1/mini-programs/:appId/grayscale-tasks/:taskId/whitelists/:kind": "publish",
  "DELETE /v1/mini-programs/:appId/grayscale-tasks/:taskId/whitelists/:kind": "publish",
  // runtime config (issue 12): what clients of the mini program may reach and see
  "POST /v1/mini-programs/:appId/domains/:kind": "publish",
  "DELETE /v1/mini-programs/:appId/domains/:kind/:domainId": "publish",
  "POST /v1/mini-programs/:appId/domains/business/:domainId/verify": "publish",
  "PUT /v1/mini-programs/:appId/switches/:key": "publish",
  "POST /v1/mini-programs/:appId/privacy/publish": "publish",
  "DELETE /v1/mini-programs/:appId/switches/:key": "publish",
  "POST /v1/host-apps/:hostAppId/skip-domain-applications/:applicationId/:decision": "publish",
  "POST /v1/host-apps/:hostAppId/api-applications/:applicationId/:decision": "publish",
  // content
  "POST /v1/mini-programs": "write",
  "PATCH /v1/mini-programs/:appId": "write",
  "POST /v1/mini-programs/:appId/bindings": "write",
  "POST /v1/mini-programs/:appId/versions": "write",
  "POST /v1/mini-programs/:appId/versions/:version/submit": "write",
  "POST /v1/mini-programs/:appId/versions/:version/withdraw": "write",
  "POST /v1/mini-programs/:appId/increments/:incrementId/retry": "write",
  "POST /v1/mini-programs/:appId/skip-domain-applications": "write",
  "POST /v1/mini-programs/:appId/api-applications": "write",
  "PUT /v1/mini-programs/:appId/privacy/draft": "write",
  // subscription messages (issue 14): My Template is the mini program's content
  "POST /v1/mini-programs/:appId/message-templates": "write",
  "DELETE /v1/mini-programs/:appId/message-templates/:templateId": "write",
  // computes an answer, changes nothing
  "POST /v1/mini-programs/:appId/explain": "read",
  "POST /v1/mini-programs/:appId/privacy/preview": "read",
  "POST /v1/mini-programs/:appId/message-templates/preview": "read",
};

/**
 * Reads that need more than `read`: AppSecret status (seed "Key Management": "Only the mini
 * program team administrator has the authority to view and operate key management").
 */
export const READ_ROUTE_SCOPES: Readonly<Record<string, TokenScope>> = {
  "GET /v1/mini-programs/:appId/secret": "admin",
};

/** The scope a request to route `routePath` (Hono syntax) with `method` needs from an API token. */
export function requiredScope(method: string, routePath: string): TokenScope {
  const path = routePath.length > 1 && routePath.endsWith("/") ? routePath.slice(0, -1) : routePath;
  if (method === "GET" || method === "HEAD") return READ_ROUTE_SCOPES[`GET ${path}`] ?? "read";
  return WRITE_ROUTE_SCOPES[`${method} ${path}`] ?? "admin";
}

/** Whether a request with `method` changes state (the admin write rate limit counts these). */
export const isWrite = (method: string) => method !== "GET" && method !== "HEAD" && method !== "OPTIONS";
