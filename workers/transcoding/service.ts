import { and, desc, eq, inArray, isNotNull, lt, sql } from "drizzle-orm";
import {
  type TranscodeJob,
  type TranscodeStep,
  type TranscodeTask,
  type TranscodeTaskKind,
  transcodeJobs,
  transcodeTasks,
} from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import type { ChunkResult, PlanResult } from "./contract.ts";
import { chunkTaskId } from "./keys.ts";

/**
 * Transcode jobs and their tasks in Postgres: every state change of a task is one conditional
 * UPDATE, so concurrent consumers, callbacks and cron runs cannot both win the same change.
 */

export type { TranscodeJob, TranscodeTask };

/** A dispatch message: "find a transcoder for this task". */
export interface TranscodeTaskMessage {
  kind: "transcode-task";
  jobId: string;
  videoId: string;
  taskId: string;
}

export function taskMessage(job: Pick<TranscodeJob, "id" | "videoId">, taskId: string): TranscodeTaskMessage {
  return { kind: "transcode-task", jobId: job.id, videoId: job.videoId, taskId };
}

export async function insertJob(db: Database, job: { id: string; videoId: string; sourceKey: string }): Promise<TranscodeJob> {
  const [row] = await db.insert(transcodeJobs).values(job).returning();
  if (!row) throw new Error("insert returned no job");
  await db.insert(transcodeTasks).values({ jobId: job.id, id: "plan", kind: "plan" });
  return row;
}

export async function deleteJob(db: Database, jobId: string): Promise<void> {
  await db.delete(transcodeJobs).where(eq(transcodeJobs.id, jobId));
}

export async function findJob(db: Database, jobId: string): Promise<TranscodeJob | undefined> {
  const [row] = await db.select().from(transcodeJobs).where(eq(transcodeJobs.id, jobId));
  return row;
}

export async function findTask(
  db: Database,
  jobId: string,
  taskId: string,
): Promise<{ job: TranscodeJob; task: TranscodeTask } | undefined> {
  const [row] = await db
    .select({ job: transcodeJobs, task: transcodeTasks })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(and(eq(transcodeTasks.jobId, jobId), eq(transcodeTasks.id, taskId)));
  return row;
}

export async function jobTasks(db: Database, jobId: string): Promise<TranscodeTask[]> {
  return db.select().from(transcodeTasks).where(eq(transcodeTasks.jobId, jobId));
}

/** A video's latest job, if it has one. */
export async function latestJob(db: Database, videoId: string): Promise<TranscodeJob | undefined> {
  const [row] = await db
    .select()
    .from(transcodeJobs)
    .where(eq(transcodeJobs.videoId, videoId))
    .orderBy(desc(transcodeJobs.createdAt))
    .limit(1);
  return row;
}

/** Instances that run a task now (a task leaves `running` when it ends, fails, stalls or is given back). */
export async function busyInstances(db: Database): Promise<Set<string>> {
  const rows = await db
    .select({ instance: transcodeTasks.instance })
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.state, "running"), isNotNull(transcodeTasks.instance)));
  return new Set(rows.map((row) => row.instance as string));
}

/**
 * Takes a task for one instance: `pending` or `waiting` becomes `running` with the next attempt
 * number and a lease. Undefined when another consumer took the task first. Throws the database's
 * unique violation when the instance runs another task (the semaphore index): try another.
 */
