import type { Actor } from "./auth/actor";
import type { Db } from "./db/client";

/**
 * Hono environment of the admin Worker: bindings typed by `wrangler types`, plus the optional
 * PACKAGE_KEY_SECRET (needed once a mini program encrypts its packages, core/encryption.ts).
 */
export type AdminBindings = AdminEnv & {
  PACKAGE_KEY_SECRET?: string;
  /** "on": business-domain verification fetches the domain's file (issue 12); otherwise by proof */
  DOMAIN_VERIFICATION_FETCH?: string;
};

export interface AdminHono {
  Bindings: AdminBindings;
  Variables: { db: Db; actor: Actor };
}
