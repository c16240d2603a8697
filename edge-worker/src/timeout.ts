/** Waiting with a bound: the edge never lets one slow dependency hold a client's answer. */

export const TIMED_OUT = Symbol("timed out");

/**
 * `promise`'s value, or TIMED_OUT after `ms`. The timer is cleared either way; a rejection of
 * `promise` after the timeout is handled by the race, so it never surfaces as unhandled.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
