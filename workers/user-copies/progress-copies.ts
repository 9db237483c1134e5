import { sql } from "drizzle-orm";
import type { UserCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import type { Database } from "../platform/db.ts";

/** What a section writer runs on: the batch's transaction. */
export type CopyWriter = Pick<Database, "execute">;

/**
 * The progress sections of a batch of messages into `watch_progress`, in one statement. The
 * newest version of each (user, title) in the batch is kept (one statement may not touch a row
 * twice), rows of users or titles deleted since are skipped, and a row Postgres already holds at
 * that version or newer is left alone: a message delivered twice, or late, writes nothing. Answers
 * how many rows were written.
 */
export async function writeProgressCopies(db: CopyWriter, messages: UserCopiesMessage[]): Promise<number> {
  const newest = new Map<
    string,
    {
      user_id: string;
      video_id: string;
      position_seconds: number;
      duration_seconds: number | null;
      finished: boolean;
      updated_at: number;
      country: string | null;
    }
  >();
  for (const message of messages) {
    for (const row of message.progress ?? []) {
      const key = `${message.userId}\u0000${row.videoId}`;
      const known = newest.get(key);
      if (known && known.updated_at >= row.updatedAt) continue;
      newest.set(key, {
        user_id: message.userId,
        video_id: row.videoId,
        position_seconds: row.positionSeconds,
        duration_seconds: row.durationSeconds,
        finished: row.finished,
        updated_at: row.updatedAt,
        country: row.country ?? null,
      });
    }
  }
  if (newest.size === 0) return 0;
  const payload = JSON.stringify([...newest.values()].map((row) => ({ ...row, updated_at: new Date(row.updated_at).toISOString() })));
  const result = await db.execute(sql`
    insert into watch_progress (user_id, video_id, position_seconds, duration_seconds, finished, updated_at, country)
    select r.user_id, r.video_id, r.position_seconds, r.duration_seconds, r.finished, r.updated_at, r.country
    from jsonb_to_recordset(${payload}::jsonb)
      as r(user_id text, video_id text, position_seconds double precision, duration_seconds double precision, finished boolean, updated_at timestamptz, country text)
    join videos v on v.id = r.video_id
    join users u on u.id = r.user_id
    on conflict (user_id, video_id) do update set
      position_seconds = excluded.position_seconds,
      duration_seconds = excluded.duration_seconds,
      finished = excluded.finished,
      updated_at = excluded.updated_at,
      country = coalesce(excluded.country, watch_progress.country)
    where watch_progress.updated_at < excluded.updated_at`);
  return result.rowCount ?? 0;
}
