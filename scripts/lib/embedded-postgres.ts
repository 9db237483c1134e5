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
  /**
   * Stops serving as a crashed server does: every connection dropped, new ones refused. With a
   * `dataDir` the database is closed too (and opened again from disk by `resume`); in memory, it
   * stays open, since closing it would lose it.
   */
  pause(): Promise<void>;
  /** Serves again on the same port. */
  resume(): Promise<void>;
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
  const open = () => PGlite.create({ dataDir: options.dataDir, extensions: { pg_trgm, fuzzystrmatch } });
  const serve = async (database: PGlite, port: number) => {
    const server = new PGLiteSocketServer({ db: database, host: "127.0.0.1", port, maxConnections: options.maxConnections ?? 200 });
    makeQueueExclusivePerUnit(server);
    await server.start();
    return server;
  };
  let db: PGlite | undefined = await open();
  let server: PGLiteSocketServer | undefined = await serve(db, options.port ?? 0);
  const port = Number(server.getServerConn().split(":").at(-1));
  const pause = async () => {
    await server?.stop();
    server = undefined;
    if (options.dataDir) {
      await db?.close();
      db = undefined;
    }
  };
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await pause();
      await db?.close();
      db = undefined;
    },
    pause,
    async resume() {
      if (server) return;
      db ??= await open();
      server = await serve(db, port);
    },
  };
}
