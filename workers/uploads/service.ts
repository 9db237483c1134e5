import { and, eq, sql } from "drizzle-orm";
import type { UploadExpiredMessage } from "../../durable-objects/upload-session.ts";
import { type Video, type VideoState, videos } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import { masterKey } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { startTranscodeJob } from "../transcoding/index.ts";
import { findVideo, notFound, transitionVideo } from "../videos/index.ts";

/** States from which a new master may be uploaded. */
const uploadableStates: VideoState[] = ["awaiting-upload", "failed"];

/**
 * Takes the video's one upload slot for `uploadId`: `awaiting-upload` or `failed` becomes
 * `uploading` in a single conditional UPDATE, so two concurrent uploads cannot both win, and the
 * row names the upload that holds it (`upload_id`). Every later step of the upload (progress,
 * release, queueing) names it too, so a step of an older upload never touches a newer one.
 * Throws 404 or 409.
 */
export async function claimUploadSlot(db: Database, videoId: string, uploadId: string): Promise<Video> {
  const claimed = await transitionVideo(db, videoId, {
    from: uploadableStates,
    to: "uploading",
    set: { progress: 0, error: null, uploadId },
  });
  if (claimed) return claimed;
  const row = await findVideo(db, videoId);
  if (!row) throw notFound(videoId);
  const why =
    row.state === "uploading"
      ? "An upload for this video is already in progress; finish it or terminate it (DELETE its upload URL) first."
      : `The video is ${row.state}; a new master can be uploaded only while it is awaiting-upload or failed.`;
  throw new ApiError("conflict", why);
}

/**
 * Gives the slot back after an upload that did not complete (terminated, expired, PUT source or
 * creation failed), only if that upload still holds it: an old upload's release (a late DELETE, a
 * redelivered `upload-expired`) never frees a newer upload of the same video. True when it did.
 */
export async function releaseUploadSlot(db: Database, videoId: string, uploadId: string): Promise<boolean> {
  const released = await transitionVideo(db, videoId, {
    from: ["uploading"],
    to: "awaiting-upload",
    set: { progress: null, uploadId: null },
    heldBy: uploadId,
  });
  return released !== undefined;
}

/** Upload progress (0..1) while `uploadId` holds the slot. */
export async function recordUploadProgress(db: Database, videoId: string, uploadId: string, progress: number): Promise<void> {
  await db
    .update(videos)
    .set({ progress: Math.min(1, Math.max(0, progress)), updatedAt: sql`now()` })
    .where(and(eq(videos.id, videoId), eq(videos.state, "uploading"), eq(videos.uploadId, uploadId)));
}

/**
 * `uploadId`'s master is complete: `uploading` becomes `queued` and a transcode job starts on that
 * upload's master (the transcoding service queues its first task). Undefined when the upload no
 * longer holds the slot (the video was deleted, or the upload terminated or expired and the slot
 * freed, perhaps for a newer upload): nothing is queued. When the job cannot be started, the video
 * goes back to `uploading`, so the upload's last step can be repeated.
 */
export async function queueTranscode(services: Services, videoId: string, uploadId: string): Promise<{ jobId: string } | undefined> {
  const { db } = services;
  const row = await transitionVideo(db, videoId, {
    from: ["uploading"],
    to: "queued",
    set: { progress: 0, error: null },
    heldBy: uploadId,
  });
  if (!row) return undefined;
  try {
    const job = await startTranscodeJob(services, { videoId, sourceKey: masterKey(videoId, uploadId) });
    return { jobId: job.id };
  } catch (error) {
    // Without a job the video would stay queued forever: give the upload back its final step.
    await transitionVideo(db, videoId, { from: ["queued"], to: "uploading", heldBy: uploadId });
    throw error;
  }
}

/**
 * An idle upload expired (its `UploadSession` sent `upload-expired` after deleting the bytes):
 * the video goes back from `uploading` to `awaiting-upload`, if that upload still holds the slot.
 * Idempotent, and a redelivery after a newer upload claimed the video leaves that upload alone.
 */
export async function handleUploadExpired(message: Message<UploadExpiredMessage>, services: Services): Promise<void> {
  const { uploadId, videoId } = message.body;
  const released = await releaseUploadSlot(services.db, videoId, uploadId);
  services.log.info(released ? "upload expired; video freed for another upload" : "upload expired; its slot was already given back", {
    uploadId,
    videoId,
  });
  message.ack();
}
