import { generateKeyPairSync } from "node:crypto";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

/** The Workers' configurations (wrangler.toml is the edge's; docs/deploy.md). The tests use their top level. */
const EDGE_CONFIG = "./wrangler.toml";
const ADMIN_CONFIG = "./control-plane/wrangler.toml";

/** Miniflare options of one Worker's configuration (its bindings, vars and limits as deployed). */
const workerOptionsOf = (configPath: string) => unstable_getMiniflareWorkerOptions(configPath).workerOptions;

/**
 * Two test projects:
 *
 * - `workerd` (test/**): its main is the edge Worker (which also exports the Durable Object
 *   classes), configured from wrangler.toml (the edge's configuration); the control plane's Hono
 *   app and the increment builder are called in-process with the same bindings plus D1 and the
 *   admin Worker's limiters and vars from their own configurations, so tests drive the real
 *   system: real D1, R2 and Durable Objects, no mocks. Cloudflare's plugin applies to this project only.
 * - `node` (client/test/**, scripts/test/**): the reference client in plain Node, against local
 *   HTTP servers the tests run as attackers, and the developer scripts as developers run them.
 *   No Cloudflare plugin, no workerd.
 * - `cli` (cli/test/**): the `graycast` CLI run as a subprocess against one real local stack that
 *   the project's global setup starts (`npm run test:cli`).
 */
export default defineConfig(async () => {
  const signingKey = {
    ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }),
    kid: "test-key-1",
  };
  return {
    test: {
      projects: [
        {
          extends: false,
          plugins: [
            cloudflareTest({
              main: "./edge-worker/src/index.ts",
              wrangler: { configPath: EDGE_CONFIG },
              miniflare: {
                compatibilityFlags: ["nodejs_compat"],
                // DB: the control plane's; LOGS_DB: real-time logs (control-plane/wrangler.toml).
                d1Databases: ["DB", "LOGS_DB"],
                // The admin Worker's producer of message pushes (issue 14), a real local queue; the
                // tests run the builder's consumer on batches themselves (test/messages-webhooks.test.ts).
                queueProducers: { MESSAGE_WEBHOOKS: { queueName: "graycast-message-webhooks" } },
                // The tests load the edge's configuration; the admin Worker's limiters (login, writes) are
                // added here with control-plane/wrangler.toml's values, so both run with their real limits.
                ratelimits: {
                  ...workerOptionsOf(EDGE_CONFIG).ratelimits,
                  ...workerOptionsOf(ADMIN_CONFIG).ratelimits,
                },
                bindings: {
                  TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                  MANIFEST_SIGNING_KEY: JSON.stringify(signingKey),
                  JWT_SECRET: "test-jwt-secret-that-is-long-enough-0123456789",
                  SNAPSHOT_TTL_MS: "0",
                  SESSION_TTL_SECONDS: "3600",
                  EDGE_BASE_URL: "https://edge.test",
                  IDE_DOWNLOAD_URL: "https://graycast.dev/ide/latest",
                  ADMISSION_TICKET_SECRET: "test-admission-ticket-secret-0123456789abcdef",
                  ALLOW_GEO_OVERRIDE: "true",
                  PACKAGE_KEY_SECRET: "test-package-key-secret-0123456789abcdef0123",
                  // Login and the server API (PRODUCT.md X5, X6): one LOGIN_CODE_KEY for both Workers.
                  LOGIN_CODE_KEY: "test-login-code-key-0123456789abcdef0123456789",
                  // Subscription messages (issue 14): sealing of webhook secrets and subscribers' accounts,
                  // and the admin Worker the edge forwards to (tests hand the edge the in-process admin app).
                  MESSAGE_WEBHOOK_KEY: "test-message-webhook-key-0123456789abcdef012345",
                  ADMIN_BASE_URL: "https://admin.test",
                  APP_SECRET_HASH_KEY: "test-app-secret-hash-key-0123456789abcdef012345",
                  USER_ID_KEY: "test-user-id-key-0123456789abcdef0123456789abcd",
                  // Admission leases are off by default in tests, so counts are read right after answers;
                  // test/edge-admission-leases.test.ts turns them on for its own requests.
                  ADMISSION_LEASE_SIZE: "0",
                  // The suite checks thousands of times from one address: the per-address check limit is
                  // off by default here, and test/rate-limits.test.ts turns it on for its own requests.
                  CHECK_RATE_LIMIT: "off",
                  // Likewise the per-address login-code limit (test/login.test.ts turns it on).
                  LOGIN_RATE_LIMIT: "off",
                  // The builder's var naming its dead-letter queue: the production name, the one
                  // test/admin-increments.test.ts delivers on (INCREMENTS_DLQ of increments/queue.ts).
                  INCREMENTS_DLQ: "graycast-increments-dlq",
                  MESSAGE_WEBHOOKS_DLQ: "graycast-message-webhooks-dlq",
                },
              },
            }),
          ],
          test: {
            name: "workerd",
            include: ["test/**/*.test.ts"],
            // A hang guard, not a speed check: whole admin flows (upload, audit, publish, build)
            // take seconds on a loaded 2-core machine, well past vitest's 5 s default.
            testTimeout: 30_000,
            setupFiles: ["./test/setup.ts"],
          },
        },
        {
          extends: false,
          test: {
            name: "node",
            environment: "node",
            include: ["client/test/**/*.test.ts", "scripts/test/**/*.test.ts"],
          },
        },
        {
          extends: false,
          test: {
            name: "cli",
            environment: "node",
            include: ["cli/test/**/*.test.ts"],
            // One real local stack (scripts/start.mjs) for every CLI test: cli/test/support/stack.ts.
            globalSetup: ["./cli/test/support/stack.ts"],
            fileParallelism: false,
            // Hang guards, not speed checks: the stack starts in about a minute and a half on a
            // loaded 2-core machine, and a 1,000,000-line whitelist takes seconds to store.
            hookTimeout: 300_000,
            testTimeout: 120_000,
          },
        },
      ],
    },
  };
});
