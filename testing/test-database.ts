import { databaseFromEnv, type LocalDatabase, startDatabase } from "../scripts/lib/local-stack/index.ts";

// The plugin asks for its options once per test file, and Vitest loads its config and its global
// setup as separate module graphs: one process-wide slot makes every file share one database,
// and lets the teardown find it.
const slot = Symbol.for("reelstream.test-database");
type Holder = { [slot]?: Promise<LocalDatabase> };

/**
 * The database the Worker's tests run against, from the local-stack harness: an in-memory PGlite
 * by default, `TEST_DATABASE=postgresql` for a throw-away cluster of this machine's PostgreSQL
 * (CI's second pass), or `TEST_DATABASE_URL` (a server whose data may be dropped). Either way
 * behind the WebSocket proxy, so the Worker reaches it with the Neon driver exactly as in
 * production. Starts once per test run from an empty schema and applies the committed migrations.
 */
export function startTestDatabase(): Promise<LocalDatabase> {
  const holder = globalThis as Holder;
  holder[slot] ??= startDatabase(databaseFromEnv("TEST")).then((database) => {
    console.log(`[test] Postgres: ${database.source}, Neon driver ${database.wsProxy ? `via ws://${database.wsProxy}` : "direct"}`);
    return database;
  });
  return holder[slot];
}

/** Vitest global-setup teardown: stops the test database this process started, if any. */
export async function stopTestDatabases(): Promise<void> {
  const holder = globalThis as Holder;
  const database = holder[slot];
  delete holder[slot];
  if (database) await (await database).stop();
}
