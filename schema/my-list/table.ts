import { index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { users } from "../users/table.ts";
import { videos } from "../videos/table.ts";

/**
 * The titles on each profile's My List: the Postgres copy of what the user's `ViewerState` holds,
 * written behind through the user-copies queue (so it lags the viewer by at most a flush). Nothing
 * on the viewer's path reads it (the home row is a KV copy); it is for analytics and the rows
 * that recommend. A title taken off the list is deleted.
 */
export const myList = pgTable(
  "my_list",
  {
    /** The profile (a user's first profile has the user's id). */
    profileId: text("profile_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    addedAt: timestamp("added_at", { withTimezone: true, precision: 3 }).notNull(),
    /** The object's version of the row: a copy delivered late never overwrites a newer one. */
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.profileId, table.videoId] }),
    // "How many lists hold this title" for analytics and the rows, without a scan.
    index("my_list_video_idx").on(table.videoId),
    // The user's rows, for the account's deletion and per-user exports.
    index("my_list_user_idx").on(table.userId),
  ],
);

export type MyListRow = typeof myList.$inferSelect;
