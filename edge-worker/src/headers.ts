/**
 * Response headers of the edge, as constant lists: every response carries SECURITY_HEADERS
 * (the edge answers native clients with JSON and bytes, never pages, so only the headers that
 * matter there); the check answers with JSON_NO_STORE_HEADERS. Building a Response from a
 * constant list is cheaper than setting headers one by one, and the check is the hot path.
 */
export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["x-content-type-options", "nosniff"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["referrer-policy", "no-referrer"],
  ["x-frame-options", "DENY"],
];

export const JSON_NO_STORE_HEADERS: [string, string][] = [["content-type", "application/json"], ["cache-control", "no-store"], ...SECURITY_HEADERS.map(([k, v]): [string, string] => [k, v])];
