/**
 * The admin API client: openapi-fetch typed with the paths generated from the admin Worker's
 * own OpenAPI document (admin-api.ts, `npm run cli:api`). Nothing else talks to the server.
 */
import createClient, { type Client } from "openapi-fetch";
import { NetworkError, RefusedError } from "../errors";
import type { paths } from "./admin-api";

export type AdminClient = Client<paths>;
export const USER_AGENT = "graycast-cli/0.1.0";

/** How many times a request that never reached an answer is sent again, and the pause between. */
const RETRIES = 3;
const retryDelay = (attempt: number) => 250 * 2 ** attempt;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Node's fetch reports a refused or broken connection as a TypeError("fetch failed"). */
export function isNetworkFailure(error: unknown): boolean {
  return (
    error instanceof TypeError ||
    (error instanceof Error && /ECONN|EPIPE|socket|network/i.test(error.message))
  );
}

export function describeNetworkFailure(error: unknown, baseUrl: string): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
  return `cannot reach ${baseUrl}: ${cause}`;
}

/**
 * A client for `baseUrl`. Idempotent requests (GET, PUT, DELETE) whose connection failed before
 * an answer are sent again; a POST is not (it might have been applied). Streamed bodies use a client
 * with `retry` false and retry on their own terms (api/transfer.ts).
 */
export function adminClient(baseUrl: string, token?: string, retry = true): AdminClient {
  const headers: Record<string, string> = { "user-agent": USER_AGENT };
  if (token) headers.authorization = `Bearer ${token}`;
  const retryingFetch = async (input: Request): Promise<Response> => {
    const idempotent = retry && ["GET", "HEAD", "PUT", "DELETE"].includes(input.method);
    for (let attempt = 0; ; attempt++) {
      try {
        // A streamed upload is never cloned (a tee would buffer it and run its progress ahead).
        return await fetch(idempotent ? input.clone() : input);
      } catch (error) {
        if (!idempotent || attempt >= RETRIES || !isNetworkFailure(error))
          throw new NetworkError(describeNetworkFailure(error, baseUrl));
        await sleep(retryDelay(attempt));
      }
    }
  };
  return createClient<paths>({ baseUrl, headers, fetch: retryingFetch });
}

/** The server's error body as the one JSON error shape (core/contracts/error.ts). */
export function refusal(status: number, body: unknown): RefusedError {
  const e = (body as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | undefined)?.error;
  if (e && typeof e.message === "string")
    return new RefusedError(
      status,
      typeof e.code === "string" ? e.code : "error",
      e.message,
      Array.isArray(e.issues) ? (e.issues as { path: string; message: string }[]) : [],
    );
  const text = typeof body === "string" && body ? body.slice(0, 500) : `HTTP ${status}`;
  return new RefusedError(status, "http_error", text);
}

/** The data of a 2xx answer; a refusal otherwise. */
export async function ok<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<NonNullable<T>> {
  const { data, error, response } = await pending;
  if (!response.ok) throw refusal(response.status, error);
  return data as NonNullable<T>;
}
