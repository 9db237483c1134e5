import { neonConfig, Pool, type PoolClient } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import * as schema from "../../schema/index.ts";
import type { Logger } from "./logger.ts";

export type Database = ReturnType<typeof drizzle<typeof schema>>;

export interface DatabaseHandle {
  db: Database;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** The local WebSocket-to-TCP proxy (host:port/path); unset in production, where Neon runs its own. */
  wsProxy?: string;
  /**
   * Every connection's and every query's deadline, set once for the pool (the driver's
   * `connectionTimeoutMillis` and `query_timeout`), so no call site can forget it: past it the
   * connection fails ("timeout expired") or the query does ("Query read timeout"), which
   * `isDatabaseUnavailable` maps to 503 with Retry-After. The driver stops waiting; the
   * connection dies with the pool.
   */
  timeoutMs: number;
  log: Logger;
}

/**
 * A Neon serverless pool for one request (or one queue message, alarm, cron run). Workers cannot
 * share sockets between requests, so a pool lives exactly as long as the work that made it (see
 * `createServices`).
 */
export function openDatabase(url: string, options: DatabaseOptions): DatabaseHandle {
  const { wsProxy } = options;
  if (wsProxy) {
    neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  }
  // The connection has the same deadline as a query: a database that accepts the socket and then
  // says nothing (hung, or failing over) answers 503 after `timeoutMs`, not after a longer connect timeout.
  const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: options.timeoutMs, query_timeout: options.timeoutMs });
  let closing = false;
  // An idle client that dies must not become an unhandled error event. Once the request is done,
  // closing the sockets makes each one report "Network connection lost": expected, not logged.
  pool.on("error", (error: unknown) => {
    if (!closing) options.log.warn("postgres pool error", { error });
  });
  const closeSockets = trackPoolSockets(pool);
  return {
    db: drizzle({ client: pool, schema, casing: "snake_case" }),
    close: async () => {
      closing = true;
      await pool.end();
      await closeSockets();
    },
  };
}

/**
 * Remembers the pool's clients; the returned function, called after `pool.end()`, closes their
 * sockets (see `closeSocket`). Node scripts need it too: an open socket keeps the process alive.
 */
export function trackPoolSockets(pool: Pool): () => Promise<void> {
  const clients = new Set<PoolClient>();
  pool.on("connect", (client: PoolClient) => clients.add(client));
  return async () => {
    await Promise.all([...clients].map((client) => closeSocket(client)));
  };
}

/** How long `close` waits for a socket's close handshake before giving up on it. */
const SOCKET_CLOSE_TIMEOUT_MS = 2000;

/**
 * Closes the WebSocket under an ended client. `pool.end()` does not: pg's `Connection.end()`
 * calls `stream.write(terminate, callback)`, but the driver's socket takes `(data, encoding,
 * callback)`, so the callback that would end the stream never runs and the WebSocket stays open.
 * An open WebSocket keeps a Worker invocation alive: a queue consumer's batch never completes,
 * and the queue delivers nothing else meanwhile. The terminate message is flushed on the next
 * tick (the driver coalesces writes), so the socket is ended after it.
 */
async function closeSocket(client: PoolClient): Promise<void> {
  const stream = (client as unknown as { connection?: { stream?: { end?: () => void; destroyed?: boolean } } }).connection?.stream;
  if (!stream?.end || stream.destroyed) return;
  const closed = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, SOCKET_CLOSE_TIMEOUT_MS);
    client.once("end", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  stream.end();
  await closed;
}
