/**
 * Grayscale admission tickets as the client keeps them. A check answer's `tickets` are not
 * signed (the manifest is; the tickets ride beside it), so anyone who can alter one answer could
 * hand the client tickets the edge refuses: the edge answers a check carrying a malformed ticket,
 * or more than MAX_TICKETS, with 400, and a client that stored them would fail every later check.
 * So a ticket is kept only when the edge would accept it (the limits of
 * core/contracts/check.ts, kept equal by client/test/tickets.test.ts), at most MAX_TICKETS of
 * them, and a 400 naming tickets drops the stored ones (client/src/client.ts retries once).
 */

/** At most this many tickets go with a check (core/contracts/check.ts MAX_TICKETS). */
export const MAX_TICKETS = 8;
/** A ticket is at most this long (core/contracts/check.ts MAX_TICKET_LENGTH). */
export const MAX_TICKET_LENGTH = 512;
/** The alphabet of `base64url(payload).base64url(mac)` (core/contracts/check.ts TicketSchema). */
const TICKET_ALPHABET = /^[A-Za-z0-9_.-]+$/;

/** Whether the edge would accept `value` as an admission ticket. */
export function isSendableTicket(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length >= 1 &&
    value.length <= MAX_TICKET_LENGTH &&
    TICKET_ALPHABET.test(value)
  );
}

/**
 * The tickets to keep after an answer: the kept ones, then the answer's `fresh` ones that the
 * edge would accept (a fresh copy of a kept ticket moves to the end), the newest MAX_TICKETS.
 */
export function mergeTickets(kept: readonly string[], fresh: unknown): string[] {
  const valid = Array.isArray(fresh) ? [...new Set(fresh.filter(isSendableTicket))] : [];
  return [...kept.filter((t) => isSendableTicket(t) && !valid.includes(t)), ...valid].slice(-MAX_TICKETS);
}

/** Whether an error answer's body names the tickets (`tickets`, `tickets.3`, `ticket`). */
export function refusesTickets(answer: { error?: { issues?: unknown } } | null | undefined): boolean {
  const issues = answer?.error?.issues;
  return (
    Array.isArray(issues) &&
    issues.some(
      (i) =>
        typeof (i as { path?: unknown })?.path === "string" &&
        /^tickets?(\.|$)/.test((i as { path: string }).path),
    )
  );
}
