import { and, eq, sql } from "drizzle-orm";
import { type Rendition, transcodeTasks, videos } from "../../schema/index.ts";
import { hlsPrefix, mediaPath } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { markVideoReady, syncCatalogCache, transitionVideo } from "../videos/index.ts";
import type { FinalizeResult, PlanResult, QualityReport } from "./contract.ts";
import {
  completeTask,
  failAttempt,
  findJob,
  findTask,
  finishJob,
  jobTasks,
  longestWaiting,
  planJob,
  recordProgress,
  startFinalize,
  type TranscodeJob,
  type TranscodeTask,
  taskMessage,
  touchTask,
} from "./service.ts";
import { cancelOn, transcoderNamed } from "./transcoders.ts";

/**
 * What a task's report does to its job. Each step is one conditional change of the task's row for
 * the attempt that reported, so a report from a dead attempt, or the same report twice, changes
 * nothing ("stale"): plan done → the chunk and audio tasks; every chunk and the audio done → the
 * finalize task; finalize done → the video is published. A failed attempt is queued again (only
 * that task: a retried chunk re-encodes only itself), until it has failed
 * `TRANSCODE_TASK_MAX_ATTEMPTS` times or the failure is a refusal of the source; then the job
 * fails and the video says why, in words.
 */

export type ReportOutcome = "ok" | "stale";

type TaskAttempt = Pick<TranscodeTask, "jobId" | "id" | "attempt">;

export async function taskProgressed(services: Services, job: TranscodeJob, attempt: TaskAttempt, percent: number): Promise<ReportOutcome> {
  const recorded = await recordProgress(services.db, attempt, percent / 100, services.config.TRANSCODE_TASK_LEASE_SECONDS);
  if (!recorded) return "stale";
  await updateVideoProgress(services, job);
  return "ok";
}

export async function taskDone(
  services: Services,
  job: TranscodeJob,
  attempt: TaskAttempt,
  result: Record<string, unknown>,
): Promise<ReportOutcome> {
  const done = await completeTask(services.db, attempt, result);
  if (!done) {
    // The same result delivered again (the first answer was lost) is not an error.
    const current = await findTask(services.db, attempt.jobId, attempt.id);
    return current?.task.state === "done" && current.task.attempt === attempt.attempt ? "ok" : "stale";
  }
  const log = services.log.child({ jobId: job.id, videoId: job.videoId, taskId: done.id });
  log.info("task done", { attempt: done.attempt });
  await wakeLongestWaiting(services);
  if (done.kind === "plan") {
    const created = await planJob(services.db, job.id, result as unknown as PlanResult);
    if (created.length > 0) {
      await services.transcodeQueue.sendBatch(created.map((taskId) => ({ body: taskMessage(job, taskId), contentType: "json" })));
      log.info("planned", { tasks: created.length });
    }
  } else if (done.kind === "chunk" || done.kind === "audio") {
    const tasks = await jobTasks(services.db, job.id);
    const encoding = tasks.filter((task) => task.kind === "chunk" || task.kind === "audio");
    if (encoding.every((task) => task.state === "done") && (await startFinalize(services.db, job.id))) {
      await services.transcodeQueue.send(taskMessage(job, "finalize"), { contentType: "json" });
      log.info("every chunk and the audio are done; finalizing", { chunks: encoding.length });
    }
  } else {
    await publish(services, job, result as unknown as FinalizeResult);
  }
  await updateVideoProgress(services, job);
  return "ok";
}

export async function taskFailed(
  services: Services,
  job: TranscodeJob,
  attempt: TaskAttempt,
  failure: { retryable: boolean; reason: string; qualityReport?: QualityReport },
): Promise<ReportOutcome> {
  const row = await failAttempt(services.db, attempt, {
    reason: failure.reason,
    final: !failure.retryable,
    maxAttempts: services.config.TRANSCODE_TASK_MAX_ATTEMPTS,
  });
  if (!row) return "stale";
  await afterFailure(services, job, row, { ...failure, final: !failure.retryable });
  return "ok";
}

/**
 * The cron's lease check: a running task whose transcoder has not called back for a lease is
 * stalled (the process died, the container was evicted, the network split). The attempt counts
 * as failed and the task is queued again; the instance is asked to stop it, in case it still runs.
 */
export async function taskStalled(services: Services, task: TranscodeTask): Promise<ReportOutcome> {
  const found = await findTask(services.db, task.jobId, task.id);
  if (!found) return "stale";
  const reason = `the transcoder stopped reporting for ${services.config.TRANSCODE_TASK_LEASE_SECONDS} s`;
  const row = await failAttempt(services.db, task, { reason, final: false, maxAttempts: services.config.TRANSCODE_TASK_MAX_ATTEMPTS });
  if (!row) return "stale";
  if (task.instance) services.waitUntil(cancelOn(transcoderNamed(services, task.instance), task.id));
  await afterFailure(services, found.job, row, { reason, final: false });
  return "ok";
}

