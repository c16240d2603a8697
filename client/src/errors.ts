/**
 * The one error the reference client throws. `code` is a closed union so an SDK can map every
 * refusal to telemetry and UI without parsing messages; `message` says what was refused and why.
 * Whatever the code, a refused operation leaves the trusted state exactly as it was.
 */

export type ClientErrorCode =
  /** the edge did not answer the check (network, HTTP status, unreadable body) */
  | "check_failed"
  /** the JWS or its claims are not a well-formed manifest */
  | "bad_manifest"
  /** the manifest names a key id this app does not pin */
  | "unknown_key"
  /** the manifest's signature does not verify against the pinned key */
  | "bad_signature"
  /** the manifest is for another issuer, type, mini program or host app */
  | "mix_and_match"
  /** the manifest expired (indefinite freeze defence) */
  | "expired"
  /** the manifest is older than one already accepted (iat or snapshot revision went down) */
  | "replayed"
  /** an older version than the installed one without a signed rollback order */
  | "rollback"
  /** a download could not be completed */
  | "download_failed"
  /** a download is larger than this client accepts at all */
  | "too_large"
  /** more bytes arrived than the signed size */
  | "endless_data"
  /** downloaded or unpacked bytes differ from the signed hashes */
  | "hash_mismatch"
  /** an encrypted object did not decrypt with the signed key */
  | "decrypt_failed"
  /** the package or preset archive is unreadable or unsafe */
  | "bad_package"
  /** an increment was made for another installed version */
  | "wrong_base"
  /** the app requires a developer signature and the package has none it can check */
  | "signature_required"
  /** the developer signature does not verify */
  | "bad_developer_signature"
  /** a signed answer said the mini program is delisted: it must not run */
  | "delisted"
  /** nothing is installed */
  | "not_installed"
  /** login refused or failed: no user assertion from the host app, the edge refused it, or the edge cannot be reached */
  | "login_failed"
  /** a subscription message call (subscribe, inbox, mark read) refused or failed (issue 14) */
  | "messages_failed";

export class ClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ClientError";
    this.code = code;
  }
}
