import { and, arrayContains, desc, eq, inArray, lte, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type MaturityRank, maturityRank, NO_CEILING, type Rendition, type Video, type VideoState, videos } from "../../schema/index.ts";
import type { AuthContext } from "../platform/app-env.ts";
import { type CacheEntry, readThrough, readThroughStamped } from "../platform/cache.ts";
import { cursorCodec } from "../platform/cursor.ts";
import type { Database } from "../platform/db.ts";
import { isDatabaseUnavailable } from "../platform/describe-error.ts";
import { ApiError } from "../platform/errors.ts";
import { retireVideoMasters } from "../platform/master-retention.ts";
import { masterPlaylistKey, mediaPrefix } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { catalogKeys } from "./cache-keys.ts";
import { isVideoId, newVideoId, toAdminVideo, toVideoDocument, toVideoSummary } from "./documents.ts";
import { type EpisodePosition, episodesOf, positionOf, previousListedEpisode } from "./episodes.ts";
import type {
  AdminVideo,
  CreateVideoInput,
  EpisodeOf,
  HomeRow,
  TranscodeStatus,
  UpdateVideoInput,
  VideoDocument,
  VideoPage,
  VideoSummary,
} from "./schema.ts";
import { transitionVideo } from "./transitions.ts";

// ---------------------------------------------------------------------------------------------
// Postgres

/** Rows the catalog lists: `ready` only, newest first, in the order of `videos_catalog_idx`. */
const listed = eq(videos.state, "ready");
const catalogOrder = [sql`${videos.publishedAt} desc nulls last`, sql`${videos.id} desc nulls last`];

export function notFound(id: string): ApiError {
  return new ApiError("not-found", `There is no video with id '${id}'.`);
}

export async function findVideo(db: Database, id: string): Promise<Video | undefined> {
  if (!isVideoId(id)) return undefined;
  const [row] = await db.select().from(videos).where(eq(videos.id, id));
  return row;
}

export async function insertVideo(db: Database, input: CreateVideoInput): Promise<Video> {
  const [row] = await db
    .insert(videos)
    .values({ id: newVideoId(), ...input, cast: input.cast ?? [] })
    .returning();
  if (!row) throw new Error("insert returned no row");
  return row;
}

export async function updateVideoRow(db: Database, id: string, patch: UpdateVideoInput): Promise<Video | undefined> {
  if (!isVideoId(id)) return undefined;
  const [row] = await db
    .update(videos)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(videos.id, id))
    .returning();
  return row;
}

export async function deleteVideoRow(db: Database, id: string): Promise<Video | undefined> {
  if (!isVideoId(id)) return undefined;
  const [row] = await db.delete(videos).where(eq(videos.id, id)).returning();
  return row;
}

/** What the transcoder reports when a video is playable. */
export interface PublishedMedia {
  durationSeconds: number;
  renditions: Rendition[];
  posterKey?: string | null;
  storyboardKey?: string | null;
  qualityReport?: Record<string, unknown> | null;
}

/**
 * Marks a video `ready` and lists it (the transcode pipeline calls this, then `syncCatalogCache`).
 * `publishedAt` is set the first time only: it is the catalog's sort key, and keeping it is what
 * lets pages in flight neither repeat nor skip the video. With `onlyFrom`, a video in another
 * state is left alone (undefined is returned): a late or duplicate job cannot undo a newer change.
 */
export async function markVideoReady(
  db: Pick<Database, "update">,
  id: string,
  media: PublishedMedia,
  options: { onlyFrom?: VideoState[] } = {},
): Promise<Video | undefined> {
  return transitionVideo(db, id, {
    to: "ready",
    from: options.onlyFrom,
    set: {
      progress: 1,
      error: null,
      durationSeconds: media.durationSeconds,
      renditions: media.renditions,
      posterKey: media.posterKey ?? null,
      storyboardKey: media.storyboardKey ?? null,
      ...(media.qualityReport !== undefined ? { qualityReport: media.qualityReport } : {}),
      publishedAt: sql`coalesce(${videos.publishedAt}, now())`,
    },
  });
}

interface CatalogPosition {
  publishedAt: string;
  id: string;
}

/** Titles a profile with this ceiling may see; no condition for a profile without one (the plan stays the catalog index's). */
function withinCeiling(ceiling: MaturityRank): SQL | undefined {
  return ceiling >= NO_CEILING ? undefined : lte(videos.maturityRank, ceiling);
}

