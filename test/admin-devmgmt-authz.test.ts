/**
 * Authorization of every development-management route (issue 12: "extend the authorization tests
 * to every new route"), by PRODUCT.md's roles: no credentials 401; members of another team 404
 * (a mini program's existence is not disclosed); viewers may read, not change; only the host
 * app's own managers / auditors decide; API tokens need the route's scope (auth/scopes.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { TokenScope } from "../control-plane/src/db/schema";
import { callAdmin, expectJson, makeMiniProgram, makeWorld, type World } from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
});

interface Route {
  route: string;
  method: string;
  path: () => string;
  body?: unknown;
  /** whose resource: a mini program's (team roles) or a host app's (host app roles) */
  side: "app" | "host";
  /** what a token needs (GET: read) */
  scope: TokenScope;
}

const fields = {
  developerName: "D",
  contact: "c@example.com",
  dataCollected: [],
  purposes: [],
  thirdParties: [],
  retention: "1 year",
};
const mp = (rest: string) => () => `/v1/mini-programs/${appId}${rest}`;
const host = (rest: string) => () => `/v1/host-apps/${world.host1}${rest}`;

const ROUTES: Route[] = [
  { route: "GET domains", method: "GET", path: mp("/domains"), side: "app", scope: "read" },
  {
    route: "POST domains/{kind}",
    method: "POST",
    path: mp("/domains/request"),
    body: { domain: "https://a.example.com" },
    side: "app",
    scope: "publish",
  },
  {
    route: "DELETE domains/{kind}/{domainId}",
    method: "DELETE",
    path: mp("/domains/request/dom_x"),
    side: "app",
    scope: "publish",
  },
  {
    route: "POST domains/business/{domainId}/verify",
    method: "POST",
    path: mp("/domains/business/dom_x/verify"),
    body: { proof: "p" },
    side: "app",
    scope: "publish",
  },
  {
    route: "POST skip-domain-applications",
    method: "POST",
    path: mp("/skip-domain-applications"),
    body: { hostAppId: "ha_x", reason: "r" },
    side: "app",
    scope: "write",
  },
  {
    route: "GET skip-domain-applications",
    method: "GET",
    path: mp("/skip-domain-applications"),
    side: "app",
    scope: "read",
  },
  {
    route: "POST api-applications",
    method: "POST",
    path: mp("/api-applications"),
    body: { hostAppId: "ha_x", apiName: "getLocation", reason: "r" },
    side: "app",
    scope: "write",
  },
  { route: "GET api-applications", method: "GET", path: mp("/api-applications"), side: "app", scope: "read" },
  { route: "GET switches", method: "GET", path: mp("/switches"), side: "app", scope: "read" },
  {
    route: "PUT switches/{key}",
    method: "PUT",
    path: mp("/switches/flag"),
    body: { type: "boolean", value: true },
    side: "app",
    scope: "publish",
  },
  {
    route: "DELETE switches/{key}",
    method: "DELETE",
    path: mp("/switches/flag"),
    side: "app",
    scope: "publish",
  },
  {
    route: "GET runtime-config",
    method: "GET",
    path: () => `/v1/mini-programs/${appId}/runtime-config?hostAppId=${world.host1}`,
    side: "app",
    scope: "read",
  },
  { route: "GET privacy/template", method: "GET", path: mp("/privacy/template"), side: "app", scope: "read" },
  { route: "GET privacy/draft", method: "GET", path: mp("/privacy/draft"), side: "app", scope: "read" },
  {
    route: "PUT privacy/draft",
    method: "PUT",
    path: mp("/privacy/draft"),
    body: { fields },
    side: "app",
    scope: "write",
  },
  {
    route: "POST privacy/preview",
    method: "POST",
    path: mp("/privacy/preview"),
    body: { fields },
    side: "app",
    scope: "read",
  },
  {
    route: "POST privacy/publish",
    method: "POST",
    path: mp("/privacy/publish"),
    side: "app",
    scope: "publish",
  },
  { route: "GET privacy/versions", method: "GET", path: mp("/privacy/versions"), side: "app", scope: "read" },
  {
    route: "GET privacy/versions/{version}",
    method: "GET",
    path: mp("/privacy/versions/1"),
    side: "app",
    scope: "read",
  },
  {
    route: "POST host sensitive-apis",
    method: "POST",
    path: host("/sensitive-apis"),
    body: { name: "scanCode", description: "d" },
    side: "host",
    scope: "admin",
  },
  {
    route: "GET host sensitive-apis",
    method: "GET",
    path: host("/sensitive-apis"),
    side: "host",
    scope: "read",
  },
  {
    route: "GET host skip-domain-applications",
    method: "GET",
    path: host("/skip-domain-applications"),
    side: "host",
    scope: "read",
  },
  {
    route: "POST host skip-domain-applications/{id}/{decision}",
    method: "POST",
    path: host("/skip-domain-applications/sda_x/approve"),
    body: {},
    side: "host",
    scope: "publish",
  },
  {
    route: "GET host api-applications",
    method: "GET",
    path: host("/api-applications"),
    side: "host",
    scope: "read",
  },
  {
    route: "POST host api-applications/{id}/{decision}",
    method: "POST",
    path: host("/api-applications/apa_x/approve"),
    body: {},
    side: "host",
    scope: "publish",
  },
];

