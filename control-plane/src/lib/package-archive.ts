/**
 * Package uploads in the control plane: the body read under its limit, then vetted by the
 * shared zip rules in core/package-archive.ts (also used by the reference client and by
 * scripts/sign-package.mjs, so all three refuse the same archives with the same message).
 */
import { readRequestBody } from "../../../core/bytes";
import { ApiError } from "../../../core/errors";
import { formatBytes } from "../../../core/package-archive";

export {
  DEFAULT_PACKAGE_LIMITS,
  inspectPackage,
  type PackageFile,
  type PackageInspection,
  type PackageLimits,
} from "../../../core/package-archive";

/**
 * Reads a request body chunk by chunk, keeping at most `maxBytes` (Content-Length is not
 * trusted), with the one limited reader of core/bytes.ts. Throws `payload_too_large` on overflow
 * (after draining the rest, so the refusal reaches the client) and `bad_package` for a missing
 * or empty body.
 */
export async function readLimitedBody(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
  discardLimit?: number,
): Promise<Uint8Array> {
  if (!body) throw new ApiError("bad_package", "the package is empty");
  const bytes = await readRequestBody(
    body,
    maxBytes,
    () => new ApiError("payload_too_large", `the package is larger than ${formatBytes(maxBytes)}`),
    discardLimit,
  );
  if (bytes.byteLength === 0) throw new ApiError("bad_package", "the package is empty");
  return bytes;
}
