/**
 * Rate limits of both Workers (issue 10), counted by the Workers Rate Limiting binding
 * (`[[ratelimits]]` in wrangler.toml). The binding answers only `{ success }`; the limit and the
 * period live in wrangler.toml, and the period is repeated here because a refusal tells the
 * client when to come back (`Retry-After`): keep the two equal.
 *
 * | binding                 | key                                   | limit / period | where                      |
 * |-------------------------|---------------------------------------|----------------|----------------------------|
 * | `CHECK_LIMITER`         | client address                        | 300 / 10 s     | edge, GET and POST /v1/check |
 * | `LOGIN_IP_LIMITER`      | client address                        | 30 / 60 s      | admin, POST /v1/auth/login |
 * | `LOGIN_ACCOUNT_LIMITER` | client address + keyed hash of email  | 5 / 60 s       | admin, POST /v1/auth/login |
 * | `ADMIN_WRITE_LIMITER`   | session id or API token id            | 600 / 60 s     | admin, every authenticated write |
 * | `EDGE_LOGIN_LIMITER`    | client address                        | 60 / 60 s      | edge, POST /v1/login        |
 * | `SERVER_API_LIMITER`    | App ID (`appid`)                      | 500 / 10 s     | admin, /sns/jscode2session and /cgi-bin/token; the message send (`send:` + App ID, after its token) |
 * | `MESSAGE_LIMITER`       | client address                        | 300 / 60 s     | edge, POST /v1/messages/subscribe, GET /v1/messages/inbox, POST /v1/messages/inbox/read |
 * | `LOG_DEVICE_LIMITER`    | App ID + guid                         | 30 / 60 s      | edge, POST /v1/logs (batches per device) |
 * | `LOG_APP_LIMITER`       | App ID                                | 1000 / 10 s    | edge, POST /v1/logs (batches per mini program) |
 *
 * Counts are per Cloudflare location and approximate (Cloudflare's documentation); they are a
 * brake on floods and guessing, not a quota.
 */

/** Seconds in each limiter's window: the `Retry-After` of its refusals (wrangler.toml `period`). */
export const RATE_LIMIT_PERIOD_SECONDS = {
  CHECK_LIMITER: 10,
  LOGIN_IP_LIMITER: 60,
  LOGIN_ACCOUNT_LIMITER: 60,
  ADMIN_WRITE_LIMITER: 60,
  EDGE_LOGIN_LIMITER: 60,
  SERVER_API_LIMITER: 10,
  MESSAGE_LIMITER: 60,
  LOG_DEVICE_LIMITER: 60,
  LOG_APP_LIMITER: 10,
} as const;

export type RateLimiterName = keyof typeof RATE_LIMIT_PERIOD_SECONDS;

/**
 * The rate-limit key of a client address (`cf-connecting-ip`, which Cloudflare sets on every
 * request from the Internet and a client cannot choose). An IPv6 client holds a whole /64, so it
 * counts as its /64. A request without an address (a service binding, a local host without an
 * entry Worker) shares one key: it is limited, not waved through.
 */
export function clientAddressKey(address: string | null | undefined): string {
  const ip = (address ?? "").trim().toLowerCase();
  if (ip === "") return "addr:none";
  if (!ip.includes(":")) return `v4:${ip}`;
  return `v6:${ipv6Prefix64(ip)}`;
}

/** The first four groups of an IPv6 address, `::` expanded (an IPv4-mapped tail is dropped with the rest). */
function ipv6Prefix64(ip: string): string {
  const [head = "", tail] = ip.split("::", 2);
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = Math.max(0, 8 - headGroups.length - tailGroups.length);
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill("0"), ...tailGroups];
  return groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":");
}