const call = (r: Route, token: string) =>
  callAdmin(r.method, r.path(), { token, ...(r.body !== undefined ? { json: r.body } : {}) });

async function outcome(res: Response): Promise<string> {
  const text = await res.text();
  if (res.status < 400) return String(res.status);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  return `${res.status} ${body.error.code}${/"[a-z]+" scope/.test(body.error.message) ? " (scope)" : ""}`;
}

describe("authorization of the development-management routes", () => {
  it("every route refuses a request without credentials with 401", async () => {
    const seen = [];
    for (const r of ROUTES) seen.push(`${r.route}: ${await outcome(await call(r, ""))}`);
    expect(seen).toEqual(ROUTES.map((r) => `${r.route}: 401 unauthenticated`));
  });

  it("another team's developer gets 404 on the mini program's routes, 403 on the host app's", async () => {
    const seen = [];
    for (const r of ROUTES) seen.push(`${r.route}: ${await outcome(await call(r, world.devB.token))}`);
    expect(seen).toEqual(
      ROUTES.map((r) => `${r.route}: ${r.side === "app" ? "404 not_found" : "403 forbidden"}`),
    );
  });

  it("a viewer reads but changes nothing; the team's developer gets 403 deciding for a host app", async () => {
    for (const r of ROUTES.filter((x) => x.side === "app")) {
      const got = await outcome(await call(r, world.viewerA.token));
      if (r.scope === "read") expect(got, r.route).not.toMatch(/^(401|403)/);
      else expect(got, r.route).toBe("403 forbidden");
    }
    for (const r of ROUTES.filter((x) => x.side === "host" && x.method === "POST"))
      expect(await outcome(await call(r, world.devA.token)), r.route).toBe("403 forbidden");
    // Another host app's manager and auditor cannot act for host app 1.
    for (const r of ROUTES.filter((x) => x.side === "host")) {
      expect(await outcome(await call(r, world.manager2.token)), r.route).toBe("403 forbidden");
      expect(await outcome(await call(r, world.auditor2.token)), r.route).toBe("403 forbidden");
    }
  });

  it("every route with a body refuses malformed JSON (400), a non-JSON body (415 or 400) and one over 256 KiB (413)", async () => {
    const seen: string[] = [];
    const expected: string[] = [];
    for (const r of ROUTES.filter((x) => x.body !== undefined)) {
      const token = r.side === "app" ? world.devA.token : world.manager1.token;
      const send = (body: string, type = "application/json") =>
        callAdmin(r.method, r.path(), { token, body, headers: { "content-type": type } });
      seen.push(`${r.route} malformed: ${await outcome(await send("{not json"))}`);
      expected.push(`${r.route} malformed: 400 bad_request`);
      seen.push(
        `${r.route} oversized: ${await outcome(await send(JSON.stringify({ pad: "x".repeat(300 * 1024) })))}`,
      );
      expected.push(`${r.route} oversized: 413 payload_too_large`);
      const text = await outcome(await send("domain=x", "text/plain"));
      seen.push(
        `${r.route} not json: ${text === "415 unsupported_media_type" || text === "400 bad_request" ? "refused" : text}`,
      );
      expected.push(`${r.route} not json: refused`);
    }
    expect(seen).toEqual(expected);
  });

  it("an API token passes only routes of its scopes; others answer 403 naming the scope", async () => {
    const scopes: TokenScope[] = ["read", "write", "publish", "admin"];
    const tokens: Record<string, string> = {};
    for (const held of scopes)
      tokens[held] = (
        await expectJson<{ token: string }>(
          callAdmin("POST", "/v1/auth/tokens", {
            token: world.adminA.token,
            json: { name: `devmgmt ${held}`, scopes: [held] },
          }),
          201,
        )
      ).token;
    const seen: string[] = [];
    const expected: string[] = [];
    for (const r of ROUTES) {
      for (const held of scopes) {
        const got = await outcome(await call(r, tokens[held]!));
        seen.push(`${held} ${r.route}: ${got.endsWith("(scope)") ? "refused" : "passed"}`);
        expected.push(`${held} ${r.route}: ${held === r.scope ? "passed" : "refused"}`);
      }
    }
    expect(seen).toEqual(expected);
  });
});
