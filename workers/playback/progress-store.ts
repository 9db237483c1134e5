import { sql } from "drizzle-orm";
import type { Database } from "../platform/db.ts";
import { withDatabaseTimeout } from "../platform/db-timeout.ts";

/** One position as the user's Durable Object holds it, ready for Postgres. */
export interface ProgressRow {
  videoId: string;
  positionSeconds: number;
  durationSeconds: number | null;
  finished: boolean;
  /** Milliseconds since the epoch, when the player reported it. */
  updatedAt: number;
}

/**
 * Writes a batch of positions in one statement (the write-behind flush of `ViewerState`).
 * Rows for videos (or a user) deleted since are skipped rather than failing the batch, and an
 * older report never overwrites a newer one, so a retried flush is harmless.
 */
export async function writeProgressBatch(db: Database, userId: string, rows: ProgressRow[]): Promise<void> {
  if (rows.length === 0) return;
  const payload = JSON.stringify(
    rows.map((row) => ({
      video_id: row.videoId,
      position_seconds: row.positionSeconds,
      duration_seconds: row.durationSeconds,
      finished: row.finished,
      updated_at: new Date(row.updatedAt).toISOString(),
    })),
  );
  await withDatabaseTimeout(
    db.execute(sql`
      insert into watch_progress (user_id, video_id, position_seconds, duration_seconds, finished, updated_at)
      select u.id, r.video_id, r.position_seconds, r.duration_seconds, r.finished, r.updated_at
      from jsonb_to_recordset(${payload}::jsonb)
        as r(video_id text, position_seconds double precision, duration_seconds double precision, finished boolean, updated_at timestamptz)
      join videos v on v.id = r.video_id
      join users u on u.id = ${userId}
      on conflict (user_id, video_id) do update set
        position_seconds = excluded.position_seconds,
        duration_seconds = excluded.duration_seconds,
        finished = excluded.finished,
        updated_at = excluded.updated_at
      where watch_progress.updated_at < excluded.updated_at`),
    "flush watch progress",
    // An alarm, not a viewer, waits for this: give a cold connection time rather than retrying.
    10_000,
  );
}
