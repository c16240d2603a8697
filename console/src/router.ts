/**
 * Routing by the URL's #fragment (#/apps/<appId>/versions): the Worker serves one index.html at /
 * and every other path stays the API's (no SPA fallback that could shadow a JSON 404).
 */
export interface Route {
  path: string;
  query: URLSearchParams;
}

export function currentRoute(): Route {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { path: path || "/", query: new URLSearchParams(query ?? "") };
}

export const navigate = (path: string): void => {
  location.hash = `#${path}`;
};

/** Matches "/apps/:appId/versions" against a path; the params, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const want = p[i]!;
    const got = decodeURIComponent(s[i]!);
    if (want.startsWith(":")) params[want.slice(1)] = got;
    else if (want !== got) return undefined;
  }
  return params;
}
