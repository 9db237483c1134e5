import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyMigrations, createNodePool } from "../database.ts";
import { startEmbeddedPostgres } from "../embedded-postgres.ts";
import { startWsProxy, type WsProxy } from "../ws-proxy.ts";
import { runningDevStack } from "./dev-lock.ts";
import { pgDataDir } from "./paths.ts";
import { freePort } from "./ports.ts";

const run = promisify(execFile);

/**
 * Which Postgres a local stack runs on:
 * - `pglite`: the embedded one (PGlite, Postgres compiled to WASM, in this process), in memory
 *   unless `dataDir` keeps it;
 * - `postgresql`: a throw-away cluster of the PostgreSQL server installed on this machine
 *   (Debian's `/usr/lib/postgresql/<version>/bin`), removed when the database stops;
 * - `url`: a server that is already running (a local PostgreSQL, or Neon). `reset` drops its
 *   schemas first: only for a database whose data may be thrown away.
 */
export type DatabaseSpec =
  | { kind: "pglite"; dataDir?: string }
  | { kind: "postgresql" }
  | { kind: "url"; url: string; reset?: boolean; label?: string };

export interface LocalDatabase {
  /** Connection string, as the Worker's `DATABASE_URL`. */
  url: string;
  /** The Worker's `DATABASE_WS_PROXY`: the WebSocket-to-TCP proxy in front of a local Postgres. Unset for Neon. */
  wsProxy?: string;
  /** What it is, for logs: "embedded PGlite (in memory)", "PostgreSQL 15 (throw-away cluster)", "DATABASE_URL". */
  source: string;
  stop(): Promise<void>;
  /**
   * Where this harness runs the server itself (not a given URL): stop it as a crash would
   * (PostgreSQL: `pg_ctl stop -m immediate`; PGlite: connections dropped, its files closed) and
   * start it again on the same address. The outage test and `npm run gameday` use it.
   */
  server?: ServerControl;
}

