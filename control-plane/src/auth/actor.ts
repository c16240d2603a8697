/** The authenticated caller of an admin route. */
export interface Actor {
  userId: string;
  email: string;
  isPlatformAdmin: boolean;
  /** how the caller proved who it is; "system" for the control plane's own scheduled work */
  via: "session" | "api_token" | "system";
}
