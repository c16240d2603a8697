/**
 * The admin Worker's self-description and edges: the generated OpenAPI 3.1 document, the docs
 * page, the health check, and unknown routes in the one error shape.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ERROR_CODES } from "../core/errors";
import { MAX_INLINE_TARGETS, MAX_TASK_NAME, MAX_USER_CAP } from "../core/grayscale/definition";
import { REFUSAL_RULES } from "../core/lifecycle";
import { callAdmin, expectError, expectJson, makeUser } from "./support/admin";

let token: string;
beforeAll(async () => {
  token = (await makeUser("openapi")).token;
});

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document generated from the routes, without credentials", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toEqual(expect.any(String));
    const expected: Record<string, string[]> = {
      "/v1/auth/login": ["post"],
      "/v1/auth/me": ["get"],
      "/v1/auth/tokens": ["get", "post"],
      "/v1/auth/tokens/{tokenId}": ["delete"],
      "/v1/auth/logout": ["post"],
      "/v1/auth/password": ["post"],
      "/v1/users": ["get", "post"],
      "/v1/users/{userId}/disable": ["post"],
      "/v1/users/{userId}/enable": ["post"],
      "/v1/teams": ["get", "post"],
      "/v1/teams/{teamId}/members": ["get", "post"],
      "/v1/teams/{teamId}/members/{userId}": ["delete"],
      "/v1/host-apps": ["get", "post"],
      "/v1/host-apps/{hostAppId}/members": ["get", "post"],
      "/v1/host-apps/{hostAppId}/bindings": ["get"],
      "/v1/host-apps/{hostAppId}/bindings/{appId}/{decision}": ["post"],
      "/v1/mini-programs": ["get", "post"],
      "/v1/mini-programs/{appId}": ["get", "patch"],
      "/v1/mini-programs/{appId}/shelf": ["put"],
      "/v1/mini-programs/{appId}/bindings": ["post"],
      "/v1/mini-programs/{appId}/bindings/{hostAppId}": ["delete"],
      "/v1/mini-programs/{appId}/versions": ["get", "post"],
      "/v1/mini-programs/{appId}/encryption": ["get", "put"],
      "/v1/mini-programs/{appId}/offline-package": ["get"],
      "/v1/mini-programs/{appId}/increments": ["get"],
      "/v1/mini-programs/{appId}/increments/{incrementId}/retry": ["post"],
      "/v1/teams/{teamId}/signing-keys": ["get", "post"],
      "/v1/teams/{teamId}/signing-keys/{keyId}/revoke": ["post"],
      "/v1/change-log": ["get"],
    };
    // Hono may register "/" sub-routes with or without a trailing slash: accept either.
    const pathOf = (p: string) => doc.paths[p] ?? doc.paths[`${p}/`];
    for (const [path, methods] of Object.entries(expected)) {
      const item = pathOf(path);
      expect(item, `missing path ${path}`).toBeDefined();
      for (const m of methods) expect(item[m], `missing ${m.toUpperCase()} ${path}`).toBeDefined();
    }
    expect(Object.keys(doc.paths).some((p) => p.includes(":"))).toBe(false); // OpenAPI {param} syntax, not Hono's :param
  });

  it("describes bearer auth, login without it, request schemas and the error shape", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/v1/auth/login"].post.security).toEqual([]);
    const login = doc.paths["/v1/auth/login"].post.requestBody;
    expect(login.required).toBe(true);
    expect(login.content["application/json"].schema).toEqual({ $ref: "#/components/schemas/Login" });
    expect(Object.keys(doc.components.schemas.Login.properties).sort()).toEqual(["email", "password"]);
    expect(doc.components.schemas.Error.properties.error.properties).toHaveProperty("code");
    const mp = doc.paths["/v1/mini-programs/{appId}"].get;
    expect(mp.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: "appId", in: "path", required: true })]),
    );
    expect(Object.keys(mp.responses)).toEqual(expect.arrayContaining(["200", "401", "403", "404"]));
  });
});

describe("every admin operation", () => {
  const METHODS = ["get", "post", "put", "patch", "delete"] as const;

  it("has a summary and a description", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const lacking: string[] = [];
    let operations = 0;
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const method of METHODS) {
        const op = item[method];
        if (op === undefined) continue;
        operations++;
        if (!(typeof op.summary === "string" && op.summary.trim().length > 0))
          lacking.push(`${method.toUpperCase()} ${path}: summary`);
        if (!(typeof op.description === "string" && op.description.trim().length > 0))
          lacking.push(`${method.toUpperCase()} ${path}: description`);
      }
    expect(operations).toBeGreaterThan(50);
    expect(lacking).toEqual([]);
  });

  it("describes 413, 415 and 422 as what they are, never as a generic 400", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const described: Record<string, string[]> = { "413": [], "415": [], "422": [] };
    for (const [path, item] of Object.entries<any>(doc.paths))
      for (const method of METHODS) {
        const responses = item[method]?.responses ?? {};
        for (const status of Object.keys(described)) {
          const answer = responses[status];
          if (answer === undefined) continue;
          expect(answer.description, `${method} ${path} ${status}`).not.toBe(responses["400"]?.description);
          described[status]!.push(answer.description);
        }
      }
    expect(described["413"]!.length).toBeGreaterThan(0);
    for (const d of described["413"]!) expect(d).toMatch(/^Payload too large/);
    for (const d of described["415"]!) expect(d).toMatch(/^Unsupported media type/);
    expect(described["422"]).toEqual([expect.stringMatching(/bad_package.*bad_signature/)]);
  });
});

describe("documented limits and error vocabulary", () => {
  it("documents the seed limits the schemas enforce (name, typed targets, user cap)", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    for (const name of ["CreateGrayscaleTask", "EditGrayscaleTask"]) {
      const task = doc.components.schemas[name].properties;
      expect(task.name).toMatchObject({ minLength: 1, maxLength: MAX_TASK_NAME });
      expect(task.userCap).toMatchObject({ minimum: 1, maximum: MAX_USER_CAP });
    }
    const targets = doc.components.schemas.GrayscaleTargets.properties;
    for (const kind of ["guids", "deviceIds", "accounts"])
      expect(targets[kind]).toMatchObject({ maxItems: MAX_INLINE_TARGETS });
  });

  it("documents the error code and the refusal rule as closed sets", async () => {
    const doc = await expectJson<any>(callAdmin("GET", "/openapi.json"), 200);
    const error = doc.components.schemas.Error.properties.error;
    expect(error.properties.code.enum).toEqual(ERROR_CODES);
    expect(error.properties.code.enum).toContain("range_not_satisfiable");
    expect(error.properties.rule.enum).toEqual(REFUSAL_RULES);
    expect(error.properties.rule.enum).toEqual(
      expect.arrayContaining(["task_name_invalid", "task_too_many_targets", "task_cap_invalid"]),
    );
    expect(error.required).not.toContain("rule");
  });
});

describe("GET /docs", () => {
  it("returns the offline API reference: a page of this origin's own script rendering /openapi.json, no CDN", async () => {
    const res = await callAdmin("GET", "/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain("/openapi.json");
    expect(html).toContain('<script type="module" src="/assets/docs.js"></script>');
    // Nothing loaded from another origin (the old page pulled swagger-ui from a CDN and was blank offline).
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});

describe("GET /healthz", () => {
  it("answers 200 without credentials", async () => {
    expect(await expectJson<any>(callAdmin("GET", "/healthz"), 200)).toMatchObject({
      ok: true,
      service: "graycast-admin",
    });
  });
});

describe("unknown routes", () => {
  it("answer 404 in the one error shape", async () => {
    const body = await expectJson<any>(callAdmin("GET", "/nope"), 404);
    expect(body).toEqual({ error: { code: "not_found", message: expect.any(String) } });
    await expectError(callAdmin("GET", "/v1/nope", { token }), 404, "not_found");
    await expectError(callAdmin("DELETE", "/v1/teams", { token }), 404, "not_found");
  });

  it("under /v1 still need credentials first (no route discovery without a token)", async () => {
    await expectError(callAdmin("GET", "/v1/nope"), 401, "unauthenticated");
  });

  it("responses carry security headers", async () => {
    const res = await callAdmin("GET", "/healthz");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });
});
