import { and, asc, eq, sql } from "drizzle-orm";
import { type Series, seasons, series, type Video, videos } from "../../schema/index.ts";
import { readThroughStamped } from "../platform/cache.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { hasSqlState, SqlState } from "../platform/sql-errors.ts";
import { catalogKeys } from "./cache-keys.ts";
import { isVideoId, newVideoId, toVideoSummary } from "./documents.ts";
import { episodeRows, positionOf } from "./episodes.ts";
import type { AdminSeries, CreateSeriesInput, SeriesDocument, SetEpisodeInput, UpdateSeriesInput } from "./schema.ts";
import { bumpCatalogVersion, catalogReadDbAt, findVideo, notFound, syncCatalogCache } from "./service.ts";

export function seriesNotFound(id: string): ApiError {
  return new ApiError("not-found", `There is no series with id '${id}'.`);
}

export async function findSeries(db: Database, id: string): Promise<Series | undefined> {
  if (!isVideoId(id)) return undefined;
  const [row] = await db.select().from(series).where(eq(series.id, id));
  return row;
}

export async function insertSeries(db: Database, input: CreateSeriesInput): Promise<Series> {
  const [row] = await db
    .insert(series)
    .values({ id: newVideoId(), ...input, genres: input.genres ?? [], maturityRating: input.maturityRating ?? null })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

export async function updateSeriesRow(db: Database, id: string, patch: UpdateSeriesInput): Promise<Series | undefined> {
  if (!isVideoId(id)) return undefined;
  const [row] = await db
    .update(series)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(series.id, id))
    .returning();
  return row;
}

/**
 * After a series edit: a new catalog version (its page is stamped with it), and its listed episodes'
 * documents deleted, since each carries the series' title.
 */
export async function syncSeriesCache(services: Services, seriesId: string): Promise<void> {
  const listed = (await episodeRows(services.db, seriesId)).filter((row) => row.state === "ready");
  const results = await Promise.all([
    bumpCatalogVersion(services),
    ...listed.map((row) => services.cache.delete(catalogKeys.video(row.id))),
  ]);
  if (results.includes(false)) services.log.error("catalog cache not updated after a series edit; stale until expiry", { seriesId });
}

/**
 * Makes a video an episode: episode `episode` of season `season` of a series (the season is created
 * if it has none yet; `seasonTitle` sets its title). Moving an episode is the same call. The slot
 * must be free: another video there is a 409 that names it.
 */
export async function attachEpisode(services: Services, videoId: string, input: SetEpisodeInput): Promise<Video> {
  const { db } = services;
  const [video, target] = await Promise.all([findVideo(db, videoId), findSeries(db, input.seriesId)]);
  if (!video) throw notFound(videoId);
  if (!target) {
    throw new ApiError("validation", `There is no series with id '${input.seriesId}'. Create the series first, then attach its episodes.`, {
      errors: [{ path: "seriesId", message: "No series has this id." }],
    });
  }
  const season = { seriesId: target.id, number: input.season, title: input.seasonTitle ?? null };
  await db
    .insert(seasons)
    .values(season)
    .onConflictDoUpdate({
      target: [seasons.seriesId, seasons.number],
      // Left out, the title is kept; given (or null), it is set.
      set: { title: input.seasonTitle === undefined ? sql`${seasons.title}` : season.title },
    });
  let row: Video | undefined;
  try {
    [row] = await db
      .update(videos)
      .set({ seriesId: target.id, seasonNumber: input.season, episodeNumber: input.episode, updatedAt: sql`now()` })
      .where(eq(videos.id, videoId))
      .returning();
  } catch (error) {
    if (!hasSqlState(error, SqlState.uniqueViolation)) throw error;
    const [holder] = await db
      .select({ id: videos.id, title: videos.title })
      .from(videos)
      .where(and(eq(videos.seriesId, target.id), eq(videos.seasonNumber, input.season), eq(videos.episodeNumber, input.episode)));
    throw new ApiError(
      "conflict",
      `Season ${input.season}, episode ${input.episode} of '${target.title}' is already '${holder?.title ?? "another video"}'${
        holder ? ` (${holder.id})` : ""
      }. Move or detach that episode first, or choose another number.`,
    );
  }
  if (!row) throw notFound(videoId);
  await syncCatalogCache(services, { id: videoId, wasListed: video.state === "ready", now: row, before: positionOf(video) });
  return row;
}

