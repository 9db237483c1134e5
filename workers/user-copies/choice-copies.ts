import { sql } from "drizzle-orm";
import type { UserCopiesMessage } from "../../durable-objects/viewer-state/user-copies.ts";
import type { CopyWriter } from "./progress-copies.ts";

/** The newest version of each (profile, title) among the messages' rows (one statement may not touch a row twice). */
function newestPerTitle<T extends { profileId: string; videoId: string; updatedAt: number }>(
  messages: UserCopiesMessage[],
  rowsOf: (message: UserCopiesMessage) => T[] | undefined,
): (T & { userId: string })[] {
  const newest = new Map<string, T & { userId: string }>();
  for (const message of messages) {
    for (const row of rowsOf(message) ?? []) {
      const key = `${row.profileId}\u0000${row.videoId}`;
      const known = newest.get(key);
      if (!known || known.updatedAt < row.updatedAt) newest.set(key, { ...row, userId: message.userId });
    }
  }
  return [...newest.values()];
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Deletes the (profile, title) rows of `table` that hold a version older than the one taken back:
 * a row Postgres already has at that version or newer (a later add or thumb) stays.
 */
async function deleteOlder(
  db: CopyWriter,
  table: "my_list" | "video_ratings",
  rows: { profileId: string; videoId: string; updatedAt: number }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  const payload = JSON.stringify(rows.map((row) => ({ profile_id: row.profileId, video_id: row.videoId, updated_at: iso(row.updatedAt) })));
  const result = await db.execute(sql`
    delete from ${sql.identifier(table)} t using jsonb_to_recordset(${payload}::jsonb) as r(profile_id text, video_id text, updated_at timestamptz)
    where t.profile_id = r.profile_id and t.video_id = r.video_id and t.updated_at < r.updated_at`);
  return result.rowCount ?? 0;
}

/**
 * The My List sections of a batch into `my_list`: titles on a list are upserted, titles taken off
 * are deleted; either only over an older version, so a message delivered twice or late writes
 * nothing. Rows of users or titles deleted since are skipped. Answers how many rows were written.
 */
export async function writeMyListCopies(db: CopyWriter, messages: UserCopiesMessage[]): Promise<number> {
  const rows = newestPerTitle(messages, (message) => message.myList);
  const listed = rows.filter((row) => row.listed);
  const removed = rows.filter((row) => !row.listed);
  let written = 0;
  if (listed.length > 0) {
    const payload = JSON.stringify(
      listed.map((row) => ({
        profile_id: row.profileId,
        user_id: row.userId,
        video_id: row.videoId,
        added_at: iso(row.addedAt),
        updated_at: iso(row.updatedAt),
      })),
    );
    const result = await db.execute(sql`
      insert into my_list (profile_id, user_id, video_id, added_at, updated_at)
      select r.profile_id, r.user_id, r.video_id, r.added_at, r.updated_at
      from jsonb_to_recordset(${payload}::jsonb)
        as r(profile_id text, user_id text, video_id text, added_at timestamptz, updated_at timestamptz)
      join videos v on v.id = r.video_id
      join users u on u.id = r.user_id
      on conflict (profile_id, video_id) do update set added_at = excluded.added_at, updated_at = excluded.updated_at
      where my_list.updated_at < excluded.updated_at`);
    written += result.rowCount ?? 0;
  }
  return written + (await deleteOlder(db, "my_list", removed));
}

/** The ratings sections of a batch into `video_ratings`, the same way: thumbs upserted, ratings taken back deleted. */
export async function writeRatingCopies(db: CopyWriter, messages: UserCopiesMessage[]): Promise<number> {
  const rows = newestPerTitle(messages, (message) => message.ratings);
  const given = rows.filter((row) => row.rating !== 0);
  const cleared = rows.filter((row) => row.rating === 0);
  let written = 0;
  if (given.length > 0) {
    const payload = JSON.stringify(
      given.map((row) => ({
        profile_id: row.profileId,
        user_id: row.userId,
        video_id: row.videoId,
        rating: row.rating,
        updated_at: iso(row.updatedAt),
      })),
    );
    const result = await db.execute(sql`
      insert into video_ratings (profile_id, user_id, video_id, rating, updated_at)
      select r.profile_id, r.user_id, r.video_id, r.rating, r.updated_at
      from jsonb_to_recordset(${payload}::jsonb)
        as r(profile_id text, user_id text, video_id text, rating smallint, updated_at timestamptz)
      join videos v on v.id = r.video_id
      join users u on u.id = r.user_id
      on conflict (profile_id, video_id) do update set rating = excluded.rating, updated_at = excluded.updated_at
      where video_ratings.updated_at < excluded.updated_at`);
    written += result.rowCount ?? 0;
  }
  return written + (await deleteOlder(db, "video_ratings", cleared));
}
