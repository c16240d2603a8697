import { defineConfig } from "drizzle-kit";

// Generates flat `migrations/NNNN_name.sql` files that wrangler and the vitest integration read.
export default defineConfig({
  dialect: "sqlite",
  driver: "d1-http",
  schema: "./control-plane/src/db/schema.ts",
  out: "./migrations",
});