async function listReadyVideos(
  db: Database,
  query: { limit: number; genre?: string; after?: CatalogPosition; ceiling: MaturityRank },
): Promise<Video[]> {
  const { limit, genre, after } = query;
  return db
    .select()
    .from(videos)
    .where(
      and(
        listed,
        withinCeiling(query.ceiling),
        genre ? arrayContains(videos.genres, [genre]) : undefined,
        // Keyset: strictly after the last row of the previous page, in (publishedAt, id) order.
        after ? sql`(${videos.publishedAt}, ${videos.id}) < (${after.publishedAt}::timestamptz, ${after.id})` : undefined,
      ),
    )
    .orderBy(...catalogOrder)
    .limit(limit);
}

/** Every genre of a listed video, in order. */
async function listedGenres(db: Database): Promise<string[]> {
  const genre = sql<string>`genre`;
  const rows = await db.selectDistinct({ genre }).from(sql`${videos}, unnest(${videos.genres}) as genre`).where(listed).orderBy(genre);
  return rows.map((row) => row.genre);
}

/** The genres with the most listed videos a profile with this ceiling may see, most first. */
async function topGenres(db: Database, count: number, ceiling: MaturityRank): Promise<string[]> {
  const genre = sql<string>`genre`;
  const rows = await db
    .select({ genre })
    .from(sql`${videos}, unnest(${videos.genres}) as genre`)
    .where(and(listed, withinCeiling(ceiling)))
    .groupBy(genre)
    .orderBy(desc(sql`count(*)`), genre)
    .limit(count);
  return rows.map((row) => row.genre);
}

// ---------------------------------------------------------------------------------------------
// The catalog as the edge serves it: KV first, Postgres on a miss (see workers/platform/cache.ts)

/** How long after a catalog change a replica may still lack it; fills during that window read the primary. */
const REPLICA_LAG_ALLOWANCE_MS = 10_000;

/** The current catalog version, the stamp of every cached list and home page. "0" before the first change. */
async function catalogVersion(services: Services): Promise<string> {
  return (await services.cache.get(catalogKeys.version())) ?? "0";
}

/** When the catalog last changed, from its version token (`<ms base36>.<random>`); 0 for "0", never changed. */
export function catalogVersionChangedAt(version: string): number {
  const at = Number.parseInt(version.split(".")[0] ?? "", 36);
  return Number.isFinite(at) ? at : 0;
}

/**
 * Where a cache fill reads from: the replica, except just after a catalog change, when the
 * replica may not have it yet and a fill would store the old value under the new version.
 */
function fillSource(services: Services, version: string): Database {
  return services.clock.now() - catalogVersionChangedAt(version) < REPLICA_LAG_ALLOWANCE_MS ? services.db : services.readDb;
}

/** The database for catalog reads that must reflect the latest edit: the replica unless the catalog just changed. */
export async function catalogReadDb(services: Services): Promise<Database> {
  return fillSource(services, await catalogVersion(services));
}

/** The same, for a caller that has read the catalog version already (with a page it caches, say). */
export function catalogReadDbAt(services: Services, version: string): Database {
  return fillSource(services, version);
}

/** A new catalog version: every list, home and series page is rebuilt on its next read. */
export function bumpCatalogVersion(services: Services): Promise<boolean> {
  return services.cache.put(catalogKeys.version(), `${services.clock.now().toString(36)}.${crypto.randomUUID().slice(0, 8)}`);
}

/**
 * Keeps KV in line after a write to one video (write-around: Postgres first, then the cache).
 * - listed now: its document is rewritten from the row just written (read from the primary);
 * - not listed now: its document is deleted;
 * - listed before or now: a new catalog version, so every list, home and series page is rebuilt on
 *   its next read. Other edge locations follow within the `cacheTtl` of the version key;
 * - an episode (`before` is where it sat before the write, when that differs from `now`): the
 *   document of the listed episode just before each of its places is deleted, since that
 *   document's `next` may have named it or must now.
 * A KV failure is logged and does not fail the write: stale entries expire within their
 * `expirationTtl`.
 */
export async function syncCatalogCache(
  services: Services,
  change: { id: string; wasListed: boolean; now?: Video; before?: EpisodePosition | null },
) {
  const { cache, db } = services;
  const document = catalogKeys.video(change.id);
  const isListed = change.now?.state === "ready";
  const changed = change.wasListed || isListed;
  const places = [change.before, change.now && positionOf(change.now)].filter((place): place is EpisodePosition => !!place);
  const previous = changed ? await Promise.all(places.map((place) => previousListedEpisode(db, place))) : [];
  const neighbours = [...new Set(previous)].filter((id): id is string => id !== undefined && id !== change.id);
  const results = await Promise.all([
    isListed && change.now ? cache.put(document, await videoDocument(services, db, change.now)) : cache.delete(document),
    changed ? bumpCatalogVersion(services) : true,
    ...neighbours.map((id) => cache.delete(catalogKeys.video(id))),
  ]);
  if (results.includes(false)) {
    services.log.error("catalog cache not updated after a write; stale until expiry", { videoId: change.id });
  }
}

