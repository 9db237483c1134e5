import { hlsPrefix } from "../platform/media-layout.ts";
import type { Services } from "../platform/services.ts";
import { hasSqlState, SqlState } from "../platform/sql-errors.ts";
import { transitionVideo } from "../videos/index.ts";
import { type TranscodeTask as TaskBody, transcoderBusySchema, transcodeTaskSchema } from "./contract.ts";
import { attemptTag } from "./keys.ts";
import { taskFailed } from "./lifecycle.ts";
import {
  busyInstances,
  claimTask,
  findTask,
  markWaiting,
  releaseTask,
  storedPlan,
  type TranscodeJob,
  type TranscodeTask,
  type TranscodeTaskMessage,
} from "./service.ts";
import { signStorageGrant } from "./storage-grant.ts";
import { taskKinds } from "./task-kinds.ts";
import { type TranscoderInstance, transcoderInstances } from "./transcoders.ts";

/**
 * How long a task attempt's storage grants are valid at most: 2 h. They die sooner, with their
 * attempt (internal-storage.ts asks the database on every call); the expiry bounds the callbacks.
 * The longest task is the audio of a long title: 0.025 s per source second (docs/transcoding.md),
 * 9 minutes for the 6 h the quality check allows; an attempt that outlived its grants would fail
 * and run again with new ones.
 */
export const STORAGE_GRANT_TTL_SECONDS = 2 * 3600;
/**
 * One instance's answer to a dispatch comes at once (202); a container that must start first takes
 * a few seconds. The whole dispatch is bounded too (`TRANSCODE_DISPATCH_DEADLINE_SECONDS`).
 */
const DISPATCH_TIMEOUT_MS = 60_000;

export type DispatchOutcome =
  | { kind: "dispatched"; instance: string; attempt: number }
  /** No transcoder is free: the task waits, and its message must come back later. */
  | { kind: "waiting" }
  /** Nothing to do: the task runs already, is finished, or its job is gone or over. */
  | { kind: "skipped"; why: string };

/**
 * Finds a transcoder for a task and hands it over: the first free instance (no running task in
 * the table) takes it. The claim and the instance are one conditional UPDATE under a unique index
 * (one running task per instance), so two consumers cannot give one instance two tasks; an
 * instance that answers 429 or cannot be reached gives the task back, and the next one is tried.
 * The transcoder answers 202 at once: the consumer never waits for an encode. Trying instances
 * stops at `TRANSCODE_DISPATCH_DEADLINE_SECONDS` (by the services' clock, and no request waits
 * past it), and the task waits: 25 instances that each take 60 s to say no would otherwise
 * outlast the consumer's 15 minutes.
 */
