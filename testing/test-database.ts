import type { DatabaseSpec, LocalDatabase } from "../scripts/lib/local-stack/index.ts";
import { startDatabase } from "../scripts/lib/local-stack/index.ts";

// The plugin asks for its options once per test file, and Vitest loads its config and its global
// setup as separate module graphs: one process-wide slot per kind of database makes every file of
// a project share one database, and lets the teardown find them all.
const slot = Symbol.for("reelstream.test-databases");
type Holder = { [slot]?: Map<string, Promise<LocalDatabase>> };

function databases(): Map<string, Promise<LocalDatabase>> {
  const holder = globalThis as Holder;
  holder[slot] ??= new Map();
  return holder[slot];
}

/**
 * A database the Worker's tests run against, from the local-stack harness: an in-memory PGlite,
 * a throw-away cluster of this machine's PostgreSQL, or a server whose data may be dropped.
 * Either way behind the WebSocket proxy, so the Worker reaches it with the Neon driver exactly as
 * in production. Starts once per test run and kind, from an empty schema, with the committed
 * migrations applied.
 */
export function startTestDatabase(spec: DatabaseSpec): Promise<LocalDatabase> {
  const key = JSON.stringify(spec);
  let database = databases().get(key);
  if (!database) {
    database = startDatabase(spec).then((started) => {
      console.log(`[test] Postgres: ${started.source}, Neon driver ${started.wsProxy ? `via ws://${started.wsProxy}` : "direct"}`);
      return started;
    });
    databases().set(key, database);
  }
  return database;
}

/** Vitest global-setup teardown: stops every test database this process started. */
export async function stopTestDatabases(): Promise<void> {
  const started = [...databases().values()];
  databases().clear();
  await Promise.all(started.map(async (database) => (await database).stop()));
}
