import { applyMigrations, createNodePool } from "./database.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { startWsProxy } from "./ws-proxy.ts";

/**
 * The database the Worker's tests run against: `TEST_DATABASE_URL` (a real PostgreSQL server,
 * which CI provides) or, by default, an in-memory PGlite. Either way behind the WebSocket proxy,
 * so the Worker reaches it with the Neon driver exactly as in production. Starts from an empty
 * schema and applies the committed migrations.
 */
export async function startTestDatabase() {
  const external = process.env.TEST_DATABASE_URL;
  const embedded = external ? undefined : await startEmbeddedPostgres({});
  const url = external ?? (embedded as NonNullable<typeof embedded>).url;
  const proxy = await startWsProxy();
  const pool = createNodePool(url, proxy.address);
  if (external) {
    await pool.query("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS drizzle CASCADE; CREATE SCHEMA public;");
  }
  await applyMigrations(pool);
  await pool.end();
  const handle = {
    url,
    wsProxy: proxy.address,
    kind: external ? "postgresql" : "pglite",
    async stop() {
      await proxy.stop();
      await embedded?.stop();
    },
  };
  running().add(handle);
  return handle;
}

// Vitest loads its config and its global setup as separate module graphs: a global registry is
// how the teardown finds what the config started.
function running(): Set<{ stop(): Promise<void> }> {
  const key = Symbol.for("reelstream.test-databases");
  const holder = globalThis as { [key]?: Set<{ stop(): Promise<void> }> };
  holder[key] ??= new Set();
  return holder[key];
}

/** Vitest global-setup teardown: stops every test database this process started. */
export async function stopTestDatabases(): Promise<void> {
  for (const handle of running()) await handle.stop();
  running().clear();
}
