import { sql } from "drizzle-orm";
import type { Services } from "../platform/services.ts";
import { type RowKind, rowKinds } from "./cache-keys.ts";
import { recomputeRows } from "./compute.ts";
import { markRowsOfEditedTitles, publishRows } from "./publish.ts";

/**
 * How often each kind is recomputed. The cron runs every minute; the rows from the last day's and
 * week's views follow them within minutes, the rows built over every title (co-watching, likeness)
 * hourly: they move slowly, and each pass reads the whole of `watch_progress` or of the catalog.
 */
export const RECOMPUTE_INTERVAL_MS: Record<RowKind, number> = {
  trending: 5 * 60_000,
  top10: 5 * 60_000,
  because: 60 * 60_000,
  like: 60 * 60_000,
};

/** A cron run's bookkeeping row for title edits (`recommendation_runs`), beside the kinds'. */
const EDITS_RUN = "edits";

/**
 * The cron's task `recommended-rows`: recomputes each kind of row whose interval has passed (one
 * statement each, into `recommended_rows`), marks the rows that show a title edited since the last
 * run, then publishes what changed to KV. Rows are never computed on a viewer's request.
 */
export async function refreshRecommendedRows(services: Services): Promise<void> {
  const { db, log } = services;
  const now = new Date(services.clock.now());
  const runs = await db.execute<{ kind: string; finished_at: string }>(
    sql`select kind, finished_at::text as finished_at from recommendation_runs`,
  );
  const lastRun = new Map(runs.rows.map((row) => [row.kind, Date.parse(row.finished_at)]));
  for (const kind of rowKinds) {
    // Claimed before it starts: a recomputation can outlast the minute between cron runs
    // (bench:rows), and the next run must not start the same one beside it.
    const dueBefore = new Date(now.getTime() - RECOMPUTE_INTERVAL_MS[kind]).toISOString();
    const claimed = await db.execute(sql`
      insert into recommendation_runs (kind, finished_at) values (${kind}, ${now.toISOString()}::timestamptz)
      on conflict (kind) do update set finished_at = excluded.finished_at
      where recommendation_runs.finished_at <= ${dueBefore}::timestamptz
      returning kind`);
    if (claimed.rows.length === 0) continue;
    const started = Date.now();
    const changed = await recomputeRows(db, kind, now);
    log.info("recommended rows recomputed", { kind, changed, ms: Date.now() - started });
  }
  const editsSince = lastRun.get(EDITS_RUN);
  if (editsSince !== undefined) await markRowsOfEditedTitles(services, new Date(editsSince));
  // Edits are stamped by the database's clock (`videos.updated_at`), so this run is too.
  await db.execute(sql`
    insert into recommendation_runs (kind, finished_at) values (${EDITS_RUN}, now())
    on conflict (kind) do update set finished_at = excluded.finished_at`);
  const { published, more } = await publishRows(services, now);
  if (published > 0 || more) log.info("recommended rows published to KV", { published, more });
}
