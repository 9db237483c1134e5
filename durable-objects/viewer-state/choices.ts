import type { MyListCopy, RatingCopy, UserCopiesAck } from "./user-copies.ts";
import { MAX_ROWS_PER_SECTION } from "./user-copies.ts";

/**
 * A viewer's choices, per profile: the titles on My List and the thumbs given to titles. Held in
 * the user's `ViewerState` (SQLite) like progress, and written behind to Postgres the same way:
 * a row is `dirty` until Postgres acknowledges the version (`updated_at`) it holds. A removal or a
 * cleared rating stays as a row (`listed = 0`, `rating = 0`) until Postgres has it, then is purged.
 */

/** A thumb: up (1), down (-1), or none (0: the rating was taken back). */
export type Rating = 1 | -1 | 0;

export interface MyListEntry {
  videoId: string;
  /** Milliseconds since the epoch. */
  addedAt: number;
}

/** What adding a title to My List did. */
export type AddToMyListResult =
  | { outcome: "added" | "already-listed"; entries: MyListEntry[] }
  /** The profile's list holds `max` titles already: nothing was added. */
  | { outcome: "full"; max: number };

export class ViewerChoices {
  constructor(private readonly sql: SqlStorage) {}

  createTables(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS my_list (
      profile_id TEXT NOT NULL, video_id TEXT NOT NULL, listed INTEGER NOT NULL, added_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL, PRIMARY KEY (profile_id, video_id))`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS ratings (
      profile_id TEXT NOT NULL, video_id TEXT NOT NULL, rating INTEGER NOT NULL,
      updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL, PRIMARY KEY (profile_id, video_id))`);
  }

  /** The profile's list, most recently added first. */
  myList(profileId: string): MyListEntry[] {
    return this.sql
      .exec<{ video_id: string; added_at: number }>(
        "SELECT video_id, added_at FROM my_list WHERE profile_id = ? AND listed = 1 ORDER BY added_at DESC, video_id",
        profileId,
      )
      .toArray()
      .map((row) => ({ videoId: row.video_id, addedAt: row.added_at }));
  }

  /** Adds `videoId` to the profile's list unless it holds `max` titles; adding a listed title again changes nothing. */
  add(profileId: string, videoId: string, max: number, now: number): AddToMyListResult {
    const before = this.myList(profileId);
    if (before.some((entry) => entry.videoId === videoId)) return { outcome: "already-listed", entries: before };
    if (before.length >= max) return { outcome: "full", max };
    this.sql.exec(
      `INSERT INTO my_list (profile_id, video_id, listed, added_at, updated_at, dirty) VALUES (?, ?, 1, ?, ?, 1)
       ON CONFLICT (profile_id, video_id) DO UPDATE SET listed = 1, added_at = excluded.added_at,
         updated_at = max(excluded.updated_at, my_list.updated_at + 1), dirty = 1`,
      profileId,
      videoId,
      now,
      now,
    );
    return { outcome: "added", entries: this.myList(profileId) };
  }

  /** Takes `videoId` off the profile's list; answers whether it was on it, and the list after. */
  remove(profileId: string, videoId: string, now: number): { removed: boolean; entries: MyListEntry[] } {
    const removed =
      this.sql.exec(
        `UPDATE my_list SET listed = 0, updated_at = max(?, updated_at + 1), dirty = 1
         WHERE profile_id = ? AND video_id = ? AND listed = 1`,
        now,
        profileId,
        videoId,
      ).rowsWritten > 0;
    return { removed, entries: this.myList(profileId) };
  }

  rating(profileId: string, videoId: string): Rating {
    const row = this.sql
      .exec<{ rating: number }>("SELECT rating FROM ratings WHERE profile_id = ? AND video_id = ?", profileId, videoId)
      .toArray()[0];
    return (row?.rating ?? 0) as Rating;
  }

  inMyList(profileId: string, videoId: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM my_list WHERE profile_id = ? AND video_id = ? AND listed = 1", profileId, videoId).toArray().length > 0
    );
  }

  /** Sets the profile's thumb on `videoId` (0 takes it back); answers whether it changed (setting the rating it has does nothing). */
  rate(profileId: string, videoId: string, rating: Rating, now: number): boolean {
    if (this.rating(profileId, videoId) === rating) return false;
    this.sql.exec(
      `INSERT INTO ratings (profile_id, video_id, rating, updated_at, dirty) VALUES (?, ?, ?, ?, 1)
       ON CONFLICT (profile_id, video_id) DO UPDATE SET rating = excluded.rating,
         updated_at = max(excluded.updated_at, ratings.updated_at + 1), dirty = 1`,
      profileId,
      videoId,
      rating,
      now,
    );
    return true;
  }

  hasUnacknowledged(): boolean {
    return (
      this.sql.exec("SELECT 1 FROM my_list WHERE dirty = 1 UNION ALL SELECT 1 FROM ratings WHERE dirty = 1 LIMIT 1").toArray().length > 0
    );
  }

  dirtyRows(): number {
    return this.sql
      .exec<{ n: number }>("SELECT (SELECT count(*) FROM my_list WHERE dirty = 1) + (SELECT count(*) FROM ratings WHERE dirty = 1) AS n")
      .one().n;
  }

  /** The rows Postgres has not acknowledged, oldest first, at most a message's worth of each. */
  unacknowledged(): { myList: MyListCopy[]; ratings: RatingCopy[] } {
    const myList = this.sql
      .exec<{ profile_id: string; video_id: string; listed: number; added_at: number; updated_at: number }>(
        "SELECT profile_id, video_id, listed, added_at, updated_at FROM my_list WHERE dirty = 1 ORDER BY updated_at LIMIT ?",
        MAX_ROWS_PER_SECTION,
      )
      .toArray()
      .map((row) => ({
        profileId: row.profile_id,
        videoId: row.video_id,
        listed: row.listed === 1,
        addedAt: row.added_at,
        updatedAt: row.updated_at,
      }));
    const ratings = this.sql
      .exec<{ profile_id: string; video_id: string; rating: number; updated_at: number }>(
        "SELECT profile_id, video_id, rating, updated_at FROM ratings WHERE dirty = 1 ORDER BY updated_at LIMIT ?",
        MAX_ROWS_PER_SECTION,
      )
      .toArray()
      .map((row) => ({ profileId: row.profile_id, videoId: row.video_id, rating: row.rating as Rating, updatedAt: row.updated_at }));
    return { myList, ratings };
  }

  /**
   * Forgets the rows Postgres now holds, each only at the version written; removals and cleared
   * ratings Postgres has are purged. Answers how many rows were acknowledged.
   */
  acknowledge(ack: UserCopiesAck): number {
    let forgotten = 0;
    for (const row of ack.myList ?? []) {
      forgotten += this.sql.exec(
        "UPDATE my_list SET dirty = 0 WHERE profile_id = ? AND video_id = ? AND updated_at = ? AND dirty = 1",
        row.profileId,
        row.videoId,
        row.updatedAt,
      ).rowsWritten;
    }
    for (const row of ack.ratings ?? []) {
      forgotten += this.sql.exec(
        "UPDATE ratings SET dirty = 0 WHERE profile_id = ? AND video_id = ? AND updated_at = ? AND dirty = 1",
        row.profileId,
        row.videoId,
        row.updatedAt,
      ).rowsWritten;
    }
    this.sql.exec("DELETE FROM my_list WHERE listed = 0 AND dirty = 0");
    this.sql.exec("DELETE FROM ratings WHERE rating = 0 AND dirty = 0");
    return forgotten;
  }
}
