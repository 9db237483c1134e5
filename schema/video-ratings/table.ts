import { sql } from "drizzle-orm";
import { check, index, pgTable, primaryKey, smallint, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../users/table.ts";
import { videos } from "../videos/table.ts";

/**
 * Each profile's thumb on a title: 1 up, -1 down (a rating taken back is deleted). The Postgres
 * copy of the user's `ViewerState`, written behind through the user-copies queue like `my_list`;
 * the rows that recommend read it.
 */
export const videoRatings = pgTable(
  "video_ratings",
  {
    profileId: text("profile_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    rating: smallint("rating").notNull(),
    /** The object's version of the row: a copy delivered late never overwrites a newer one. */
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.profileId, table.videoId] }),
    // The rows that recommend aggregate thumbs per title.
    index("video_ratings_video_idx").on(table.videoId, table.rating),
    index("video_ratings_user_idx").on(table.userId),
    check("video_ratings_rating_check", sql`${table.rating} in (1, -1)`),
  ],
);

export type VideoRating = typeof videoRatings.$inferSelect;