/** Makes an episode a film again (its series and seasons stay). */
export async function detachEpisode(services: Services, videoId: string): Promise<Video> {
  const video = await findVideo(services.db, videoId);
  if (!video) throw notFound(videoId);
  const [row] = await services.db
    .update(videos)
    .set({ seriesId: null, seasonNumber: null, episodeNumber: null, updatedAt: sql`now()` })
    .where(eq(videos.id, videoId))
    .returning();
  if (!row) throw notFound(videoId);
  await syncCatalogCache(services, { id: videoId, wasListed: video.state === "ready", now: row, before: positionOf(video) });
  return row;
}

/** Seasons of a series with their episodes (in order); `rows` are the series' episodes in order. */
function groupBySeason<E>(seasonRows: { number: number; title: string | null }[], rows: Video[], episode: (row: Video) => E) {
  return seasonRows
    .map((season) => ({
      number: season.number,
      title: season.title,
      episodes: rows.filter((row) => row.seasonNumber === season.number).map(episode),
    }))
    .filter((season) => season.episodes.length > 0);
}

async function seasonRowsOf(db: Database, seriesId: string) {
  return db
    .select({ number: seasons.number, title: seasons.title })
    .from(seasons)
    .where(eq(seasons.seriesId, seriesId))
    .orderBy(asc(seasons.number));
}

/** What a series' viewer and admin documents both say of it. */
function seriesFields(row: Series) {
  return { id: row.id, title: row.title, summary: row.summary, genres: row.genres, maturityRating: row.maturityRating };
}

/** The admin view of a series: every episode in any state, with the state. */
export async function adminSeriesDocument(services: Services, row: Series): Promise<AdminSeries> {
  const [seasonRows, episodes] = await Promise.all([seasonRowsOf(services.db, row.id), episodeRows(services.db, row.id)]);
  const first = episodes.find((episode) => episode.state === "ready");
  return {
    ...seriesFields(row),
    posterUrl: first ? (await toVideoSummary(services, first)).posterUrl : null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    seasons: groupBySeason(seasonRows, episodes, (episode) => ({
      id: episode.id,
      title: episode.title,
      number: episode.episodeNumber ?? 0,
      state: episode.state,
    })),
  };
}

async function buildSeriesDocument(services: Services, db: Database, id: string): Promise<SeriesDocument | null> {
  const [row] = await db.select().from(series).where(eq(series.id, id));
  if (!row) return null;
  const [seasonRows, episodes] = await Promise.all([seasonRowsOf(db, id), episodeRows(db, id)]);
  const listed = episodes.filter((episode) => episode.state === "ready");
  if (listed.length === 0) return null;
  const summaries = new Map(
    await Promise.all(listed.map(async (episode) => [episode.id, await toVideoSummary(services, episode)] as const)),
  );
  return {
    ...seriesFields(row),
    posterUrl: summaries.get(listed[0]?.id ?? "")?.posterUrl ?? null,
    seasons: groupBySeason(seasonRows, listed, (episode) => {
      const summary = summaries.get(episode.id);
      if (!summary) throw new Error("episode summary missing");
      return { ...summary, season: episode.seasonNumber ?? 0, number: episode.episodeNumber ?? 0 };
    }),
  };
}

/**
 * A series' page: its seasons and listed episodes, or null when it does not exist or lists no
 * episode yet (viewers only see what they can play). From KV, stamped with the catalog version
 * (the isolate keeps it while that version holds); a miss reads Postgres; Postgres unreachable,
 * its last copy is served marked stale.
 */
export async function getSeriesDocument(services: Services, id: string): Promise<SeriesDocument | null> {
  if (!isVideoId(id)) return null;
  return readThroughStamped(
    services.cache,
    catalogKeys.series(id),
    catalogKeys.version(),
    (version) => buildSeriesDocument(services, catalogReadDbAt(services, version), id),
    { fill: (document) => document !== null },
  );
}