/** Whether a profile with this ceiling may see the title (its summary or document carries its rating). */
export function isWithinCeiling(video: Pick<VideoSummary, "maturityRating">, ceiling: MaturityRank): boolean {
  return maturityRank(video.maturityRating) <= ceiling;
}

/** One video's place in a series (with the next episode) read from `db`; null for a film, without a query. */
async function episodeOfRow(services: Services, db: Database, row: Video): Promise<EpisodeOf | null> {
  return positionOf(row) ? ((await episodesOf(services, db, [row])).get(row.id) ?? null) : null;
}

/** One video's document, with its place in a series read from `db`. */
export async function videoDocument(services: Services, db: Database, row: Video): Promise<VideoDocument> {
  return toVideoDocument(services, row, await episodeOfRow(services, db, row));
}

/** The admin view of a video, its place in a series read from the primary. */
export async function adminVideoDocument(services: Services, row: Video): Promise<AdminVideo> {
  return toAdminVideo(services, row, await episodeOfRow(services, services.db, row));
}

/** A listed video's public document, or null (unknown ids and videos that are not ready look the same). */
export async function getVideoDocument(services: Services, id: string): Promise<VideoDocument | null> {
  if (!isVideoId(id)) return null;
  return readThrough(services.cache, catalogKeys.video(id), async () => {
    const db = await catalogReadDb(services);
    const row = await findVideo(db, id);
    return row?.state === "ready" ? await videoDocument(services, db, row) : null;
  });
}

const catalogCursorPayload = z.object({ t: z.iso.datetime(), i: z.string().refine(isVideoId) });

function catalogCursors(services: Services) {
  return cursorCodec(services.config, "videos", catalogCursorPayload);
}

/**
 * Refuses a genre no listed title has, before any query: `genre` is free text, and each new value
 * would otherwise cost a query and a page written to KV. The catalog's genres are one KV entry,
 * stamped with the catalog version like the pages (so rebuilt, by one query, once per catalog
 * change, whatever genres are asked for).
 */
async function requireListedGenre(services: Services, genre: string, version: string): Promise<void> {
  const genres = await readThroughStamped(services.cache, catalogKeys.genres(version), catalogKeys.version(), (current) =>
    listedGenres(fillSource(services, current)),
  );
  if (genres.includes(genre)) return;
  const shown = genres.slice(0, 30).join(", ");
  throw new ApiError(
    "validation",
    `No title in the catalog has the genre '${genre}'. The genres in use are each title's \`genres\` and the home page's rows${
      shown ? `; today: ${shown}${genres.length > 30 ? ", …" : ""}` : ""
    }.`,
    { errors: [{ path: "genre", message: "No title in the catalog has this genre; leave it out to list every title." }] },
  );
}

/**
 * One page of the catalog, newest first, of the titles at or below `ceiling` (the profile's, from its
 * token): one cached copy per ceiling, five at most.
 */
export async function getVideoPage(
  services: Services,
  query: { limit: number; genre?: string; cursor?: string; ceiling: MaturityRank },
): Promise<VideoPage> {
  const cursors = catalogCursors(services);
  // The cursor is checked before it becomes part of a cache key: only issued cursors are cached.
  const after = query.cursor ? await cursors.decode(query.cursor) : undefined;
  return readThroughStamped(services.cache, catalogKeys.videoPage(query), catalogKeys.version(), async (version) => {
    // A page that is not cached yet: its genre must be one the catalog has (no query, no write otherwise).
    if (query.genre !== undefined) await requireListedGenre(services, query.genre, version);
    const rows = await listReadyVideos(fillSource(services, version), {
      limit: query.limit + 1,
      genre: query.genre,
      after: after && { publishedAt: after.t, id: after.i },
      ceiling: query.ceiling,
    });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    const nextCursor =
      rows.length > query.limit && last?.publishedAt ? await cursors.encode({ t: last.publishedAt.toISOString(), i: last.id }) : null;
    return { items: await Promise.all(items.map((row) => toVideoSummary(services, row))), nextCursor };
  });
}

