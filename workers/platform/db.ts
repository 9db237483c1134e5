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
   * The deadline of every use of the database, connecting included: a query from asking the pool
   * for a connection to its answer, a transaction from its connection to its commit. Set once for
   * the pool, so no call site can forget it: past it the use fails with `DatabaseDeadlineExceeded`,
   * which `isDatabaseUnavailable` maps to 503 with Retry-After. The driver's own timeouts
   * (`connectionTimeoutMillis`, `query_timeout`) are set longer, as a backstop only.
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
  // One deadline per use, connecting included: a database that accepts the socket and then says
  // nothing (hung, or failing over) answers 503 after `timeoutMs`, and a slow connect leaves a query
  // only what is left of it. The driver's timeouts stay behind as a backstop.
  const backstopMs = options.timeoutMs + DRIVER_BACKSTOP_MS;
  const pool = new DeadlinePool(
    { connectionString: url, max: 4, connectionTimeoutMillis: backstopMs, query_timeout: backstopMs },
    options.timeoutMs,
  );
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

/** How much longer than the deadline the driver's own timeouts are: they fire only if the deadline did not. */
const DRIVER_BACKSTOP_MS = 2000;

/**
 * A use of the database that found no answer within its deadline (`DATABASE_TIMEOUT_MS`),
 * connecting included. `step` says where it was waiting; `waitedMs` how long it waited.
 */
export class DatabaseDeadlineExceeded extends Error {
  override readonly name = "DatabaseDeadlineExceeded";
  constructor(
    readonly deadlineMs: number,
    readonly step: "connecting" | "querying",
    readonly waitedMs: number,
  ) {
    super(`database deadline of ${deadlineMs} ms passed while ${step} (waited ${waitedMs} ms; the deadline includes connecting)`);
  }
}

/** A deadline that starts when a use of the database starts; `within` races a step against it. */
function startDeadline(deadlineMs: number) {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expire: (step: "connecting" | "querying") => void = () => {};
  let step: "connecting" | "querying" = "connecting";
  const expired = new Promise<never>((_, reject) => {
    expire = (at) => reject(new DatabaseDeadlineExceeded(deadlineMs, at, Math.round(performance.now() - started)));
    timer = setTimeout(() => expire(step), deadlineMs);
  });
  // Nobody may be waiting when it fires (the use ended): not an unhandled rejection.
  expired.catch(() => {});
  return {
    within<T>(work: Promise<T>, at: "connecting" | "querying"): Promise<T> {
      step = at;
      return Promise.race([work, expired]);
    },
    clear: () => clearTimeout(timer),
  };
}

/**
 * The Neon pool with one deadline per use, connecting included: `query` (a statement on a pooled
 * connection: drizzle's queries outside a transaction) and `connect` (a transaction's connection,
 * whose statements share the deadline until it is released). The callback forms, which drizzle does
 * not use, are the driver's own.
 */
class DeadlinePool extends Pool {
  constructor(
    config: ConstructorParameters<typeof Pool>[0],
    private readonly deadlineMs: number,
  ) {
    super(config);
  }

  // biome-ignore lint/suspicious/noExplicitAny: the driver's overloads, passed through unchanged
  override query(...args: any[]): any {
    if (args.some((arg) => typeof arg === "function")) return (super.query as (...a: unknown[]) => unknown)(...args);
    const deadline = startDeadline(this.deadlineMs);
    return (async () => {
      const client = await this.connectWithin(deadline);
      try {
        const result = await deadline.within(client.query(...(args as [string])), "querying");
        client.release();
        return result;
      } catch (error) {
        // A connection whose query got no answer is not given back to the pool.
        client.release(error instanceof Error ? error : true);
        throw error;
      } finally {
        deadline.clear();
      }
    })();
  }

  // biome-ignore lint/suspicious/noExplicitAny: the driver's overloads, passed through unchanged
  override connect(...args: any[]): any {
    if (args.length > 0) return (super.connect as (...a: unknown[]) => unknown)(...args);
    const deadline = startDeadline(this.deadlineMs);
    return this.connectWithin(deadline).then(
      (client) => {
        const query = client.query.bind(client) as (...a: unknown[]) => Promise<unknown>;
        const release = client.release.bind(client);
        // biome-ignore lint/suspicious/noExplicitAny: the driver's overloads
        (client as any).query = (...queryArgs: unknown[]) =>
          queryArgs.some((arg) => typeof arg === "function") ? query(...queryArgs) : deadline.within(query(...queryArgs), "querying");
        client.release = (error?: Error | boolean) => {
          deadline.clear();
          // biome-ignore lint/suspicious/noExplicitAny: back to the driver's own for the client's next use
          (client as any).query = query;
          client.release = release;
          return release(error);
        };
        return client;
      },
      (error: unknown) => {
        deadline.clear();
        throw error;
      },
    );
  }

  /** A pooled connection within `deadline`; one that arrives after it is given back. */
  private connectWithin(deadline: ReturnType<typeof startDeadline>): Promise<PoolClient> {
    const connecting = super.connect() as Promise<PoolClient>;
    return deadline.within(connecting, "connecting").catch((error: unknown) => {
      if (error instanceof DatabaseDeadlineExceeded) connecting.then((late) => late.release(true)).catch(() => {});
      throw error;
    });
  }
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
