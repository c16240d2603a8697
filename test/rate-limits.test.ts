/**
 * Rate limits (issue 10): per client address on the edge's check (GET and POST) and login (issue
 * 12), per session or API token on admin writes, per appid on the server API (issue 12). Real Workers Rate Limiting bindings with wrangler.toml's limits
 * (core/rate-limit.ts); a refusal is 429, the one error shape and `Retry-After` = the period.
 *
 * The counters' windows are aligned to the clock, so a test sends up to twice the limit plus one
 * and expects a refusal somewhere: a window that ends mid-test only moves the refusal later.
 */
import { createExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import edgeApp from "../edge-worker/src/index";
import { callAdmin, expectError, expectJson, makeUser } from "./support/admin";
import {
  checkQuery,
  client,
  edgeEnv,
  newAppId,
  ORIGIN,
  online,
  packageRef,
  putSnapshot,
} from "./support/edge";

/** Each test sends hundreds of requests: on a busy machine that takes longer than vitest's default 5 s. */
const LONG = 120_000;

/** wrangler.toml's CHECK_LIMITER, EDGE_LOGIN_LIMITER, MESSAGE_LIMITER; control-plane/wrangler.toml's ADMIN_WRITE_LIMITER, SERVER_API_LIMITER. */
const CHECK_LIMIT = 300;
const WRITE_LIMIT = 600;
const LOGIN_LIMIT = 60;
const SERVER_API_LIMIT = 500;
const MESSAGE_LIMIT = 300;

/** The suite runs with the check limit off (vitest.config.ts); these requests turn it on, as deployed. */
const limitedEnv = { ...edgeEnv, CHECK_RATE_LIMIT: "on" };

function checkFrom(address: string, query: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("cf-connecting-ip", address);
  return edgeApp.fetch(
    new Request(`${ORIGIN}/v1/check?${query}`, { ...init, headers }),
    limitedEnv,
    createExecutionContext(),
  );
}

/** Checks from `address` until one is refused; returns that response (fails after 2 * limit + 1). */
async function exhaust(send: () => Promise<Response>, limit: number): Promise<Response> {
  for (let i = 0; i <= 2 * limit; i++) {
    const res = await send();
    if (res.status === 429) return res;
    await res.body?.cancel();
  }
  throw new Error(`no 429 after ${2 * limit + 1} requests`);
}

async function expectRateLimited(res: Response, retryAfter: string) {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(retryAfter);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("rate_limited");
  expect(body.error.message).toEqual(expect.any(String));
}

const randomOctet = () => 1 + Math.floor(Math.random() * 250);

describe("GET and POST /v1/check: per client address", () => {
  let query: string;
  let body: string;
  beforeAll(async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("rl")) });
    query = checkQuery(client(appId));
    body = JSON.stringify(client(appId));
  });

  it(
    "refuses an address over its limit with 429 and Retry-After; other addresses are still answered",
    async () => {
      const address = `10.${randomOctet()}.${randomOctet()}.${randomOctet()}`;
      const refused = await exhaust(() => checkFrom(address, query), CHECK_LIMIT);
      await expectRateLimited(refused, "10");
      // POST counts against the same address
      await expectRateLimited(
        await checkFrom(address, "", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        }),
        "10",
      );
      // a malformed check is still answered 400 (validated before the counter)
      const malformed = await checkFrom(address, "appId=not-an-app");
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe("bad_request");
      // another address is not affected
      const other = await checkFrom(`10.${randomOctet()}.${randomOctet()}.${randomOctet()}`, query);
      expect(other.status).toBe(200);
    },
    LONG,
  );

  it(
    "counts an IPv6 client by its /64",
    async () => {
      const prefix = `2001:db8:${randomOctet().toString(16)}:${randomOctet().toString(16)}`;
      await exhaust(() => checkFrom(`${prefix}::1`, query), CHECK_LIMIT);
      await expectRateLimited(await checkFrom(`${prefix}:0:0:0:abcd`, query), "10");
      expect((await checkFrom(`2001:db8:ffff:${randomOctet().toString(16)}::1`, query)).status).toBe(200);
    },
    LONG,
  );
});

describe("admin writes: per session or API token", () => {
  it(
    "refuses a credential over its write limit with 429 and Retry-After; its reads and other credentials go on",
    async () => {
      const user = await makeUser("ratelimited");
      const other = await makeUser("unlimited");
      // An invalid body: cheap, and still counted (the limit is checked before the route validates).
      const write = (token: string) => callAdmin("POST", "/v1/teams", { token, json: {} });
      const refused = await exhaust(() => write(user.token), WRITE_LIMIT);
      await expectRateLimited(refused, "60");
      await expectJson(callAdmin("GET", "/v1/auth/me", { token: user.token }), 200);
      await expectError(write(other.token), 400, "bad_request");
    },
    LONG,
  );
});