/** The catalog version's KV entry, for services that stamp what they store with it (the continue-watching row); see `catalogVersionChangedAt`. */
export function catalogVersionEntry(): CacheEntry<string> {
  return catalogKeys.version();
}

/**
 * The summaries of the listed videos among `ids`, in their order: their documents from KV in one
 * call, the missing ones from Postgres in one query (and filled). Ids of videos that are not
 * listed any more are left out. When Postgres cannot be reached, the documents' last copies in KV
 * stand in (stale-if-error) and a title KV has no copy of is left out: then `stale` is true.
 * Each episode's summary says which it is (`episode`); with `onePerSeries`, only the first of a
 * series' episodes in `ids` is kept (continue watching: a series once, at its latest episode).
 */
export async function getVideoSummaries(
  services: Services,
  ids: string[],
  options: { onePerSeries?: boolean } = {},
): Promise<{ items: VideoSummary[]; stale: boolean }> {
  const wanted = ids.filter(isVideoId);
  const documents = new Map<string, VideoDocument>();
  const cached = await services.cache.getMany(wanted.map((id) => catalogKeys.video(id)));
  wanted.forEach((id, i) => {
    const document = cached[i];
    if (document) documents.set(id, document);
  });
  const missing = wanted.filter((id) => !documents.has(id));
  let stale = false;
  if (missing.length > 0) {
    let rows: Video[];
    let episodes = new Map<string, EpisodeOf>();
    try {
      const db = await catalogReadDb(services);
      rows = await db
        .select()
        .from(videos)
        .where(and(inArray(videos.id, missing), listed));
      episodes = await episodesOf(services, db, rows);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      // Stale-if-error: the last copies the read above saw; a title KV holds no copy of is left out.
      stale = true;
      for (const id of missing) {
        const kept = services.cache.lastKept(catalogKeys.video(id));
        if (!kept) continue;
        services.cache.markStale(kept.builtAt);
        documents.set(id, kept.value);
      }
      rows = [];
    }
    for (const row of rows) {
      const document = await toVideoDocument(services, row, episodes.get(row.id) ?? null);
      services.cache.fill(catalogKeys.video(row.id), document);
      documents.set(row.id, document);
    }
  }
  const seriesSeen = new Set<string>();
  const items = wanted.flatMap((id) => {
    const document = documents.get(id);
    if (!document) return [];
    const { title, summary, genres, releaseYear, durationSeconds, posterUrl, posters, maturityRating } = document;
    const place = document.episode ?? null;
    if (place && options.onePerSeries) {
      if (seriesSeen.has(place.seriesId)) return [];
      seriesSeen.add(place.seriesId);
    }
    const episode = place && { seriesId: place.seriesId, seriesTitle: place.seriesTitle, season: place.season, number: place.number };
    return [{ id, title, summary, genres, releaseYear, durationSeconds, posterUrl, posters: posters ?? [], maturityRating, episode }];
  });
  return { items, stale };
}

/**
 * A viewer's continue-watching row for the home page, from the service that owns it (playback, passed
 * in at composition). Called first, it starts its KV reads (`Cache.readAlong`), which the shared
 * rows' read then makes; `summaries()` answers after that.
 */
export type ContinueWatchingReader = (services: Services, userId: string) => { summaries(): Promise<VideoSummary[]> };

/** A profile's My List row for the home page, from the service that owns it (my-list, passed in at composition); read like continue watching. */
export type MyListReader = (services: Services, auth: AuthContext) => { summaries(): Promise<VideoSummary[]> };

/** The home page's rows of one viewer: their own titles and the rows recommended to them. */
export interface ViewerRowReaders {
  continueWatching: ContinueWatchingReader;
  myList: MyListReader;
  recommendedRows: RecommendedRowsReader;
}

/**
 * The rows that recommend, from the recommendations service (passed in at composition): called
 * before the page's first KV read, "Trending now" and "Top 10 in <country>" ride along with it;
 * `because` reads the row of the viewer's latest title, when they have one.
 */
export type RecommendedRowsReader = (
  services: Services,
  viewer: { country: string | null },
) => { rows(): Promise<HomeRow[]>; because(title: { id: string; title: string } | undefined): Promise<HomeRow[]> };

/** A title page's "More like this", read along with the title's document (passed in at composition). */
export type MoreLikeThisReader = (services: Services, videoId: string) => { items(): Promise<VideoSummary[]> };

/** The transcoding service's view of a video's latest job, for the admin view (passed in at composition). */
export type TranscodeStatusReader = (db: Database, videoId: string) => Promise<TranscodeStatus | null>;

