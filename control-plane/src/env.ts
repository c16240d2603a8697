import type { Actor } from "./auth/actor";
import type { Db } from "./db/client";

/** Hono environment of the admin Worker: bindings typed by `wrangler types`. */
export interface AdminHono {
  Bindings: Cloudflare.AdminEnv;
  Variables: { db: Db; actor: Actor };
}
