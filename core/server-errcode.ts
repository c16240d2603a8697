/**
 * Error codes of the mini program server API (PRODUCT.md X6; issue 12: "errors as { errcode,
 * errmsg } with the codes those APIs use"). Plain constants, no schema: the admin Worker's service
 * imports them without loading the contracts' zod schemas (core/contracts/login.ts re-exports them).
 */

/**
 * The server API's error codes: WeChat's where WeChat has one (auth.code2Session,
 * auth.getAccessToken), so an existing back end's handling carries over.
 */
export const ServerErrcode = {
  /** the platform is busy (storage unavailable): retry */
  BUSY: -1,
  /** wrong AppSecret (or none generated), or an access token that is invalid, expired or dead */
  INVALID_CREDENTIAL: 40001,
  /** grant_type is not the one the API takes */
  INVALID_GRANT_TYPE: 40002,
  /** appid malformed or no such mini program */
  INVALID_APPID: 40013,
  /** js_code malformed, not issued for this appid, or expired */
  INVALID_CODE: 40029,
  /** js_code already exchanged */
  CODE_USED: 40163,
  /** the AppSecret is frozen (WeChat's "AppSecret has been frozen"): unfreeze or reset it */
  SECRET_FROZEN: 40243,
  /** an access token past its 7200 s */
  ACCESS_TOKEN_EXPIRED: 42001,
  /** too many calls for this appid: retry after the Retry-After seconds */
  RATE_LIMITED: 45011,
} as const;

export type ServerErrcodeValue = (typeof ServerErrcode)[keyof typeof ServerErrcode];
