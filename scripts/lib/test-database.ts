import { applyMigrations, createNodePool } from "./database.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { startWsProxy } from "./ws-proxy.ts";

export interface TestDatabase {
  url: string;
  wsProxy: string;
  kind: "postgresql" | "pglite";
  stop(): Promise<void>;
}

// The plugin asks for its options once per test file, and Vitest loads its config and its global
// setup as separate module graphs: one process-wide slot makes every file share one database,
// and lets the teardown find it.
const slot = Symbol.for("reelstream.test-database");
type Holder = { [slot]?: Promise<TestDatabase> };

/**
 * The database the Worker's tests run against: `TEST_DATABASE_URL` (a real PostgreSQL server,
 * which CI provides) or, by default, an in-memory PGlite. Either way behind the WebSocket proxy,
 * so the Worker reaches it with the Neon driver exactly as in production. Starts once per test
 * run from an empty schema and applies the committed migrations.
 */
export function startTestDatabase(): Promise<TestDatabase> {
  const holder = globalThis as Holder;
  holder[slot] ??= createTestDatabase();
  return holder[slot];
}

async function createTestDatabase(): Promise<TestDatabase> {
  const external = process.env.TEST_DATABASE_URL;
  const embedded = external ? undefined : await startEmbeddedPostgres({});
  const url = external ?? (embedded as NonNullable<typeof embedded>).url;
  const proxy = await startWsProxy();
  const pool = createNodePool(url, proxy.address);
  try {
    if (external) {
      await pool.query("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS drizzle CASCADE; CREATE SCHEMA public;");
    }
    await applyMigrations(pool);
  } finally {
    await pool.end();
  }
  console.log(
    `[test] Postgres: ${external ? "TEST_DATABASE_URL (a PostgreSQL server)" : "embedded PGlite"}, Neon driver via ws://${proxy.address}`,
  );
  return {
    url,
    wsProxy: proxy.address,
    kind: external ? "postgresql" : "pglite",
    async stop() {
      await proxy.stop();
      await embedded?.stop();
    },
  };
}

/** Vitest global-setup teardown: stops the test database this process started, if any. */
export async function stopTestDatabases(): Promise<void> {
  const holder = globalThis as Holder;
  const database = holder[slot];
  delete holder[slot];
  if (database) await (await database).stop();
}
