import { and, desc, eq, sql } from "drizzle-orm";
import { videos, watchProgress } from "../../schema/index.ts";
import { type AlongRead, cacheEntry } from "../platform/cache.ts";
import type { Services } from "../platform/services.ts";
import {
  buildViewerRow,
  CATALOG_CHANGE_SETTLED_MS,
  catalogVersionChangedAt,
  catalogVersionEntry,
  getVideoSummaries,
  type VideoSummary,
  type ViewerRow,
  viewerRowItemsCurrent,
  viewerRowSummaries,
} from "../videos/index.ts";

/**
 * Continue watching: the home page's first row, the viewer's unfinished titles, most recent first;
 * a series once, at its most recent episode (finishing an episode puts the next one in the row:
 * `upNext` in the heartbeat).
 *
 * - The row itself is the viewer's `ViewerState` (its watch progress, answered by every heartbeat:
 *   `recordProgress` returns the ids).
 * - A copy lives in KV (`continueWatchingEntry`): the ids and their summaries, so that `/v1/home`
 *   reads it with the page, in the same KV call, without a Durable Object call. A heartbeat that
 *   changed the row rewrites it, at most once per `HEARTBEAT_COPY_INTERVAL_MS` per viewer and
 *   never waiting on KV (`ContinueWatchingCopy.update`); the object's flush brings it up to date
 *   after that (`refreshContinueWatchingCopy`, from the user-copies consumer). So heartbeats that
 *   alternate between titles cost no KV write each (KV bills each, and takes one per second per key).
 * - Postgres (`watch_progress`, written behind by the object's flush) answers when KV cannot,
 *   as of the last flush.
 */

/** A series shows once in the row, at its most recent episode. */
const CONTINUE_WATCHING_ROW = { onePerSeries: true } as const;

/** The row holds this many titles at most. */
export const CONTINUE_WATCHING_SIZE = 20;

/** The viewer's row as KV holds it (the videos service's `ViewerRow`). */
export type ContinueWatchingRow = ViewerRow;

/**
 * The viewer's KV copy (`v1`: the value's schema version). Written from the location the viewer is
 * at, which sees its own writes at once, so the very next `/v1/home` there shows it; other locations
 * follow within KV's propagation bound. Heartbeats compare it with the object's row on every call,
 * so a write KV refused is repaired by the next one; they also restamp its summaries after a catalog
 * change. It does not expire: it is the row, not a copy of Postgres.
 */
export function continueWatchingEntry(userId: string) {
  return cacheEntry<ContinueWatchingRow>(`v1:continue:${userId}`, { cacheTtl: 30 });
}

/** A copy whose titles have not changed is rebuilt at most this often. */
const SAME_TITLES_REBUILD_MS = 60_000;
/**
 * A heartbeat rewrites the viewer's copy at most this often (by the copy's `builtAt`); a change
 * it leaves reaches KV with the object's next flush (`PROGRESS_FLUSH_SECONDS`).
 */
export const HEARTBEAT_COPY_INTERVAL_MS = 10_000;
/**
 * Whether a heartbeat should (re)write the viewer's KV copy: the titles changed, or the stored
 * summaries are out of date and the change that outdated them has settled everywhere.
 */
export function continueWatchingCopyDue(row: ContinueWatchingRow | undefined, ids: string[], version: string, now: number): boolean {
  if (!row || row.ids.length !== ids.length || row.ids.some((id, i) => id !== ids[i])) return true;
  // Same titles: restamped once the change that outdated the summaries has settled, at most once a
  // minute (a copy built from stale summaries while Postgres is down is retried that often, not on every heartbeat).
  return (
    !viewerRowItemsCurrent(row, version, now) &&
    now - catalogVersionChangedAt(version) >= CATALOG_CHANGE_SETTLED_MS &&
    now - row.builtAt >= SAME_TITLES_REBUILD_MS
  );
}

/** The viewer's KV copy and the catalog version, read along with the request's next KV read. */
function readCopy(services: Services, userId: string): { copy: AlongRead<ContinueWatchingRow>; version: AlongRead<string> } {
  return { copy: services.cache.readAlong(continueWatchingEntry(userId)), version: services.cache.readAlong(catalogVersionEntry()) };
}

/** The heartbeat's side of the KV copy: read before the heartbeat, rewritten after it when due. */
export interface ContinueWatchingCopy {
  /**
   * Rewrites the copy when it differs from `ids` (the object's row after the heartbeat), or when its
   * summaries predate a settled catalog change, unless the copy was written less than
   * `HEARTBEAT_COPY_INTERVAL_MS` ago (the object's flush writes it then). Awaited, so the copy is in
   * KV at this location before the player's next request, but never retried after KV's per-key
   * refusal (that would hold the heartbeat a second).
   */
  update(ids: string[]): Promise<void>;
}

