/**
 * Builds the edge's OpenAPI 3.1 document from route descriptions (./routes.ts) with the same
 * generator the admin Worker's document comes from (@hono/zod-openapi), so both documents read
 * the one set of schemas (core/contracts/) the same way.
 */
import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { ConfigClaimsSchema } from "../../core/contracts/config";
import { EDGE_ROUTES } from "./routes";

export function edgeOpenApiDocument(routes: readonly RouteConfig[] = EDGE_ROUTES): Record<string, unknown> {
  const app = new OpenAPIHono();
  for (const route of routes) app.openAPIRegistry.registerPath(route);
  // Inside the signed config, so named by no route: documented for clients that verify it. A
  // clone (made now, after @hono/zod-openapi extended zod) because `register` calls `.openapi()`,
  // which schemas built before that extension lack.
  app.openAPIRegistry.register(
    "ConfigClaims",
    ConfigClaimsSchema.meta({ description: "the claims of GET /v1/config's signed config" }),
  );
  const doc = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "Graycast edge API",
      version: "1.0.0",
      description: "Client API of the Graycast mini program delivery network.",
    },
  });
  // A plain JSON value: what the edge serves, and what the committed module holds.
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}
