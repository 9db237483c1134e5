import { and, eq } from "drizzle-orm";
import { videos } from "../../schema/index.ts";
import { hlsPrefix } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { syncCatalogCache, transitionVideo } from "../videos/index.ts";
import type { PlanResult, QualityReport, TaskResult } from "./contract.ts";
import { publishMaster, sweepUnpublished } from "./publish.ts";
import {
  completeTask,
  failAttempt,
  finishJob,
  handBackTask,
  insertTasks,
  isActive,
  type LoadedJob,
  lockJob,
  longestWaiting,
  type Queryable,
  recordProgress,
  stepKinds,
  stopJobTasks,
  storedPlan,
  type TaskAttempt,
  type TaskState,
  type TranscodeJob,
  taskMessage,
  taskResults,
  touchTask,
} from "./service.ts";
import { type StepChange, taskKinds, tasksOfStep, videoProgress } from "./task-kinds.ts";
import { cancelOn, transcoderNamed } from "./transcoders.ts";

/**
 * What a task's report does to its job. Each report is one conditional change of the task's row
 * for the attempt that reported, so a report from a dead attempt, or the same report twice,
 * changes nothing ("stale"); the change of the job that follows (the next step and its tasks, a
 * published video, a failed job) is in the same transaction, on the job's locked row, so it
 * happens whole or not at all, and a report whose transaction failed is answered with an error
 * the transcoder retries. What "done" changes is each kind's own (task-kinds.ts). A failed attempt
 * is queued again (only that task: a retried chunk re-encodes only itself), until it has failed
 * `TRANSCODE_TASK_MAX_ATTEMPTS` times or the failure is a refusal of the source; then the job
 * fails and the video says why, in words.
 */

export type ReportOutcome = "ok" | "stale";

export async function taskProgressed(services: Services, loaded: LoadedJob, attempt: TaskAttempt, percent: number): Promise<ReportOutcome> {
  const progress = percent / 100;
  const lease = { now: nowOf(services), seconds: services.config.TRANSCODE_TASK_LEASE_SECONDS };
  if (!(await recordProgress(services.db, attempt, progress, lease))) return "stale";
  const tasks = loaded.tasks.map((task) => (task.id === attempt.id ? { ...task, progress } : task));
  await setVideoProgress(services.db, loaded.job, videoProgress(tasks, storedPlan(loaded.job)), lease.now);
  return "ok";
}

export async function taskDone(services: Services, loaded: LoadedJob, attempt: TaskAttempt, result: TaskResult): Promise<ReportOutcome> {
  const now = nowOf(services);
  const reported = loaded.tasks.find((candidate) => candidate.id === attempt.id);
  // The running finalize attempt's master is checked and published before the video is ready
  // (publish.ts); one that cannot be is the transcoder's bug or an attack, not worth a retry.
  if (result.kind === "finalize" && reported?.state === "running" && reported.attempt === attempt.attempt) {
    const refused = await publishMaster(services, loaded.job, attempt, result);
    if (refused) return failTaskAttempt(services, attempt, { reason: refused, final: true });
  }
  const recorded = await services.db.transaction(async (tx) => {
    const job = await lockJob(tx, attempt.jobId);
    if (!job || !(await completeTask(tx, attempt, result, now))) return undefined;
    return { job, change: await kindDone(tx, job, result, now) };
  });
  if (!recorded) {
    // The same result delivered again (the first answer was lost) is not an error.
    return reported?.state === "done" && reported.attempt === attempt.attempt ? "ok" : "stale";
  }
  await afterStepChange(services, recorded.job, recorded.change, attempt.id);
  if (result.kind === "finalize" && recorded.change.published) {
    const swept = await sweepUnpublished(services, recorded.job, result);
    services.log
      .child({ jobId: recorded.job.id, videoId: recorded.job.videoId })
      .info("published; unreferenced objects deleted", { swept });
  }
  const tasks = loaded.tasks.map((task) => (task.id === attempt.id ? { ...task, state: "done" as const } : task));
  const plan: PlanResult | null = result.kind === "plan" ? result : storedPlan(loaded.job);
  await setVideoProgress(services.db, loaded.job, videoProgress(tasks, plan), now);
  return "ok";
}

export async function taskFailed(
  services: Services,
  attempt: TaskAttempt,
  failure: { retryable: boolean; reason: string; qualityReport?: QualityReport | undefined },
): Promise<ReportOutcome> {
  return failTaskAttempt(services, attempt, { reason: failure.reason, final: !failure.retryable, qualityReport: failure.qualityReport });
}

