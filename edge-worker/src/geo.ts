/**
 * Where a client is, for the country / region / city rules of grayscale tasks. It comes from
 * the edge's own `request.cf`, never from the client's body (a client must not pick its
 * region). Region is the ISO 3166-2 subdivision code (`regionCode`, e.g. "GD") when Cloudflare
 * knows it, else the region name: codes do not vary in spelling or language.
 *
 * Local runs and tests have no real `cf` (wrangler uses a placeholder without internet), so
 * when `ALLOW_GEO_OVERRIDE` is "true" an `x-graycast-geo: country=CN;region=GD;city=Shenzhen`
 * header replaces it. wrangler.toml keeps that var "false" for deployments.
 */
import type { Geo } from "../../core/grayscale/types";

export const GEO_OVERRIDE_HEADER = "x-graycast-geo";

const MAX_GEO_VALUE = 64;

export function readGeo(request: Request, allowOverride: boolean): Geo {
  if (allowOverride) {
    const header = request.headers.get(GEO_OVERRIDE_HEADER);
    if (header !== null) return parseGeoHeader(header);
  }
  const cf = request.cf as
    | { country?: unknown; region?: unknown; regionCode?: unknown; city?: unknown }
    | undefined;
  if (!cf) return {};
  return compact({
    country: text(cf.country),
    region: text(cf.regionCode) ?? text(cf.region),
    city: text(cf.city),
  });
}

/** `country=CN;region=GD;city=Shenzhen`: unknown keys, empty and over-long values are ignored. */
export function parseGeoHeader(header: string): Geo {
  const geo: Geo = {};
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const value = text(part.slice(eq + 1));
    if (value === undefined) continue;
    if (key === "country" || key === "region" || key === "city") geo[key] = value;
  }
  return geo;
}

function text(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= MAX_GEO_VALUE ? trimmed : undefined;
}

function compact(geo: Geo): Geo {
  const out: Geo = {};
  if (geo.country !== undefined) out.country = geo.country;
  if (geo.region !== undefined) out.region = geo.region;
  if (geo.city !== undefined) out.city = geo.city;
  return out;
}
