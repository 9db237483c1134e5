import { sql } from "drizzle-orm";
import { boolean, check, doublePrecision, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../users/table.ts";
import { videos } from "../videos/table.ts";

/**
 * "Watched till" per user and video: the Postgres copy of what the user's `ViewerState` Durable
 * Object holds. The object writes it behind, in batches from its alarm, so this table lags the
 * player by at most the flush interval; it feeds the home page's continue-watching row and analytics.
 */
export const watchProgress = pgTable(
  "watch_progress",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    positionSeconds: doublePrecision("position_seconds").notNull(),
    durationSeconds: doublePrecision("duration_seconds"),
    /** Near the end: the title is done, playback restarts at 0 and it leaves continue watching. */
    finished: boolean("finished").notNull().default(false),
    /** When the player reported the position (not when the flush ran): later reports win. */
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
    /**
     * Where the last heartbeat came from (`request.cf.country`, ISO 3166-1 alpha-2; null when the
     * edge did not say): the rows that recommend count "Top 10 in <country>" from it.
     */
    country: text("country"),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.videoId] }),
    // Continue watching: a user's unfinished titles, most recent first.
    index("watch_progress_recent_idx").on(table.userId, table.updatedAt.desc()).where(sql`not ${table.finished}`),
    // The rows that recommend (workers/recommendations/): "Trending now" and "Top 10" read the last
    // day's or week's heartbeats as a range of this index, without visiting the table.
    index("watch_progress_updated_idx").on(table.updatedAt, table.videoId, table.country),
    check("watch_progress_position_check", sql`${table.positionSeconds} >= 0`),
  ],
);

export type WatchProgress = typeof watchProgress.$inferSelect;