/**
 * An instance shutting down (a rollout) stopped the attempt and gave the task back: it is queued
 * again at once, for another instance, and no failure is counted (it was not the task's fault).
 */
export async function taskHandedBack(
  services: Services,
  job: Pick<TranscodeJob, "id" | "videoId">,
  attempt: TaskAttempt,
  reason: string,
): Promise<ReportOutcome> {
  const row = await handBackTask(services.db, attempt, reason, nowOf(services));
  if (!row) return "stale";
  await services.transcodeQueue.send(taskMessage(job, row.id), { contentType: "json" });
  services.log
    .child({ jobId: job.id, videoId: job.videoId, taskId: row.id })
    .info("task handed back by a transcoder shutting down; queued again", { attempt: attempt.attempt, reason });
  return "ok";
}

/**
 * The cron's lease check: a running task whose transcoder has not called back for a lease is
 * stalled (the process died, the container was evicted, the network split). The attempt counts
 * as failed and the task is queued again; the instance is asked to stop it, in case it still runs.
 */
export async function taskStalled(services: Services, task: TaskState): Promise<ReportOutcome> {
  const reason = `the transcoder stopped reporting for ${services.config.TRANSCODE_TASK_LEASE_SECONDS} s`;
  const outcome = await failTaskAttempt(services, task, { reason, final: false });
  if (outcome === "ok" && task.instance) services.waitUntil(cancelOn(transcoderNamed(services, task.instance), task.id));
  return outcome;
}

/**
 * The cron's repair of a job under way whose step has no task left to run (`jobsWithoutLiveTasks`):
 * the step's tasks that are missing are created again from the stored plan; when all of them are
 * done but the job did not move on, the step's `done` runs again from the stored result; a task
 * of the step that failed fails the job. Every part is conditional, so a second run changes nothing.
 */
export async function repairJob(services: Services, jobId: string): Promise<StepChange | undefined> {
  const now = nowOf(services);
  const repaired = await services.db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!job || !isActive(job.step)) return undefined;
    const expected = tasksOfStep(job.step, storedPlan(job));
    if (expected.length === 0) throw new Error(`job ${job.id} is at step ${job.step} without a plan to repair it from`);
    const created = await insertTasks(tx, job.id, expected, now);
    if (created.length > 0) return { job, change: { dispatch: created, note: `recreated the ${job.step} step's missing task(s)` } };
    const tasks = await taskResults(tx, job.id, stepKinds[job.step]);
    const failed = tasks.find((task) => task.state === "failed");
    if (failed) {
      const reason = failed.lastError ?? `${taskKinds[failed.kind].describe(failed)} failed`;
      const stopped = await failJob(tx, job, reason, null, now);
      return stopped ? { job, change: { dispatch: [] }, failed: { stopped, reason } } : undefined;
    }
    const last = tasks.at(-1);
    if (!last || tasks.some((task) => task.state !== "done")) return undefined;
    const result = taskKinds[last.kind].result(services.config).parse(last.result);
    return { job, change: await kindDone(tx, job, result, now) };
  });
  if (!repaired) return undefined;
  if ("failed" in repaired && repaired.failed)
    await afterJobFailed(services, repaired.job, repaired.failed.stopped, repaired.failed.reason);
  await afterStepChange(services, repaired.job, repaired.change, "repair");
  return repaired.change;
}

/** What a done task of each kind changes, with its result's own type. */
function kindDone(tx: Queryable, job: TranscodeJob, result: TaskResult, now: Date): Promise<StepChange> {
  switch (result.kind) {
    case "plan":
      return taskKinds.plan.done(tx, { job, result, now });
    case "chunk":
      return taskKinds.chunk.done(tx, { job, result, now });
    case "audio":
      return taskKinds.audio.done(tx, { job, result, now });
    case "finalize":
      return taskKinds.finalize.done(tx, { job, result, now });
  }
}

/** Once a step change is committed: its tasks' dispatch messages, and the catalog for a published video. */
async function afterStepChange(services: Services, job: TranscodeJob, change: StepChange, taskId: string): Promise<void> {
  for (const id of change.dispatch) await services.transcodeQueue.send(taskMessage(job, id), { contentType: "json" });
  if (change.published) await syncCatalogCache(services, { id: job.videoId, wasListed: false, now: change.published });
  if (change.note) services.log.child({ jobId: job.id, videoId: job.videoId, taskId }).info(change.note, { dispatched: change.dispatch });
}