export interface ServerControl {
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A Postgres on this machine is reached through the WebSocket proxy; Neon is reached directly. */
export function needsLocalProxy(databaseUrl: string): boolean {
  const host = new URL(databaseUrl).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
}

/** The newest PostgreSQL server installed from Debian's packages, if any. */
export function installedPostgresql(): { bin: string; version: string } | undefined {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((candidate) => existsSync(`${root}/${candidate}/bin/initdb`));
  return version ? { bin: `${root}/${version}/bin`, version } : undefined;
}

/**
 * The database a test run or a benchmark asks for through its environment, `TEST_…` or `BENCH_…`:
 * `<PREFIX>_DATABASE_URL` (a server whose data may be dropped), else `<PREFIX>_DATABASE=pglite`
 * or `postgresql`, else `fallback`.
 *
 * @example
 * // TEST_DATABASE=postgresql npm run test:worker  →  { kind: "postgresql" }
 * const spec = databaseFromEnv("TEST");
 */
export function databaseFromEnv(prefix: "TEST" | "BENCH", fallback: "pglite" | "postgresql" = "pglite"): DatabaseSpec {
  const url = process.env[`${prefix}_DATABASE_URL`];
  if (url) return { kind: "url", url, reset: true, label: `${prefix}_DATABASE_URL` };
  const kind = process.env[`${prefix}_DATABASE`] || fallback;
  if (kind === "pglite" || kind === "postgresql") return { kind };
  throw new Error(
    `${prefix}_DATABASE=${kind}: use pglite (embedded), postgresql (a throw-away cluster of this machine's PostgreSQL), or set ${prefix}_DATABASE_URL`,
  );
}

interface Server {
  url: string;
  source: string;
  stop(): Promise<void>;
  control?: ServerControl;
}

/**
 * A throw-away cluster of the machine's PostgreSQL on a free port, its socket and data in a
 * temporary folder. initdb refuses to run as root, so as root it runs as `postgres`.
 */
async function startThrowAwayPostgresql(): Promise<Server> {
  const installed = installedPostgresql();
  if (!installed) {
    throw new Error("no PostgreSQL server on this machine (/usr/lib/postgresql/*/bin/initdb): apt-get install postgresql, or use pglite");
  }
  const dir = mkdtempSync(join(tmpdir(), "reelstream-pg-"));
  const asPostgres = userInfo().uid === 0;
  if (asPostgres) {
    const id = async (flag: string) => Number((await run("id", [flag, "postgres"])).stdout);
    chownSync(dir, await id("-u"), await id("-g"));
  }
  const tool = (name: string, args: string[]) =>
    asPostgres ? run("runuser", ["-u", "postgres", "--", `${installed.bin}/${name}`, ...args]) : run(`${installed.bin}/${name}`, args);
  const port = await freePort();
  const start = () =>
    tool("pg_ctl", [
      ...["-D", `${dir}/data`, "-l", `${dir}/log`, "-w", "start"],
      ...["-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=300`],
    ]);
  try {
    await tool("initdb", ["-D", `${dir}/data`, "--auth=trust", "-U", "postgres"]);
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    source: `PostgreSQL ${installed.version} (throw-away cluster)`,
    async stop() {
      await tool("pg_ctl", ["-D", `${dir}/data`, "-m", "fast", "stop"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
    control: {
      // As a crash: no shutdown checkpoint, connections cut; the next start recovers from the WAL.
      stop: async () => {
        await tool("pg_ctl", ["-D", `${dir}/data`, "-m", "immediate", "stop"]);
      },
      start: async () => {
        await start();
      },
    },
  };
}

async function startServer(spec: DatabaseSpec, pgPort?: number): Promise<Server> {
  switch (spec.kind) {
    case "pglite": {
      const pg = await startEmbeddedPostgres({ dataDir: spec.dataDir, port: pgPort });
      return {
        url: pg.url,
        source: `embedded PGlite (${spec.dataDir ?? "in memory"})`,
        stop: () => pg.stop(),
        control: { stop: () => pg.pause(), start: () => pg.resume() },
      };
    }
    case "postgresql":
      return startThrowAwayPostgresql();
    case "url":
      return { url: spec.url, source: spec.label ?? "a given DATABASE_URL", stop: async () => {} };
  }
}

/** Applies the committed migrations (after dropping every table first when `reset`). */
export async function migrateDatabase(database: LocalDatabase, options: { reset?: boolean } = {}): Promise<void> {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    if (options.reset) {
      await pool.query("DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS drizzle CASCADE; CREATE SCHEMA public;");
    }
    await applyMigrations(pool);
  } finally {
    await pool.end();
  }
}

/**
 * Starts (or reaches) a Postgres, behind the WebSocket proxy the Neon driver needs when it is
 * local, and applies the migrations unless `migrate` is false. `stop()` stops what was started.
 *
 * @example
 * const database = await startDatabase({ kind: "postgresql" });
 * // DATABASE_URL=database.url, DATABASE_WS_PROXY=database.wsProxy
 * await database.stop();
 */
export async function startDatabase(
  spec: DatabaseSpec = { kind: "pglite" },
  options: { migrate?: boolean; pgPort?: number; proxyPort?: number } = {},
): Promise<LocalDatabase> {
  const server = await startServer(spec, options.pgPort);
  let proxy: WsProxy | undefined;
  const stop = async () => {
    await proxy?.stop();
    await server.stop();
  };
  try {
    if (needsLocalProxy(server.url)) proxy = await startWsProxy({ port: options.proxyPort });
    const database: LocalDatabase = { url: server.url, wsProxy: proxy?.address, source: server.source, stop, server: server.control };
    if (options.migrate ?? true) await migrateDatabase(database, { reset: spec.kind === "url" && spec.reset });
    return database;
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The database a script should use: `DATABASE_URL` if set (a real Postgres or Neon), else the one
 * a running `npm start` serves, else the embedded PGlite whose data `npm start` keeps. Not migrated.
 */
export async function connectDatabase(options: { pgPort?: number; proxyPort?: number } = {}): Promise<LocalDatabase> {
  const configured = process.env.DATABASE_URL;
  if (configured) return startDatabase({ kind: "url", url: configured, label: "DATABASE_URL" }, { ...options, migrate: false });
  const running = runningDevStack();
  if (running && running.pid !== process.pid) {
    return { url: running.databaseUrl, wsProxy: running.wsProxy, source: "the running npm start", stop: async () => {} };
  }
  return startDatabase({ kind: "pglite", dataDir: pgDataDir }, { ...options, migrate: false });
}
