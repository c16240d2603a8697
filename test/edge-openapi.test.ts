/**
 * The edge's OpenAPI document is generated at build time (`npm run openapi:edge`) from the route
 * descriptions in edge-worker/openapi/routes.ts; the edge serves the committed result. These
 * tests fail when that file is stale against the schemas, and pin that the generator reads the
 * one check schema (core/contracts/check.ts), so the documented limits are the enforced ones.
 */
import { createRoute } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { CheckRequestSchema } from "../core/contracts/check";
import { edgeOpenApiDocument } from "../edge-worker/openapi/generate";
import { EDGE_ROUTES, errorAnswer } from "../edge-worker/openapi/routes";
import { EDGE_OPENAPI_DOCUMENT } from "../edge-worker/src/openapi-document";
import { edgeFetch } from "./support/edge";

describe("edge OpenAPI document (generated)", () => {
  it("is up to date with the route descriptions and schemas (else run `npm run openapi:edge`)", () => {
    expect(EDGE_OPENAPI_DOCUMENT).toEqual(edgeOpenApiDocument());
  });

  it("is what the edge serves at /openapi.json", async () => {
    const res = await edgeFetch("/openapi.json");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(EDGE_OPENAPI_DOCUMENT);
  });

  it("documents CheckRequest from the schema the edge validates with", () => {
    const doc = edgeOpenApiDocument() as {
      components: { schemas: Record<string, { properties: Record<string, { maxLength?: number }> }> };
    };
    const documented = doc.components.schemas.CheckRequest!.properties;
    expect(Object.keys(documented).sort()).toEqual(Object.keys(CheckRequestSchema.shape).sort());
    expect(documented.account?.maxLength).toBe(128);
    expect(documented.model?.maxLength).toBe(64);
  });

  it("takes a new route as one more description", () => {
    const doc = edgeOpenApiDocument([
      ...EDGE_ROUTES,
      createRoute({
        method: "get",
        path: "/v1/example",
        summary: "An example",
        responses: { 404: errorAnswer("Not found") },
      }),
    ]) as { paths: Record<string, { get?: { summary?: string } }> };
    expect(doc.paths["/v1/example"]?.get?.summary).toBe("An example");
    expect(Object.keys(doc.paths)).toContain("/v1/check");
  });
});
