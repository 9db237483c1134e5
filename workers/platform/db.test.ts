import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { systemClock } from "./clock.ts";
import { openDatabase } from "./db.ts";
import { isDatabaseUnavailable } from "./describe-error.ts";
import { createLogger } from "./logger.ts";
import { createServices } from "./services.ts";

const log = createLogger({ test: "db" });

describe("the database deadline (set once for the pool)", () => {
  it("gives up on any query that runs past it, as a 'database unavailable' error", async () => {
    const handle = openDatabase(env.DATABASE_URL, { wsProxy: env.DATABASE_WS_PROXY, timeoutMs: 50, log });
    await handle.db.execute(sql`select 1`); // connected: the deadline below is the query's alone
    const started = Date.now();
    const error = await handle.db.execute(sql`select pg_sleep(0.3)`).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(250);
    expect(String((error as { cause?: unknown }).cause ?? error)).toMatch(/Query read timeout/);
    expect(isDatabaseUnavailable(error)).toBe(true);
    await handle.close();
  });

  it("answers a query that finishes in time", async () => {
    const handle = openDatabase(env.DATABASE_URL, { wsProxy: env.DATABASE_WS_PROXY, timeoutMs: 2000, log });
    expect((await handle.db.execute(sql`select 41 + 1 as answer`)).rows).toEqual([{ answer: 42 }]);
    await handle.close();
  });

  it("is applied by the composition root to every database it hands out, from DATABASE_TIMEOUT_MS", async () => {
    const ctx = createExecutionContext();
    const services = await createServices({ ...env, DATABASE_TIMEOUT_MS: "150" } as Env, ctx, { clock: systemClock });
    await services.db.execute(sql`select 1`);
    const error = await services.db.execute(sql`select pg_sleep(0.4)`).catch((e: unknown) => e);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(String((error as { cause?: unknown }).cause ?? error)).toMatch(/Query read timeout/);
    await services.close();
    await waitOnExecutionContext(ctx);
  });
});