export async function dispatchTask(services: Services, message: TranscodeTaskMessage): Promise<DispatchOutcome> {
  const { db, config } = services;
  const log = services.log.child({ jobId: message.jobId, videoId: message.videoId, taskId: message.taskId });
  const found = await findTask(db, message.jobId, message.taskId);
  if (!found) return { kind: "skipped", why: "the job is gone" };
  const { job, task } = found;
  const now = new Date(services.clock.now());
  if (job.step === "done" || job.step === "failed") return { kind: "skipped", why: `the job is ${job.step}` };
  if (task.state === "running" || task.state === "done" || task.state === "failed")
    return { kind: "skipped", why: `the task is ${task.state}` };

  const instances = transcoderInstances(services);
  if (instances.length === 0) {
    // A deployment without the container binding, or a local Worker without transcoders: the task
    // waits (the admin view says so) rather than spend its retries.
    log.error("no transcoder is configured: set TRANSCODER_URLS, or deploy with the TRANSCODER container binding");
  }
  const busy = await busyInstances(db);
  const deadline = now.getTime() + config.TRANSCODE_DISPATCH_DEADLINE_SECONDS * 1000;
  for (const instance of instances.filter((candidate) => !busy.has(candidate.name))) {
    const left = deadline - services.clock.now();
    if (left <= 0) {
      log.warn("dispatch ran out of time before a transcoder took the task; it waits", {
        deadlineSeconds: config.TRANSCODE_DISPATCH_DEADLINE_SECONDS,
      });
      break;
    }
    let claimed: TranscodeTask | undefined;
    try {
      claimed = await claimTask(db, { jobId: job.id, taskId: task.id }, instance.name, {
        now,
        seconds: config.TRANSCODE_TASK_LEASE_SECONDS,
      });
    } catch (error) {
      // Another consumer gave this instance a task a moment ago: try the next.
      if (hasSqlState(error, SqlState.uniqueViolation)) continue;
      throw error;
    }
    if (!claimed) return { kind: "skipped", why: "another delivery took the task" };
    const answer = await post(instance, await taskBody(services, job, claimed), Math.min(DISPATCH_TIMEOUT_MS, left));
    if (answer.status === 202) {
      // The job's first task runs: the video leaves the queue.
      if (task.kind === "plan")
        await transitionVideo(db, job.videoId, { from: ["queued"], to: "transcoding", set: { progress: 0, error: null } });
      log.info("task dispatched", { instance: instance.name, attempt: claimed.attempt });
      return { kind: "dispatched", instance: instance.name, attempt: claimed.attempt };
    }
    if (answer.status === 400) {
      // The transcoder's contract refuses the task the Worker built from what it accepted: no
      // retry, instance or delay changes that, so the attempt fails for good and the job with it.
      const reason = `the transcoder refused ${taskKinds[task.kind].describe(claimed)} as the Worker built it (${answer.detail})`;
      await taskFailed(services, { jobId: job.id, id: claimed.id, attempt: claimed.attempt }, { retryable: false, reason });
      log.error("transcoder refused the task; the job failed", { instance: instance.name, detail: answer.detail });
      return { kind: "skipped", why: "the transcoder refused the task; the job failed" };
    }
    await releaseTask(db, claimed, now);
    if (answer.status === 429 || answer.status === 0 || answer.status >= 500) {
      log.info("transcoder did not take the task; trying another", {
        instance: instance.name,
        status: answer.status,
        detail: answer.detail,
      });
      continue;
    }
    // 401 and the like: the Worker and the transcoder are configured apart (its token). Loud; the
    // message is retried, dead-lettered and sent again by the cron until an operator mends it.
    throw new Error(`the transcoder ${instance.name} refused task ${task.id}: ${answer.status} ${answer.detail}`);
  }
  await markWaiting(db, message, now);
  log.info("no transcoder free; the task waits", { instances: instances.length, busy: busy.size });
  return { kind: "waiting" };
}

async function post(instance: TranscoderInstance, body: TaskBody, timeoutMs: number): Promise<{ status: number; detail: string }> {
  try {
    const response = await instance.fetch(
      new Request(`${instance.base}/tasks`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    const text = await response.text().catch(() => "");
    if (response.status === 429) {
      const busy = transcoderBusySchema.safeParse(JSON.parse(text || "null"));
      return { status: 429, detail: busy.success ? busy.data.error : "busy" };
    }
    return { status: response.status, detail: text.slice(0, 500) };
  } catch (error) {
    return { status: 0, detail: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The task as the transcoder takes it, with a grant for this attempt: the envelope, and what its
 * kind is given (task-kinds.ts). Checked with the contract's schema before it goes, as the
 * transcoder will check it.
 */
async function taskBody(services: Services, job: TranscodeJob, task: TranscodeTask): Promise<TaskBody> {
  const { config } = services;
  const base = config.PUBLIC_BASE_URL.replace(/\/+$/, "");
  const tag = attemptTag(task.id, task.attempt);
  const prefix = hlsPrefix(job.videoId);
  const attempt = {
    job: job.id,
    task: task.id,
    attempt: task.attempt,
    exp: Math.floor(services.clock.now() / 1000) + STORAGE_GRANT_TTL_SECONDS,
  };
  // Two grants (storage-grant.ts): every name the attempt writes carries its tag, the finalize's
  // too; ffmpeg gets only the one that reads the master.
  const token = await signStorageGrant(config.INTERNAL_SIGNING_SECRET, { ...attempt, scope: "outputs", prefix, tag });
  const sourceToken = await signStorageGrant(config.INTERNAL_SIGNING_SECRET, { ...attempt, scope: "source", key: job.sourceKey });
  const kind = await taskKinds[task.kind].request({ db: services.db, config, job, task, plan: storedPlan(job) });
  return transcodeTaskSchema.parse({
    jobId: job.id,
    videoId: job.videoId,
    taskId: task.id,
    attempt: task.attempt,
    sourceKey: job.sourceKey,
    outputPrefix: prefix,
    attemptTag: tag,
    storage: { baseUrl: base, token, sourceToken },
    callbackUrl: `${base}/internal/transcode/callback`,
    ...kind,
  });
}
