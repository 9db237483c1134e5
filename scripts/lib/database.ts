import { fileURLToPath } from "node:url";
import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import { migrate } from "drizzle-orm/neon-serverless/migrator";
import ws from "ws";
import * as schema from "../../schema/index.ts";
import { trackPoolSockets } from "../../workers/platform/db.ts";

export const migrationsFolder = fileURLToPath(new URL("../../schema/migrations", import.meta.url));

/**
 * A Neon driver pool for Node scripts (migrations, admin, seeding, benchmarks): the same driver
 * the Worker uses. `wsProxy` is the local WebSocket-to-TCP proxy; leave it out for Neon itself.
 */
export function createNodePool(url: string, wsProxy?: string, options: { max?: number } = {}): Pool {
  neonConfig.webSocketConstructor = ws;
  if (wsProxy) {
    neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  }
  const pool = new Pool({ connectionString: url, max: options.max ?? 4 });
  // pool.end() leaves the sockets open (workers/platform/db.ts says why), and they keep the script alive.
  const closeSockets = trackPoolSockets(pool);
  const end = pool.end.bind(pool) as () => Promise<void>;
  return Object.assign(pool, {
    end: async () => {
      await end();
      await closeSockets();
    },
  });
}

export function createNodeDb(pool: Pool) {
  return drizzle({ client: pool, schema, casing: "snake_case" });
}

/** Applies the committed drizzle-kit migrations; a no-op when the database is up to date. */
export async function applyMigrations(pool: Pool): Promise<void> {
  await migrate(createNodeDb(pool), { migrationsFolder });
}
