import { drizzle } from "drizzle-orm/d1";
import { retryBusy } from "./busy-retry";
import * as schema from "./schema";

export function createDb(d1: D1Database) {
  return drizzle(retryBusy(d1), { schema });
}

export type Db = ReturnType<typeof createDb>;
