import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { systemClock } from "./clock.ts";
import { DatabaseDeadlineExceeded, openDatabase } from "./db.ts";
import { describeForLog, isDatabaseUnavailable } from "./describe-error.ts";
import { createLogger } from "./logger.ts";
import { createServices } from "./services.ts";

const log = createLogger({ test: "db" });

describe("the database deadline (one per use, connecting included, set once for the pool)", () => {
  it("gives up on a query that runs past it, as a 'database unavailable' error", async () => {
    // Sleeps short enough not to hold up the next test (the embedded Postgres answers one query at a time).
    const handle = openDatabase(env.DATABASE_URL, { wsProxy: env.DATABASE_WS_PROXY, timeoutMs: 600, log });
    const error = await handle.db.execute(sql`select pg_sleep(1)`).catch((e: unknown) => e);
    const cause = (error as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(DatabaseDeadlineExceeded);
    expect(cause).toMatchObject({ deadlineMs: 600, step: "querying" });
    expect(isDatabaseUnavailable(error)).toBe(true);
    await handle.close();
  });

  it("is one deadline for a whole transaction, from its connection to its commit, not one per statement", async () => {
    const handle = openDatabase(env.DATABASE_URL, { wsProxy: env.DATABASE_WS_PROXY, timeoutMs: 1500, log });
    // Each statement alone is within the deadline; together they are not.
    const error = await handle.db
      .transaction(async (tx) => {
        await tx.execute(sql`select pg_sleep(0.9)`);
        await tx.execute(sql`select pg_sleep(0.9)`);
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(describeForLog(error)).toMatch(/^DatabaseDeadlineExceeded: database deadline of 1500 ms passed while querying/);
    expect(isDatabaseUnavailable(error)).toBe(true);
    // The pool still serves the next use, on a connection of its own.
    expect((await handle.db.execute(sql`select 41 + 1 as answer`)).rows).toEqual([{ answer: 42 }]);
    await handle.close();
  });

  it("answers a query that finishes in time", async () => {
    const handle = openDatabase(env.DATABASE_URL, { wsProxy: env.DATABASE_WS_PROXY, timeoutMs: 2000, log });
    expect((await handle.db.execute(sql`select 41 + 1 as answer`)).rows).toEqual([{ answer: 42 }]);
    await handle.close();
  });

  it("is applied by the composition root to every database it hands out, from DATABASE_TIMEOUT_MS", async () => {
    const ctx = createExecutionContext();
    const services = await createServices({ ...env, DATABASE_TIMEOUT_MS: "600" } as Env, ctx, { clock: systemClock });
    const error = await services.db.execute(sql`select pg_sleep(1)`).catch((e: unknown) => e);
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect((error as { cause?: unknown }).cause).toMatchObject({ deadlineMs: 600 });
    await services.close();
    await waitOnExecutionContext(ctx);
  });
});