async function afterFailure(
  services: Services,
  job: TranscodeJob,
  row: TranscodeTask,
  failure: { reason: string; final: boolean; qualityReport?: QualityReport },
) {
  await wakeLongestWaiting(services);
  const log = services.log.child({ jobId: job.id, videoId: job.videoId, taskId: row.id });
  if (row.state === "pending") {
    // Only this task runs again: 5 s, 10 s, 20 s… (a crash rarely heals in less).
    const delaySeconds = Math.min(300, 5 * 2 ** (row.failures - 1));
    await services.transcodeQueue.send(taskMessage(job, row.id), { contentType: "json", delaySeconds });
    log.warn("task attempt failed; queued again", { attempt: row.attempt, failures: row.failures, reason: failure.reason, delaySeconds });
    return;
  }
  // A refusal of the source is the transcoder's own sentence; a task that kept failing says which and how often.
  await failJob(services, job, failure.final ? failure.reason : exhaustedBecause(row, failure.reason), failure.qualityReport);
}

function exhaustedBecause(task: TranscodeTask, reason: string): string {
  const which = task.kind === "chunk" ? `chunk ${(task.chunkIndex ?? 0) + 1}` : `the ${task.kind} step`;
  return `transcoding failed: ${which} failed ${task.failures} time${task.failures === 1 ? "" : "s"}; the last time: ${reason}`;
}

/**
 * The job is over without a ladder: the video is `failed` with the reason, the job's other tasks
 * are stopped (their later reports are stale), and what it wrote under the video's prefix goes.
 */
export async function failJob(services: Services, job: TranscodeJob, reason: string, qualityReport?: QualityReport | null): Promise<void> {
  const report = (qualityReport ?? null) as Record<string, unknown> | null;
  const finished = await finishJob(services.db, job.id, { step: "failed", error: reason, qualityReport: report });
  if (!finished) return;
  await transitionVideo(services.db, job.videoId, {
    from: ["queued", "transcoding"],
    to: "failed",
    set: { progress: null, error: reason, ...(qualityReport ? { qualityReport: report } : {}) },
  });
  const running = await services.db
    .update(transcodeTasks)
    .set({ state: "failed", leaseExpiresAt: null, lastError: "its job failed", finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(transcodeTasks.jobId, job.id), sql`${transcodeTasks.state} in ('pending', 'waiting', 'running')`))
    .returning();
  await Promise.all(running.map((task) => (task.instance ? cancelOn(transcoderNamed(services, task.instance), task.id) : undefined)));
  await services.media.deleteByPrefix(hlsPrefix(job.videoId));
  services.log.child({ jobId: job.id, videoId: job.videoId }).warn("transcode job failed; video failed", { reason });
}

/** `transcoding` becomes `ready` with everything the finalize task published, and the catalog lists it. */
async function publish(services: Services, job: TranscodeJob, result: FinalizeResult): Promise<void> {
  const renditions: Rendition[] = result.renditions.map((rendition) => ({
    ...rendition,
    playlist: mediaPath(job.videoId, rendition.playlist),
  }));
  const report = result.qualityReport as unknown as Record<string, unknown>;
  const row = await markVideoReady(
    services.db,
    job.videoId,
    {
      durationSeconds: result.durationSeconds,
      renditions,
      posterKey: mediaPath(job.videoId, result.posterKey),
      storyboardKey: mediaPath(job.videoId, result.storyboard.vttKey),
      qualityReport: report,
    },
    { onlyFrom: ["transcoding"] },
  );
  await finishJob(services.db, job.id, { step: "done", qualityReport: report });
  if (row) await syncCatalogCache(services, { id: job.videoId, wasListed: false, now: row });
  services.log
    .child({ jobId: job.id, videoId: job.videoId })
    .info(row ? "transcode done, video ready" : "transcode done but the video changed meanwhile", { renditions: renditions.length });
}

/**
 * An instance was freed: the task that has waited longest for one (of any job) is dispatched now,
 * not when its delayed message comes back. First come, first served across uploads.
 */
async function wakeLongestWaiting(services: Services): Promise<void> {
  const waiting = await longestWaiting(services.db);
  if (!waiting) return;
  await touchTask(services.db, waiting.task);
  await services.transcodeQueue.send(taskMessage({ id: waiting.task.jobId, videoId: waiting.videoId }, waiting.task.id), {
    contentType: "json",
  });
}

/**
 * The video's progress from its job's tasks: the plan 5 %, the chunks 80 % (each by its share of
 * the title), the audio 5 %, the finalize 10 %. Not a state change: only `transcoding` videos.
 */
async function updateVideoProgress(services: Services, job: TranscodeJob): Promise<void> {
  const [tasks, current] = await Promise.all([jobTasks(services.db, job.id), findJob(services.db, job.id)]);
  const plan = current?.plan as unknown as PlanResult | null;
  const total = plan ? plan.chunks.reduce((sum, chunk) => sum + (chunk.endSeconds - chunk.startSeconds), 0) : 0;
  const share = (task: TranscodeTask): number => {
    if (task.kind === "plan") return 0.05;
    if (task.kind === "audio") return 0.05;
    if (task.kind === "finalize") return 0.1;
    const chunk = plan?.chunks.find((range) => range.index === task.chunkIndex);
    return chunk && total > 0 ? (0.8 * (chunk.endSeconds - chunk.startSeconds)) / total : 0;
  };
  const progress = tasks.reduce((sum, task) => sum + share(task) * (task.state === "done" ? 1 : (task.progress ?? 0)), 0);
  await services.db
    .update(videos)
    .set({ progress: Math.min(1, Math.round(progress * 1000) / 1000), updatedAt: sql`now()` })
    .where(and(eq(videos.id, job.videoId), eq(videos.state, "transcoding")));
}
