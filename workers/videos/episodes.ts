import { and, asc, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { series, type Video, videos } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import type { Services } from "../platform/services.ts";
import { previewUrl } from "./documents.ts";
import type { EpisodeOf } from "./schema.ts";

/** Where an episode sits: its series, season and number. */
export interface EpisodePosition {
  seriesId: string;
  season: number;
  episode: number;
}

/** A video's place in a series, or null for a film. */
export function positionOf(row: Pick<Video, "seriesId" | "seasonNumber" | "episodeNumber">): EpisodePosition | null {
  if (row.seriesId === null || row.seasonNumber === null || row.episodeNumber === null) return null;
  return { seriesId: row.seriesId, season: row.seasonNumber, episode: row.episodeNumber };
}

const listedEpisode = (seriesId: string) => and(eq(videos.seriesId, seriesId), eq(videos.state, "ready"));
const slot = sql`(${videos.seasonNumber}, ${videos.episodeNumber})`;

/**
 * The `episode` member of the documents of `rows` that are episodes: series title and the next listed
 * episode (across seasons), which the player's autoplay plays without a query. One query for the
 * series' titles and one per episode for its successor (each a read of `videos_episode_unique`); a
 * film costs none.
 */
export async function episodesOf(
  services: Pick<Services, "config" | "clock">,
  db: Database,
  rows: Video[],
): Promise<Map<string, EpisodeOf>> {
  const episodes = rows.flatMap((row) => {
    const position = positionOf(row);
    return position ? [{ row, position }] : [];
  });
  const result = new Map<string, EpisodeOf>();
  if (episodes.length === 0) return result;
  const seriesIds = [...new Set(episodes.map((episode) => episode.position.seriesId))];
  const titles = new Map(
    (await db.select({ id: series.id, title: series.title }).from(series).where(inArray(series.id, seriesIds))).map((s) => [s.id, s.title]),
  );
  await Promise.all(
    episodes.map(async ({ row, position }) => {
      const [next] = await db
        .select()
        .from(videos)
        .where(and(listedEpisode(position.seriesId), sql`${slot} > (${position.season}, ${position.episode})`))
        .orderBy(asc(videos.seasonNumber), asc(videos.episodeNumber))
        .limit(1);
      result.set(row.id, {
        seriesId: position.seriesId,
        seriesTitle: titles.get(position.seriesId) ?? "",
        season: position.season,
        number: position.episode,
        next:
          next?.seasonNumber != null && next.episodeNumber != null
            ? {
                id: next.id,
                title: next.title,
                season: next.seasonNumber,
                number: next.episodeNumber,
                durationSeconds: next.durationSeconds,
                posterUrl: await previewUrl(services, next.id, next.posterKey),
              }
            : null,
      });
    }),
  );
  return result;
}

/** The listed episode just before `position`: the one whose `next` a change at `position` moves. */
export async function previousListedEpisode(db: Database, position: EpisodePosition): Promise<string | undefined> {
  const [row] = await db
    .select({ id: videos.id })
    .from(videos)
    .where(and(listedEpisode(position.seriesId), sql`${slot} < (${position.season}, ${position.episode})`))
    .orderBy(desc(videos.seasonNumber), desc(videos.episodeNumber))
    .limit(1);
  return row?.id;
}

/** Every episode of a series, listed or not, in order. */
export async function episodeRows(db: Database, seriesId: string): Promise<Video[]> {
  return db
    .select()
    .from(videos)
    .where(and(eq(videos.seriesId, seriesId), isNotNull(videos.episodeNumber)))
    .orderBy(asc(videos.seasonNumber), asc(videos.episodeNumber));
}
