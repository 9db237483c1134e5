import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { generateMediaSigningKeys, generateSigningKeys } from "./scripts/lib/dev-keys.ts";
import { type DatabaseSpec, databaseFromEnv, installedPostgresql } from "./scripts/lib/local-stack/index.ts";
import { startHungDatabase } from "./testing/hung-database.ts";
import { postgresqlPass } from "./testing/postgresql-pass.ts";
import { startTestDatabase } from "./testing/test-database.ts";
import { startTranscoderDouble } from "./testing/transcoder-double.ts";

/**
 * The Worker's tests run inside workerd (real KV, R2, Durable Objects, Queues and rate limiters
 * from miniflare), on the test Worker (testing/worker/index.ts), against a real Postgres: PGlite always
 * (`worker`), and a throw-away cluster of this machine's PostgreSQL too (`worker-postgresql`): skipped
 * with a notice where PostgreSQL is missing, an error in CI (testing/postgresql-pass.ts).
 * Transcoder, scripts and end-to-end tests run in Node (`node`).
 */
function workerProject(name: string, database: DatabaseSpec): TestProjectInlineConfiguration {
  return {
    plugins: [
      cloudflareTest(async () => {
        const [started, transcoders, hung] = await Promise.all([startTestDatabase(database), startTranscoderDouble(), startHungDatabase()]);
        return {
          wrangler: { configPath: "./wrangler.toml" },
          // The test Worker: the production app and Durable Objects on a clock the tests can move (testing/clock.ts).
          main: "./testing/worker/index.ts",
          miniflare: {
            bindings: {
              APP_ENV: "test",
              DATABASE_URL: started.url,
              ...(started.wsProxy ? { DATABASE_WS_PROXY: started.wsProxy } : {}),
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
              // No transcoder for the queue's own deliveries: a task waits, and comes back after
              // 5 minutes. The transcoding tests deliver with TRANSCODER_URLS set to the double's.
              TRANSCODE_CAPACITY_WAIT_SECONDS: "300",
              TEST_TRANSCODER_URLS: transcoders.urls.join(","),
              // A Postgres address that accepts connections and never answers (testing/hung-database.ts).
              TEST_HUNG_DATABASE_URL: hung.url,
              // The user-copies queue's own deliveries are dropped: tests deliver what the objects sent by hand (testing/user-copies.ts).
              TEST_USER_COPIES_BY_HAND: "1",
            },
          },
        };
      }),
    ],
    test: {
      name,
      globalSetup: ["./testing/vitest-global-setup.ts"],
      include: ["workers/**/*.test.ts", "durable-objects/**/*.test.ts"],
      testTimeout: 20_000,
      hookTimeout: 30_000,
    },
  };
}

const secondPass = postgresqlPass(process.env, installedPostgresql() !== undefined);
if (secondPass.notice) console.warn(`[test] ${secondPass.notice}`);

export default defineConfig({
  test: {
    projects: [
      workerProject("worker", databaseFromEnv("TEST")),
      ...(secondPass.run ? [workerProject("worker-postgresql", { kind: "postgresql" } as DatabaseSpec)] : []),
      {
        test: {
          name: "node",
          include: ["transcoder/**/*.test.ts", "scripts/**/*.test.ts", "e2e/**/*.test.ts", "testing/**/*.test.ts", "web/src/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
        },
      },
    ],
  },
});
