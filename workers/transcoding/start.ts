import type { Services } from "../platform/services.ts";
import { deleteJob, insertJob, type TranscodeJob, taskMessage } from "./service.ts";

/**
 * A complete master becomes a transcode job: its row and its plan task (one transaction), and the
 * plan's dispatch message. The video is `queued` (the upload moved it there) until a transcoder takes the plan.
 * Without the message the job would never start: when sending fails, the job is removed and the
 * error thrown, so the upload gives its last step back.
 */
export async function startTranscodeJob(services: Services, source: { videoId: string; sourceKey: string }): Promise<TranscodeJob> {
  const { db } = services;
  const job = await insertJob(db, { id: crypto.randomUUID(), ...source }, new Date(services.clock.now()));
  try {
    await services.transcodeQueue.send(taskMessage(job, "plan"), { contentType: "json" });
  } catch (error) {
    await deleteJob(db, job.id);
    throw error;
  }
  services.log.info("transcode job queued", { jobId: job.id, videoId: job.videoId });
  return job;
}
