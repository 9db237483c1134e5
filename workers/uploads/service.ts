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
 * Takes the video's one upload slot: `awaiting-upload` or `failed` becomes `uploading` in a
 * single conditional UPDATE, so two concurrent uploads cannot both win. Throws 404 or 409.
 */
export async function claimUploadSlot(db: Database, videoId: string): Promise<Video> {
  const [claimed] = await db
    .update(videos)
    .set({ state: "uploading", progress: 0, error: null, updatedAt: sql`now()` })
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

/** Gives the slot back after an upload that did not complete (PUT source failed, creation failed). */
export async function releaseUploadSlot(db: Database, videoId: string): Promise<void> {
  await db
    .update(videos)
    .set({ state: "awaiting-upload", progress: null, updatedAt: sql`now()` })
    .where(and(eq(videos.id, videoId), eq(videos.state, "uploading")));
}

/** Upload progress (0..1) while `uploading`. */
export async function recordUploadProgress(db: Database, videoId: string, progress: number): Promise<void> {
  await db
    .update(videos)
    .set({ progress: Math.min(1, Math.max(0, progress)), updatedAt: sql`now()` })
    .where(and(eq(videos.id, videoId), eq(videos.state, "uploading")));
}

/**
 * The master is complete: `uploading` becomes `queued` and one job goes to the queue. Undefined
 * when the video is no longer `uploading` (deleted meanwhile): nothing is queued.
 */
export async function queueTranscode(services: Services, videoId: string): Promise<TranscodeJobMessage | undefined> {
  const { db } = services;
  const [row] = await db
    .update(videos)
    .set({ state: "queued", progress: 0, error: null, updatedAt: sql`now()` })
    .where(and(eq(videos.id, videoId), eq(videos.state, "uploading")))
    .returning({ id: videos.id });
  if (!row) return undefined;
  const job: TranscodeJobMessage = { kind: "transcode", jobId: crypto.randomUUID(), videoId, sourceKey: masterKey(videoId) };
  try {
    await services.transcodeQueue.send(job, { contentType: "json" });
  } catch (error) {
    // Without a job the video would stay queued forever: give the upload back its final step.
    await db
      .update(videos)
      .set({ state: "uploading", updatedAt: sql`now()` })
      .where(and(eq(videos.id, videoId), eq(videos.state, "queued")));
    throw error;
  }
  return job;
}

/**
 * An idle upload expired (its `UploadSession` sent `upload-expired` after deleting the bytes):
 * the video goes back from `uploading` to `awaiting-upload`. Idempotent, so a redelivery is harmless.
 */
export async function handleUploadExpired(message: Message<UploadExpiredMessage>, services: Services): Promise<void> {
  await releaseUploadSlot(services.db, message.body.videoId);
  services.log.info("upload expired; video freed for another upload", { uploadId: message.body.uploadId, videoId: message.body.videoId });
  message.ack();
}
