import { cacheEntry } from "../platform/cache.ts";
import type { VideoSummary } from "../videos/index.ts";

/** The kinds of rows that recommend; the subject of each is "" (trending), a country (top10) or a title's id (because, like). */
export const rowKinds = ["trending", "top10", "because", "like"] as const;
export type RowKind = (typeof rowKinds)[number];

/** A row as KV holds it: its titles' summaries, best first, and when the cron built it (milliseconds since the epoch). */
export interface RecommendedRowCopy {
  items: VideoSummary[];
  builtAt: number;
}

/**
 * A day and a half: the cron rewrites every row at least daily (`REPUBLISH_AFTER_MS`), for its
 * poster URLs, which are signed by the day; a row the cron stopped rewriting disappears rather
 * than show posters that no longer load.
 */
const ROW_EXPIRATION_SECONDS = 129_600;

/**
 * The KV copy of one row (`v1`: the value's schema version). Read along with the page that shows
 * it, never filled by a reader: only the cron writes it (workers/recommendations/publish.ts), and
 * a row that is missing is left out of the page. A minute's `cacheTtl`: rows are recomputed every
 * few minutes at most.
 */
export function recommendedRowEntry(kind: RowKind, subject: string) {
  return cacheEntry<RecommendedRowCopy>(`v1:rows:${kind}:${subject}`, { expirationTtl: ROW_EXPIRATION_SECONDS, cacheTtl: 60 });
}
