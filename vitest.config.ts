import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { generateMediaSigningKeys, generateSigningKeys } from "./scripts/lib/dev-keys.ts";
import { startTestDatabase } from "./testing/test-database.ts";

/**
 * Two projects: the Worker's tests run inside workerd (real KV, R2, Durable Objects, Queues and
 * rate limiters from miniflare) against a real Postgres; transcoder and scripts run in Node.
 */
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async () => {
            const database = await startTestDatabase();

            return {
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  APP_ENV: "test",
                  DATABASE_URL: database.url,
                  ...(database.wsProxy ? { DATABASE_WS_PROXY: database.wsProxy } : {}),
                  JWT_SIGNING_KEYS: await generateSigningKeys("test-key-1"),
                  INTERNAL_SIGNING_SECRET: "test-internal-signing-secret-0123456789abcdef",
                  // Two media keys: the first signs, the second only verifies (rotation tests).
                  MEDIA_SIGNING_KEYS: JSON.stringify({
                    keys: [
                      ...JSON.parse(generateMediaSigningKeys("media-new")).keys,
                      ...JSON.parse(generateMediaSigningKeys("media-old")).keys,
                    ],
                  }),
                  STREAM_LEASE_SECONDS: "30",
                },
              },
            };
          }),
        ],
        test: {
          name: "worker",
          globalSetup: ["./testing/vitest-global-setup.ts"],
          include: ["workers/**/*.test.ts", "durable-objects/**/*.test.ts"],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "node",
          include: ["transcoder/**/*.test.ts", "scripts/**/*.test.ts", "e2e/**/*.test.ts", "testing/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
  },
});