async function failTaskAttempt(
  services: Services,
  attempt: TaskAttempt,
  failure: { reason: string; final: boolean; qualityReport?: QualityReport | undefined },
): Promise<ReportOutcome> {
  const now = nowOf(services);
  const maxAttempts = services.config.TRANSCODE_TASK_MAX_ATTEMPTS;
  const failed = await services.db.transaction(async (tx) => {
    const job = await lockJob(tx, attempt.jobId);
    const row = job && (await failAttempt(tx, attempt, { reason: failure.reason, final: failure.final, maxAttempts, now }));
    if (!job || !row) return undefined;
    if (row.state === "pending") return { job, row, jobFailed: undefined };
    // A refusal of the source is the transcoder's own sentence; a task that kept failing says which and how often.
    const reason = failure.final ? failure.reason : exhaustedBecause(row, failure.reason);
    const stopped = await failJob(tx, job, reason, failure.qualityReport ?? null, now);
    return { job, row, jobFailed: stopped ? { stopped, reason } : undefined };
  });
  if (!failed) return "stale";
  await wakeLongestWaiting(services, now);
  const { job, row } = failed;
  if (row.state === "pending") {
    // Only this task runs again: 5 s, 10 s, 20 s… (a crash rarely heals in less).
    const delaySeconds = Math.min(300, 5 * 2 ** (row.failures - 1));
    await services.transcodeQueue.send(taskMessage(job, row.id), { contentType: "json", delaySeconds });
    services.log
      .child({ jobId: job.id, videoId: job.videoId, taskId: row.id })
      .warn("task attempt failed; queued again", { attempt: row.attempt, failures: row.failures, reason: failure.reason, delaySeconds });
  } else if (failed.jobFailed) {
    await afterJobFailed(services, job, failed.jobFailed.stopped, failed.jobFailed.reason);
  }
  return "ok";
}

function exhaustedBecause(task: TaskState, reason: string): string {
  const which = taskKinds[task.kind].describe(task);
  return `transcoding failed: ${which} failed ${task.failures} time${task.failures === 1 ? "" : "s"}; the last time: ${reason}`;
}

/**
 * The job is over without a ladder, in the caller's transaction: the job and the video are
 * `failed` with the reason (and the quality report of a refusal), and the job's other tasks are
 * stopped (their later reports are stale). Returns the stopped tasks, or undefined when the job
 * was over already.
 */
async function failJob(tx: Queryable, job: TranscodeJob, reason: string, qualityReport: QualityReport | null, now: Date) {
  const finished = await finishJob(tx, job.id, { step: "failed", now, error: reason, qualityReport });
  if (!finished) return undefined;
  await transitionVideo(tx, job.videoId, {
    from: ["queued", "transcoding"],
    to: "failed",
    set: { progress: null, error: reason, ...(qualityReport ? { qualityReport } : {}) },
  });
  return stopJobTasks(tx, job.id, now);
}

/** Once a job's failure is committed: its running tasks are asked to stop, and what it wrote goes. */
async function afterJobFailed(services: Services, job: TranscodeJob, stopped: readonly TaskState[], reason: string): Promise<void> {
  await Promise.all(stopped.map((task) => (task.instance ? cancelOn(transcoderNamed(services, task.instance), task.id) : undefined)));
  await services.media.deleteByPrefix(hlsPrefix(job.videoId));
  services.log.child({ jobId: job.id, videoId: job.videoId }).warn("transcode job failed; video failed", { reason });
}

/**
 * An instance was freed: the task that has waited longest for one (of any job) is dispatched now,
 * not when its delayed message comes back. First come, first served across uploads.
 */
async function wakeLongestWaiting(services: Services, now: Date): Promise<void> {
  const waiting = await longestWaiting(services.db);
  if (!waiting) return;
  await touchTask(services.db, waiting.task, now);
  await services.transcodeQueue.send(taskMessage({ id: waiting.task.jobId, videoId: waiting.videoId }, waiting.task.id), {
    contentType: "json",
  });
}

/** Not a state change: only a `transcoding` video's progress moves. */
async function setVideoProgress(db: Queryable, job: TranscodeJob, progress: number, now: Date): Promise<void> {
  await db
    .update(videos)
    .set({ progress, updatedAt: now })
    .where(and(eq(videos.id, job.videoId), eq(videos.state, "transcoding")));
}

function nowOf(services: Services): Date {
  return new Date(services.clock.now());
}
