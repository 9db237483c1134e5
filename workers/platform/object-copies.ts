import { type AnyColumn, type SQL, sql } from "drizzle-orm";
import type { Services } from "./services.ts";

/*
 * Rows Postgres records and the user's `ViewerState` holds a copy of (the account, the
 * subscription): each has `updated_at`, bumped by every change, and `copied_at`, the `updated_at`
 * the object holds. The owning service pushes after its own changes; the cron copies every row
 * whose `copied_at` is behind, so a push that failed or a writer that pushes nothing (a script)
 * reaches the object within a minute.
 */

/** How many rows of one kind one cron run copies at most (the rest wait for the next minute). */
export const COPY_BATCH = 200;

/**
 * A row's version: its `updated_at` in whole milliseconds, as SQL computes it, so that reading a
 * version and marking it copied compare like with like (a JS Date holds milliseconds, Postgres
 * microseconds).
 */
export function copyVersion(updatedAt: AnyColumn): SQL<number> {
  return sql<number>`floor(extract(epoch from ${updatedAt}) * 1000)::float8`;
}

/** The rows whose copy is behind. */
export function copyBehind(copiedAt: AnyColumn, updatedAt: AnyColumn): SQL {
  return sql`${copiedAt} is distinct from ${updatedAt}`;
}

/**
 * Copies each row (its push to the object, then its mark), each on its own: one object that fails
 * does not hold up the others, and stays behind for the next run. Answers how many were copied.
 */
export async function copyEach<Row>(services: Services, what: string, rows: Row[], copy: (row: Row) => Promise<void>): Promise<number> {
  const results = await Promise.allSettled(rows.map(copy));
  const failed = results.filter((result) => result.status === "rejected").length;
  if (failed > 0) services.log.warn(`${what}: some copies did not reach their users' objects; the next run retries them`, { failed });
  return rows.length - failed;
}
