import { and, eq, inArray, sql } from "drizzle-orm";
import type { UploadExpiredMessage } from "../../durable-objects/upload-session.ts";
import { type Video, type VideoState, videos } from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import { ApiError } from "../platform/errors.ts";
import type { Services } from "../platform/services.ts";
import { findVideo, notFound } from "../videos/index.ts";
import { masterKey } from "./settings.ts";

/** A transcode job on `TRANSCODE_QUEUE` (and, after its retries, on the dead-letter queue). */
export interface TranscodeJobMessage {
  kind: "transcode";
  jobId: string;
  videoId: string;
  sourceKey: string;
}

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
  const [claimed] = await db
    .update(videos)
    .set({ state: "uploading", progress: 0, error: null, uploadId, updatedAt: sql`now()` })
    .where(and(eq(videos.id, videoId), inArray(videos.state, uploadableStates)))
    .returning();
  if (claimed) return claimed;
  const row = await findVideo(db, videoId);
  if (!row) throw notFound(videoId);
  const why =
    row.state === "uploading"
      ? "An upload for this video is already in progress; finish it or terminate it (DELETE its upload URL) first."
      : `The video is ${row.state}; a new master can be uploaded only while it is awaiting-upload or failed.`;
  throw new ApiError("conflict", why);
}

/** The row while `uploadId` holds the video's upload slot. */
function slotHeldBy(videoId: string, uploadId: string) {
  return and(eq(videos.id, videoId), eq(videos.state, "uploading"), eq(videos.uploadId, uploadId));
}

/**
 * Gives the slot back after an upload that did not complete (terminated, expired, PUT source or
 * creation failed), only if that upload still holds it: an old upload's release (a late DELETE, a
 * redelivered `upload-expired`) never frees a newer upload of the same video. True when it did.
 */
export async function releaseUploadSlot(db: Database, videoId: string, uploadId: string): Promise<boolean> {
  const released = await db
    .update(videos)
    .set({ state: "awaiting-upload", progress: null, uploadId: null, updatedAt: sql`now()` })
    .where(slotHeldBy(videoId, uploadId))
    .returning({ id: videos.id });
  return released.length > 0;
}

/** Upload progress (0..1) while `uploadId` holds the slot. */
export async function recordUploadProgress(db: Database, videoId: string, uploadId: string, progress: number): Promise<void> {
  await db
    .update(videos)
    .set({ progress: Math.min(1, Math.max(0, progress)), updatedAt: sql`now()` })
    .where(slotHeldBy(videoId, uploadId));
}

/**
 * `uploadId`'s master is complete: `uploading` becomes `queued` and one job goes to the queue,
 * naming that upload's master. Undefined when the upload no longer holds the slot (the video was
 * deleted, or the upload terminated or expired and the slot freed, perhaps for a newer upload):
 * nothing is queued.
 */
export async function queueTranscode(services: Services, videoId: string, uploadId: string): Promise<TranscodeJobMessage | undefined> {
  const { db } = services;
  const [row] = await db
    .update(videos)
    .set({ state: "queued", progress: 0, error: null, updatedAt: sql`now()` })
    .where(slotHeldBy(videoId, uploadId))
    .returning({ id: videos.id });
  if (!row) return undefined;
  const job: TranscodeJobMessage = { kind: "transcode", jobId: crypto.randomUUID(), videoId, sourceKey: masterKey(videoId, uploadId) };
  try {
    await services.transcodeQueue.send(job, { contentType: "json" });
  } catch (error) {
    // Without a job the video would stay queued forever: give the upload back its final step.
    await db
      .update(videos)
      .set({ state: "uploading", updatedAt: sql`now()` })
      .where(and(eq(videos.id, videoId), eq(videos.state, "queued"), eq(videos.uploadId, uploadId)));
    throw error;
  }
  return job;
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
