/**
 * API tokens (issue 10): scopes (read, write, publish, admin) enforced in one table for every
 * route (control-plane/src/auth/scopes.ts), a default expiry, no minting of tokens by tokens, and
 * revoking a token revokes every token created from it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { READ_ROUTE_SCOPES, TOKEN_SCOPES, WRITE_ROUTE_SCOPES } from "../control-plane/src/auth/scopes";
import { hashApiToken, newApiToken } from "../control-plane/src/auth/session";
import { createDb } from "../control-plane/src/db/client";
import type { TokenScope } from "../control-plane/src/db/schema";
import { apiTokens } from "../control-plane/src/db/schema";
import { testEnv } from "./env";
import {
  approveVersion,
  callAdmin,
  expectError,
  expectJson,
  makeMiniProgram,
  makeWorld,
  type World,
} from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
  await approveVersion(world, appId, "1.0.0");
});

const DAY = 86_400_000;

async function tokenFor(sessionToken: string, scopes?: TokenScope[]) {
  return expectJson<{ id: string; token: string; scopes: TokenScope[]; expiresAt: number }>(
    callAdmin("POST", "/v1/auth/tokens", {
      token: sessionToken,
      json: { name: `scopes ${scopes?.join("+") ?? "default"}`, ...(scopes ? { scopes } : {}) },
    }),
    201,
  );
}

/** Inserts a token row directly, as tokens made before scopes (or minted by a token) exist in D1. */
async function insertToken(userId: string, extra: { createdByTokenId?: string; scopes?: TokenScope[] } = {}) {
  const token = newApiToken();
  const id = `tok_legacy_${crypto.randomUUID().slice(0, 8)}`;
  await createDb(testEnv.DB)
    .insert(apiTokens)
    .values({
      id,
      userId,
      name: "legacy",
      tokenHash: await hashApiToken(token),
      createdAt: Date.now(),
      ...extra,
    })
    .run();
  return { id, token };
}

/** True when the answer is the scope refusal for `scope` (a 403 naming it). */
async function refusedForScope(res: Response, scope: TokenScope): Promise<boolean> {
  if (res.status !== 403) {
    await res.body?.cancel();
    return false;
  }
  const body = (await res.json()) as { error: { code: string; message: string } };
  return body.error.code === "forbidden" && body.error.message.includes(`"${scope}" scope`);
}

describe("creating API tokens", () => {
  it("defaults to read+write and 90 days; takes scopes and at most 365 days", async () => {
    const before = Date.now();
    const plain = await tokenFor(world.devA.token);
    expect(plain.scopes).toEqual(["read", "write"]);
    expect(plain.expiresAt).toBeGreaterThanOrEqual(before + 90 * DAY);
    expect(plain.expiresAt).toBeLessThanOrEqual(Date.now() + 90 * DAY);
    const custom = await expectJson<any>(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "yearly", scopes: ["read", "publish"], expiresInDays: 365 },
      }),
      201,
    );
    expect(custom.scopes).toEqual(["read", "publish"]);
    const listed = await expectJson<any>(
      callAdmin("GET", "/v1/auth/tokens", { token: world.devA.token }),
      200,
    );
    expect(listed.tokens.find((t: any) => t.id === custom.id).scopes).toEqual(["read", "publish"]);
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "too long", expiresInDays: 366 },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "bad scope", scopes: ["root"] },
      }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "no scope", scopes: [] },
      }),
      400,
      "bad_request",
    );
  });

  it("an API token cannot create API tokens, whatever its scopes", async () => {
    const all = await tokenFor(world.devA.token, ["read", "write", "publish", "admin"]);
    const message = await expectError(
      callAdmin("POST", "/v1/auth/tokens", { token: all.token, json: { name: "child" } }),
      403,
      "forbidden",
    );
    expect(message).toMatch(/API token cannot create/);
    const legacy = await insertToken(world.devA.id);
    await expectError(
      callAdmin("POST", "/v1/auth/tokens", { token: legacy.token, json: { name: "child" } }),
      403,
      "forbidden",
    );
  });

  it("records the session that created a token", async () => {
    const made = await tokenFor(world.devB.token);
    const row = await createDb(testEnv.DB)
      .select({ createdBySessionId: apiTokens.createdBySessionId })
      .from(apiTokens)
      .all();
    expect(
      row.some((r) => typeof r.createdBySessionId === "string" && r.createdBySessionId.startsWith("ses_")),
    ).toBe(true);
    expect(made.id).toMatch(/^tok_/);
  });
});

