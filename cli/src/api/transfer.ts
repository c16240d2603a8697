/**
 * Sending a large body (a package, a whitelist) with progress, retried when the connection
 * breaks before an answer. The body is streamed in 64 KiB pieces, so the bar follows what the
 * connection takes; each retry streams it again from the start.
 */
import { NetworkError, RefusedError, UsageError } from "../errors";
import type { Streams } from "../output";
import { countingStream, Progress } from "../progress";
import { describeNetworkFailure, isNetworkFailure, refusal } from "./client";

export const TRANSFER_ATTEMPTS = 4;

export interface Sent<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Sends `bytes` with `send` until an answer arrives. `recover` is asked, after a retry, what a
 * refusal means (an upload that had arrived before the connection broke answers 409 to its
 * retry): it returns the result when the earlier attempt succeeded.
 */
export async function transfer<T>(options: {
  streams: Streams;
  label: string;
  bytes: Uint8Array;
  baseUrl: string;
  unit?: "bytes" | "lines";
  send: (body: ReadableStream<Uint8Array>) => Promise<Sent<T>>;
  recover?: (refused: RefusedError) => Promise<T | undefined>;
  sleep?: (ms: number) => Promise<void>;
}): Promise<T> {
  const { streams, label, bytes, baseUrl } = options;
  const wait = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const progress = new Progress(streams, label, bytes.byteLength);
  for (let attempt = 1; ; attempt++) {
    try {
      const { data, error, response } = await options.send(countingStream(bytes, (n) => progress.update(n)));
      progress.finish();
      if (response.ok) return data as T;
      const refused = refusal(response.status, error);
      if (attempt > 1 && options.recover) {
        const recovered = await options.recover(refused);
        if (recovered !== undefined) return recovered;
      }
      throw refused;
    } catch (error) {
      if (error instanceof RefusedError || error instanceof UsageError) throw error;
      if (!(error instanceof NetworkError || isNetworkFailure(error)) || attempt >= TRANSFER_ATTEMPTS)
        throw error instanceof NetworkError
          ? error
          : new NetworkError(describeNetworkFailure(error, baseUrl));
      const pause = 500 * 2 ** (attempt - 1);
      progress.reset(
        `connection lost (${error instanceof Error ? describeNetworkFailure(error, baseUrl) : String(error)}); retrying in ${pause} ms (attempt ${attempt + 1} of ${TRANSFER_ATTEMPTS})`,
      );
      await wait(pause);
    }
  }
}

/** openapi-fetch options that send a stream as is (Node's fetch needs `duplex` for a stream body). */
export function streamBody(contentType: string) {
  return {
    headers: { "content-type": contentType },
    bodySerializer: (body: unknown) => body as never,
    duplex: "half",
  };
}