export async function claimTask(
  db: Database,
  ref: { jobId: string; taskId: string },
  instance: string,
  leaseSeconds: number,
): Promise<TranscodeTask | undefined> {
  const [row] = await db
    .update(transcodeTasks)
    .set({
      state: "running",
      attempt: sql`${transcodeTasks.attempt} + 1`,
      instance,
      leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSeconds})`,
      dispatchedAt: sql`now()`,
      waitingSince: null,
      progress: 0,
      updatedAt: sql`now()`,
    })
    .where(
      and(eq(transcodeTasks.jobId, ref.jobId), eq(transcodeTasks.id, ref.taskId), inArray(transcodeTasks.state, ["pending", "waiting"])),
    )
    .returning();
  return row;
}

/** A dispatch the instance did not take (busy, unreachable): the task waits for another. */
export async function releaseTask(db: Database, task: Pick<TranscodeTask, "jobId" | "id" | "attempt">): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ state: "waiting", instance: null, leaseExpiresAt: null, waitingSince: sql`now()`, updatedAt: sql`now()` })
    .where(and(taskIs(task), eq(transcodeTasks.attempt, task.attempt), eq(transcodeTasks.state, "running")));
}

/** No transcoder is free: the task waits (the admin view says so), and its message comes back later. */
export async function markWaiting(db: Database, ref: { jobId: string; taskId: string }): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ state: "waiting", waitingSince: sql`coalesce(${transcodeTasks.waitingSince}, now())`, updatedAt: sql`now()` })
    .where(
      and(eq(transcodeTasks.jobId, ref.jobId), eq(transcodeTasks.id, ref.taskId), inArray(transcodeTasks.state, ["pending", "waiting"])),
    );
}

/** A callback of the running attempt: its progress, and a renewed lease. False when it is not the running attempt. */
export async function recordProgress(
  db: Database,
  task: Pick<TranscodeTask, "jobId" | "id" | "attempt">,
  progress: number,
  leaseSeconds: number,
) {
  const [row] = await db
    .update(transcodeTasks)
    .set({ progress, leaseExpiresAt: sql`now() + make_interval(secs => ${leaseSeconds})`, updatedAt: sql`now()` })
    .where(and(taskIs(task), eq(transcodeTasks.attempt, task.attempt), eq(transcodeTasks.state, "running")))
    .returning({ id: transcodeTasks.id });
  return row !== undefined;
}

/** The running attempt finished: `done` with its result. Undefined when it is not the running attempt. */
export async function completeTask(db: Database, task: Pick<TranscodeTask, "jobId" | "id" | "attempt">, result: Record<string, unknown>) {
  const [row] = await db
    .update(transcodeTasks)
    .set({ state: "done", result, progress: 1, leaseExpiresAt: null, finishedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(taskIs(task), eq(transcodeTasks.attempt, task.attempt), eq(transcodeTasks.state, "running")))
    .returning();
  return row;
}

/**
 * An attempt failed (it said so, or its lease ran out): the task is queued again (`pending`, one
 * failure more), or, when it has failed `maxAttempts` times or the failure is final, `failed`.
 * Undefined when `attempt` is not the running attempt (a late report of a dead one).
 */
export async function failAttempt(
  db: Database,
  task: Pick<TranscodeTask, "jobId" | "id" | "attempt">,
  failure: { reason: string; final: boolean; maxAttempts: number },
): Promise<TranscodeTask | undefined> {
  const exhausted = sql`${failure.final} or ${transcodeTasks.failures} + 1 >= ${failure.maxAttempts}`;
  const [row] = await db
    .update(transcodeTasks)
    .set({
      state: sql`case when ${exhausted} then 'failed' else 'pending' end`,
      failures: sql`${transcodeTasks.failures} + 1`,
      lastError: failure.reason,
      instance: null,
      leaseExpiresAt: null,
      finishedAt: sql`case when ${exhausted} then now() else null end`,
      updatedAt: sql`now()`,
    })
    .where(and(taskIs(task), eq(transcodeTasks.attempt, task.attempt), eq(transcodeTasks.state, "running")))
    .returning();
  return row;
}

/** Running tasks whose lease has run out: their transcoder stopped calling back. */
export async function stalledTasks(db: Database, limit = 100): Promise<TranscodeTask[]> {
  return db
    .select()
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.state, "running"), lt(transcodeTasks.leaseExpiresAt, sql`now()`)))
    .limit(limit);
}

/** Tasks waiting for a dispatch that has not come for `seconds`: their message may be lost. */
export async function unsentTasks(db: Database, seconds: number, limit = 100) {
  return db
    .select({ task: transcodeTasks, videoId: transcodeJobs.videoId })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(
      and(
        inArray(transcodeTasks.state, ["pending", "waiting"]),
        lt(transcodeTasks.updatedAt, sql`now() - make_interval(secs => ${seconds})`),
        inArray(transcodeJobs.step, ["plan", "encode", "finalize"]),
      ),
    )
    .limit(limit);
}

/** The task that has waited longest for a free transcoder, if any. */
export async function longestWaiting(db: Database): Promise<{ task: TranscodeTask; videoId: string } | undefined> {
  const [row] = await db
    .select({ task: transcodeTasks, videoId: transcodeJobs.videoId })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(eq(transcodeTasks.state, "waiting"))
    .orderBy(transcodeTasks.waitingSince)
    .limit(1);
  return row;
}

/** Marks a task as re-sent (its `updatedAt` is when the last message went). */
export async function touchTask(db: Database, task: Pick<TranscodeTask, "jobId" | "id">): Promise<void> {
  await db.update(transcodeTasks).set({ updatedAt: sql`now()` }).where(taskIs(task));
}

export async function markDeadLettered(db: Database, ref: { jobId: string; taskId: string }, reason: string): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ deadLetteredAt: sql`now()`, lastError: reason, updatedAt: sql`now()` })
    .where(
      and(eq(transcodeTasks.jobId, ref.jobId), eq(transcodeTasks.id, ref.taskId), inArray(transcodeTasks.state, ["pending", "waiting"])),
    );
}

/** The plan is in: the chunk tasks and the audio task exist, and the job encodes. Returns the new tasks' ids (none when another callback got there first). */
export async function planJob(db: Database, jobId: string, plan: PlanResult): Promise<string[]> {
  const [moved] = await db
    .update(transcodeJobs)
    .set({ step: "encode", plan: plan as unknown as Record<string, unknown>, chunksTotal: plan.chunks.length, updatedAt: sql`now()` })
    .where(and(eq(transcodeJobs.id, jobId), eq(transcodeJobs.step, "plan")))
    .returning({ id: transcodeJobs.id });
  if (!moved) return [];
  // The audio first: it covers the whole title, the longest task of a long one, so it should not
  // start after the last round of chunks (the messages go in this order).
  const tasks: (typeof transcodeTasks.$inferInsert)[] = [
    ...(plan.encode.audio ? [{ jobId, id: "audio", kind: "audio" as TranscodeTaskKind }] : []),
    ...plan.chunks.map((chunk) => ({ jobId, id: chunkTaskId(chunk.index), kind: "chunk" as TranscodeTaskKind, chunkIndex: chunk.index })),
  ];
  await db.insert(transcodeTasks).values(tasks).onConflictDoNothing();
  return tasks.map((task) => task.id);
}

/** Every chunk and the audio are done: the finalize task, once (true for the caller that created it). */
export async function startFinalize(db: Database, jobId: string): Promise<boolean> {
  const [moved] = await db
    .update(transcodeJobs)
    .set({ step: "finalize", updatedAt: sql`now()` })
    .where(and(eq(transcodeJobs.id, jobId), eq(transcodeJobs.step, "encode")))
    .returning({ id: transcodeJobs.id });
  if (!moved) return false;
  await db.insert(transcodeTasks).values({ jobId, id: "finalize", kind: "finalize" }).onConflictDoNothing();
  return true;
}

export async function finishJob(
  db: Database,
  jobId: string,
  outcome: { step: Extract<TranscodeStep, "done" | "failed">; error?: string; qualityReport?: Record<string, unknown> | null },
): Promise<TranscodeJob | undefined> {
  const [row] = await db
    .update(transcodeJobs)
    .set({
      step: outcome.step,
      lastError: outcome.error ?? null,
      ...(outcome.qualityReport !== undefined ? { qualityReport: outcome.qualityReport } : {}),
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(transcodeJobs.id, jobId), inArray(transcodeJobs.step, ["plan", "encode", "finalize"])))
    .returning();
  return row;
}

/** The results the finalize task joins: every chunk's, in order, and the audio's. */
export function finalizeInputs(tasks: readonly TranscodeTask[]): { chunks: ChunkResult[]; audio: Record<string, unknown> | null } {
  const chunks = tasks
    .filter((task) => task.kind === "chunk")
    .sort((a, b) => (a.chunkIndex ?? 0) - (b.chunkIndex ?? 0))
    .map((task) => task.result as unknown as ChunkResult);
  return { chunks, audio: tasks.find((task) => task.kind === "audio")?.result ?? null };
}

function taskIs(task: Pick<TranscodeTask, "jobId" | "id">) {
  return and(eq(transcodeTasks.jobId, task.jobId), eq(transcodeTasks.id, task.id));
}
