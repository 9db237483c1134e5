import { and, eq, inArray, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import { type Video, type VideoState, videos } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";

/**
 * A video's life, in one table: the states a video may move to from each state. Every change of
 * `videos.state` goes through `transitionVideo`, which refuses (as a programming error) a move the
 * table does not allow, and makes an allowed one conditional on the state it moves from, so two
 * writers racing for one video cannot both win.
 *
 * - awaiting-upload → uploading: an upload (tus or PUT) takes the video's one upload slot.
 * - uploading → queued: the master is complete and a transcode job is queued.
 * - uploading → awaiting-upload: the upload ended without a master (terminated, expired, failed).
 * - queued → uploading: the job could not be queued; the upload's last step is given back.
 * - queued → transcoding: the job started.
 * - queued → failed: the job could never be started (dead-lettered).
 * - transcoding → ready: published (listed in the catalog).
 * - transcoding → failed: a refusal of the source, or a task that kept failing.
 * - failed → uploading: a new master.
 * - ready: final. Re-transcoding would delete and rewrite outputs that players are reading.
 */
export const videoTransitions: Record<VideoState, readonly VideoState[]> = {
  "awaiting-upload": ["uploading"],
  uploading: ["queued", "awaiting-upload"],
  queued: ["transcoding", "uploading", "failed"],
  transcoding: ["ready", "failed"],
  ready: [],
  failed: ["uploading"],
};

/** The states a video may reach `to` from. */
export function statesLeadingTo(to: VideoState): VideoState[] {
  return (Object.keys(videoTransitions) as VideoState[]).filter((from) => videoTransitions[from].includes(to));
}

export interface VideoTransition {
  to: VideoState;
  /** Move only from these (each must be allowed by the table); default: every state `to` may be reached from. */
  from?: readonly VideoState[];
  /** Other columns written with the move (progress, error, renditions…). */
  set?: Omit<PgUpdateSetSource<typeof videos>, "state" | "id">;
  /** Move only while this upload holds the video's upload slot (`videos.upload_id`). */
  heldBy?: string;
}

/**
 * Moves a video to another state; undefined when it was not in one of the `from` states (a
 * duplicate or late event, or a newer change won): the caller decides what that means.
 *
 * @example
 * const row = await transitionVideo(db, id, { from: ["uploading"], to: "queued", set: { progress: 0, error: null } });
 */
export async function transitionVideo(db: Pick<Database, "update">, id: string, transition: VideoTransition): Promise<Video | undefined> {
  const from = transition.from ?? statesLeadingTo(transition.to);
  const refused = from.filter((state) => !videoTransitions[state].includes(transition.to));
  if (refused.length > 0 || from.length === 0) {
    throw new Error(`a video may not move from ${refused.join(", ") || "nowhere"} to ${transition.to} (see videoTransitions)`);
  }
  const [row] = await db
    .update(videos)
    .set({ ...transition.set, state: transition.to, updatedAt: sql`now()` })
    .where(
      and(
        eq(videos.id, id),
        inArray(videos.state, [...from]),
        transition.heldBy === undefined ? undefined : eq(videos.uploadId, transition.heldBy),
      ),
    )
    .returning();
  return row;
}
