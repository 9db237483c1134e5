import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { withDatabase } from "../test/catalog.ts";
import { openDatabase } from "./db.ts";
import { DatabaseTimeoutError, withDatabaseTimeout } from "./db-timeout.ts";
import { isDatabaseUnavailable } from "./errors.ts";

describe("withDatabaseTimeout", () => {
  it("gives up on a query that runs past its deadline, as a 'database unavailable' error", async () => {
    const handle = openDatabase(env.DATABASE_URL, env.DATABASE_WS_PROXY);
    const started = Date.now();
    const error = await withDatabaseTimeout(handle.db.execute(sql`select pg_sleep(0.3)`), "slow query", 50).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(250);
    expect(error).toBeInstanceOf(DatabaseTimeoutError);
    expect(String(error)).toMatch(/slow query: no answer from the database within 50 ms/);
    expect(isDatabaseUnavailable(error)).toBe(true);
    // The pool stays usable; closing it once the slow query is over.
    expect((await handle.db.execute(sql`select 1 as one`)).rows).toEqual([{ one: 1 }]);
    await handle.close();
  });

  it("answers a query that finishes in time", async () => {
    const result = await withDatabase((db) => withDatabaseTimeout(db.execute(sql`select 41 + 1 as answer`), "quick query", 2000));
    expect(result.rows).toEqual([{ answer: 42 }]);
  });
});
