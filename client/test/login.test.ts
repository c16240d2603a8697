/**
 * `client.login()` (PRODUCT.md X6): a one-time code for the host app's signed-in user. Against a
 * local HTTP server that records what the client sends and answers as the edge would (or
 * refuses): the assertion goes in the x-graycast-user header only (never the URL or body), the
 * body names the mini program and host app, refusals and broken answers are `login_failed`.
 * The real edge and the exchange with /sns/jscode2session are covered in test/login.test.ts.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ClientError, GraycastClient, MemoryStore } from "../src/index";
import type { ClientConfig } from "../src/types";
import { APP_ID, HOST_APP } from "./support/fixtures";

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let server: Server;
let base: string;
let requests: Recorded[];
let answer: { status: number; body: string; headers?: Record<string, string> };

beforeEach(async () => {
  requests = [];
  answer = { status: 200, body: JSON.stringify({ code: "c0de_AbC-123", expiresIn: 300 }) };
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.close();
  await once(server, "close");
});

const ASSERTION = "eyJhbGciOiJFZERTQSIsImtpZCI6ImhrXzEifQ.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
const NOW = 1_800_000_000_000;

function clientWith(extra: Partial<ClientConfig> = {}): GraycastClient {
  return new GraycastClient(
    {
      edge: `${base}/`,
      appId: APP_ID,
      hostAppId: HOST_APP,
      device: { hostAppVersion: "8.0.1", platform: "android", osVersion: "14" },
      platformKeys: { keys: [] },
      userAssertion: async () => ASSERTION,
      ...extra,
    },
    {
      fetch: (url, init) => fetch(url, init),
      store: new MemoryStore(),
      decompress: () => {
        throw new Error("no increments here");
      },
      now: () => NOW,
    },
  );
}

async function loginFailure(client: GraycastClient): Promise<ClientError> {
  const error = await client.login().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ClientError);
  expect((error as ClientError).code).toBe("login_failed");
  return error as ClientError;
}

describe("client.login()", () => {
  it("posts the mini program and host app, the assertion only in x-graycast-user, and returns the code", async () => {
    const result = await clientWith().login();
    expect(result).toEqual({ code: "c0de_AbC-123", expiresAt: NOW + 300_000 });
    expect(requests).toHaveLength(1);
    const [req] = requests;
    expect(req?.method).toBe("POST");
    expect(req?.url).toBe("/v1/login");
    expect(req?.headers["content-type"]).toBe("application/json");
    expect(new URLSearchParams(String(req?.headers["x-graycast-user"])).get("assertion")).toBe(ASSERTION);
    expect(JSON.parse(req?.body ?? "")).toEqual({ appId: APP_ID, hostAppId: HOST_APP });
  });

  it("without a usable assertion from the host app it fails before asking the edge", async () => {
    await loginFailure(clientWith({ userAssertion: undefined }));
    await loginFailure(clientWith({ userAssertion: async () => undefined }));
    await loginFailure(clientWith({ userAssertion: async () => "not a jws" }));
    await loginFailure(
      clientWith({
        userAssertion: async () => {
          throw new Error("host app signed out");
        },
      }),
    );
    expect(requests).toHaveLength(0);
  });

  it("reports the edge's refusal with its error code and why the assertion was refused", async () => {
    answer = {
      status: 401,
      body: JSON.stringify({
        error: { code: "unauthenticated", message: "the user assertion did not verify" },
      }),
      headers: { "x-graycast-assertion": "expired" },
    };
    const error = await loginFailure(clientWith());
    expect(error.message).toContain("401");
    expect(error.message).toContain("unauthenticated");
    expect(error.message).toContain("assertion expired");
  });

  it("refuses an answer that is not JSON, has no valid code, or is oversized", async () => {
    answer = { status: 200, body: "<html>" };
    await loginFailure(clientWith());
    answer = { status: 200, body: JSON.stringify({ code: 42, expiresIn: 300 }) };
    await loginFailure(clientWith());
    answer = { status: 200, body: JSON.stringify({ code: "has spaces", expiresIn: 300 }) };
    await loginFailure(clientWith());
    answer = { status: 200, body: JSON.stringify({ code: "ok", expiresIn: -1 }) };
    await loginFailure(clientWith());
    answer = { status: 200, body: JSON.stringify({ code: "x".repeat(20_000), expiresIn: 300 }) };
    await loginFailure(clientWith());
  });

  it("an edge that cannot be reached is login_failed", async () => {
    const client = clientWith({ edge: "http://127.0.0.1:1" });
    await loginFailure(client);
  });
});
