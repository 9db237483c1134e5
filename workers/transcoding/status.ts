import type { Database } from "../platform/db.ts";
import type { TranscodeStatus } from "../videos/index.ts";
import { latestJob, taskStates } from "./service.ts";

/**
 * The admin view's `transcode`: the video's latest job, as an admin watching it wants to know it.
 * `attempt` is 1 until some task of the job had to run again; `waitingForTranscoder` says a task
 * is waiting for a free instance (the job is not stuck, the fleet is busy).
 */
export async function transcodeStatus(db: Database, videoId: string): Promise<TranscodeStatus | null> {
  const job = await latestJob(db, videoId);
  if (!job) return null;
  const tasks = await taskStates(db, job.id);
  return {
    step: job.step,
    chunksDone: tasks.filter((task) => task.kind === "chunk" && task.state === "done").length,
    chunksTotal: job.chunksTotal ?? 0,
    attempt: 1 + Math.max(0, ...tasks.map((task) => task.failures)),
    waitingForTranscoder: tasks.some((task) => task.state === "waiting"),
  };
}
