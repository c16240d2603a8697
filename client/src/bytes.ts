/**
 * Byte helpers the client needs in every runtime, on WebCrypto and the Streams API only (no
 * Node imports): hashing and reading a body with a hard cap (base64url: core/encryption.ts).
 */
import { readCapped as readStreamCapped } from "../../core/bytes";
import { ClientError, type ClientErrorCode } from "./errors";

/** Lowercase hex SHA-256, as manifests, packages and file lists name their bytes. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Reads a whole response body, refusing it with `code` as soon as more than `max` bytes arrived
 * (a Content-Length header is not trusted); the rest is never read.
 */
export async function readCapped(
  res: Response,
  max: number,
  code: ClientErrorCode,
  what: string,
): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(0);
  return readStreamCapped(res.body, max, () => {
    throw new ClientError(code, `${what} is larger than ${max} bytes`);
  });
}
