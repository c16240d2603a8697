/**
 * `GET /v1/check?…`, the query form of the check (edge-worker/src/contracts.ts
 * `checkRequestFromQuery`): the same signed answers as `POST /v1/check`, admission tickets as
 * repeated `ticket` parameters, validation in the one error shape, the per-field memo of accepted
 * values (which must never let a refused value through), and the answers shared between clients
 * (edge-worker/src/answer-cache.ts) with the shared response headers (edge-worker/src/headers.ts).
 */

import { createExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { validationError } from "../core/contracts/validation";
import { ApiError } from "../core/errors";
import type { ManifestClaims } from "../core/manifest";
import {
  CheckRequestSchema,
  checkRequestFromQuery,
  MAX_TICKETS,
  QUERY_LIMIT,
} from "../edge-worker/src/contracts";
import { CHECK_HEADERS } from "../edge-worker/src/headers";
import edgeApp from "../edge-worker/src/index";
import { peekTicket } from "../edge-worker/src/tickets";
import { userAssertion } from "./support/assertions";
import {
  checkQuery,
  client,
  compiledTask,
  counterOf,
  definedTask,
  edgeEnv,
  edgeFetch,
  getCheck,
  HOST_APP,
  newAppId,
  ORIGIN,
  online,
  packageRef,
  postCheck,
  putSnapshot,
  verifyManifest,
} from "./support/edge";
import { seededRandom } from "./support/random";

interface ErrorBody {
  error: { code: string; message: string; issues?: { path: string; message: string }[] };
}

interface Answer {
  manifest: string;
  claims: ManifestClaims;
  tickets: string[];
  /** the response body as sent */
  bytes: Uint8Array;
}

/** Reads a 200 check answer and verifies its manifest against the JWKS. */
async function answerOf(res: Response): Promise<Answer> {
  if (res.status !== 200) throw new Error(`check answered ${res.status}: ${await res.text()}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const { manifest, tickets } = JSON.parse(new TextDecoder().decode(bytes)) as {
    manifest: string;
    tickets?: string[];
  };
  return { manifest, claims: (await verifyManifest(manifest)).payload, tickets: tickets ?? [], bytes };
}

const getAnswer = async (body: Record<string, unknown>, geo?: string) => answerOf(await getCheck(body, geo));
const postAnswer = async (body: Record<string, unknown>) => answerOf(await postCheck(body));

/**
 * `first` then `second`, retried once when they straddle a signing window (10 s): answers are
 * only shared, and `iat` only equal, within one window.
 */
async function inOneWindow<A extends { claims: ManifestClaims }, B extends { claims: ManifestClaims }>(
  first: () => Promise<A>,
  second: () => Promise<B>,
): Promise<[A, B]> {
  let a = await first();
  let b = await second();
  if (a.claims.iat !== b.claims.iat) {
    a = await first();
    b = await second();
  }
  return [a, b];
}

async function expectError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const body = await res.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  return body;
}

const issuePaths = (body: ErrorBody) => (body.error.issues ?? []).map((i) => i.path);
const getQuery = (query: string) => edgeFetch(`/v1/check?${query}`);

const ONLINE = "2.0.0";
const GRAY = "2.1.0";

// ------------------------------------------------------------------ same answers as POST

describe("GET /v1/check answers as POST does", () => {
  it("signs the same claims for the same client, installed version and increment included", async () => {
    const appId = newAppId();
    const pkg = {
      ...packageRef("a", 5000),
      files: "f".repeat(64),
      increments: { "1.1.0": { sha256: "b".repeat(64), size: 700, from: "c".repeat(64) } },
    };
    await putSnapshot({ appId, revision: 3, online: online("1.2.0", pkg) });

    const clients = [
      client(appId),
      client(appId, {
        guid: "g-1",
        installedVersion: "1.1.0",
        network: "wifi",
        brand: "Xiaomi",
        model: "Redmi Note 12",
      }),
      client(appId, { installedVersion: "1.0.0", deviceId: "dev 1", account: "a+b@example.com" }),
      client(appId, { installedVersion: "1.2.0", trial: false }),
      client(appId, {
        installedVersion: "1.3.0",
        platform: "ios",
        osVersion: "17.4.1",
        baseLibraryVersion: "3.4",
      }),
    ];
    const byGet: ManifestClaims[] = [];
    for (const body of clients) {
      const [get, post] = await inOneWindow(
        () => getAnswer(body),
        () => postAnswer(body),
      );
      expect(get.claims, JSON.stringify(body)).toEqual(post.claims);
      byGet.push(get.claims);
    }
    // The GET answers are the right ones, not merely equal: the installed version reached the decision.
    expect(byGet.map((c) => [c.reason, c.installedVersion, c.rollback])).toEqual([
      ["online", undefined, false],
      ["online", "1.1.0", false],
      ["online", "1.0.0", false],
      ["up_to_date", "1.2.0", false],
      ["rollback", "1.3.0", true],
    ]);
    expect(byGet[1]?.increment).toEqual({
      url: `${ORIGIN}/v1/increments/${"b".repeat(64)}`,
      size: 700,
      sha256: "b".repeat(64),
      fromVersion: "1.1.0",
      from: "c".repeat(64),
    });
    expect(byGet[0]?.increment).toBeUndefined();
    expect(byGet[2]?.increment).toBeUndefined();
  });

  it("signs the same not_bound, no_release and delisted answers", async () => {
    const bound = newAppId();
    await putSnapshot({ appId: bound, online: online("1.0.0", packageRef("d")) });
    const empty = newAppId();
    await putSnapshot({ appId: empty });
    const delisted = newAppId();
    await putSnapshot({ appId: delisted, listed: false, online: online("1.0.0", packageRef("d")) });

    const cases: [Record<string, unknown>, string][] = [
      [client(bound, { hostAppId: "ha_someotherapp" }), "not_bound"],
      [client(empty, { installedVersion: "0.1.0" }), "no_release"],
      [client(delisted), "delisted"],
    ];
    for (const [body, status] of cases) {
      const [get, post] = await inOneWindow(
        () => getAnswer(body),
        () => postAnswer(body),
      );
      expect(get.claims).toEqual(post.claims);
      expect(get.claims).toMatchObject({ status, reason: status, sub: body.appId, aud: body.hostAppId });
      expect(get.claims.package).toBeUndefined();
    }
  });

  it("answers an unknown app with the same 404", async () => {
    const body = client(newAppId());
    const get = await expectError(await getCheck(body), 404, "not_found");
    const post = await expectError(await postCheck(body), 404, "not_found");
    expect(get).toEqual(post);
  });

  it("serves the trial version for trial=true to a tester, and online for trial=false", async () => {
    const appId = newAppId();
    await putSnapshot({
      appId,
      online: online("1.0.0", packageRef("0")),
      trial: {
        version: "1.1.0",
        package: packageRef("f", 99),
        pagePath: "pages/index/index",
        testers: ["alice"],
      },
    });
    // The tester's assertion travels in the user header (never the URL).
    const user = { headers: { "x-graycast-user": `assertion=${await userAssertion("alice")}` } };
    expect(
      (await answerOf(await edgeFetch(`/v1/check?${checkQuery(client(appId, { trial: true }))}`, user)))
        .claims,
    ).toMatchObject({ reason: "trial", version: "1.1.0", pagePath: "pages/index/index" });
    expect((await getAnswer(client(appId, { trial: true, account: "alice" }))).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
    expect((await getQuery(`${checkQuery(client(appId, { account: "alice" }))}&trial=true`)).status).toBe(
      200,
    );
    expect(
      (await answerOf(await edgeFetch(`/v1/check?${checkQuery(client(appId, { trial: false }))}`, user)))
        .claims,
    ).toMatchObject({ reason: "online", version: "1.0.0" });
    expect((await getAnswer(client(appId, { account: "alice" }))).claims).toMatchObject({
      reason: "online",
      version: "1.0.0",
    });
  });
});

// ------------------------------------------------------------------ tickets

describe("GET /v1/check with admission tickets", () => {
  /** A fresh app with online ONLINE and one task GRAY; `update` rewrites the task (next revision). */
  async function appWithTask(extra: Parameters<typeof compiledTask>[2]) {
    const appId = newAppId();
    let task = compiledTask(GRAY, packageRef("7"), extra);
    let revision = 1;
    await putSnapshot({ appId, revision, online: online(ONLINE, packageRef("0")), tasks: [task] });
    return {
      appId,
      get task() {
        return task;
      },
      async update(change: Parameters<typeof compiledTask>[2]) {
        task = { ...task, ...change };
        await putSnapshot({
          appId,
          revision: ++revision,
          online: online(ONLINE, packageRef("0")),
          tasks: [task],
        });
      },
      get: (guid: string, tickets?: string[]) =>
        getAnswer(client(appId, { guid, ...(tickets ? { tickets } : {}) })),
    };
  }

  it("a capped task admits by GET under its cap; the ticket passed back as `ticket=` keeps the version", async () => {
    const app = await appWithTask({ userCap: 1 });
    const holder = await app.get("holder");
    expect(holder.claims).toMatchObject({ reason: "grayscale", version: GRAY, taskId: app.task.id });
    expect(holder.tickets).toHaveLength(1);
    expect(peekTicket(holder.tickets[0] as string)).toMatchObject({ t: app.task.id, u: "g:holder", v: GRAY });
    expect((await app.get("late")).claims.version).toBe(ONLINE);
    expect(await counterOf(app.task.id).progress()).toMatchObject({ admitted: 1 });

    // Only the ticket can still admit: no new users, and the holder comes without its install.
    await app.update({ phase: "sticky" });
    const again = await app.get("holder", holder.tickets);
    expect(again.claims).toMatchObject({ reason: "grayscale", version: GRAY, taskId: app.task.id });
    expect(again.tickets).toEqual(holder.tickets);
    expect((await app.get("holder")).claims.version).toBe(ONLINE);
    // Someone else's ticket does not carry over.
    expect((await app.get("late", holder.tickets)).claims.version).toBe(ONLINE);
  });

  it("an uncapped task admits by GET; its ticket is honoured among up to MAX_TICKETS `ticket` parameters", async () => {
    const app = await appWithTask({});
    const first = await app.get("u1");
    expect(first.claims.version).toBe(GRAY);
    expect(first.tickets).toHaveLength(1);
    await app.update({ phase: "sticky" });
    const valid = first.tickets[0] as string;

    // The valid ticket last among MAX_TICKETS: every one is read, none dropped.
    const junk = Array.from({ length: MAX_TICKETS - 1 }, (_, i) => `junk.${i}`);
    const full = await app.get("u1", [...junk, valid]);
    expect(full.claims).toMatchObject({ reason: "grayscale", version: GRAY });
    expect(full.tickets).toEqual([valid]);
    expect((await app.get("u1", junk)).claims.version).toBe(ONLINE);

    // One more is refused, whatever the tickets are.
    const over = await expectError(
      await getCheck(client(app.appId, { guid: "u1", tickets: [...junk, valid, valid] })),
      400,
      "bad_request",
    );
    expect(issuePaths(over).length).toBeGreaterThan(0);
    for (const path of issuePaths(over)) expect(path).toMatch(/^tickets/);
  });

  it("names the N-th `ticket` as tickets.N, as for a POST body", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")) });
    for (const tickets of [
      ["a.b", "c.d", "bad ticket"],
      ["a".repeat(513)],
      [""],
      Array.from({ length: MAX_TICKETS + 1 }, () => "a.b"),
    ]) {
      const body = client(appId, { tickets });
      const get = await expectError(await getCheck(body), 400, "bad_request");
      const post = await expectError(await postCheck(body), 400, "bad_request");
      expect(get, JSON.stringify(tickets)).toEqual(post);
    }
    const third = await expectError(
      await getCheck(client(appId, { tickets: ["a.b", "c.d", "bad ticket"] })),
      400,
      "bad_request",
    );
    expect(issuePaths(third)).toEqual(["tickets.2"]);
    // A bare `ticket` is an empty ticket, refused.
    expect(
      new Set(
        issuePaths(
          await expectError(await getQuery(`${checkQuery(client(appId))}&ticket`), 400, "bad_request"),
        ),
      ),
    ).toEqual(new Set(["tickets.0"]));
    // MAX_TICKETS of the longest: accepted, and no grayscale means no tickets key at all.
    const ok = await getCheck(
      client(appId, { tickets: Array.from({ length: MAX_TICKETS }, () => "a".repeat(512)) }),
    );
    expect(ok.status).toBe(200);
    expect(Object.keys(await ok.json<object>())).toEqual(["manifest"]);
  });
});

// ------------------------------------------------------------------ validation

describe("GET /v1/check with the user in the x-graycast-user header", () => {
  const USER_FIELDS = ["guid", "deviceId", "account", "tickets"];
  /** The check as the reference client sends it: identifiers and tickets in the header, the rest in the URL. */
  const split = (body: Record<string, unknown>) => {
    const url = Object.fromEntries(Object.entries(body).filter(([k]) => !USER_FIELDS.includes(k)));
    const user = Object.fromEntries(Object.entries(body).filter(([k]) => USER_FIELDS.includes(k)));
    return { query: checkQuery(url), user: checkQuery(user) };
  };
  const getSplit = (body: Record<string, unknown>) => {
    const { query, user } = split(body);
    return edgeFetch(`/v1/check?${query}`, { headers: { "x-graycast-user": user } });
  };

  it("gives the answer the query alone gives, and a whitelist of GUIDs sees the header's guid", async () => {
    const appId = newAppId();
    const task = definedTask({ version: GRAY, targets: { guid: ["in-header"] } }, packageRef("h"));
    await putSnapshot({ appId, revision: 1, online: online(ONLINE, packageRef("0")), tasks: [task] });
    const body = client(appId, {
      guid: "in-header",
      deviceId: "dev 1",
      account: "acct&1",
      installedVersion: "1.0.0",
    });
    const viaHeader = await answerOf(await getSplit(body));
    const viaQuery = await getAnswer(body);
    expect(viaHeader.claims).toMatchObject({ reason: "grayscale", version: GRAY, installedVersion: "1.0.0" });
    expect(viaHeader.claims).toEqual(viaQuery.claims);
    // The admission ticket travels back in the header too.
    const again = await answerOf(
      await getSplit({ ...body, installedVersion: GRAY, tickets: viaHeader.tickets }),
    );
    expect(again.claims).toMatchObject({ reason: "grayscale", version: GRAY });
    expect(again.tickets).toEqual(viaHeader.tickets);
  });

  it("refuses a field given in both places, a field the header may not carry, and a header over the limit", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")) });
    const { query } = split(client(appId, { guid: "g1" }));
    const twice = await edgeFetch(`/v1/check?${query}&guid=g1`, {
      headers: { "x-graycast-user": "guid=g1" },
    });
    expect(twice.status).toBe(400);
    expect(issuePaths(await twice.json<ErrorBody>())).toEqual(["guid"]);
    const notThere = await edgeFetch(`/v1/check?${query}`, {
      headers: { "x-graycast-user": "guid=g1&platform=ios" },
    });
    expect(notThere.status).toBe(400);
    const body = await notThere.json<ErrorBody>();
    expect(issuePaths(body)).toEqual(["platform"]);
    expect(body.error.issues?.[0]?.message).toMatch(/not allowed in x-graycast-user/);
    const tooLong = await edgeFetch(`/v1/check?${query}`, {
      headers: { "x-graycast-user": `guid=${"g".repeat(QUERY_LIMIT)}` },
    });
    expect(tooLong.status).toBe(400);
    expect((await tooLong.json<ErrorBody>()).error.message).toMatch(/x-graycast-user header is limited/);
    const broken = await edgeFetch(`/v1/check?${query}`, { headers: { "x-graycast-user": "guid=%E0%A4%A" } });
    expect(broken.status).toBe(400);
    // Raw (not percent-encoded) bytes, or the header sent twice (joined with ", "), are refused.
    const raw = await edgeFetch(`/v1/check?${query}`, { headers: { "x-graycast-user": "guid=caf\u00e9" } });
    expect(raw.status).toBe(400);
    expect((await raw.json<ErrorBody>()).error.message).toMatch(/form-encoded/);
    const joined = await edgeFetch(`/v1/check?${query}`, {
      headers: [
        ["x-graycast-user", "guid=a"],
        ["x-graycast-user", "guid=a"],
      ],
    });
    expect(joined.status).toBe(400);
    // A POST carries identifiers in its body: the header is refused, not ignored.
    const post = await edgeFetch("/v1/check", {
      method: "POST",
      headers: { "content-type": "application/json", "x-graycast-user": "guid=g1" },
      body: JSON.stringify(client(appId)),
    });
    expect(post.status).toBe(400);
    expect((await post.json<ErrorBody>()).error.message).toMatch(/x-graycast-user is for GET/);
    // A bad value in the header is reported like any other.
    const bad = await edgeFetch(`/v1/check?${query}`, { headers: { "x-graycast-user": "guid=a%01b" } });
    expect(issuePaths(await bad.json<ErrorBody>())).toEqual(["guid"]);
  });

  it("the parser reads query and header as one request (the edge's own function)", () => {
    const body = client("gcaaaabbbbccccddddeeeeff", { guid: "g+1", account: "a=b", tickets: ["t0", "t1"] });
    const { query, user } = split(body);
    expect(checkRequestFromQuery(query, user)).toEqual(checkRequestFromQuery(checkQuery(body)));
    expect(checkRequestFromQuery(query, user)).toMatchObject({
      guid: "g+1",
      account: "a=b",
      tickets: ["t0", "t1"],
    });
  });
});

describe("GET /v1/check validation, in the one error shape", () => {
  // A real app, so a query that slipped through validation would get 200, not 404.
  const appId = newAppId();
  const ready = putSnapshot({ appId, online: online("1.0.0", packageRef("a")) });
  const valid = checkQuery(client(appId));

  it("accepts a full, valid client context", async () => {
    await ready;
    const res = await getCheck(
      client(appId, {
        guid: "0b7c-guid",
        deviceId: "dev 1",
        account: "user+1@example.com",
        network: "wifi",
        brand: "Xiaomi",
        model: "Redmi Note 12",
        installedVersion: "0.9.0",
        baseLibraryVersion: "3.4.1",
        trial: false,
      }),
    );
    expect(res.status).toBe(200);
  });

  it("refuses an unknown parameter by name instead of ignoring it", async () => {
    await ready;
    const body = await expectError(await getQuery(`${valid}&installedVersoin=1.0.0`), 400, "bad_request");
    expect(issuePaths(body)).toEqual(["installedVersoin"]);
    // Even with an empty value or no value at all.
    expect(issuePaths(await expectError(await getQuery(`${valid}&debug`), 400, "bad_request"))).toEqual([
      "debug",
    ]);
    // Decoded before it is looked up: an escaped name is the name.
    expect(
      issuePaths(await expectError(await getQuery(`${valid}&inst%61lledVersoin=1.0.0`), 400, "bad_request")),
    ).toEqual(["installedVersoin"]);
    expect((await getQuery(`${valid}&inst%61lledVersion=1.0.0`)).status).toBe(200);
  });

  it("refuses `tickets` as a name, telling to use `ticket`", async () => {
    await ready;
    const body = await expectError(await getQuery(`${valid}&tickets=a.b`), 400, "bad_request");
    expect(issuePaths(body)).toEqual(["tickets"]);
    expect(body.error.issues?.[0]?.message).toContain('"ticket"');
  });

  it("refuses a field given twice, with the same or another value", async () => {
    await ready;
    for (const query of [
      `${valid}&platform=ios`,
      `${valid}&platform=android`,
      `guid=a&${valid}&guid=b`,
      `trial=true&trial=true&${valid}`,
    ]) {
      const body = await expectError(await getQuery(query), 400, "bad_request");
      expect(issuePaths(body).length, query).toBe(1);
      expect(body.error.issues?.[0]?.message, query).toMatch(/more than once/);
    }
  });

  it("refuses a broken percent-escape", async () => {
    await ready;
    for (const query of [
      `${valid}&guid=%E0%A4%A`,
      `${valid}&guid=%ZZ`,
      `${valid}&guid=abc%`,
      `${valid}&guid=%ED%A0%80`,
      `${valid}&%E0%A4%A=1`,
    ]) {
      await expectError(await getQuery(query), 400, "bad_request");
    }
    // The same bytes escaped properly are a valid guid.
    expect((await getQuery(`${valid}&guid=%E0%A4%A4`)).status).toBe(200);
  });

  it(`answers a query over ${QUERY_LIMIT} characters with 414, and one at the limit with an ordinary answer`, async () => {
    await ready;
    const pad = (length: number) => `${valid}&model=${"m".repeat(length - valid.length - "&model=".length)}`;
    const over = await expectError(await getQuery(pad(QUERY_LIMIT + 1)), 414, "uri_too_long");
    expect(over.error.issues).toBeUndefined();
    // At the limit the query is read: the model is too long for the schema, which names it.
    const at = await expectError(await getQuery(pad(QUERY_LIMIT)), 400, "bad_request");
    expect(issuePaths(at)).toEqual(["model"]);
    // Over the limit even when the excess is in a refused parameter: nothing is parsed.
    await expectError(await getQuery(`${valid}&x=${"y".repeat(QUERY_LIMIT)}`), 414, "uri_too_long");
  });

  it("names missing required fields", async () => {
    await ready;
    expect(issuePaths(await expectError(await getQuery(""), 400, "bad_request")).sort()).toEqual([
      "appId",
      "hostAppId",
      "hostAppVersion",
      "osVersion",
      "platform",
    ]);
    expect(
      issuePaths(await expectError(await getQuery(`appId=${appId}`), 400, "bad_request")).sort(),
    ).toEqual(["hostAppId", "hostAppVersion", "osVersion", "platform"]);
    const { platform: _dropped, ...rest } = client(appId);
    expect(issuePaths(await expectError(await getCheck(rest), 400, "bad_request"))).toEqual(["platform"]);
  });

  it("refuses the values a POST body refuses, with the same error body", async () => {
    await ready;
    const cases: Record<string, unknown>[] = [
      { platform: "windows" },
      { installedVersion: "1.0" },
      { installedVersion: "01.0.0" },
      { osVersion: "fourteen" },
      { hostAppVersion: "1".repeat(33) },
      { appId: "not-an-app-id" },
      { hostAppId: "ha/../x" },
      { hostAppId: "" },
      { account: "x".repeat(129) },
      { model: "bad\u0000model" },
      { brand: "" },
      { guid: "" },
      { network: "6g" },
      { trial: "yes" },
      { trial: "TRUE" },
      { trial: "1" },
      { trial: "" },
      { platform: "windows", osVersion: "x", network: "6g" },
    ];
    for (const override of cases) {
      const body = client(appId, override);
      const get = await expectError(await getCheck(body), 400, "bad_request");
      const post = await expectError(await postCheck(body), 400, "bad_request");
      expect(get, JSON.stringify(override)).toEqual(post);
      expect(new Set(issuePaths(get)), JSON.stringify(override)).toEqual(new Set(Object.keys(override)));
    }
  });

  it("refuses trial=yes and accepts trial=true and trial=false", async () => {
    await ready;
    expect(issuePaths(await expectError(await getQuery(`${valid}&trial=yes`), 400, "bad_request"))).toEqual([
      "trial",
    ]);
    expect((await getQuery(`${valid}&trial=true`)).status).toBe(200);
    expect((await getQuery(`${valid}&trial=false`)).status).toBe(200);
  });

  it("decodes `+` as a space and percent-escapes such as %2C before the rules see the value", async () => {
    const appId = newAppId();
    const task = definedTask(
      { version: GRAY, models: { include: ["iPhone15,2", "Redmi Note 12"] } },
      packageRef("9"),
    );
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")), tasks: [task] });
    const base = checkQuery(client(appId));
    const versionFor = async (model: string) =>
      (await answerOf(await getQuery(`${base}&model=${model}`))).claims.version;

    expect(await versionFor("iPhone15%2C2")).toBe(GRAY);
    expect(await versionFor("iPhone15,2")).toBe(GRAY);
    expect(await versionFor("iPhone15%2c2")).toBe(GRAY);
    expect(await versionFor("iPhone15%2C3")).toBe(ONLINE);
    expect(await versionFor("Redmi+Note+12")).toBe(GRAY);
    expect(await versionFor("Redmi%20Note%2012")).toBe(GRAY);
    expect(await versionFor("Redmi+Note%2012")).toBe(GRAY);
    // An escaped plus is a plus, not a space.
    expect(await versionFor("Redmi%2BNote%2B12")).toBe(ONLINE);
    expect(await versionFor("Redmi+Note+13")).toBe(ONLINE);
    // And the helper's encoding (URLSearchParams) round-trips a client's model.
    expect((await getAnswer(client(appId, { model: "iPhone15,2" }))).claims.version).toBe(GRAY);
    expect((await getAnswer(client(appId, { model: "Redmi Note 12" }))).claims.version).toBe(GRAY);
  });
});

// ------------------------------------------------------------------ the memo of accepted values

describe("the memo of accepted values never lets a refused value through", () => {
  const base = {
    appId: "gcaaaabbbbccccddddeeeeff",
    hostAppId: "ha_testhostapp01",
    hostAppVersion: "8.0.1",
    platform: "android",
    osVersion: "14",
  };
  const query = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const refusal = (q: string): ApiError => {
    try {
      checkRequestFromQuery(q);
    } catch (err) {
      if (err instanceof ApiError) return err;
      throw err;
    }
    throw new Error(`accepted ${q}`);
  };

  it("refuses the same invalid value every time it is sent", () => {
    for (let i = 0; i < 3; i++) {
      expect(refusal(query({ ...base, osVersion: "fourteen" })).issues?.map((x) => x.path)).toEqual([
        "osVersion",
      ]);
      expect(refusal(query({ ...base, model: "bad\u0007model" })).issues?.map((x) => x.path)).toEqual([
        "model",
      ]);
      expect(refusal(query({ ...base, platform: "windows" })).issues?.map((x) => x.path)).toEqual([
        "platform",
      ]);
    }
  });

  it("refuses an invalid value after a valid one of the same field was accepted", () => {
    const cases: [field: string, good: string, bad: string][] = [
      ["osVersion", "14", "14.a"],
      ["hostAppVersion", "8.0.1", "8.0.1 "],
      ["brand", "Xiaomi", "Xiaomi\u0085"],
      ["model", "iPhone15,2", "x".repeat(65)],
      ["installedVersion", "1.2.3", "1.2"],
      ["network", "wifi", "WIFI"],
      ["appId", "gcaaaabbbbccccddddeeeegg", "gcaaaabbbbccccddddeeee1"],
      ["hostAppId", "ha_second", "ha second"],
    ];
    for (const [field, good, bad] of cases) {
      expect(checkRequestFromQuery(query({ ...base, [field]: good }))).toMatchObject({ [field]: good });
      expect(checkRequestFromQuery(query({ ...base, [field]: good }))).toMatchObject({ [field]: good });
      expect(
        refusal(query({ ...base, [field]: bad })).issues?.map((x) => x.path),
        field,
      ).toEqual([field]);
    }
  });

  it("refuses a value accepted for one field when it is sent for another", () => {
    // Each value is remembered as valid for the first field, then offered to the second.
    const cases: [accepted: string, other: string, value: string][] = [
      ["osVersion", "installedVersion", "14"],
      ["platform", "network", "ios"],
      ["brand", "hostAppId", "Redmi Note"],
      ["hostAppVersion", "appId", "8.0.1"],
      ["model", "osVersion", "iPhone15,2"],
    ];
    for (const [accepted, other, value] of cases) {
      expect(checkRequestFromQuery(query({ ...base, [accepted]: value }))).toMatchObject({
        [accepted]: value,
      });
      expect(
        refusal(query({ ...base, [other]: value })).issues?.map((x) => x.path),
        `${value} as ${other}`,
      ).toEqual([other]);
    }
  });

  it("through the Worker: the same invalid value twice is refused twice, after a valid one", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("a")) });
    expect((await getCheck(client(appId, { brand: "Xiaomi" }))).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      expect(
        issuePaths(
          await expectError(await getCheck(client(appId, { brand: "Xiaomi\u0001" })), 400, "bad_request"),
        ),
      ).toEqual(["brand"]);
      expect(
        issuePaths(
          await expectError(await getCheck(client(appId, { osVersion: "14.x" })), 400, "bad_request"),
        ),
      ).toEqual(["osVersion"]);
    }
    expect((await getCheck(client(appId, { brand: "Xiaomi" }))).status).toBe(200);
  });

  it("agrees with CheckRequestSchema on generated queries (seeded)", () => {
    const rng = seededRandom(0x9e3779b9);
    const queries = Array.from({ length: 600 }, () => generateQuery(rng));
    const tally = { ok: 0, schema: 0, structural: 0, tooLong: 0 };
    // Twice: the second pass meets every value already in the memo.
    for (let pass = 0; pass < 2; pass++) {
      for (const generated of queries) {
        const outcome = expectAgreement(generated);
        if (pass === 0) tally[outcome]++;
      }
    }
    // The generator reached every kind of outcome, in useful numbers.
    expect(tally.ok).toBeGreaterThan(40);
    expect(tally.schema).toBeGreaterThan(100);
    expect(tally.structural).toBeGreaterThan(40);
    expect(tally.tooLong).toBeGreaterThan(3);
  });
});

// ------------------------------------------------------------------ shared answers and headers

describe("answers shared between clients", () => {
  it("gives two users with the same decision byte-identical bodies, by GET and by POST", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.2.0", packageRef("s")) });
    const [a, b] = await inOneWindow(
      () =>
        getAnswer(
          client(appId, { installedVersion: "1.1.0", guid: "user-a", deviceId: "d-a", account: "a" }),
        ),
      () => getAnswer(client(appId, { installedVersion: "1.1.0", guid: "user-b", model: "Mi 11" })),
    );
    expect(b.bytes).toEqual(a.bytes);
    const [c, d] = await inOneWindow(
      () => getAnswer(client(appId, { installedVersion: "1.1.0", guid: "user-c" })),
      () => postAnswer(client(appId, { installedVersion: "1.1.0", guid: "user-d" })),
    );
    expect(d.bytes).toEqual(c.bytes);
    expect(JSON.parse(new TextDecoder().decode(c.bytes))).toEqual({ manifest: c.manifest });
  });

  it("answers another installed version, host app or origin with its own manifest", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, hostApps: [HOST_APP, "ha_second"], online: online("1.2.0", packageRef("s")) });
    const [base, other] = await inOneWindow(
      () => getAnswer(client(appId, { installedVersion: "1.1.0", guid: "u" })),
      () => getAnswer(client(appId, { installedVersion: "1.0.0", guid: "u" })),
    );
    expect(other.manifest).not.toBe(base.manifest);
    expect(base.claims.installedVersion).toBe("1.1.0");
    expect(other.claims.installedVersion).toBe("1.0.0");

    const [, second] = await inOneWindow(
      () => getAnswer(client(appId, { installedVersion: "1.1.0" })),
      () => getAnswer(client(appId, { installedVersion: "1.1.0", hostAppId: "ha_second" })),
    );
    expect(second.claims).toMatchObject({ aud: "ha_second", installedVersion: "1.1.0", version: "1.2.0" });

    // Another origin: the package URL is built on the origin the client called.
    const elsewhere = "http://127.0.0.1:8787";
    const ctx = createExecutionContext();
    const res = await edgeApp.fetch(
      new Request(`${elsewhere}/v1/check?${checkQuery(client(appId, { installedVersion: "1.1.0" }))}`),
      edgeEnv,
      ctx,
    );
    const there = await answerOf(res);
    expect(there.claims.package?.url).toBe(`${elsewhere}/v1/packages/${"s".repeat(64)}`);
    expect((await getAnswer(client(appId, { installedVersion: "1.1.0" }))).claims.package?.url).toBe(
      `${ORIGIN}/v1/packages/${"s".repeat(64)}`,
    );
  });

  it("serves a publish at once, never the answer cached from the previous snapshot", async () => {
    const appId = newAppId();
    const body = client(appId, { installedVersion: "1.0.0" });
    await putSnapshot({ appId, revision: 1, online: online("1.2.0", packageRef("s")) });
    const first = await getAnswer(body);
    expect(first.claims).toMatchObject({
      version: "1.2.0",
      revision: 1,
      package: { sha256: "s".repeat(64) },
    });
    expect((await getAnswer(body)).claims.revision).toBe(1);

    // Same version, another package: the decision's key is the same, the snapshot is not.
    await putSnapshot({ appId, revision: 2, online: online("1.2.0", packageRef("t")) });
    const repackaged = await getAnswer(body);
    expect(repackaged.claims).toMatchObject({
      version: "1.2.0",
      revision: 2,
      package: { sha256: "t".repeat(64) },
    });

    await putSnapshot({ appId, revision: 3, online: online("1.3.0", packageRef("u")) });
    expect((await getAnswer(body)).claims).toMatchObject({
      version: "1.3.0",
      revision: 3,
      package: { sha256: "u".repeat(64) },
    });
    expect((await postAnswer(body)).claims).toMatchObject({ version: "1.3.0", revision: 3 });

    await putSnapshot({ appId, revision: 4, listed: false, online: online("1.3.0", packageRef("u")) });
    const delisted = await getAnswer(body);
    expect(delisted.claims).toMatchObject({ status: "delisted", revision: 4 });
    expect(delisted.claims.package).toBeUndefined();
  });

  it("hands each admitted user its own ticket, and none to a user past the cap", async () => {
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"), { userCap: 2 });
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")), tasks: [task] });
    const a = await getAnswer(client(appId, { guid: "a" }));
    const b = await getAnswer(client(appId, { guid: "b" }));
    const c = await getAnswer(client(appId, { guid: "c" }));
    expect([a, b, c].map((x) => x.claims.version)).toEqual([GRAY, GRAY, ONLINE]);
    expect(peekTicket(a.tickets[0] as string)).toMatchObject({ u: "g:a" });
    expect(peekTicket(b.tickets[0] as string)).toMatchObject({ u: "g:b" });
    expect(c.tickets).toEqual([]);
    expect(Object.keys(JSON.parse(new TextDecoder().decode(c.bytes)) as object)).toEqual(["manifest"]);
  });

  it("reading and changing one answer's bytes does not change the next answer", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.2.0", packageRef("s")) });
    // The Worker's own Response (not a copy made on the way to the test), whose body is the shared bytes.
    const call = async () =>
      answerOf(
        await edgeApp.fetch(
          new Request(`${ORIGIN}/v1/check?${checkQuery(client(appId, { installedVersion: "1.1.0" }))}`),
          edgeEnv,
          createExecutionContext(),
        ),
      );
    const [first, second] = await inOneWindow(async () => {
      const answer = await call();
      const copy = answer.bytes.slice();
      answer.bytes.fill(0x20);
      return { ...answer, bytes: copy };
    }, call);
    expect(second.bytes).toEqual(first.bytes);
  });
});

describe("check response headers", () => {
  const expected = {
    "content-type": "application/json",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "strict-transport-security": "max-age=15552000; includeSubDomains",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
  const headersOf = (res: Response) =>
    Object.fromEntries(Object.keys(expected).map((name) => [name, res.headers.get(name)]));

  it("carries JSON, no-store and the security headers on answers, ticket answers and errors", async () => {
    const appId = newAppId();
    const task = compiledTask(GRAY, packageRef("7"));
    await putSnapshot({ appId, online: online(ONLINE, packageRef("0")), tasks: [task] });
    const ticketed = await getCheck(client(appId, { guid: "g" }));
    expect((await ticketed.clone().json<{ tickets?: string[] }>()).tickets).toHaveLength(1);
    const plain = await getCheck(client(appId));
    expect(Object.keys(await plain.clone().json<object>())).toEqual(["manifest"]);
    const responses = {
      plain,
      ticketed,
      post: await postCheck(client(appId)),
      invalid: await getQuery("platform=windows"),
      tooLong: await getQuery("x".repeat(QUERY_LIMIT + 1)),
      unknownApp: await getCheck(client(newAppId())),
    };
    for (const [what, res] of Object.entries(responses)) expect(headersOf(res), what).toEqual(expected);
    expect(responses.tooLong.status).toBe(414);
  });

  it("changing one response's headers changes neither the next response nor the shared headers", async () => {
    const appId = newAppId();
    await putSnapshot({ appId, online: online("1.0.0", packageRef("a")) });
    const call = () =>
      edgeApp.fetch(
        new Request(`${ORIGIN}/v1/check?${checkQuery(client(appId))}`),
        edgeEnv,
        createExecutionContext(),
      );

    const first = await call();
    expect(first.status).toBe(200);
    expect(headersOf(first)).toEqual(expected);
    // The Worker's own Response, not a copy made on the way to the test: its headers are mutable.
    first.headers.set("cache-control", "public, max-age=31536000");
    first.headers.delete("x-content-type-options");
    first.headers.append("set-cookie", "a=b");
    first.headers.set("content-type", "text/html");
    expect(first.headers.get("cache-control")).toBe("public, max-age=31536000");

    const second = await call();
    expect(headersOf(second)).toEqual(expected);
    expect(second.headers.get("set-cookie")).toBeNull();
    expect(Object.fromEntries(CHECK_HEADERS)).toEqual(expected);
  });
});

// ------------------------------------------------------------------ generated queries

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const chance = (rng: Rng, p: number) => rng() < p;

// A user assertion never travels in the URL (it is refused there, like an unknown name).
const FIELD_NAMES = Object.keys(CheckRequestSchema.shape).filter((n) => n !== "tickets" && n !== "assertion");
const REQUIRED = ["appId", "hostAppId", "hostAppVersion", "platform", "osVersion"];
const OPTIONAL = FIELD_NAMES.filter((n) => !REQUIRED.includes(n));
const UNKNOWN_NAMES = [
  "tickets",
  "assertion",
  "installedVersoin",
  "AppId",
  "app_id",
  "foo",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "x".repeat(100),
  "ticket ",
  " appId",
];

/** Mostly valid values per field, drawn from small sets so they repeat (and hit the memo). */
const GOOD: Record<string, (rng: Rng) => string> = {
  appId: (rng) => pick(rng, ["gcaaaabbbbccccddddeeeeff", "gcqrstuvwxyz234567qrst", "gc7777777777777777"]),
  hostAppId: (rng) => pick(rng, ["ha_testhostapp01", "host-2", "H_3"]),
  hostAppVersion: (rng) => pick(rng, ["8.0.1", "14", "17.4.1", "3.4"]),
  platform: (rng) => pick(rng, ["android", "ios"]),
  osVersion: (rng) => pick(rng, ["14", "17.4", "10.0.19041"]),
  guid: (rng) => randomText(rng, 1, 20),
  deviceId: (rng) => randomText(rng, 1, 20),
  account: (rng) => randomText(rng, 1, 20),
  network: (rng) => pick(rng, ["wifi", "5g", "4g", "3g", "2g", "ethernet", "other"]),
  brand: (rng) => pick(rng, ["Xiaomi", "HUAWEI Mate+", "Apple", "三星"]),
  model: (rng) => pick(rng, ["iPhone15,2", "Redmi Note 12", "Galaxy S24 Ultra", "a&b=c%d"]),
  installedVersion: (rng) => pick(rng, ["1.2.3", "0.9.0", "10.20.30"]),
  baseLibraryVersion: (rng) => pick(rng, ["3.4.1", "2", "1.0"]),
  trial: (rng) => pick(rng, ["true", "false"]),
  ticket: (rng) => randomFrom(rng, "ABCXYZabcxyz0189_.-", 1, 40),
};

/** Values just outside a field's schema (or just inside it), per field. */
const NEAR_MISS: Record<string, readonly string[]> = {
  appId: [
    `gc${"a".repeat(15)}`,
    `gc${"a".repeat(41)}`,
    `gc${"a".repeat(40)}`,
    "gcaaaabbbbccccdddd1",
    "GCaaaabbbbccccddddeeee",
  ],
  hostAppId: ["", "h".repeat(64), "h".repeat(65), "ha.x", "ha x"],
  hostAppVersion: ["1".repeat(32), "1".repeat(33), "1.", ".1", "1..2", "v1"],
  platform: ["Android", "IOS", "windows", ""],
  osVersion: ["14 ", " 14", "14.0.0.0.0", "fourteen", ""],
  guid: ["", "g".repeat(128), "g".repeat(129), "a\u0000b", "a\nb", "\u007f"],
  deviceId: ["", "d".repeat(129), "\t"],
  account: ["", "a".repeat(128), "a".repeat(129), "x\u009fy"],
  network: ["WIFI", "6g", "Wifi", ""],
  brand: ["", "b".repeat(64), "b".repeat(65), "a\rb"],
  model: ["", "m".repeat(64), "m".repeat(65), "iPhone\u001b15"],
  installedVersion: ["1.0", "01.0.0", "1.0.0.0", "1.2.3-beta", "1".repeat(21), "1.2.30000000000000"],
  baseLibraryVersion: ["3.", "3.x", "1".repeat(33)],
  trial: ["yes", "TRUE", "True", "1", "0", "on", ""],
  ticket: ["", "a b", "a".repeat(512), "a".repeat(513), "a+b", "a/b", "a=b"],
};

/** Values shared by every field: valid for some, invalid for others, invalid for all. */
const POOL = [
  ...Object.values(GOOD).flatMap((gen) => [gen(seededRandom(1)), gen(seededRandom(2))]),
  "",
  " ",
  `gc${"a".repeat(15)}`,
  "GCAAAABBBBCCCCDDDDEEEEFF",
  "ha/../x",
  "fourteen",
  "1".repeat(33),
  "1.0",
  "01.0.0",
  "1.2.3-beta",
  "windows",
  "6g",
  "WIFI",
  "bad\u0000model",
  "tab\there",
  "x".repeat(65),
  "x".repeat(129),
  "a".repeat(513),
  "yes",
  "TRUE",
  "a b.c",
  "\u0085",
  "用户",
  "+",
];

function randomFrom(rng: Rng, alphabet: string, min: number, max: number): string {
  const chars = [...alphabet];
  const length = min + Math.floor(rng() * (max - min + 1));
  return Array.from({ length }, () => pick(rng, chars)).join("");
}
function randomText(rng: Rng, min: number, max: number): string {
  return randomFrom(rng, "abcXYZ019 ,+&=%#?/-_.@éü用户\u0001", min, max);
}

/** One generated parameter, before encoding; `broken` puts a broken percent-escape in its value. */
interface Param {
  name: string;
  value: string;
  bare?: boolean;
  broken?: boolean;
}
interface Generated {
  query: string;
  params: Param[];
}

/** Percent-encodes every UTF-8 byte, in upper or lower case hex (all of it must decode alike). */
function encodeAll(s: string, lower: boolean): string {
  return Array.from(
    new TextEncoder().encode(s),
    (b) => `%${b.toString(16).padStart(2, "0")[lower ? "toLowerCase" : "toUpperCase"]()}`,
  ).join("");
}

function encodePart(rng: Rng, s: string): string {
  switch (Math.floor(rng() * 4)) {
    case 0:
      return encodeURIComponent(s);
    case 1:
      return encodeURIComponent(s).replaceAll("%20", "+");
    case 2:
      return encodeAll(s, chance(rng, 0.5));
    default:
      return new URLSearchParams([[s, ""]]).toString().slice(0, -1);
  }
}

function generateQuery(rng: Rng): Generated {
  const params: Param[] = [];
  const valueFor = (name: string) => {
    const good = Object.hasOwn(GOOD, name) ? GOOD[name] : undefined;
    const roll = rng();
    if (good !== undefined && roll < 0.8) return good(rng);
    const near = Object.hasOwn(NEAR_MISS, name) ? NEAR_MISS[name] : undefined;
    return near !== undefined && roll < 0.9 ? pick(rng, near) : pick(rng, POOL);
  };
  for (const name of REQUIRED) if (chance(rng, 0.95)) params.push({ name, value: valueFor(name) });
  for (const name of OPTIONAL) if (chance(rng, 0.3)) params.push({ name, value: valueFor(name) });
  if (chance(rng, 0.3)) {
    const count = Math.floor(rng() * (MAX_TICKETS + 3));
    for (let i = 0; i < count; i++) params.push({ name: "ticket", value: valueFor("ticket") });
  }
  if (chance(rng, 0.1)) params.push({ name: pick(rng, UNKNOWN_NAMES), value: pick(rng, POOL) });
  if (chance(rng, 0.08) && params.length > 0) {
    const again = pick(rng, params);
    params.push({ name: again.name, value: chance(rng, 0.5) ? again.value : valueFor(again.name) });
  }
  if (chance(rng, 0.05) && params.length > 0) pick(rng, params).broken = true;
  for (const p of params) if (p.value === "" && chance(rng, 0.5)) p.bare = true;
  // Shuffle: order must not matter except for which structural fault is met first.
  for (let i = params.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [params[i], params[j]] = [params[j] as Param, params[i] as Param];
  }
  const parts = params.map((p) => {
    const name = encodePart(rng, p.name);
    if (p.bare && !p.broken) return name;
    return `${name}=${encodePart(rng, p.value)}${p.broken ? pick(rng, ["%", "%E0%A4%A", "%zz", "%ED%A0%80"]) : ""}`;
  });
  if (chance(rng, 0.05)) parts.push(""); // a stray `&`
  let query = parts.join("&");
  if (chance(rng, 0.03)) query += `&model=${"m".repeat(QUERY_LIMIT)}`;
  return { query, params };
}

/**
 * What the query must give, worked out from the parameters as generated (never from the query
 * string): past QUERY_LIMIT 414; else the first structural fault in order (broken escape, unknown
 * or repeated name) alone; else whatever CheckRequestSchema says about the same fields.
 */
function expectAgreement({ query, params }: Generated): "ok" | "schema" | "structural" | "tooLong" {
  let outcome: { value: unknown } | { error: unknown };
  try {
    outcome = { value: checkRequestFromQuery(query) };
  } catch (error) {
    outcome = { error };
  }
  const where = `query: ${query.slice(0, 600)}`;
  const failure = (): ApiError => {
    if (!("error" in outcome)) throw new Error(`accepted, expected a refusal; ${where}`);
    if (!(outcome.error instanceof ApiError)) throw outcome.error;
    return outcome.error;
  };

  if (query.length > QUERY_LIMIT) {
    expect(failure().code, where).toBe("uri_too_long");
    return "tooLong";
  }
  const fields: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const p of params) {
    if (p.broken) {
      const error = failure();
      expect(error.code, where).toBe("bad_request");
      expect(error.message, where).toMatch(/percent-escape/);
      return "structural";
    }
    if (p.name === "ticket") {
      ((fields.tickets ??= []) as string[]).push(p.value);
      continue;
    }
    const unknown = !FIELD_NAMES.includes(p.name);
    if (unknown || seen.has(p.name)) {
      const error = failure();
      expect(error.code, where).toBe("bad_request");
      expect(error.issues, where).toHaveLength(1);
      const issue = error.issues?.[0];
      if (p.name.length > 0 && p.name.length <= 64) expect(issue?.path, where).toBe(p.name);
      expect(issue?.message, where).toMatch(
        !unknown
          ? /more than once/
          : p.name === "tickets"
            ? /"ticket"/
            : p.name === "assertion"
              ? /never in the URL/
              : /unknown parameter/,
      );
      return "structural";
    }
    seen.add(p.name);
    fields[p.name] =
      p.name === "trial" && (p.value === "true" || p.value === "false") ? p.value === "true" : p.value;
  }
  const schema = CheckRequestSchema.safeParse(fields);
  if (schema.success) {
    if ("error" in outcome)
      throw new Error(
        `refused (${String(outcome.error)}: ${JSON.stringify((outcome.error as ApiError).issues)}), the schema accepts; ${where}`,
      );
    expect(outcome.value, where).toStrictEqual(schema.data);
    return "ok";
  }
  const error = failure();
  expect(error.code, where).toBe("bad_request");
  expect(error.issues, where).toEqual(validationError(schema.error).issues);
  return "schema";
}
