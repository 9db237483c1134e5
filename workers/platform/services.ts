import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./app-env.ts";
import { type Config, loadConfig } from "./config.ts";
import { type Database, type DatabaseHandle, openDatabase } from "./db.ts";

/** What handlers use, built per request and read with `c.get("services")`. */
export interface Services {
  config: Config;
  /** Primary: writes, and reads that must see the request's own writes. */
  readonly db: Database;
  /** Read replica (`DATABASE_READ_URL`): reads that may lag by a moment. */
  readonly readDb: Database;
}

/**
 * Builds `services` for the request. Database pools open on first use and close once the
 * response is sent, so routes that never touch Postgres (JWKS, media) never connect.
 */
export const initServices = createMiddleware<AppEnv>(async (c, next) => {
  const config = await loadConfig(c.env);
  const handles: DatabaseHandle[] = [];
  const open = (url: string) => {
    const handle = openDatabase(url, config.DATABASE_WS_PROXY);
    handles.push(handle);
    return handle.db;
  };
  let primary: Database | undefined;
  let replica: Database | undefined;
  const services: Services = {
    config,
    get db() {
      primary ??= open(config.DATABASE_URL);
      return primary;
    },
    get readDb() {
      if (config.databaseReadUrl === config.DATABASE_URL) return this.db;
      replica ??= open(config.databaseReadUrl);
      return replica;
    },
  };
  c.set("services", services);
  try {
    await next();
  } finally {
    if (handles.length > 0) {
      const closing = Promise.allSettled(handles.map((handle) => handle.close()));
      try {
        c.executionCtx.waitUntil(closing);
      } catch {
        await closing; // no execution context (plain app.request in a unit test)
      }
    }
  }
});
