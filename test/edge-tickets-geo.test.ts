/**
 * Admission tickets (edge-worker/src/tickets.ts), the geolocation the edge reads
 * (edge-worker/src/geo.ts), and how both appear in the edge's OpenAPI document.
 */
import { describe, expect, it } from "vitest";
import { parseGeoHeader, readGeo } from "../edge-worker/src/geo";
import {
  issueTicket,
  loadTicketKey,
  peekTicket,
  TICKET_GRACE_MS,
  ticketExpiry,
  verifyTicket,
} from "../edge-worker/src/tickets";
import { edgeEnv, edgeFetch } from "./support/edge";

const expected = { taskId: "gt_task", userKey: "g:alice", version: "1.2.0" };
const payload = { t: "gt_task", u: "g:alice", v: "1.2.0", exp: Math.floor(Date.now() / 1000) + 3600 };

describe("admission tickets", () => {
  it("are base64url(payload).base64url(HMAC-SHA256) and verify for their task, user and version only", async () => {
    const key = await loadTicketKey(edgeEnv.ADMISSION_TICKET_SECRET);
    const ticket = await issueTicket(key, payload);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(peekTicket(ticket)).toEqual(payload);
    const now = Date.now();
    expect(await verifyTicket(key, ticket, expected, now)).toBe(true);
    expect(await verifyTicket(key, ticket, { ...expected, taskId: "gt_other" }, now)).toBe(false);
    expect(await verifyTicket(key, ticket, { ...expected, userKey: "g:bob" }, now)).toBe(false);
    expect(await verifyTicket(key, ticket, { ...expected, version: "1.2.1" }, now)).toBe(false);
    expect(await verifyTicket(key, ticket, expected, payload.exp * 1000)).toBe(false);
    // The MAC is an HMAC-SHA256 of the first part under the secret (any implementation can check it).
    const [body, mac] = ticket.split(".") as [string, string];
    const raw = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(edgeEnv.ADMISSION_TICKET_SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const macBytes = new Uint8Array(await crypto.subtle.sign("HMAC", raw, new TextEncoder().encode(body)));
    expect(mac).toBe(
      btoa(String.fromCharCode(...macBytes))
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, ""),
    );
  });

  it("remember verified tokens, but never a tampered one or one under another key", async () => {
    const key = await loadTicketKey(edgeEnv.ADMISSION_TICKET_SECRET);
    const ticket = await issueTicket(key, { ...payload, u: "g:carol" });
    const carol = { ...expected, userKey: "g:carol" };
    expect(await verifyTicket(key, ticket, carol, Date.now())).toBe(true);
    expect(await verifyTicket(key, ticket, carol, Date.now())).toBe(true);
    // Same payload, another MAC: still refused after the genuine token was remembered.
    const [body, mac] = ticket.split(".") as [string, string];
    const forged = `${body}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`;
    expect(await verifyTicket(key, forged, carol, Date.now())).toBe(false);
    // Expiry is still checked on a remembered token.
    expect(await verifyTicket(key, ticket, carol, payload.exp * 1000)).toBe(false);
    // Another secret: the remembered verification does not carry over.
    const other = await crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode("another-secret-of-at-least-32-characters"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    expect(await verifyTicket(other, ticket, carol, Date.now())).toBe(false);
    expect(await verifyTicket(key, ticket, carol, Date.now())).toBe(true);
    // Re-issuing the same payload gives the same token; another payload another one.
    expect(await issueTicket(key, { ...payload, u: "g:carol" })).toBe(ticket);
    expect(await issueTicket(key, { ...payload, u: "g:dave" })).not.toBe(ticket);
  });

  it("refuse malformed tokens without throwing", async () => {
    const key = await loadTicketKey(edgeEnv.ADMISSION_TICKET_SECRET);
    const ticket = await issueTicket(key, payload);
    for (const token of [
      "",
      ".",
      "abc",
      "a.b.c",
      `${ticket}.x`,
      `!!!.${ticket.split(".")[1]}`,
      `${btoa("[]")}.AAAA`,
      `${ticket.split(".")[0]}.AAAA`,
    ]) {
      expect(await verifyTicket(key, token, expected, Date.now()), token).toBe(false);
    }
  });

  it("expire 30 days after the task's end, and need a real secret", async () => {
    const endAt = Date.UTC(2026, 10, 1);
    expect(ticketExpiry(endAt)).toBe((endAt + TICKET_GRACE_MS) / 1000);
    expect(TICKET_GRACE_MS).toBe(30 * 24 * 3_600_000);
    await expect(loadTicketKey("too-short")).rejects.toThrow(/ADMISSION_TICKET_SECRET/);
  });
});

describe("geolocation", () => {
  const url = "https://edge.test/v1/check";
  const cf = {
    country: "CN",
    region: "Guangdong",
    regionCode: "GD",
    city: "Shenzhen",
  } as unknown as IncomingRequestCfProperties;

  it("comes from request.cf, the region as its ISO 3166-2 code when known", () => {
    expect(readGeo(new Request(url, { cf }), false)).toEqual({
      country: "CN",
      region: "GD",
      city: "Shenzhen",
    });
    const noCode = { country: "US", region: "California" } as unknown as IncomingRequestCfProperties;
    expect(readGeo(new Request(url, { cf: noCode }), false)).toEqual({ country: "US", region: "California" });
    expect(readGeo(new Request(url), false)).toEqual({});
  });

  it("ignores x-graycast-geo unless ALLOW_GEO_OVERRIDE is on", () => {
    const headers = { "x-graycast-geo": "country=US;region=CA;city=Fresno" };
    expect(readGeo(new Request(url, { cf, headers }), false)).toEqual({
      country: "CN",
      region: "GD",
      city: "Shenzhen",
    });
    expect(readGeo(new Request(url, { cf, headers }), true)).toEqual({
      country: "US",
      region: "CA",
      city: "Fresno",
    });
  });

  it("parses the override header leniently: spaces, unknown keys, empty and over-long values", () => {
    expect(parseGeoHeader(" country = CN ; region=GD;city=Shenzhen ")).toEqual({
      country: "CN",
      region: "GD",
      city: "Shenzhen",
    });
    expect(parseGeoHeader(`country=;planet=earth;city=${"x".repeat(65)};region=GD;junk`)).toEqual({
      region: "GD",
    });
  });
});

describe("edge OpenAPI document", () => {
  it("documents tickets in the check request and response", async () => {
    const doc = await (await edgeFetch("/openapi.json")).json<{
      components: {
        schemas: Record<
          string,
          {
            properties: Record<string, { maxItems?: number; items?: { maxLength?: number } }>;
            required?: string[];
          }
        >;
      };
    }>();
    const request = doc.components.schemas.CheckRequest;
    const response = doc.components.schemas.CheckResponse;
    expect(request?.properties.tickets).toMatchObject({ maxItems: 8, items: { maxLength: 512 } });
    expect(request?.required).not.toContain("tickets");
    expect(response?.properties.tickets).toBeDefined();
    expect(response?.required).toEqual(["manifest"]);
  });

  it("documents the check by GET: one query parameter per request field, tickets as repeated `ticket`, and its answers", async () => {
    interface Parameter {
      name: string;
      in: string;
      required: boolean;
      explode?: boolean;
      schema: { type?: string; maxItems?: number; items?: { maxLength?: number } };
    }
    const doc = await (await edgeFetch("/openapi.json")).json<{
      components: { schemas: { CheckRequest: { properties: Record<string, unknown>; required: string[] } } };
      paths: {
        "/v1/check": {
          get?: { parameters: Parameter[]; responses: Record<string, unknown> };
          post?: unknown;
        };
      };
    }>();
    const get = doc.paths["/v1/check"].get!;
    const request = doc.components.schemas.CheckRequest;
    expect(doc.paths["/v1/check"].post).toBeDefined();
    // Every body field is a query parameter (tickets as `ticket`), required exactly when the body
    // requires it; but the user assertion, which travels only in the user header.
    const fields = Object.keys(request.properties)
      .filter((name) => name !== "assertion")
      .map((name) => (name === "tickets" ? "ticket" : name));
    expect(Object.keys(request.properties)).toContain("assertion");
    const query = get.parameters.filter((p) => p.in === "query");
    expect(query.map((p) => p.name).sort()).toEqual(fields.sort());
    for (const p of query) expect(p).toMatchObject({ required: request.required.includes(p.name) });
    expect(
      query
        .filter((p) => p.required)
        .map((p) => p.name)
        .sort(),
    ).toEqual(["appId", "hostAppId", "hostAppVersion", "osVersion", "platform"]);
    expect(query.find((p) => p.name === "ticket")).toMatchObject({
      explode: true,
      schema: { type: "array", maxItems: 8, items: { maxLength: 512 } },
    });
    // Identifiers and tickets may travel in the user header instead of the URL.
    expect(get.parameters.filter((p) => p.in !== "query")).toEqual([
      expect.objectContaining({ name: "x-graycast-user", in: "header", required: false }),
    ]);
    expect(get.parameters.find((p) => p.name === "trial")).toMatchObject({ schema: { type: "boolean" } });
    expect(Object.keys(get.responses).sort()).toEqual(["200", "400", "404", "414", "429"]);
  });

  it("lists every client route: check, login, config, privacy texts, packages, increments, the JWKS", async () => {
    const doc = await (await edgeFetch("/openapi.json")).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths).sort()).toEqual([
      "/.well-known/jwks.json",
      "/v1/check",
      "/v1/config",
      "/v1/increments/{sha256}",
      "/v1/login",
      "/v1/logs",
      "/v1/messages/inbox",
      "/v1/messages/inbox/read",
      "/v1/messages/subscribe",
      "/v1/packages/{sha256}",
      "/v1/privacy/{sha256}",
    ]);
  });
});
