/**
 * Login throttling (issue 10: "Login lockout must no longer let anyone lock any account or reveal
 * which emails exist: throttle by client and by account together"). Two Workers Rate Limiting
 * counters, both counted on every attempt before the password is looked at:
 *
 * - per client address (`LOGIN_IP_LIMITER`): one address guessing across many accounts;
 * - per client address and account together (`LOGIN_ACCOUNT_LIMITER`): one address guessing one
 *   account. Another address is not affected, so a stranger cannot lock anyone out.
 *
 * The account part of a key is an HMAC of the lower-cased email under JWT_SECRET (truncated), so
 * no email, and no unsalted hash of one, sits in a rate-limit key. Known and unknown emails are
 * counted alike: the counters never read D1.
 */

import { RateLimitedError } from "../../../core/errors";
import { clientAddressKey, RATE_LIMIT_PERIOD_SECONDS } from "../../../core/rate-limit";
import { toHex } from "../lib/encoding";

export interface LoginLimiters {
  byAddress: RateLimit;
  byAddressAndAccount: RateLimit;
}

/** The answer to a throttled attempt: the same for every email, known or not. */
export const THROTTLED_MESSAGE = "too many sign-in attempts from this address: wait a minute and try again";

async function accountKey(email: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new TextEncoder().encode(`login-throttle\u0000${email.toLowerCase()}`),
  );
  return toHex(mac).slice(0, 32);
}

/**
 * Counts one sign-in attempt (or a password check) by `address` for `email`; returns the refusal
 * to throw when either counter is over its limit, `undefined` when the attempt may go on.
 */
export async function countLoginAttempt(
  limiters: LoginLimiters,
  address: string | null,
  email: string,
  secret: string,
): Promise<RateLimitedError | undefined> {
  const addressKey = clientAddressKey(address);
  const [byAddress, byAccount] = await Promise.all([
    limiters.byAddress.limit({ key: addressKey }),
    accountKey(email, secret).then((account) =>
      limiters.byAddressAndAccount.limit({ key: `${addressKey}|${account}` }),
    ),
  ]);
  if (byAddress.success && byAccount.success) return undefined;
  const period = byAddress.success
    ? RATE_LIMIT_PERIOD_SECONDS.LOGIN_ACCOUNT_LIMITER
    : RATE_LIMIT_PERIOD_SECONDS.LOGIN_IP_LIMITER;
  return new RateLimitedError(THROTTLED_MESSAGE, period);
}

export function loginLimiters(env: AdminEnv): LoginLimiters {
  return { byAddress: env.LOGIN_IP_LIMITER, byAddressAndAccount: env.LOGIN_ACCOUNT_LIMITER };
}
