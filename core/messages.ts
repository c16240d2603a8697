/**
 * Subscription messages (PRODUCT.md T1-T5; issue 14; seed chapter "Subscription Message"): the
 * keyword data types and their value rules, the rules of "My Template", of one subscribe call and
 * of the long-term quota. Pure functions, shared by the admin Worker (which enforces them) and the
 * edge (which validates a subscribe call before forwarding it).
 *
 * Seed rules implemented here, quoted:
 * - "Developers can select 1 to 5 keywords from the keyword list." (MY_TEMPLATE_KEYWORDS)
 * - "When using the same public template to add as "My Template", the keywords cannot be repeated
 *   in the added "Personal Template"." (keywordSetKey: same template + same keyword set is refused)
 * - "One-time template IDs and long-term subscription template IDs cannot be used at the same time."
 * - "A maximum of 3 messages can be subscribed in one call." (SUBSCRIBE_MAX_TEMPLATES)
 * - "In one authorized call, the template title corresponding to each tmplId cannot be the same. If
 *   the same one appears, only one is retained." (planSubscribe keeps the first)
 * - "the platform limits each long-term subscription template message to a maximum of 5 pushes per
 *   day." (LONG_TERM_DAILY_LIMIT, counted per template and user in a day of China Standard Time)
 *
 * Where the seed is silent this follows WeChat's subscribe message API: the keyword data types
 * (thing, number, letter, symbol, character_string, time, date, amount, phone_number, car_number,
 * name, phrase) with WeChat's length and format rules, and the `{ "thing1": { "value": "..." } }`
 * data shape keyed by the keyword's type and its position in the public template.
 */

/** "Developers can select 1 to 5 keywords from the keyword list." */
export const MY_TEMPLATE_KEYWORDS = { min: 1, max: 5 } as const;
/** "A maximum of 3 messages can be subscribed in one call." */
export const SUBSCRIBE_MAX_TEMPLATES = 3;
/** "a maximum of 5 pushes per day" for each long-term template (per template and user). */
export const LONG_TERM_DAILY_LIMIT = 5;
/**
 * A day for the long-term quota is a calendar day in China Standard Time (UTC+8, no daylight
 * saving), as WeChat counts its daily limits: the count starts afresh at 16:00 UTC.
 */
export const QUOTA_DAY_OFFSET_MS = 8 * 3600 * 1000;
/** Inbox entries are kept 30 days (issue 14 "Retention"), then the cron removes them. */
export const INBOX_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** `page` of a send (the mini program page the message opens): WeChat's limit. */
export const MAX_PAGE_LENGTH = 1024;

export const TEMPLATE_TYPES = ["one-time", "long-term"] as const;
export type TemplateType = (typeof TEMPLATE_TYPES)[number];

/**
 * Public template categories. The seed: long-term messages "are suitable for offline public
 * services such as government affairs, people's livelihood, medical care, transportation, finance,
 * and education" — those are LONG_TERM_CATEGORIES; orders and logistics are one-time only.
 */
export const TEMPLATE_CATEGORIES = [
  "orders",
  "logistics",
  "travel",
  "government",
  "livelihood",
  "health",
  "finance",
  "education",
] as const;
export type TemplateCategory = (typeof TEMPLATE_CATEGORIES)[number];
export const LONG_TERM_CATEGORIES: readonly TemplateCategory[] = [
  "government",
  "livelihood",
  "health",
  "travel",
  "finance",
  "education",
];

export const KEYWORD_TYPES = [
  "thing",
  "number",
  "letter",
  "symbol",
  "character_string",
  "time",
  "date",
  "amount",
  "phone_number",
  "car_number",
  "name",
  "phrase",
] as const;
export type KeywordType = (typeof KEYWORD_TYPES)[number];

/** The rule of each data type in words (docs, OpenAPI, error messages). */
export const KEYWORD_TYPE_RULES: Readonly<Record<KeywordType, string>> = {
  thing: "at most 20 characters: letters, digits, Chinese characters and symbols",
  number: "at most 32 characters: a number, optionally signed, with a decimal point",
  letter: "at most 32 characters: letters only",
  symbol: "at most 5 characters: symbols only",
  character_string: "at most 32 characters: letters, digits and symbols (no spaces, no Chinese characters)",
  time: "a 24-hour time: 15:01, 2026-10-01 15:01 or 2026年10月1日 15:01",
  date: "a date: 2026-10-01 or 2026年10月1日, optionally followed by a 24-hour time",
  amount: "an amount: an optional currency symbol, at most 10 digits, optionally 1 or 2 decimals and 元",
  phone_number: "at most 17 characters: digits and + - ( ) and spaces",
  car_number: "at most 8 characters: a licence plate (letters, digits, Chinese characters)",
  name: "at most 10 Chinese characters or at most 20 letters (spaces, . and - between words)",
  phrase: "at most 5 characters: Chinese characters or letters, no digits or symbols",
};