const HOME_ROW_SIZE = 20;
const HOME_GENRE_ROWS = 6;

function genreTitle(genre: string): string {
  return genre.charAt(0).toUpperCase() + genre.slice(1);
}

/** The rows every profile with this ceiling shares (new releases, then the biggest genres), cached as one KV value per ceiling. */
async function sharedHomeRows(services: Services, ceiling: MaturityRank): Promise<HomeRow[]> {
  return readThroughStamped(services.cache, catalogKeys.home(ceiling), catalogKeys.version(), async (version) => {
    const db = fillSource(services, version);
    const summaries = (rows: Video[]) => Promise.all(rows.map((row) => toVideoSummary(services, row)));
    const [newest, genres] = await Promise.all([
      listReadyVideos(db, { limit: HOME_ROW_SIZE, ceiling }),
      topGenres(db, HOME_GENRE_ROWS, ceiling),
    ]);
    const genreRows = await Promise.all(
      genres.map(async (genre) => ({
        id: `genre:${genre}`,
        title: genreTitle(genre),
        items: await summaries(await listReadyVideos(db, { limit: HOME_ROW_SIZE, genre, ceiling })),
      })),
    );
    const rows = [{ id: "new-releases", title: "New releases", items: await summaries(newest) }, ...genreRows];
    return rows.filter((row) => row.items.length > 0);
  });
}

/**
 * The home page of one profile: its continue-watching row and My List (each when not empty), the
 * rows that recommend (trending, the viewer's country's top 10, because they watched their latest
 * title), then the shared rows; only titles at or below the profile's ceiling. Warm, that is one KV
 * call: the catalog version, the viewer's two rows, the trending and top-10 rows, whatever else the
 * request reads along (the session's deny-list entry), and the shared rows unless this isolate holds
 * them for the current version; and, for a viewer with a continue-watching row, one more: that
 * title's "because" row.
 */
export async function getHomeRows(
  services: Services,
  auth: AuthContext,
  country: string | null,
  readers: ViewerRowReaders,
): Promise<HomeRow[]> {
  // Their KV reads start here; the shared rows' KV read (started next) makes them, then they answer.
  const watching = readers.continueWatching(services, auth.userId);
  const listed = readers.myList(services, auth);
  const recommended = readers.recommendedRows(services, { country });
  const [rows, watchingItems, listedItems] = await Promise.all([
    sharedHomeRows(services, auth.maturityCeiling),
    watching.summaries(),
    listed.summaries(),
  ]);
  // A title above the ceiling is left out wherever it comes from (its rating rides in its summary: no call).
  const within = (items: VideoSummary[]) => items.filter((item) => isWithinCeiling(item, auth.maturityCeiling));
  const watchingWithin = within(watchingItems);
  const [picked, because] = await Promise.all([recommended.rows(), recommended.because(watchingWithin[0])]);
  // What the viewer is watching already is not recommended to them again.
  const watchingIds = new Set(watchingWithin.map((item) => item.id));
  const recommendedRows = [...picked, ...because].map((row) => ({
    ...row,
    items: within(row.items).filter((item) => !row.id.startsWith("because:") || !watchingIds.has(item.id)),
  }));
  const own: HomeRow[] = [
    { id: "continue-watching", title: "Continue watching", items: watchingWithin },
    { id: "my-list", title: "My List", items: within(listedItems) },
  ];
  return [...own, ...recommendedRows].filter((row) => row.items.length > 0).concat(rows);
}

/**
 * Deletes what playback serves of a video (renditions, poster, storyboard) from R2, and marks its
 * masters as deleted: they stay, under production's bucket lock, until the cron removes them
 * `MASTER_RETENTION_DAYS` later (workers/platform/master-retention.ts).
 * The master playlist goes first, with its copies in the edge caches (`forgetEdgeCopies`: the
 * video's tag purged from Workers Cache in every data center, and this data center's Cache API
 * copy): playback serves nothing of a video without it, so from here on every URL of the video
 * answers 404, cached segments included; if the purge is refused, once the copies of the master
 * end (60 s at most). Its copies are dropped again at the end, in case a request that read it
 * just before the delete put it back meanwhile.
 */
export async function deleteVideoMedia(services: Services, id: string): Promise<void> {
  const { media } = services;
  const master = masterPlaylistKey(id);
  await media.bucket.delete(master);
  await media.forgetEdgeCopies([master]);
  await media.deleteByPrefix(mediaPrefix(id));
  await retireVideoMasters(media.bucket, id, services.clock);
  await media.forgetEdgeCopies([master]);
}
