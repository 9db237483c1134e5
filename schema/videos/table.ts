import { sql } from "drizzle-orm";
import {
  check,
  doublePrecision,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  smallint,
  text,
  timestamp,
  unique,
} from "drizzle-orm/pg-core";
import { maturityRatings, UNRATED } from "../maturity/ratings.ts";
import { tsvector } from "../search/columns.ts";
import { seasons, series } from "../series/table.ts";

/** A video's life: created by an admin, uploaded, queued, transcoded, then listed; or failed. */
export const videoStates = ["awaiting-upload", "uploading", "queued", "transcoding", "ready", "failed"] as const;
export type VideoState = (typeof videoStates)[number];

/** One HLS rendition produced by the transcoder. Extra fields (paths, widths) may ride along. */
export interface Rendition {
  height: number;
  bitrate: number;
  codec: string;
  [extra: string]: unknown;
}

/**
 * The catalog. Everything a viewer sees is here; media objects live in R2 under the video's id.
 * Columns the upload and transcode pipeline fills (`progress`, `qualityReport`, `renditions`,
 * `error`, poster and storyboard keys, `durationSeconds`) exist from the start so that pipeline
 * only writes them; the search issue adds its own tsvector column and index in its migration.
 */
export const videos = pgTable(
  "videos",
  {
    /** Random and opaque (20 characters of [0-9a-z]): guessing one is hopeless, sharding by it is even. */
    id: text("id").primaryKey(),
    title: text("title").notNull(),
    summary: text("summary").notNull(),
    /** Lower-case, so `?genre=` matches however an admin typed it. */
    genres: text("genres").array().notNull().default(sql`'{}'::text[]`),
    cast: text("cast").array().notNull().default(sql`'{}'::text[]`),
    releaseYear: integer("release_year").notNull(),
    /** One of `maturityRatings`; a title created without one is `18+` (shown to no ceiling below it). */
    maturityRating: text("maturity_rating", { enum: maturityRatings }).notNull().default(UNRATED),
    /**
     * The rating's rank (0 `all` … 4 `18+`), generated from it so the two never disagree: lists, rows
     * and search filter `maturity_rank <= <the profile's ceiling>`.
     */
    maturityRank: smallint("maturity_rank")
      .notNull()
      .generatedAlwaysAs(sql`case maturity_rating when 'all' then 0 when '7+' then 1 when '13+' then 2 when '16+' then 3 else 4 end`),
    durationSeconds: doublePrecision("duration_seconds"),
    state: text("state", { enum: videoStates }).notNull().default("awaiting-upload"),
    /** Pipeline progress of the current state, 0 to 1. */
    progress: real("progress"),
    /** The probe and quality check of the source (codec, size, issues found). */
    qualityReport: jsonb("quality_report").$type<Record<string, unknown>>(),
    renditions: jsonb("renditions").$type<Rendition[]>().notNull().default(sql`'[]'::jsonb`),
    /**
     * The upload that holds the video's one upload slot (a tus upload id, or a `PUT …/source`'s),
     * set when the slot is claimed. Releasing the slot, recording progress and queueing the
     * transcode all name it, so a terminated or expired upload's late step can never free, touch
     * or queue a newer upload of the same video; it also names the master (`masters/{id}/{uploadId}`).
     */
    uploadId: text("upload_id"),
    /** Human-readable reason of a `failed` video ("no video stream"). */
    error: text("error"),
    /** Object names below the video's media prefix, e.g. `poster.jpg`, `storyboard.vtt`. */
    posterKey: text("poster_key"),
    storyboardKey: text("storyboard_key"),
    /**
     * When the video first became `ready`; the catalog's sort key together with `id`. Millisecond
     * precision so that a cursor (a JavaScript Date) names a row exactly, and it never changes once
     * set, so keyset pages neither repeat nor skip while other videos are added, edited or removed.
     */
    publishedAt: timestamp("published_at", { withTimezone: true, precision: 3 }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /**
     * Search document, kept in step with every write by the `videos_search_sync` trigger
     * (migration `search_trigger`): title (weight A) above cast (B) above genres (C) above summary (D).
     */
    searchDocument: tsvector("search_document"),
    /** Title, cast and genres as one lower-case string: the source of `search_words` and of the ranking's word similarity. Trigger-maintained. */
    searchText: text("search_text"),
    /** An episode's series, season and number; all three null for a film (`videos_episode_check`). */
    seriesId: text("series_id").references(() => series.id),
    seasonNumber: integer("season_number"),
    episodeNumber: integer("episode_number"),
  },
  (table) => [
    // The catalog, newest first: `GET /v1/videos` and the home page's rows read only this index.
    index("videos_catalog_idx").on(table.publishedAt.desc(), table.id.desc()).where(sql`${table.state} = 'ready'`),
    // `?genre=` and the home page's genre rows: `genres @> array[$1]` over listed videos.
    index("videos_genres_idx").using("gin", table.genres).where(sql`${table.state} = 'ready'`),
    // Full-text search over listed videos (`@@`). No fast-update pending list: the catalog is
    // written rarely and searched all the time, and every search scans the whole pending list
    // (after 100,000 inserts it took a lookup from 0.7 ms to 7-11 ms); writes update the index.
    index("videos_search_document_idx").using("gin", table.searchDocument).with({ fastupdate: false }).where(sql`${table.state} = 'ready'`),
    // One video per episode slot; it is also the index that lists a series' episodes in order.
    unique("videos_episode_unique").on(table.seriesId, table.seasonNumber, table.episodeNumber),
    // An episode's season exists (attaching creates it). A series or season with episodes cannot be
    // deleted from under them: its episodes are detached first.
    foreignKey({
      columns: [table.seriesId, table.seasonNumber],
      foreignColumns: [seasons.seriesId, seasons.number],
      name: "videos_season_fk",
    }),
    check(
      "videos_episode_check",
      sql`(${table.seriesId} is null and ${table.seasonNumber} is null and ${table.episodeNumber} is null) or (${table.seriesId} is not null and ${table.seasonNumber} is not null and ${table.episodeNumber} between 1 and 9999)`,
    ),
    check("videos_state_check", sql`${table.state} in ('awaiting-upload', 'uploading', 'queued', 'transcoding', 'ready', 'failed')`),
    check("videos_ready_published_check", sql`${table.state} <> 'ready' or ${table.publishedAt} is not null`),
    check("videos_maturity_rating_check", sql`${table.maturityRating} in ('all', '7+', '13+', '16+', '18+')`),
    check("videos_progress_check", sql`${table.progress} is null or (${table.progress} >= 0 and ${table.progress} <= 1)`),
  ],
);

export type Video = typeof videos.$inferSelect;
export type NewVideo = typeof videos.$inferInsert;