/**
 * Starts reading the viewer's KV copy and the catalog version with the request's next KV read (the
 * heartbeat's read of the video's document), before the heartbeat reaches the viewer's object.
 *
 * @example
 * const copy = continueWatchingCopy(services, userId);
 * const result = await services.viewerState(userId).recordProgress({ ... });
 * if (!result.revoked) await copy.update(result.continueWatching);
 */
export function continueWatchingCopy(services: Services, userId: string): ContinueWatchingCopy {
  const reads = readCopy(services, userId);
  return {
    async update(ids) {
      const [copy, version] = [await reads.copy.result(), await reads.version.result()];
      // KV unreadable: nothing to compare with, and the write would fail too; the next heartbeat repairs it.
      if (!copy.ok) return;
      const current = version.ok ? (version.value ?? "0") : "0";
      const now = services.clock.now();
      if (!continueWatchingCopyDue(copy.value, ids, current, now)) return;
      if (copy.value && now - copy.value.builtAt < HEARTBEAT_COPY_INTERVAL_MS) return;
      const row = await buildViewerRow(services, ids, current, CONTINUE_WATCHING_ROW);
      if (!(await services.cache.put(continueWatchingEntry(userId), row, { retryIfRateLimited: false }))) {
        services.log.warn("continue-watching row not copied to KV; the object's next flush writes it", { userId });
      }
    },
  };
}

/**
 * The flush's side of the KV copy (the user-copies consumer calls it with the row the object sent):
 * rewrites the viewer's copy when its titles differ from `ids`, or its summaries predate a settled
 * catalog change. One write per flush at most, whatever the heartbeats did meanwhile.
 */
export async function refreshContinueWatchingCopy(services: Services, userId: string, ids: string[]): Promise<void> {
  const reads = readCopy(services, userId);
  await services.cache.get(catalogVersionEntry());
  const [copy, version] = [await reads.copy.result(), await reads.version.result()];
  if (!copy.ok) return;
  const current = version.ok ? (version.value ?? "0") : "0";
  if (!continueWatchingCopyDue(copy.value, ids, current, services.clock.now())) return;
  if (
    !(await services.cache.put(continueWatchingEntry(userId), await buildViewerRow(services, ids, current, CONTINUE_WATCHING_ROW), {
      retryIfRateLimited: false,
    }))
  ) {
    services.log.warn("continue-watching row not copied to KV at the flush; the next heartbeat or flush tries again", { userId });
  }
}

/**
 * The viewer's row for the home page (the videos service's `ContinueWatchingReader`). The KV reads
 * start at once, so that they ride along with the request's next KV read (the shared rows'); after
 * that, `summaries()` answers: the copy's stored summaries while they carry the current catalog
 * version, otherwise its titles' documents; when KV cannot answer, the ids from `watch_progress`,
 * which lags the player by at most one flush.
 *
 * @example
 * const watching = readContinueWatching(services, userId);
 * const shared = sharedHomeRows(services); // its KV call reads the viewer's copy too
 * const items = await watching.summaries();
 */
export function readContinueWatching(services: Services, userId: string): { summaries(): Promise<VideoSummary[]> } {
  const reads = readCopy(services, userId);
  return {
    async summaries() {
      const [copy, version] = [await reads.copy.result(), await reads.version.result()];
      if (!copy.ok) return (await getVideoSummaries(services, await idsFromDatabase(services, userId), CONTINUE_WATCHING_ROW)).items;
      return viewerRowSummaries(services, copy.value, version.ok ? (version.value ?? "0") : undefined, CONTINUE_WATCHING_ROW);
    },
  };
}

/** The row as of the last flush of the viewer's object: unfinished, listed titles, most recent first. */
async function idsFromDatabase(services: Services, userId: string): Promise<string[]> {
  const rows = await services.readDb
    .select({ id: watchProgress.videoId })
    .from(watchProgress)
    .innerJoin(videos, eq(videos.id, watchProgress.videoId))
    .where(and(eq(watchProgress.userId, userId), sql`not ${watchProgress.finished}`, eq(videos.state, "ready")))
    .orderBy(desc(watchProgress.updatedAt))
    .limit(CONTINUE_WATCHING_SIZE);
  return rows.map((row) => row.id);
}
