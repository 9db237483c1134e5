import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import * as schema from "../../schema/index.ts";

export type Database = ReturnType<typeof drizzle<typeof schema>>;

export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

/**
 * A Neon serverless pool for one request. Workers cannot share sockets between requests, so a
 * pool lives exactly as long as the request that made it (see `services.ts`).
 * `wsProxy` points the driver at the local WebSocket-to-TCP proxy; in production it is unset and
 * the driver talks to Neon's own proxy over TLS.
 */
export function openDatabase(url: string, wsProxy: string | undefined): DatabaseHandle {
  if (wsProxy) {
    neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  }
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
  // An idle client that dies must not become an unhandled error event.
  pool.on("error", (error: Error) => console.error(JSON.stringify({ level: "warn", msg: "postgres pool error", error: String(error) })));
  return {
    db: drizzle({ client: pool, schema, casing: "snake_case" }),
    close: () => pool.end(),
  };
}