const chars = (s: string) => [...s].length;
const CJK = /\p{Script=Han}/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s) ?? /^(\d{4})年(\d{1,2})月(\d{1,2})日$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}
const isClock = (s: string) => /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/.test(s);

function isDateTime(s: string, timeRequired: boolean): boolean {
  const space = s.lastIndexOf(" ");
  if (space === -1) return timeRequired ? isClock(s) : isDate(s);
  return isDate(s.slice(0, space)) && isClock(s.slice(space + 1));
}

const VALIDATORS: Readonly<Record<KeywordType, (v: string) => boolean>> = {
  thing: (v) => chars(v) <= 20,
  number: (v) => v.length <= 32 && /^[+-]?\d+(\.\d+)?$/.test(v),
  letter: (v) => v.length <= 32 && /^[A-Za-z]+$/.test(v),
  symbol: (v) => chars(v) <= 5 && /^[^\p{L}\p{N}\s]+$/u.test(v),
  character_string: (v) => v.length <= 32 && /^[\x21-\x7e]+$/.test(v),
  time: (v) => isDateTime(v, true),
  date: (v) => isDateTime(v, false),
  amount: (v) => /^(¥|￥|\$|€|£|HK\$|US\$)?\d{1,10}(\.\d{1,2})?元?$/.test(v),
  phone_number: (v) => v.length <= 17 && /^\+?[\d\s()-]+$/.test(v) && /\d/.test(v),
  car_number: (v) => chars(v) <= 8 && /^[\p{Script=Han}A-Za-z0-9]+$/u.test(v),
  name: (v) =>
    CJK.test(v)
      ? chars(v) <= 10 && /^[\p{Script=Han}·]+$/u.test(v)
      : v.length <= 20 && /^[A-Za-z]+([ .'-]+[A-Za-z]+)*\.?$/.test(v),
  phrase: (v) => chars(v) <= 5 && /^(\p{Script=Han}+|[A-Za-z]+( [A-Za-z]+)*)$/u.test(v),
};

/**
 * Whether `value` is a valid value of a keyword of `type` (WeChat's rules, KEYWORD_TYPE_RULES):
 * never empty, never a control character, never only spaces.
 */
export function isValidKeywordValue(type: KeywordType, value: string): boolean {
  if (value.trim() === "" || CONTROL.test(value)) return false;
  return VALIDATORS[type](value);
}

/** A keyword of a public template: its data key (`thing1`, WeChat's shape), name, type and example. */
export interface TemplateKeyword {
  /** the key of its value in a send's `data`: the type and the keyword's number in its template */
  key: string;
  name: string;
  type: KeywordType;
  example: string;
}

export interface PublicTemplate {
  id: string;
  title: string;
  category: TemplateCategory;
  type: TemplateType;
  keywords: readonly TemplateKeyword[];
}

/** The key of keyword number `n` (1-based) of type `type`, WeChat's `thing1` shape. */
export const keywordKey = (type: KeywordType, n: number) => `${type}${n}`;

/** Why a template of the library breaks the rules, or undefined (the library is checked by a test). */
export function templateProblem(t: PublicTemplate): string | undefined {
  if (t.type === "long-term" && !LONG_TERM_CATEGORIES.includes(t.category))
    return `${t.id}: long-term only for public-service categories`;
  if (t.keywords.length < MY_TEMPLATE_KEYWORDS.min) return `${t.id}: no keywords`;
  const keys = new Set<string>();
  for (const [i, k] of t.keywords.entries()) {
    if (k.key !== keywordKey(k.type, i + 1))
      return `${t.id}: keyword ${k.name} must be ${keywordKey(k.type, i + 1)}`;
    if (keys.has(k.key)) return `${t.id}: keyword ${k.key} twice`;
    keys.add(k.key);
    if (!isValidKeywordValue(k.type, k.example)) return `${t.id}: example of ${k.key} breaks its type's rule`;
  }
  return undefined;
}

export type MyTemplateProblem =
  | { kind: "keyword_count" }
  | { kind: "unknown_keyword"; key: string }
  | { kind: "duplicate_keyword"; key: string };

/**
 * The keywords of a new "My Template", in the order the developer chose: 1 to 5, each once, each
 * a keyword of the public template. Returns the chosen keywords or the first problem.
 */
export function chooseKeywords(
  template: PublicTemplate,
  keys: readonly string[],
): { ok: true; keywords: TemplateKeyword[] } | { ok: false; problem: MyTemplateProblem } {
  if (keys.length < MY_TEMPLATE_KEYWORDS.min || keys.length > MY_TEMPLATE_KEYWORDS.max)
    return { ok: false, problem: { kind: "keyword_count" } };
  const seen = new Set<string>();
  const keywords: TemplateKeyword[] = [];
  for (const key of keys) {
    if (seen.has(key)) return { ok: false, problem: { kind: "duplicate_keyword", key } };
    seen.add(key);
    const k = template.keywords.find((kw) => kw.key === key);
    if (!k) return { ok: false, problem: { kind: "unknown_keyword", key } };
    keywords.push(k);
  }
  return { ok: true, keywords };
}

/**
 * The identity of a keyword set, order aside: the seed refuses the same public template with the
 * same keywords twice ("the keywords cannot be repeated"); a different order is the same set.
 */
export const keywordSetKey = (keys: readonly string[]) => [...keys].sort().join(",");

/** What the user sees: the title, then one `name: value` line per keyword in the chosen order. */
export function previewText(
  title: string,
  keywords: readonly { key: string; name: string; example: string }[],
  values?: Readonly<Record<string, string>>,
): string {
  return [title, ...keywords.map((k) => `${k.name}: ${values?.[k.key] ?? k.example}`)].join("\n");
}

/** A template one subscribe call names: its id and what the rules need to know of it. */
export interface SubscribeCandidate {
  templateId: string;
  title: string;
  type: TemplateType;
}

export type SubscribePlan =
  | {
      ok: true;
      /** the templates kept, in call order, one per title */
      kept: SubscribeCandidate[];
      /** ids dropped because an earlier id of the call has the same title: id -> the id kept */
      collapsed: Record<string, string>;
    }
  | { ok: false; reason: "too_many" | "mixed_types" | "empty" };

/**
 * One subscribe call's rules: at most 3 ids, never one-time and long-term together, and ids whose
 * template titles are the same collapse to the first of them ("only one is retained").
 */
export function planSubscribe(candidates: readonly SubscribeCandidate[]): SubscribePlan {
  if (candidates.length === 0) return { ok: false, reason: "empty" };
  if (candidates.length > SUBSCRIBE_MAX_TEMPLATES) return { ok: false, reason: "too_many" };
  if (new Set(candidates.map((c) => c.type)).size > 1) return { ok: false, reason: "mixed_types" };
  const byTitle = new Map<string, SubscribeCandidate>();
  const collapsed: Record<string, string> = {};
  for (const c of candidates) {
    const first = byTitle.get(c.title);
    if (first === undefined) byTitle.set(c.title, c);
    else if (first.templateId !== c.templateId) collapsed[c.templateId] = first.templateId;
  }
  return { ok: true, kept: [...byTitle.values()], collapsed };
}

/** The quota day (`YYYY-MM-DD` in China Standard Time) `nowMs` falls in. */
export function quotaDay(nowMs: number): string {
  return new Date(nowMs + QUOTA_DAY_OFFSET_MS).toISOString().slice(0, 10);
}

export type SendDataProblem =
  | { kind: "missing"; key: string }
  | { kind: "unexpected"; key: string }
  | { kind: "invalid"; key: string; type: KeywordType };

/**
 * A send's `data` against the template's keywords: every keyword has a value, no other key is
 * given, and each value keeps its type's rule. Returns the values in the template's order.
 */
export function checkSendData(
  keywords: readonly { key: string; type: KeywordType }[],
  data: Readonly<Record<string, { value: string }>>,
): { ok: true; values: Record<string, string> } | { ok: false; problem: SendDataProblem } {
  for (const key of Object.keys(data))
    if (!keywords.some((k) => k.key === key)) return { ok: false, problem: { kind: "unexpected", key } };
  const values: Record<string, string> = {};
  for (const k of keywords) {
    const v = data[k.key];
    if (v === undefined) return { ok: false, problem: { kind: "missing", key: k.key } };
    if (!isValidKeywordValue(k.type, v.value))
      return { ok: false, problem: { kind: "invalid", key: k.key, type: k.type } };
    values[k.key] = v.value;
  }
  return { ok: true, values };
}

/** The webhook signature: HMAC-SHA-256 over `${timestamp}.${body}`, hex (docs/messages.md). */
export async function webhookSignature(secret: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Delay before delivery attempt `attempt + 1` of a webhook (exponential backoff, seconds, capped). */
export const webhookRetryDelaySeconds = (attempt: number) =>
  Math.min(10 * 2 ** Math.max(0, attempt - 1), 600);
