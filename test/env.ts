import type { D1Migration } from "cloudflare:test";
import { env } from "cloudflare:test";

/** The test project's bindings: the union of the three Workers' (see vitest.config.ts). */
export type TestEnv = AdminEnv &
  EdgeEnv &
  BuilderEnv & { TEST_MIGRATIONS: D1Migration[]; PACKAGE_KEY_SECRET: string };
export const testEnv = env as unknown as TestEnv;
