/** The authenticated caller of an admin route. */
export interface Actor {
  userId: string;
  email: string;
  isPlatformAdmin: boolean;
  /** how the caller proved who it is */
  via: "session" | "api_token";
}
