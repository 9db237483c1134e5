import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { fuzzystrmatch } from "@electric-sql/pglite/contrib/fuzzystrmatch";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { makeQueueExclusivePerUnit } from "./pglite-exclusive-queue.ts";

export interface EmbeddedPostgres {
  /** Connection string a Postgres client (the Neon driver through the proxy) uses. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts PGlite (real Postgres compiled to WASM) and serves it over the Postgres wire protocol.
 * PGlite is single-connection; the socket server multiplexes clients and keeps a transaction's
 * statements together, so `maxConnections` is raised well above the one-connection default.
 *
 * @example
 * const pg = await startEmbeddedPostgres({ dataDir: ".reelstream/pgdata", port: 54329 });
 */
export async function startEmbeddedPostgres(options: {
  /** Folder that keeps the data across restarts; omit for an in-memory database. */
  dataDir?: string;
  port?: number;
  maxConnections?: number;
}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { pg_trgm, fuzzystrmatch } });
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: options.maxConnections ?? 200,
  });
  makeQueueExclusivePerUnit(server);
  await server.start();
  const address = server.getServerConn();
  const port = Number(address.split(":").at(-1));
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
