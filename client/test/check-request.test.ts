/**
 * How the reference client sends its check (client/src/check-request.ts): GET with the facts in
 * the query and the user's identifiers and tickets in the `x-graycast-user` header by default
 * (tickets as repeated `ticket`, no body), POST with a JSON body when
 * configured, and POST anyway when the query would pass the edge's 8 KiB limit. The query is
 * read back with the edge's own parser (edge-worker/src/contracts.ts), so the two cannot drift.
 */
import { describe, expect, it } from "vitest";
import { checkRequestFromQuery, QUERY_LIMIT } from "../../edge-worker/src/contracts";
import { CHECK_QUERY_LIMIT, type CheckBody, checkQuery, checkRequestFor } from "../src/check-request";
import { deviceFor, freshEdgeAndDevice } from "./support/client";
import { APP_ID, HOST_APP, twoVersions } from "./support/fixtures";

const t = freshEdgeAndDevice();

const { v1 } = await twoVersions();

const checks = () => t.edge.requests.filter((r) => r.path === "/v1/check");

describe("check by GET (the default)", () => {
  it("sends the facts as a form-encoded query, identifiers and tickets (repeated) in the user header, and no body", async () => {
    const device = deviceFor(t.edge, {
      device: {
        hostAppVersion: "8.0.1",
        platform: "ios",
        osVersion: "17.4",
        guid: "guid 1&x=y",
        account: "tester-001",
        model: "iPhone15,2",
        network: "wifi",
        trial: true,
      },
    });
    try {
      t.edge.answer(await t.edge.claims(v1));
      t.edge.tickets = ["t0.a-b_c", "t1"];
      await device.client.update();
      await device.client.check();

      const [first, second] = checks();
      for (const request of [first!, second!]) {
        expect(request.method).toBe("GET");
        expect(request.body).toBe("");
        expect(request.headers["content-type"]).toBeUndefined();
      }
      expect(first!.query).toBe(
        `hostAppVersion=8.0.1&platform=ios&osVersion=17.4&model=iPhone15%2C2&network=wifi&trial=true&appId=${APP_ID}&hostAppId=${HOST_APP}`,
      );
      expect(first!.headers["x-graycast-user"]).toBe("guid=guid+1%26x%3Dy&account=tester-001");
      // No identifier and no ticket ever in a URL.
      expect(second!.query).toMatch(/&installedVersion=1\.0\.0$/);
      expect(second!.headers["x-graycast-user"]).toBe(
        "guid=guid+1%26x%3Dy&account=tester-001&ticket=t0.a-b_c&ticket=t1",
      );
      expect(second!.check).toMatchObject({
        guid: "guid 1&x=y",
        trial: true,
        installedVersion: "1.0.0",
        tickets: ["t0.a-b_c", "t1"],
      });
    } finally {
      device.cleanup();
    }
  });

  it("even the longest valid check fits the GET form: long identifiers and eight tickets go in the header", async () => {
    const long = (c: string, n: number) => c.repeat(n);
    // Every field at its cap, percent-encoded at 9 characters per CJK character.
    const device = deviceFor(t.edge, {
      device: {
        hostAppVersion: "8.0.1",
        platform: "android",
        osVersion: "14",
        guid: long("设", 128),
        deviceId: long("备", 128),
        account: long("账", 128),
        brand: long("华", 64),
        model: long("型", 64),
      },
    });
    try {
      t.edge.answer(await t.edge.claims(v1));
      t.edge.tickets = Array.from({ length: 8 }, (_, i) => `${i}${"t".repeat(511)}`);
      await device.client.check();
      await device.client.check();

      const [, second] = checks();
      expect(second!.method).toBe("GET");
      expect(second!.query.length).toBeLessThanOrEqual(CHECK_QUERY_LIMIT);
      const user = second!.headers["x-graycast-user"] as string;
      expect(user.length).toBeGreaterThan(CHECK_QUERY_LIMIT / 2);
      expect(user.length).toBeLessThanOrEqual(CHECK_QUERY_LIMIT);
      expect(second!.check?.tickets).toEqual(t.edge.tickets);
      expect(checkRequestFromQuery(second!.query, user)).toMatchObject({
        guid: long("设", 128),
        tickets: t.edge.tickets,
      });
    } finally {
      device.cleanup();
    }
  });

  it("a check the edge would refuse as too long for GET goes as POST", () => {
    const body: CheckBody = {
      appId: APP_ID,
      hostAppId: HOST_APP,
      hostAppVersion: "8.0.1",
      platform: "android",
      osVersion: "14",
      guid: "设".repeat(1000),
    };
    expect(checkQuery(body, "user").length).toBeGreaterThan(CHECK_QUERY_LIMIT);
    const { url, init } = checkRequestFor("https://edge.example/", body, "GET");
    expect(url).toBe("https://edge.example/v1/check");
    expect(init).toMatchObject({ method: "POST", headers: { "content-type": "application/json" } });
    expect(JSON.parse(init.body as string)).toEqual(body);
  });
});

