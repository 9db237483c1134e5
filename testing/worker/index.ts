/**
 * The test Worker: the production app (workers/index.ts) plus the test-only routes, for the
 * end-to-end tests and the benchmarks. It is never deployed: the local-stack harness runs it on a
 * configuration generated from wrangler.toml with this file as `main` (`testWorkerEntry` in
 * testing/test-worker.ts), and testing/production-bundle.test.ts checks that the production
 * bundle holds none of it.
 */
import production, { createApp } from "../../workers/index.ts";
import type { QueueMessage } from "../../workers/queue.ts";
import { registerTestRoutes } from "./test-routes.ts";

// The Durable Object classes wrangler.toml binds.
export * from "../../workers/index.ts";

const app = createApp();
registerTestRoutes(app);

export default {
  ...production,
  fetch: app.fetch,
} satisfies ExportedHandler<Env, QueueMessage>;
