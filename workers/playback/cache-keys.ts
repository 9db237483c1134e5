import { cacheEntry } from "../platform/cache.ts";

/** A viewer's continue-watching row as KV holds it: video ids, most recently watched first. */
export interface ContinueWatchingRow {
  ids: string[];
}

/**
 * The playback service's KV keys (`v1`: the value's schema version).
 *
 * - `continueWatching`: the viewer's row, copied from their `ViewerState` (the source of truth) by
 *   the heartbeat that changed it: a title started, moved to the front or finished. Written from the
 *   location the viewer is at, which sees its own writes at once, so the very next `/v1/home`
 *   there shows it; other locations follow within KV's propagation bound. Heartbeats compare it
 *   with the object's row on every call, so a write KV refused is repaired by the next one. It does
 *   not expire: it is the row, not a copy of Postgres.
 */
export const playbackKeys = {
  continueWatching: (userId: string) => cacheEntry<ContinueWatchingRow>(`v1:continue:${userId}`, { cacheTtl: 30 }),
} as const;
