/**
 * The pure rules of subscription messages (core/messages.ts; seed "Subscription Message"): keyword
 * data types, the library's shape, My Template's keyword choice, one subscribe call's rules and
 * the quota day.
 */
import { describe, expect, it } from "vitest";
import { PUBLIC_TEMPLATES, publicTemplateById } from "../core/message-templates";
import {
  checkSendData,
  chooseKeywords,
  isValidKeywordValue,
  keywordSetKey,
  LONG_TERM_CATEGORIES,
  planSubscribe,
  previewText,
  quotaDay,
  TEMPLATE_CATEGORIES,
  templateProblem,
  webhookSignature,
} from "../core/messages";

describe("keyword data types (WeChat's rules)", () => {
  it("thing: at most 20 characters", () => {
    expect(isValidKeywordValue("thing", "a".repeat(20))).toBe(true);
    expect(isValidKeywordValue("thing", "a".repeat(21))).toBe(false);
    expect(isValidKeywordValue("thing", "航班延误通知".repeat(3))).toBe(true);
    expect(isValidKeywordValue("thing", "   ")).toBe(false);
    expect(isValidKeywordValue("thing", "line\nbreak")).toBe(false);
  });
  it("number, letter, symbol, character_string", () => {
    expect(isValidKeywordValue("number", "-12.5")).toBe(true);
    expect(isValidKeywordValue("number", "12a")).toBe(false);
    expect(isValidKeywordValue("number", "1".repeat(33))).toBe(false);
    expect(isValidKeywordValue("letter", "abcXYZ")).toBe(true);
    expect(isValidKeywordValue("letter", "abc1")).toBe(false);
    expect(isValidKeywordValue("symbol", "%#!")).toBe(true);
    expect(isValidKeywordValue("symbol", "%#!%#!")).toBe(false);
    expect(isValidKeywordValue("symbol", "a!")).toBe(false);
    expect(isValidKeywordValue("character_string", "SO-2026_42")).toBe(true);
    expect(isValidKeywordValue("character_string", "has space")).toBe(false);
    expect(isValidKeywordValue("character_string", "x".repeat(33))).toBe(false);
  });
  it("time and date", () => {
    expect(isValidKeywordValue("time", "15:01")).toBe(true);
    expect(isValidKeywordValue("time", "2026-10-01 15:01")).toBe(true);
    expect(isValidKeywordValue("time", "2026年10月1日 15:01")).toBe(true);
    expect(isValidKeywordValue("time", "25:01")).toBe(false);
    expect(isValidKeywordValue("time", "tomorrow")).toBe(false);
    expect(isValidKeywordValue("date", "2026-02-28")).toBe(true);
    expect(isValidKeywordValue("date", "2026-02-29")).toBe(false);
    expect(isValidKeywordValue("date", "2026年10月1日")).toBe(true);
    expect(isValidKeywordValue("date", "2026-10-01 08:00")).toBe(true);
    expect(isValidKeywordValue("date", "01/10/2026")).toBe(false);
  });
  it("amount, phone_number, car_number, name, phrase", () => {
    for (const ok of ["¥199.00", "199", "$5.5", "100元", "HK$12.30"])
      expect(isValidKeywordValue("amount", ok)).toBe(true);
    for (const bad of ["¥1.234", "12345678901", "free", "¥"])
      expect(isValidKeywordValue("amount", bad)).toBe(false);
    expect(isValidKeywordValue("phone_number", "+86 138 0013 8000")).toBe(true);
    expect(isValidKeywordValue("phone_number", "call me")).toBe(false);
    expect(isValidKeywordValue("phone_number", "1".repeat(18))).toBe(false);
    expect(isValidKeywordValue("car_number", "粤B12345")).toBe(true);
    expect(isValidKeywordValue("car_number", "粤B-12345")).toBe(false);
    expect(isValidKeywordValue("name", "Dr. Zhang")).toBe(true);
    expect(isValidKeywordValue("name", "王芳")).toBe(true);
    expect(isValidKeywordValue("name", "王".repeat(11))).toBe(false);
    expect(isValidKeywordValue("name", "a".repeat(21))).toBe(false);
    expect(isValidKeywordValue("phrase", "已发货")).toBe(true);
    expect(isValidKeywordValue("phrase", "Paid")).toBe(true);
    expect(isValidKeywordValue("phrase", "Delayed!")).toBe(false);
    expect(isValidKeywordValue("phrase", "Cancelled")).toBe(false);
  });
});

describe("the public template library (T1)", () => {
  it("has at least 30 templates over the issue's categories, each valid", () => {
    expect(PUBLIC_TEMPLATES.length).toBeGreaterThanOrEqual(30);
    for (const c of ["orders", "logistics", "travel", "government", "health", "finance", "education"])
      expect(PUBLIC_TEMPLATES.some((t) => t.category === c)).toBe(true);
    expect(new Set(PUBLIC_TEMPLATES.map((t) => t.id)).size).toBe(PUBLIC_TEMPLATES.length);
    for (const t of PUBLIC_TEMPLATES) expect(templateProblem(t)).toBeUndefined();
    expect(TEMPLATE_CATEGORIES).toEqual(expect.arrayContaining([...LONG_TERM_CATEGORIES]));
  });
  it("long-term only in the seed's public-service categories", () => {
    for (const t of PUBLIC_TEMPLATES.filter((t) => t.type === "long-term"))
      expect(LONG_TERM_CATEGORIES).toContain(t.category);
    expect(
      PUBLIC_TEMPLATES.filter((t) => t.category === "orders" || t.category === "logistics").map(
        (t) => t.type,
      ),
    ).not.toContain("long-term");
    const bad = { ...publicTemplateById("pt1001")!, type: "long-term" as const };
    expect(templateProblem(bad)).toMatch(/public-service/);
  });
});

