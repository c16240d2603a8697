/**
 * Response headers of the edge, as constant lists: every response carries SECURITY_HEADERS
 * (the edge answers native clients with JSON and bytes, never pages, so only the headers that
 * matter there); JSON answers that no cache may keep carry JSON_NO_STORE_HEADERS.
 *
 * The check answers with CHECK_HEADERS, one `Headers` object built once: the runtime copies it
 * into each Response natively, where a list of pairs is converted pair by pair in JavaScript (a
 * few µs per header per response, measured while designing the hot path). A Response copies the
 * headers it is given, so the shared object is never changed by one.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["x-content-type-options", "nosniff"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["referrer-policy", "no-referrer"],
  ["x-frame-options", "DENY"],
];

export const JSON_NO_STORE_HEADERS: [string, string][] = [
  ["content-type", "application/json"],
  ["cache-control", "no-store"],
  ...SECURITY_HEADERS.map(([k, v]): [string, string] => [k, v]),
];

export const CHECK_HEADERS = new Headers(JSON_NO_STORE_HEADERS);
