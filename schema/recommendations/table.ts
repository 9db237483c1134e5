import { sql } from "drizzle-orm";
import { boolean, index, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The rows that recommend, as the cron last computed them (workers/recommendations/): one row per
 * kind and subject (`trending` / "", `top10` / a country, `because` / a title, `like` / a title),
 * its titles best first. KV holds the copy the home and title pages read; this table is what makes
 * publishing incremental: a recomputation that changes nothing writes nothing, and only the rows
 * marked `pending` (or whose copy is a day old: its poster URLs are signed by the day) go to KV.
 */
export const recommendedRows = pgTable(
  "recommended_rows",
  {
    kind: text("kind").notNull(),
    subject: text("subject").notNull(),
    videoIds: text("video_ids").array().notNull(),
    computedAt: timestamp("computed_at", { withTimezone: true, precision: 3 }).notNull(),
    /** Changed since KV's copy was written (or its titles were edited): to be published. */
    pending: boolean("pending").notNull().default(true),
    publishedAt: timestamp("published_at", { withTimezone: true, precision: 3 }),
  },
  (table) => [
    primaryKey({ columns: [table.kind, table.subject] }),
    // The publisher's work list: what changed, then copies about to outlive their signed URLs.
    index("recommended_rows_pending_idx").on(table.kind, table.subject).where(sql`${table.pending}`),
    index("recommended_rows_published_idx").on(table.publishedAt),
    // Rows that show a title an admin just edited (`video_ids && array[...]`), to publish again.
    index("recommended_rows_video_ids_idx").using("gin", table.videoIds),
  ],
);

/** When each kind of row was last computed: the cron recomputes a kind once its interval has passed. */
export const recommendationRuns = pgTable("recommendation_runs", {
  kind: text("kind").primaryKey(),
  finishedAt: timestamp("finished_at", { withTimezone: true, precision: 3 }).notNull(),
});

export type RecommendedRow = typeof recommendedRows.$inferSelect;
