import type { MaturityRank } from "../../schema/index.ts";
import { cacheEntry, type Stamped } from "../platform/cache.ts";
import type { HomeRow, SeriesDocument, VideoDocument, VideoPage } from "./schema.ts";

/**
 * Stale-if-error: how long a page's or a document's last copy stays in KV after it stops being
 * fresh, to be served (marked stale) while Postgres cannot be reached. A day: the preview URLs a
 * copy carries are signed until the end of the day after tomorrow (documents.ts), so every copy
 * served this way still shows its posters.
 */
export const CATALOG_STALE_IF_ERROR_SECONDS = 86_400;
/** Lists and home pages: derived from many videos, so invalidated all at once by a new catalog version. */
const pageLifetimes = { expirationTtl: 300, cacheTtl: 30, staleIfError: CATALOG_STALE_IF_ERROR_SECONDS };
/** Video documents: rewritten exactly on every admin write, so they may live longer. */
const documentLifetimes = { expirationTtl: 600, cacheTtl: 30, staleIfError: CATALOG_STALE_IF_ERROR_SECONDS };

/**
 * The catalog's KV keys. Each key starts with its value's schema version (`v3`: maturity ratings from
 * the closed set; `v2`: stored with the time it was built, for stale-if-error): when a value's shape
 * changes, bump it, and a deploy never reads the old shape. Pages and home rows hold the titles up to
 * a maturity ceiling (the profile's, from its token), so their keys name it: five copies at most.
 *
 * Invalidation rules (write-around: reads fill, writes go to Postgres and then fix the cache):
 * - `video`: rewritten from the primary after an admin edit of a listed video, deleted when the
 *   video is deleted or leaves `ready`.
 * - `videoPage`, `home`: derived from many videos, so stamped with the catalog version they were
 *   built from. Any change to what is listed writes a new `version`; a page whose stamp is not
 *   the current version is a miss, and is rebuilt and overwritten on that read. The version and
 *   the page are fetched in one KV call (`Cache.getStamped`).
 * - all three are fresh for their `expirationTtl` and then kept a day longer: when rebuilding one
 *   fails because Postgres cannot be reached, its last copy is served with `Reelstream-Stale`.
 */
export const catalogKeys = {
  /** Token of the current catalog version (`<bump time base36>.<random>`); never expires. */
  version: () => cacheEntry<string>("catalog-version", { cacheTtl: 30 }),
  video: (id: string) => cacheEntry<VideoDocument>(`v3:video:${id}`, documentLifetimes),
  videoPage: (query: { genre?: string; limit: number; cursor?: string; ceiling: MaturityRank }) =>
    cacheEntry<Stamped<VideoPage>>(
      // Genres have no ':' and at most 40 characters, signed cursors about 125: well under KV's 512 bytes.
      `v3:videos:${query.ceiling}:${query.genre ?? "*"}:${query.limit}:${query.cursor ?? "first"}`,
      pageLifetimes,
    ),
  home: (ceiling: MaturityRank) => cacheEntry<Stamped<HomeRow[]>>(`v3:home:${ceiling}`, pageLifetimes),
  /**
   * A series page (its seasons and listed episodes): built from many videos, so stamped with the
   * catalog version like the pages; a series edit writes a new version too. Only series that exist
   * and have a listed episode are stored: an unknown id costs a query, never a KV write.
   */
  series: (id: string) => cacheEntry<Stamped<SeriesDocument | null>>(`v2:series:${id}`, pageLifetimes),
  /**
   * Every genre of a listed title (the genres a list may be filtered by), stamped like the pages.
   * One key per catalog version (the token is about 20 characters): it is written once per version,
   * never twice within KV's one write per second per key however fast the catalog changes.
   */
  genres: (version: string) => cacheEntry<Stamped<string[]>>(`v3:genres:${version}`, pageLifetimes),
} as const;
