import type { TokenScope } from "../db/schema";

/** The authenticated caller of an admin route. */
export interface Actor {
  userId: string;
  email: string;
  isPlatformAdmin: boolean;
  /** how the caller proved who it is; "system" for the control plane's own scheduled work */
  via: "session" | "api_token" | "system";
  /** the session (`via: "session"`): what logout and a password change end */
  sessionId?: string;
  /** the API token (`via: "api_token"`) and what it may do (auth/scopes.ts) */
  tokenId?: string;
  scopes?: readonly TokenScope[];
}
