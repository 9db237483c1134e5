import { and, eq, inArray, sql } from "drizzle-orm";
import { type Video, videos } from "../../schema/index.ts";
import type { Services } from "../platform/services.ts";
import { toVideoSummary, type VideoSummary } from "../videos/index.ts";
import { type RowKind, recommendedRowEntry } from "./cache-keys.ts";

/** Rows read and written per round; a cron run publishes at most `PUBLISH_MAX_ROWS`, the rest waits for the next minute. */
const PUBLISH_BATCH = 100;
/** KV writes per cron run, well inside a Worker invocation's subrequest limit (1,000 on the free plan). */
export const PUBLISH_MAX_ROWS = 600;
/** A copy is rewritten after this long even if its titles did not change: its poster URLs are signed by the day. */
const REPUBLISH_AFTER_MS = 20 * 3_600_000;
/** KV writes in flight at once. */
const WRITE_CONCURRENCY = 20;

interface PendingRow {
  kind: RowKind;
  subject: string;
  video_ids: string[];
  computed_at: string;
  [key: string]: unknown;
}

/**
 * Marks for publishing the rows that show a title edited since `since` (its title, poster or
 * summary changed: KV's copy carries them). One statement, through the GIN index on `video_ids`.
 */
export async function markRowsOfEditedTitles(services: Services, since: Date): Promise<number> {
  const result = await services.db.execute(sql`
    update recommended_rows set pending = true
    where not pending and video_ids && (select coalesce(array_agg(id), '{}') from videos where updated_at > ${since.toISOString()}::timestamptz)`);
  return result.rowCount ?? 0;
}

/**
 * Copies the rows that changed (and those about to outlive their signed URLs) from
 * `recommended_rows` to KV, with their titles' summaries: a round reads a batch, the titles of the
 * whole batch in one query, writes the copies (an emptied row's copy is deleted), and marks the
 * batch published unless it was recomputed meanwhile. Answers how many rows were published and
 * whether some are left for the next run.
 */
export async function publishRows(services: Services, now: Date): Promise<{ published: number; more: boolean }> {
  const { db } = services;
  const stale = new Date(now.getTime() - REPUBLISH_AFTER_MS).toISOString();
  let published = 0;
  while (published < PUBLISH_MAX_ROWS) {
    const batch = await db.execute<PendingRow>(sql`
      select kind, subject, video_ids, computed_at::text as computed_at from recommended_rows
      where pending or published_at < ${stale}::timestamptz
      order by pending desc, published_at nulls first
      limit ${PUBLISH_BATCH}`);
    const rows = batch.rows;
    if (rows.length === 0) return { published, more: false };
    const summaries = await summariesOf(
      services,
      rows.flatMap((row) => row.video_ids),
    );
    const written: PendingRow[] = [];
    for (let i = 0; i < rows.length; i += WRITE_CONCURRENCY) {
      const part = rows.slice(i, i + WRITE_CONCURRENCY);
      const outcomes = await Promise.all(part.map((row) => writeCopy(services, row, summaries, now)));
      part.forEach((row, j) => {
        if (outcomes[j]) written.push(row);
      });
    }
    if (written.length > 0) {
      const payload = JSON.stringify(written.map(({ kind, subject, computed_at }) => ({ kind, subject, computed_at })));
      // An emptied row whose copy is gone is forgotten; the others are marked published, unless recomputed since they were read.
      await db.execute(sql`
        with done as (select * from jsonb_to_recordset(${payload}::jsonb) as d(kind text, subject text, computed_at timestamptz)),
        forgotten as (
          delete from recommended_rows r using done
          where r.kind = done.kind and r.subject = done.subject and r.computed_at = done.computed_at and cardinality(r.video_ids) = 0
        )
        update recommended_rows r set pending = false, published_at = ${now.toISOString()}::timestamptz
        from done
        where r.kind = done.kind and r.subject = done.subject and r.computed_at = done.computed_at and cardinality(r.video_ids) > 0`);
    }
    published += written.length;
    // KV refused every write of the round: try again next run rather than spin.
    if (written.length < rows.length) return { published, more: true };
  }
  return { published, more: true };
}

/** The listed titles among `ids` as summaries, in one query. */
async function summariesOf(services: Services, ids: string[]): Promise<Map<string, VideoSummary>> {
  const unique = [...new Set(ids)];
  const found = new Map<string, VideoSummary>();
  if (unique.length === 0) return found;
  const rows: Video[] = await services.db
    .select()
    .from(videos)
    .where(and(inArray(videos.id, unique), eq(videos.state, "ready")));
  for (const row of rows) found.set(row.id, await toVideoSummary(services, row));
  return found;
}

/** Writes (or, for an emptied row, deletes) one row's KV copy; false when KV refused it. */
function writeCopy(services: Services, row: PendingRow, summaries: Map<string, VideoSummary>, now: Date): Promise<boolean> {
  const entry = recommendedRowEntry(row.kind, row.subject);
  const items = row.video_ids.flatMap((id) => summaries.get(id) ?? []);
  if (items.length === 0) return services.cache.delete(entry);
  return services.cache.put(entry, { items, builtAt: now.getTime() }, { retryIfRateLimited: false });
}
