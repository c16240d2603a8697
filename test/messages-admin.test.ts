/**
 * Subscription messages, admin API (PRODUCT.md T1, T2, T5; issue 14; seed "Subscription
 * Message"): the public template library (search by name, filter by type and category, pages),
 * My Template (1 to 5 keywords in order, the same keyword set of the same public template refused,
 * preview, delete), the host app's push webhook (secret shown once, stored sealed) and who may do
 * each. Real admin Worker and D1.
 */
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../control-plane/src/db/client";
import { changeLog, messageTemplates, messageWebhooks } from "../control-plane/src/db/schema";
import { testEnv } from "./env";
import { callAdmin, expectError, expectJson, makeMiniProgram, makeWorld, type World } from "./support/admin";

let world: World;
let appId: string;
beforeAll(async () => {
  world = await makeWorld();
  appId = await makeMiniProgram(world);
});

const templatesPath = (id = appId) => `/v1/mini-programs/${id}/message-templates`;

describe("the public template library (T1)", () => {
  it("searches by name, filters by type and category, pages", async () => {
    const all = await expectJson(
      callAdmin("GET", "/v1/message-library?pageSize=50", { token: world.viewerA.token }),
      200,
    );
    expect(all.total).toBeGreaterThanOrEqual(30);
    const flight = await expectJson(
      callAdmin("GET", "/v1/message-library?q=FLIGHT%20status", { token: world.devB.token }),
      200,
    );
    expect(flight.templates.map((t: any) => t.title)).toEqual(["Flight status changed"]);
    expect(flight.templates[0].keywords[0]).toEqual({
      key: "character_string1",
      name: "Flight",
      type: "character_string",
      example: "CX889",
    });
    const longTerm = await expectJson(
      callAdmin("GET", "/v1/message-library?type=long-term&pageSize=50", { token: world.devA.token }),
      200,
    );
    expect(longTerm.total).toBeGreaterThan(0);
    for (const t of longTerm.templates) {
      expect(t.type).toBe("long-term");
      expect(["government", "livelihood", "health", "travel", "finance", "education"]).toContain(t.category);
    }
    const orders = await expectJson(
      callAdmin("GET", "/v1/message-library?category=orders&type=long-term", { token: world.devA.token }),
      200,
    );
    expect(orders.total).toBe(0);
    const p1 = await expectJson(
      callAdmin("GET", "/v1/message-library?pageSize=10&page=1", { token: world.devA.token }),
      200,
    );
    const p2 = await expectJson(
      callAdmin("GET", "/v1/message-library?pageSize=10&page=2", { token: world.devA.token }),
      200,
    );
    expect(p1.templates).toHaveLength(10);
    expect(p2.templates[0].id).not.toBe(p1.templates[0].id);
    expect(p2.total).toBe(all.total);
  });

  it("refuses bad filters with 400 and anonymous callers with 401", async () => {
    await expectError(
      callAdmin("GET", "/v1/message-library?type=forever", { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("GET", "/v1/message-library?pageSize=500", { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(
      callAdmin("GET", "/v1/message-library?colour=red", { token: world.devA.token }),
      400,
      "bad_request",
    );
    await expectError(callAdmin("GET", "/v1/message-library"), 401, "unauthenticated");
  });
});

describe("My Template (T2)", () => {
  it("adds 1 to 5 keywords in the chosen order, with the preview the user sees", async () => {
    const t = await expectJson(
      callAdmin("POST", templatesPath(), {
        token: world.devA.token,
        json: { publicTemplateId: "pt3001", keywords: ["phrase2", "character_string1", "time3"] },
      }),
      201,
    );
    expect(t.templateId).toMatch(/^mt[a-z2-7]{24}$/);
    expect(t).toMatchObject({ appId, title: "Flight status changed", type: "long-term", category: "travel" });
    expect(t.keywords.map((k: any) => k.key)).toEqual(["phrase2", "character_string1", "time3"]);
    expect(t.preview).toBe(
      "Flight status changed\nStatus: Late\nFlight: CX889\nNew departure: 2026-12-05 21:40",
    );
    const list = await expectJson(callAdmin("GET", templatesPath(), { token: world.viewerA.token }), 200);
    expect(list.templates.map((x: any) => x.templateId)).toContain(t.templateId);
    const audit = await createDb(testEnv.DB)
      .select()
      .from(changeLog)
      .where(eq(changeLog.targetId, appId))
      .all();
    expect(audit.map((a) => a.action)).toContain("message_template.add");
  });

  it("the same keyword set of the same public template twice is 409, in any order; another set is fine", async () => {
    const body = { publicTemplateId: "pt1001", keywords: ["character_string1", "thing2"] };
    await expectJson(callAdmin("POST", templatesPath(), { token: world.devA.token, json: body }), 201);
    const msg = await expectError(
      callAdmin("POST", templatesPath(), { token: world.adminA.token, json: body }),
      409,
      "conflict",
    );
    expect(msg).toMatch(/keywords cannot be repeated/);
    await expectError(
      callAdmin("POST", templatesPath(), {
        token: world.devA.token,
        json: { publicTemplateId: "pt1001", keywords: ["thing2", "character_string1"] },
      }),
      409,
      "conflict",
    );
    await expectJson(
      callAdmin("POST", templatesPath(), {
        token: world.devA.token,
        json: { publicTemplateId: "pt1001", keywords: ["character_string1", "thing2", "thing3"] },
      }),
      201,
    );
    // Concurrent identical adds: exactly one wins, the other is 409 (the unique index), none 5xx.
    const race = { publicTemplateId: "pt1002", keywords: ["amount2"] };
    const results = await Promise.all(
      [1, 2, 3].map(() => callAdmin("POST", templatesPath(), { token: world.devA.token, json: race })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    const rows = await createDb(testEnv.DB)
      .select()
      .from(messageTemplates)
      .where(eq(messageTemplates.publicTemplateId, "pt1002"))
      .all();
    expect(rows.filter((r) => r.miniProgramId === appId)).toHaveLength(1);
  });

  it("refuses 0 or 6 keywords, unknown or repeated keywords, an unknown public template", async () => {
    const add = (json: unknown) => callAdmin("POST", templatesPath(), { token: world.devA.token, json });
    await expectError(add({ publicTemplateId: "pt3001", keywords: [] }), 400, "bad_request");
    await expectError(
      add({ publicTemplateId: "pt3001", keywords: ["a", "b", "c", "d", "e", "f"] }),
      400,
      "bad_request",
    );
    expect(
      await expectError(add({ publicTemplateId: "pt3001", keywords: ["thing9"] }), 400, "bad_request"),
    ).toMatch(/not a keyword of pt3001/);
    await expectError(add({ publicTemplateId: "pt3001", keywords: ["time3", "time3"] }), 400, "bad_request");
    await expectError(add({ publicTemplateId: "pt9999", keywords: ["thing1"] }), 404, "not_found");
    await expectError(add({ publicTemplateId: "pt3001", keywords: ["time3"], extra: 1 }), 400, "bad_request");
    const res = await callAdmin("POST", templatesPath(), {
      token: world.devA.token,
      body: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(400);
  });

  it("previews without adding", async () => {
    const before = await expectJson(callAdmin("GET", templatesPath(), { token: world.devA.token }), 200);
    const p = await expectJson(
      callAdmin("POST", `${templatesPath()}/preview`, {
        token: world.viewerA.token,
        json: { publicTemplateId: "pt6001", keywords: ["name3", "date4"] },
      }),
      200,
    );
    expect(p.preview).toBe("Appointment confirmed\nDoctor: Dr. Zhang\nTime: 2026-12-09 10:30");
    const after = await expectJson(callAdmin("GET", templatesPath(), { token: world.devA.token }), 200);
    expect(after.templates).toHaveLength(before.templates.length);
  });

  it("only the owning team manages templates: viewer 403, another team 404; delete by admin or developer", async () => {
    const body = { publicTemplateId: "pt8001", keywords: ["thing1"] };
    await expectError(
      callAdmin("POST", templatesPath(), { token: world.viewerA.token, json: body }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("POST", templatesPath(), { token: world.devB.token, json: body }),
      404,
      "not_found",
    );
    await expectError(callAdmin("GET", templatesPath(), { token: world.devB.token }), 404, "not_found");
    await expectError(callAdmin("GET", templatesPath(), { token: world.manager1.token }), 404, "not_found");
    const t = await expectJson(
      callAdmin("POST", templatesPath(), { token: world.adminA.token, json: body }),
      201,
    );
    const del = `${templatesPath()}/${t.templateId}`;
    await expectError(callAdmin("DELETE", del, { token: world.viewerA.token }), 403, "forbidden");
    await expectError(callAdmin("DELETE", del, { token: world.devB.token }), 404, "not_found");
    await expectJson(callAdmin("DELETE", del, { token: world.devA.token }), 200);
    await expectError(callAdmin("DELETE", del, { token: world.devA.token }), 404, "not_found");
    await expectError(
      callAdmin("DELETE", `${templatesPath()}/not-an-id`, { token: world.devA.token }),
      400,
      "bad_request",
    );
    // A deleted template's set may be added again.
    await expectJson(callAdmin("POST", templatesPath(), { token: world.devA.token, json: body }), 201);
  });

  it("an API token needs the write scope to add", async () => {
    const tok = await expectJson(
      callAdmin("POST", "/v1/auth/tokens", {
        token: world.devA.token,
        json: { name: "ro", scopes: ["read"] },
      }),
      201,
    );
    await expectJson(callAdmin("GET", templatesPath(), { token: tok.token }), 200);
    await expectError(
      callAdmin("POST", templatesPath(), {
        token: tok.token,
        json: { publicTemplateId: "pt8002", keywords: ["thing1"] },
      }),
      403,
      "forbidden",
    );
  });
});

describe("the host app's push webhook (T5)", () => {
  const hook = () => `/v1/host-apps/${world.host1}/message-webhook`;

  it("a manager sets it; the secret is shown once and stored sealed; rotation makes a new one", async () => {
    await expectError(callAdmin("GET", hook(), { token: world.manager1.token }), 404, "not_found");
    const made = await expectJson(
      callAdmin("PUT", hook(), {
        token: world.manager1.token,
        json: { url: "https://push.example.test/hook" },
      }),
      200,
    );
    expect(made.secret).toMatch(/^whsec_[a-z2-7]{52}$/);
    const row = await createDb(testEnv.DB)
      .select()
      .from(messageWebhooks)
      .where(eq(messageWebhooks.hostAppId, world.host1))
      .get();
    expect(row!.secretSealed).not.toContain(made.secret.slice(6));
    const read = await expectJson(callAdmin("GET", hook(), { token: world.auditor1.token }), 200);
    expect(read).toMatchObject({ url: "https://push.example.test/hook" });
    expect(read.secret).toBeUndefined();
    // A new URL keeps the secret; rotateSecret makes a new one.
    const moved = await expectJson(
      callAdmin("PUT", hook(), {
        token: world.manager1.token,
        json: { url: "https://push.example.test/v2" },
      }),
      200,
    );
    expect(moved.secret).toBeUndefined();
    const rotated = await expectJson(
      callAdmin("PUT", hook(), {
        token: world.manager1.token,
        json: { url: "https://push.example.test/v2", rotateSecret: true },
      }),
      200,
    );
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(made.secret);
    const audit = await createDb(testEnv.DB)
      .select()
      .from(changeLog)
      .where(eq(changeLog.targetId, world.host1))
      .all();
    expect(JSON.stringify(audit)).not.toContain(rotated.secret);
  });

  it("only the host app's managers configure it; bad URLs are 400", async () => {
    const json = { url: "https://push.example.test/x" };
    await expectError(callAdmin("PUT", hook(), { token: world.auditor1.token, json }), 403, "forbidden");
    await expectError(callAdmin("PUT", hook(), { token: world.manager2.token, json }), 403, "forbidden");
    await expectError(callAdmin("PUT", hook(), { token: world.devA.token, json }), 403, "forbidden");
    await expectError(callAdmin("GET", hook(), { token: world.devA.token }), 403, "forbidden");
    await expectError(callAdmin("DELETE", hook(), { token: world.auditor1.token }), 403, "forbidden");
    await expectError(
      callAdmin("GET", `/v1/host-apps/ha_nope/message-webhook`, { token: world.manager1.token }),
      404,
      "not_found",
    );
    for (const url of ["http://push.example.test/x", "ftp://x.test/", "https://user:pw@x.test/", "not a url"])
      await expectError(
        callAdmin("PUT", hook(), { token: world.manager1.token, json: { url } }),
        400,
        "bad_request",
      );
    await expectJson(callAdmin("GET", `${hook()}/dead-letters`, { token: world.auditor1.token }), 200);
    await expectError(
      callAdmin("GET", `${hook()}/dead-letters`, { token: world.devA.token }),
      403,
      "forbidden",
    );
    await expectError(
      callAdmin("GET", `${hook()}/dead-letters?cursor=bogus`, { token: world.manager1.token }),
      400,
      "bad_request",
    );
  });

  it("removal by a manager", async () => {
    const h2 = `/v1/host-apps/${world.host2}/message-webhook`;
    await expectError(callAdmin("DELETE", h2, { token: world.manager2.token }), 404, "not_found");
    await expectJson(
      callAdmin("PUT", h2, { token: world.manager2.token, json: { url: "https://h2.example.test/" } }),
      200,
    );
    await expectJson(callAdmin("DELETE", h2, { token: world.manager2.token }), 200);
    await expectError(callAdmin("GET", h2, { token: world.manager2.token }), 404, "not_found");
  });
});
