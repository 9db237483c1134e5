import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { maturityRatings } from "../maturity/ratings.ts";
import { tsvector } from "../search/columns.ts";

/**
 * A series: what its episodes share (title, summary, genres, rating). Its episodes are videos
 * (`videos.series_id`, `season_number`, `episode_number`), so each keeps its own upload, transcode,
 * state and progress, and everything that plays a video plays an episode unchanged.
 */
export const series = pgTable(
  "series",
  {
    /** Random and opaque like a video's id (20 characters of [0-9a-z]). */
    id: text("id").primaryKey(),
    title: text("title").notNull(),
    summary: text("summary").notNull(),
    /** Lower-case, like videos' genres. */
    genres: text("genres").array().notNull().default(sql`'{}'::text[]`),
    /** One of `maturityRatings`, or none: each episode carries its own, which is what a profile's ceiling is checked against. */
    maturityRating: text("maturity_rating", { enum: maturityRatings }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** Search: the title (A) above the summary (D), the weights of the videos' document. */
    searchDocument: tsvector("search_document")
      .notNull()
      .generatedAlwaysAs(
        sql`setweight(to_tsvector('english', coalesce(title, '')), 'A') || setweight(to_tsvector('english', coalesce(summary, '')), 'D')`,
      ),
  },
  (table) => [
    // Search's series matches (`@@`); series are few and rarely written, so no pending list.
    index("series_search_document_idx").using("gin", table.searchDocument).with({ fastupdate: false }),
    check(
      "series_maturity_rating_check",
      sql`${table.maturityRating} is null or ${table.maturityRating} in ('all', '7+', '13+', '16+', '18+')`,
    ),
  ],
);

/**
 * A season of a series: its number and an optional title ("Book One: Water"). A season exists once
 * an episode is attached to it; an episode's `(series_id, season_number)` references it, so a season
 * cannot be removed from under its episodes.
 */
export const seasons = pgTable(
  "seasons",
  {
    seriesId: text("series_id")
      .notNull()
      .references(() => series.id, { onDelete: "cascade" }),
    number: integer("number").notNull(),
    title: text("title"),
  },
  (table) => [
    primaryKey({ columns: [table.seriesId, table.number] }),
    check("seasons_number_check", sql`${table.number} between 1 and 999`),
  ],
);

export type Series = typeof series.$inferSelect;
export type Season = typeof seasons.$inferSelect;
