import { cacheEntry } from "../platform/cache.ts";
import type { ContinueWatchingRow } from "../videos/index.ts";

/**
 * The playback service's KV keys (`v1`: the value's schema version).
 *
 * - `continueWatching`: the viewer's row (ids and their summaries, see `ContinueWatchingRow`),
 *   copied from their `ViewerState` (the source of truth) by the heartbeat that changed it: a title
 *   started, moved to the front or finished. Written from the location the viewer is at, which sees
 *   its own writes at once, so the very next `/v1/home` there shows it; other locations follow
 *   within KV's propagation bound. Heartbeats compare it with the object's row on every call, so a
 *   write KV refused is repaired by the next one; they also restamp its summaries after a catalog
 *   change. It does not expire: it is the row, not a copy of Postgres.
 */
export const playbackKeys = {
  continueWatching: (userId: string) => cacheEntry<ContinueWatchingRow>(`v1:continue:${userId}`, { cacheTtl: 30 }),
} as const;