describe("POST /v1/login: per client address", () => {
  it(
    "refuses an address over its limit with 429 and Retry-After; a malformed login is still 400; other addresses go on",
    async () => {
      const loginEnv = { ...edgeEnv, LOGIN_RATE_LIMIT: "on" };
      // A well-formed login of a mini program that does not exist: counted, then answered 404.
      const body = JSON.stringify({ appId: newAppId(), hostAppId: "ha_ratelimited" });
      const jws = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln";
      const loginFrom = (address: string, text = body) =>
        edgeApp.fetch(
          new Request(`${ORIGIN}/v1/login`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "cf-connecting-ip": address,
              "x-graycast-user": `assertion=${jws}`,
            },
            body: text,
          }),
          loginEnv,
          createExecutionContext(),
        );
      const address = `10.${randomOctet()}.${randomOctet()}.${randomOctet()}`;
      await expectRateLimited(await exhaust(() => loginFrom(address), LOGIN_LIMIT), "60");
      const malformed = await loginFrom(address, "{}");
      expect(malformed.status).toBe(400);
      await malformed.body?.cancel();
      const other = await loginFrom(`10.${randomOctet()}.${randomOctet()}.${randomOctet()}`);
      expect(other.status).toBe(404);
      await other.body?.cancel();
    },
    LONG,
  );
});

describe("subscription messages on the edge: per client address", () => {
  it(
    "refuses an address over its limit on subscribe, inbox and mark-read alike with 429 and Retry-After; malformed calls are still 400; other addresses go on",
    async () => {
      // Well-formed calls for a mini program that does not exist: counted, then answered 404 by
      // the assertion check (which the limit comes before).
      const appId = newAppId();
      const jws = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln";
      const calls = [
        {
          method: "POST",
          path: "/v1/messages/subscribe",
          body: {
            appId,
            hostAppId: "ha_ratelimited",
            choices: [{ templateId: `mt${"a".repeat(24)}`, decision: "accept" }],
          },
        },
        { method: "GET", path: `/v1/messages/inbox?appId=${appId}&hostAppId=ha_ratelimited` },
        {
          method: "POST",
          path: "/v1/messages/inbox/read",
          body: { appId, hostAppId: "ha_ratelimited", ids: ["m1"] },
        },
      ] as const;
      const callFrom = (address: string, i: number, malformed = false) => {
        const call = calls[i % calls.length] as (typeof calls)[number];
        const body = "body" in call ? JSON.stringify(malformed ? {} : call.body) : null;
        return edgeApp.fetch(
          new Request(`${ORIGIN}${malformed && !body ? "/v1/messages/inbox?appId=x" : call.path}`, {
            method: call.method,
            headers: {
              "content-type": "application/json",
              "cf-connecting-ip": address,
              "x-graycast-user": `assertion=${jws}`,
            },
            body,
          }),
          edgeEnv,
          createExecutionContext(),
        );
      };
      const address = `10.${randomOctet()}.${randomOctet()}.${randomOctet()}`;
      let i = 0;
      await expectRateLimited(await exhaust(() => callFrom(address, i++), MESSAGE_LIMIT), "60");
      for (const n of [0, 1, 2]) {
        const malformed = await callFrom(address, n, true);
        expect(malformed.status).toBe(400);
        await malformed.body?.cancel();
        const limited = await callFrom(address, n);
        expect(limited.status).toBe(429);
        await limited.body?.cancel();
      }
      const other = await callFrom(`10.${randomOctet()}.${randomOctet()}.${randomOctet()}`, 1);
      expect(other.status).toBe(404);
      await other.body?.cancel();
    },
    LONG,
  );
});

describe("server API: per appid", () => {
  it(
    "refuses an appid over its limit with errcode 45011, 429 and Retry-After; other appids go on",
    async () => {
      const appid = newAppId();
      // A wrong grant_type: counted (the limit comes right after appid's shape), then refused without D1.
      const call = (id: string) =>
        callAdmin("GET", `/sns/jscode2session?appid=${id}&secret=x&js_code=y&grant_type=wrong`);
      const refused = await exhaust(() => call(appid), SERVER_API_LIMIT);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("10");
      expect(((await refused.json()) as { errcode: number }).errcode).toBe(45011);
      const token = await callAdmin(
        "GET",
        `/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=x`,
      );
      expect(token.status).toBe(429);
      await token.body?.cancel();
      const other = await call(newAppId());
      expect(other.status).toBe(400);
      expect(((await other.json()) as { errcode: number }).errcode).toBe(40002);
    },
    LONG,
  );
});
