import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";
import { startWsProxy } from "./ws-proxy.ts";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
/** Local state: embedded Postgres data, miniflare's KV/R2/DO/queue data, the dev lock. */
export const stateDir = process.env.REELSTREAM_STATE_DIR ?? `${repoRoot}.reelstream`;
export const pgDataDir = `${stateDir}/pgdata`;
const lockFile = `${stateDir}/dev.json`;

/** What a running `npm start` publishes for other scripts (admin, seed, bench). */
export interface DevStackInfo {
  pid: number;
  workerUrl: string;
  databaseUrl: string;
  wsProxy?: string;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running dev stack, if any (a stale lock left by a crash is ignored and removed). */
export function runningDevStack(): DevStackInfo | undefined {
  if (!existsSync(lockFile)) return undefined;
  try {
    const info = JSON.parse(readFileSync(lockFile, "utf8")) as DevStackInfo;
    if (isAlive(info.pid)) return info;
  } catch {
    // unreadable lock: treat as stale
  }
  rmSync(lockFile, { force: true });
  return undefined;
}

export function writeDevStackLock(info: DevStackInfo): void {
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(lockFile, JSON.stringify(info, null, 2));
}

export function removeDevStackLock(): void {
  rmSync(lockFile, { force: true });
}

/** A Postgres on this machine is reached through the WebSocket proxy; Neon is reached directly. */
export function needsLocalProxy(databaseUrl: string): boolean {
  const host = new URL(databaseUrl).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "::1" || host === "[::1]";
}

export interface DatabaseConnection {
  url: string;
  wsProxy?: string;
  /** What it is, for logs: "embedded PGlite", "DATABASE_URL", "the running npm start". */
  source: string;
  stop(): Promise<void>;
}

/**
 * Finds the database a script should use: `DATABASE_URL` if set (a real Postgres or Neon), else
 * the one a running `npm start` serves, else the embedded PGlite (its data folder is kept).
 */
export async function connectDatabase(options: { pgPort?: number; proxyPort?: number } = {}): Promise<DatabaseConnection> {
  const configured = process.env.DATABASE_URL;
  if (configured) {
    if (!needsLocalProxy(configured)) return { url: configured, source: "DATABASE_URL", stop: async () => {} };
    const proxy = await startWsProxy({ port: options.proxyPort });
    return { url: configured, wsProxy: proxy.address, source: "DATABASE_URL", stop: proxy.stop };
  }
  const running = runningDevStack();
  if (running && running.pid !== process.pid) {
    return { url: running.databaseUrl, wsProxy: running.wsProxy, source: "the running npm start", stop: async () => {} };
  }
  const pg = await startEmbeddedPostgres({ dataDir: pgDataDir, port: options.pgPort });
  const proxy = await startWsProxy({ port: options.proxyPort });
  return {
    url: pg.url,
    wsProxy: proxy.address,
    source: `embedded PGlite (${pgDataDir})`,
    async stop() {
      await proxy.stop();
      await pg.stop();
    },
  };
}
