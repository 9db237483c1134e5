import type { MyListEntry, Rating } from "../../durable-objects/viewer-state.ts";
import { type AuthContext, profileIdOf } from "../platform/app-env.ts";
import { sessionEnded } from "../platform/auth.ts";
import { cacheEntry } from "../platform/cache.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import {
  buildViewerRow,
  catalogVersionEntry,
  getVideoDocument,
  isWithinCeiling,
  type VideoSummary,
  type ViewerRow,
  viewerRowSummaries,
} from "../videos/index.ts";
import type { RatingValue } from "./schema.ts";

/**
 * My List and ratings: a profile's choices, held in the user's `ViewerState` (the truth, durable
 * once a route answers), written behind to Postgres (`my_list`, `video_ratings`) by the object's
 * flush, and for My List a KV copy per profile that the warm home page reads in its one KV call.
 */

/**
 * A profile's list holds this many titles at most: the KV copy carries a summary per title and is
 * read with every home page, and one flush message (200 rows a section) carries a whole list.
 */
export const MY_LIST_MAX = 100;

/**
 * The profile's My List as KV holds it (`v1`: the value's schema version): written by each change
 * from the viewer's location, which sees its own writes at once, so the next `/v1/home` there shows
 * it; other locations follow within KV's propagation bound (about 60 s). It does not expire: it is
 * the row, not a copy of Postgres.
 */
export function myListEntry(userId: string, profileId: string) {
  return cacheEntry<ViewerRow>(`v1:my-list:${userId}:${profileId}`, { cacheTtl: 30 });
}

const fromRating: Record<Rating, RatingValue | null> = { 1: "up", [-1]: "down", 0: null };
export const toRating: Record<RatingValue, Rating> = { up: 1, down: -1 };

export function ratingValueOf(rating: Rating): RatingValue | null {
  return fromRating[rating];
}

/**
 * A title a viewer may list or rate: one that exists, is published (its catalog document) and is at
 * or below the profile's maturity ceiling. 404 in words otherwise, the same for all three.
 */
export async function requirePublishedTitle(services: Services, auth: AuthContext, videoId: string): Promise<void> {
  const document = await getVideoDocument(services, videoId);
  if (!document || !isWithinCeiling(document, auth.maturityCeiling)) {
    throw new ApiError("not-found", `There is no published title with id '${videoId}' to add to a list or rate.`);
  }
}

/** The object's change answered: the session had ended (401 in words). */
export function unlessRevoked<T extends { revoked: boolean }>(answer: T): Exclude<T, { revoked: true }> {
  if (answer.revoked) throw sessionEnded();
  return answer as Exclude<T, { revoked: true }>;
}

export function objectOf(services: Services, auth: AuthContext) {
  return {
    stub: services.viewerState(auth.userId),
    profileId: profileIdOf(auth),
    flushDelayMs: services.config.PROGRESS_FLUSH_SECONDS * 1000,
  };
}

/**
 * Writes the profile's KV copy after a change, awaited, so that the viewer's next `/v1/home` at
 * this location shows it. A second change to the same list within a second meets KV's one write
 * per key per second: the write is made once more a second later (`Cache.put`). A copy KV still
 * refused is written by the list's next change or read (`GET /v1/my-list` compares it).
 */
export async function writeMyListCopy(services: Services, auth: AuthContext, entries: MyListEntry[]): Promise<void> {
  const ids = entries.map((entry) => entry.videoId);
  const version = (await services.cache.get(catalogVersionEntry())) ?? "0";
  const row = await buildViewerRow(services, ids, version);
  if (!(await services.cache.put(myListEntry(auth.userId, profileIdOf(auth)), row))) {
    services.log.warn("My List not copied to KV; its next change or GET /v1/my-list writes it", { userId: auth.userId });
  }
}

/**
 * The profile's My List row for the home page. Its KV reads start at once and ride along with the
 * request's next KV read (the shared rows'); when KV cannot answer, the list is asked of the user's
 * object (Postgres holds only a copy behind it).
 */
export function readMyList(services: Services, auth: AuthContext): { summaries(): Promise<VideoSummary[]> } {
  const copy = services.cache.readAlong(myListEntry(auth.userId, profileIdOf(auth)));
  const version = services.cache.readAlong(catalogVersionEntry());
  return {
    async summaries() {
      const [stored, current] = [await copy.result(), await version.result()];
      if (stored.ok) return viewerRowSummaries(services, stored.value, current.ok ? (current.value ?? "0") : undefined);
      const { stub, profileId } = objectOf(services, auth);
      const answer = await stub.myList({ sessionId: auth.sessionId, profileId });
      if (answer.revoked) return [];
      return viewerRowSummaries(
        services,
        { ids: answer.entries.map((entry) => entry.videoId), items: [], version: "", builtAt: 0 },
        undefined,
      );
    },
  };
}

/** Whether the KV copy lists `ids` in that order (a copy KV refused is repaired on read). */
export async function myListCopyMatches(services: Services, auth: AuthContext, ids: string[]): Promise<boolean> {
  const stored = await services.cache.get(myListEntry(auth.userId, profileIdOf(auth)));
  return stored !== undefined && stored.ids.length === ids.length && stored.ids.every((id, i) => id === ids[i]);
}