describe("check by POST (configured)", () => {
  it("sends the facts and tickets as a JSON body to /v1/check, with no query", async () => {
    const device = deviceFor(t.edge, { checkMethod: "POST" });
    try {
      t.edge.answer(await t.edge.claims(v1));
      t.edge.tickets = ["t0", "t1"];
      expect(await device.client.update()).toMatchObject({
        plan: "install",
        activated: true,
        version: "1.0.0",
      });
      expect(await device.client.check()).toMatchObject({ plan: "none" });

      const [first, second] = checks();
      for (const request of [first!, second!])
        expect(request).toMatchObject({
          method: "POST",
          query: "",
          headers: { "content-type": "application/json" },
        });
      expect(JSON.parse(first!.body)).toEqual({
        hostAppVersion: "8.0.1",
        platform: "android",
        osVersion: "14",
        appId: APP_ID,
        hostAppId: HOST_APP,
      });
      expect(JSON.parse(second!.body)).toMatchObject({ installedVersion: "1.0.0", tickets: ["t0", "t1"] });
    } finally {
      device.cleanup();
    }
  });
});

describe("the query form against the edge's parser", () => {
  it("the limit is the edge's", () => {
    expect(CHECK_QUERY_LIMIT).toBe(QUERY_LIMIT);
  });

  it("reads back exactly what the client meant, with any characters and optional fields", () => {
    const bodies: CheckBody[] = [
      { appId: APP_ID, hostAppId: HOST_APP, hostAppVersion: "8.0.1", platform: "android", osVersion: "14" },
      {
        appId: APP_ID,
        hostAppId: HOST_APP,
        hostAppVersion: "8.0.1.2",
        platform: "ios",
        osVersion: "17.4",
        guid: "a+b c&d=e%f?#/",
        deviceId: "设备 🚀",
        account: "tester-001",
        network: "5g",
        brand: "Apple",
        model: "iPhone15,2",
        installedVersion: "1.0.0",
        baseLibraryVersion: "3.4.0",
        trial: false,
        tickets: ["t0", "t1.x-y_z"],
      },
    ];
    for (const body of bodies) {
      expect(checkRequestFromQuery(checkQuery(body))).toEqual(body);
      // As the client sends it: the URL part, and the user part in the header.
      const user = checkQuery(body, "user");
      expect(checkRequestFromQuery(checkQuery(body, "url"), user === "" ? null : user)).toEqual(body);
    }
  });
});

describe("the host app's user assertion (docs/trust.md)", () => {
  const JWS = "eyJhbGciOiJFZERTQSIsImtpZCI6ImhrXzEifQ.eyJzdWIiOiJ0ZXN0ZXItMDAxIn0.c2ln";

  it("GET: the assertion rides in the x-graycast-user header, never in the URL; the edge's parser reads it back", async () => {
    let asked = 0;
    const device = deviceFor(t.edge, { userAssertion: async () => (asked++, JWS) });
    try {
      t.edge.answer(await t.edge.claims(v1));
      await device.client.check();
      const [request] = checks();
      expect(asked).toBe(1);
      expect(request!.query).not.toContain("assertion");
      expect(request!.query).not.toContain(JWS);
      expect(request!.headers["x-graycast-user"]).toBe(`assertion=${JWS}`);
      const parsed = checkRequestFromQuery(request!.query, request!.headers["x-graycast-user"] as string);
      expect(parsed.assertion).toBe(JWS);
    } finally {
      device.cleanup();
    }
  });

  it("POST: the assertion is a body field", async () => {
    const device = deviceFor(t.edge, { checkMethod: "POST", userAssertion: async () => JWS });
    try {
      t.edge.answer(await t.edge.claims(v1));
      await device.client.check();
      expect(checks()[0]!.check).toMatchObject({ assertion: JWS });
    } finally {
      device.cleanup();
    }
  });

  it("a provider that throws, answers nothing, or gives what the edge would refuse: the check goes on without an assertion", async () => {
    const providers: (() => Promise<string | undefined>)[] = [
      async () => {
        throw new Error("host app server down");
      },
      async () => undefined,
      async () => "not a jws",
      async () => `${"a".repeat(2048)}.b.c`,
    ];
    for (const userAssertion of providers) {
      const device = deviceFor(t.edge, { userAssertion });
      try {
        t.edge.answer(await t.edge.claims(v1));
        const result = await device.client.check();
        expect(result.status).toBe("ok");
      } finally {
        device.cleanup();
      }
    }
    for (const request of checks()) {
      expect(request.query).not.toContain("assertion");
      expect(String(request.headers["x-graycast-user"] ?? "")).not.toContain("assertion");
    }
  });
});
