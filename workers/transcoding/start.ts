import { and, eq, isNull, notInArray } from "drizzle-orm";
import { transcodeJobs, videos } from "../../schema/index.ts";
import type { Services } from "../platform/services.ts";
import { videoMasterKey } from "../videos/index.ts";
import { deleteJob, insertJob, type TranscodeJob, taskMessage } from "./service.ts";

/**
 * A complete master becomes a transcode job: its row, its plan task, and the plan's dispatch
 * message. The video is `queued` (the upload moved it there) until a transcoder takes the plan.
 * Without the message the job would never start: when sending fails, the job is removed and the
 * error thrown, so the upload gives its last step back.
 *
 * `onlyIfQueued` (a job message from before jobs were data): only while the video is `queued` with
 * no job under way, and only for the master its upload slot names (`videos.upload_id`), so a
 * redelivered message of an older upload never transcodes a file the video no longer holds.
 */
export async function startTranscodeJob(
  services: Services,
  source: { videoId: string; sourceKey: string },
  options: { onlyIfQueued?: boolean } = {},
): Promise<TranscodeJob | undefined> {
  const { db } = services;
  if (options.onlyIfQueued) {
    const [waiting] = await db
      .select({ id: videos.id, uploadId: videos.uploadId })
      .from(videos)
      .leftJoin(transcodeJobs, and(eq(transcodeJobs.videoId, videos.id), notInArray(transcodeJobs.step, ["done", "failed"])))
      .where(and(eq(videos.id, source.videoId), eq(videos.state, "queued"), isNull(transcodeJobs.id)));
    if (!waiting) return undefined;
    if (waiting.uploadId === null || source.sourceKey !== videoMasterKey(source.videoId, waiting.uploadId)) {
      services.log.warn("not starting a job for a master the video no longer holds", {
        videoId: source.videoId,
        sourceKey: source.sourceKey,
      });
      return undefined;
    }
  }
  const job = await insertJob(db, { id: crypto.randomUUID(), ...source });
  try {
    await services.transcodeQueue.send(taskMessage(job, "plan"), { contentType: "json" });
  } catch (error) {
    await deleteJob(db, job.id);
    throw error;
  }
  services.log.info("transcode job queued", { jobId: job.id, videoId: job.videoId });
  return job;
}
