import { z } from "zod";

/**
 * The wire between a user's `ViewerState` and Postgres: the object sends what changed as one
 * message on the `reelstream-user-copies` queue (wrangler.toml), the consumer
 * (workers/user-copies/) writes a batch of them in one transaction and answers each object with
 * `UserCopiesAck`. One schema for both sides; the consumer parses with it.
 *
 * The object is the source of truth and Postgres holds a copy: a message may be delivered twice,
 * late, or never (the object sends again what stays unacknowledged), so every section is written
 * idempotently (a row carries the version it was sent at, `updatedAt`, and an older version never
 * overwrites a newer one) and acknowledged by version (a row changed since it was sent stays to be
 * sent again).
 *
 * Sections are optional and independent: a new kind of per-user copy (sessions, say) is one more
 * key here, one writer beside workers/user-copies/progress-copies.ts called in the consumer's
 * transaction, one more acknowledgement, and one more source in the object.
 */

/** One title's "watched till", as the object holds it. */
export const progressCopy = z.object({
  videoId: z.string().min(1),
  positionSeconds: z.number().nonnegative(),
  durationSeconds: z.number().positive().nullable(),
  finished: z.boolean(),
  /** Milliseconds since the epoch; strictly increasing per title in the object: the row's version. */
  updatedAt: z.number().int().nonnegative(),
  /**
   * Where the last heartbeat came from (`request.cf.country`, two letters), for "Top 10 in
   * <country>"; null when the edge did not say. Optional: messages sent before it existed still parse.
   */
  country: z
    .string()
    .regex(/^[A-Z]{2}$/)
    .nullable()
    .optional(),
});
export type ProgressCopy = z.infer<typeof progressCopy>;

/** One title on (or taken off) a profile's My List, as the object holds it. */
export const myListCopy = z.object({
  profileId: z.string().min(1),
  videoId: z.string().min(1),
  /** False: the title was taken off the list (Postgres deletes its row). */
  listed: z.boolean(),
  addedAt: z.number().int().nonnegative(),
  /** The row's version, as for progress. */
  updatedAt: z.number().int().nonnegative(),
});
export type MyListCopy = z.infer<typeof myListCopy>;

/** A profile's thumb on a title: 1 up, -1 down, 0 taken back (Postgres deletes its row). */
export const ratingCopy = z.object({
  profileId: z.string().min(1),
  videoId: z.string().min(1),
  rating: z.union([z.literal(1), z.literal(-1), z.literal(0)]),
  updatedAt: z.number().int().nonnegative(),
});
export type RatingCopy = z.infer<typeof ratingCopy>;

export const USER_COPIES_KIND = "user-copies";

/**
 * Rows of one section a message carries at most: 200 positions are about 30 KB of JSON, well
 * inside a queue message's 128 KB. An object with more sends the rest once these are acknowledged.
 */
export const MAX_ROWS_PER_SECTION = 200;

export const userCopiesMessage = z.object({
  kind: z.literal(USER_COPIES_KIND),
  userId: z.string().min(1),
  /** When the object sent it (its clock): how long a copy waited, for the logs. */
  sentAt: z.number().int(),
  progress: z.array(progressCopy).max(MAX_ROWS_PER_SECTION).optional(),
  /**
   * The viewer's continue-watching row when the object sent it (ids, most recent first): the
   * consumer rewrites the row's KV copy from it when it differs. Not a Postgres copy: never acknowledged.
   */
  continueWatching: z.array(z.string().min(1)).max(MAX_ROWS_PER_SECTION).optional(),
  myList: z.array(myListCopy).max(MAX_ROWS_PER_SECTION).optional(),
  ratings: z.array(ratingCopy).max(MAX_ROWS_PER_SECTION).optional(),
});
export type UserCopiesMessage = z.infer<typeof userCopiesMessage>;

/** The versions Postgres now holds (or has something newer than), per section. */
export interface UserCopiesAck {
  progress?: { videoId: string; updatedAt: number }[];
  myList?: { profileId: string; videoId: string; updatedAt: number }[];
  ratings?: { profileId: string; videoId: string; updatedAt: number }[];
}

/** The acknowledgement of everything a message carried. */
export function acknowledgementOf(message: UserCopiesMessage): UserCopiesAck {
  const versionOf = ({ profileId, videoId, updatedAt }: { profileId: string; videoId: string; updatedAt: number }) => ({
    profileId,
    videoId,
    updatedAt,
  });
  return {
    progress: message.progress?.map(({ videoId, updatedAt }) => ({ videoId, updatedAt })),
    myList: message.myList?.map(versionOf),
    ratings: message.ratings?.map(versionOf),
  };
}