describe("revoking API tokens", () => {
  it("revokes every token created from the revoked one, down the chain, and nothing else", async () => {
    const root = await tokenFor(world.viewerA.token);
    const child = await insertToken(world.viewerA.id, { createdByTokenId: root.id });
    const grandchild = await insertToken(world.viewerA.id, { createdByTokenId: child.id });
    const sibling = await insertToken(world.viewerA.id);
    for (const t of [root, child, grandchild, sibling])
      await expectJson(callAdmin("GET", "/v1/auth/me", { token: t.token }), 200);
    await expectJson(callAdmin("DELETE", `/v1/auth/tokens/${root.id}`, { token: world.viewerA.token }), 200);
    for (const t of [root, child, grandchild])
      await expectError(callAdmin("GET", "/v1/auth/me", { token: t.token }), 401, "unauthenticated");
    await expectJson(callAdmin("GET", "/v1/auth/me", { token: sibling.token }), 200);
  });
});

describe("scopes", () => {
  it("every write route of the OpenAPI document has a scope, and the table names no other route", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const writes = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      const honoPath = path.replace(/\{([^}]+)\}/g, ":$1").replace(/(.)\/$/, "$1");
      for (const method of Object.keys(item)) {
        if (method === "get" || method === "head" || honoPath === "/v1/auth/login") continue;
        // The server API (/sns, /cgi-bin: the subscription message send) takes no API token at all.
        if (!honoPath.startsWith("/v1/")) continue;
        writes.add(`${method.toUpperCase()} ${honoPath}`);
      }
    }
    expect([...writes].filter((w) => !(w in WRITE_ROUTE_SCOPES)).sort()).toEqual([]);
    // Reads that need more than `read` name real GET routes.
    const reads = new Set(
      Object.entries<Record<string, unknown>>(doc.paths)
        .filter(([, item]) => "get" in item)
        .map(([path]) => `GET ${path.replace(/\{([^}]+)\}/g, ":$1")}`),
    );
    expect(Object.keys(READ_ROUTE_SCOPES).filter((r) => !reads.has(r))).toEqual([]);
    expect(
      Object.keys(WRITE_ROUTE_SCOPES)
        .filter((w) => !writes.has(w))
        .sort(),
    ).toEqual([]);
  });

  /** One route per scope (and the read-only POST), with the scope it needs. */
  const matrix: { route: string; scope: TokenScope; call: (token: string) => Promise<Response> }[] = [
    {
      route: "GET /v1/mini-programs/{appId}",
      scope: "read",
      call: (token) => callAdmin("GET", `/v1/mini-programs/${appId}`, { token }),
    },
    {
      route: "POST /v1/mini-programs/{appId}/explain",
      scope: "read",
      call: (token) => callAdmin("POST", `/v1/mini-programs/${appId}/explain`, { token, json: {} }),
    },
    {
      route: "PATCH /v1/mini-programs/{appId}",
      scope: "write",
      call: (token) =>
        callAdmin("PATCH", `/v1/mini-programs/${appId}`, { token, json: { description: "scoped" } }),
    },
    {
      route: "POST /v1/mini-programs/{appId}/versions/{version}/publish",
      scope: "publish",
      call: (token) => callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token }),
    },
    {
      route: "POST /v1/mini-programs/{appId}/grayscale-tasks/{taskId}/suspend",
      scope: "publish",
      call: (token) =>
        callAdmin("POST", `/v1/mini-programs/${appId}/grayscale-tasks/gt_none/suspend`, { token }),
    },
    {
      route: "POST /v1/mini-programs/{appId}/rollback",
      scope: "publish",
      call: (token) =>
        callAdmin("POST", `/v1/mini-programs/${appId}/rollback`, { token, json: { version: "0.0.1" } }),
    },
    {
      route: "POST /v1/teams/{teamId}/members",
      scope: "admin",
      call: (token) => callAdmin("POST", `/v1/teams/${world.teamA}/members`, { token, json: {} }),
    },
    {
      route: "PUT /v1/mini-programs/{appId}/encryption",
      scope: "admin",
      call: (token) => callAdmin("PUT", `/v1/mini-programs/${appId}/encryption`, { token, json: {} }),
    },
    {
      // a read that needs admin (READ_ROUTE_SCOPES): key management is the team admin's alone
      route: "GET /v1/mini-programs/{appId}/secret",
      scope: "admin",
      call: (token) => callAdmin("GET", `/v1/mini-programs/${appId}/secret`, { token }),
    },
    {
      route: "POST /v1/mini-programs/{appId}/secret/freeze",
      scope: "admin",
      call: (token) => callAdmin("POST", `/v1/mini-programs/${appId}/secret/freeze`, { token }),
    },
    {
      route: "DELETE /v1/auth/tokens/{tokenId}",
      scope: "admin",
      call: (token) => callAdmin("DELETE", "/v1/auth/tokens/tok_none", { token }),
    },
  ];

  it("a token with one scope passes only the routes of that scope; others answer 403 naming the missing scope", async () => {
    // team admin A holds every role these routes need, so only the scope can refuse
    const tokens = Object.fromEntries(
      await Promise.all(
        TOKEN_SCOPES.map(async (s) => [s, (await tokenFor(world.adminA.token, [s])).token] as const),
      ),
    ) as Record<TokenScope, string>;
    const seen: string[] = [];
    for (const { route, scope, call } of matrix) {
      for (const held of TOKEN_SCOPES) {
        const refused = await refusedForScope(await call(tokens[held]), scope);
        seen.push(`${held} ${route}: ${refused ? "refused" : "passed"}`);
      }
    }
    const expected = matrix.flatMap(({ route, scope }) =>
      TOKEN_SCOPES.map((held) => `${held} ${route}: ${held === scope ? "passed" : "refused"}`),
    );
    expect(seen).toEqual(expected);
  });

  it("read cannot write, write cannot publish, publish cannot manage members; the full set and a session can do all", async () => {
    const read = await tokenFor(world.adminA.token, ["read"]);
    const write = await tokenFor(world.adminA.token, ["read", "write"]);
    const all = await tokenFor(world.adminA.token, ["read", "write", "publish", "admin"]);
    expect(
      await expectError(
        callAdmin("POST", "/v1/mini-programs", {
          token: read.token,
          json: { teamId: world.teamA, name: "Nope" },
        }),
        403,
        "forbidden",
      ),
    ).toMatch(/"write" scope/);
    await expectJson(
      callAdmin("POST", "/v1/mini-programs", {
        token: write.token,
        json: { teamId: world.teamA, name: "Scoped" },
      }),
      201,
    );
    expect(
      await expectError(
        callAdmin("POST", `/v1/mini-programs/${appId}/versions/1.0.0/publish`, { token: write.token }),
        403,
        "forbidden",
      ),
    ).toMatch(/"publish" scope/);
    expect(
      await expectError(
        callAdmin("POST", `/v1/teams/${world.teamA}/members`, {
          token: write.token,
          json: { email: world.devB.email, role: "viewer" },
        }),
        403,
        "forbidden",
      ),
    ).toMatch(/"admin" scope/);
    // a token keeps its user's roles too: scopes only take rights away
    const viewerAll = await tokenFor(world.viewerA.token, ["read", "write", "publish", "admin"]);
    await expectError(
      callAdmin("PATCH", `/v1/mini-programs/${appId}`, {
        token: viewerAll.token,
        json: { description: "viewer" },
      }),
      403,
      "forbidden",
    );
    await expectJson(
      callAdmin("PATCH", `/v1/mini-programs/${appId}`, {
        token: all.token,
        json: { description: "all scopes" },
      }),
      200,
    );
    await expectJson(
      callAdmin("PATCH", `/v1/mini-programs/${appId}`, {
        token: world.adminA.token,
        json: { description: "session" },
      }),
      200,
    );
  });

  it("a token made before scopes keeps every scope", async () => {
    const legacy = await insertToken(world.adminA.id);
    await expectJson(
      callAdmin("PATCH", `/v1/mini-programs/${appId}`, {
        token: legacy.token,
        json: { description: "legacy" },
      }),
      200,
    );
  });
});