describe("My Template (T2)", () => {
  const flight = publicTemplateById("pt3001")!;
  it("1 to 5 keywords of the template, each once, in the chosen order", () => {
    const r = chooseKeywords(flight, ["time3", "character_string1"]);
    expect(r.ok && r.keywords.map((k) => k.key)).toEqual(["time3", "character_string1"]);
    expect(chooseKeywords(flight, [])).toEqual({ ok: false, problem: { kind: "keyword_count" } });
    expect(chooseKeywords(flight, ["a", "b", "c", "d", "e", "f"])).toEqual({
      ok: false,
      problem: { kind: "keyword_count" },
    });
    expect(chooseKeywords(flight, ["thing9"])).toEqual({
      ok: false,
      problem: { kind: "unknown_keyword", key: "thing9" },
    });
    expect(chooseKeywords(flight, ["time3", "time3"])).toEqual({
      ok: false,
      problem: { kind: "duplicate_keyword", key: "time3" },
    });
  });
  it("the same keyword set in another order is the same set", () => {
    expect(keywordSetKey(["time3", "phrase2"])).toBe(keywordSetKey(["phrase2", "time3"]));
    expect(keywordSetKey(["time3"])).not.toBe(keywordSetKey(["time3", "phrase2"]));
  });
  it("the preview is the title and one line per keyword in order", () => {
    const r = chooseKeywords(flight, ["phrase2", "character_string1"]);
    expect(r.ok && previewText(flight.title, r.keywords)).toBe(
      "Flight status changed\nStatus: Late\nFlight: CX889",
    );
  });
});

describe("one subscribe call (T3)", () => {
  const one = (id: string, title: string) => ({ templateId: id, title, type: "one-time" as const });
  it("at most 3 ids, never mixed types", () => {
    expect(planSubscribe([one("a", "A"), one("b", "B"), one("c", "C"), one("d", "D")])).toEqual({
      ok: false,
      reason: "too_many",
    });
    expect(planSubscribe([one("a", "A"), { templateId: "b", title: "B", type: "long-term" }])).toEqual({
      ok: false,
      reason: "mixed_types",
    });
    expect(planSubscribe([])).toEqual({ ok: false, reason: "empty" });
  });
  it("ids with the same title collapse to the first", () => {
    const plan = planSubscribe([one("a", "Order shipped"), one("b", "Payment"), one("c", "Order shipped")]);
    expect(plan).toEqual({
      ok: true,
      kept: [one("a", "Order shipped"), one("b", "Payment")],
      collapsed: { c: "a" },
    });
  });
});

describe("send data and the quota day (T4)", () => {
  it("every chosen keyword, no other, each value of its type", () => {
    const kws = [
      { key: "thing1", type: "thing" as const },
      { key: "amount2", type: "amount" as const },
    ];
    expect(checkSendData(kws, { thing1: { value: "x" }, amount2: { value: "¥1" } })).toEqual({
      ok: true,
      values: { thing1: "x", amount2: "¥1" },
    });
    expect(checkSendData(kws, { thing1: { value: "x" } })).toEqual({
      ok: false,
      problem: { kind: "missing", key: "amount2" },
    });
    expect(
      checkSendData(kws, { thing1: { value: "x" }, amount2: { value: "¥1" }, thing3: { value: "y" } }),
    ).toEqual({
      ok: false,
      problem: { kind: "unexpected", key: "thing3" },
    });
    expect(checkSendData(kws, { thing1: { value: "x" }, amount2: { value: "lots" } })).toEqual({
      ok: false,
      problem: { kind: "invalid", key: "amount2", type: "amount" },
    });
  });
  it("a quota day is a calendar day in China Standard Time (starts at 16:00 UTC)", () => {
    expect(quotaDay(Date.UTC(2026, 11, 5, 15, 59, 59))).toBe("2026-12-05");
    expect(quotaDay(Date.UTC(2026, 11, 5, 16, 0, 0))).toBe("2026-12-06");
  });
  it("the webhook signature is HMAC-SHA-256 over timestamp.body, hex", async () => {
    // RFC 4231-independent check: the same recipe through WebCrypto directly.
    const sig = await webhookSignature("whsec_test", 1700000000, '{"a":1}');
    expect(sig).toMatch(/^[0-9a-f]{64}$/);
    expect(await webhookSignature("whsec_test", 1700000001, '{"a":1}')).not.toBe(sig);
    expect(await webhookSignature("whsec_other", 1700000000, '{"a":1}')).not.toBe(sig);
  });
});
