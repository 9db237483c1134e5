import { and, desc, eq, getTableColumns, inArray, isNotNull, lt, ne, notExists, sql } from "drizzle-orm";
import {
  type TranscodeJob,
  type TranscodeStep,
  type TranscodeTask,
  type TranscodeTaskKind,
  transcodeJobs,
  transcodeTasks,
  videos,
} from "../../schema/index.ts";
import type { Database } from "../platform/db.ts";
import { anyPlanResultSchema, type PlanResult } from "./contract.ts";

/**
 * Transcode jobs and their tasks in Postgres. Every change of a task is one conditional UPDATE, so
 * concurrent consumers, callbacks and cron runs cannot both win it; every change of a job together
 * with its tasks is one transaction (the callers'), so a job never moves to a step without that
 * step's tasks. Times come from the caller's clock (`now`), never from the database's.
 */

export type { TranscodeJob, TranscodeTask };

/** What the queries below run on: the primary, or a transaction on it. */
export type Queryable = Pick<Database, "select" | "insert" | "update" | "delete">;

/** A task row without its result (a chunk's lists every segment: read only when a task needs it). */
export type TaskState = Omit<TranscodeTask, "result">;

/** A job and the state of every task of it, as one callback or cron run loads them once. */
export interface LoadedJob {
  job: TranscodeJob;
  tasks: TaskState[];
}

/** A task to create: its id, kind, and the range it encodes. */
export interface NewTask {
  id: string;
  kind: TranscodeTaskKind;
  chunkIndex?: number;
}

/** A dispatch message: "find a transcoder for this task". */
export interface TranscodeTaskMessage {
  kind: "transcode-task";
  jobId: string;
  videoId: string;
  taskId: string;
  /** How many times this task has already waited for a free transcoder (none: 0); its next wait is longer. */
  waits?: number;
}

export function taskMessage(job: Pick<TranscodeJob, "id" | "videoId">, taskId: string): TranscodeTaskMessage {
  return { kind: "transcode-task", jobId: job.id, videoId: job.videoId, taskId };
}

/** The steps a job is under way in, and the kinds of task each one runs. */
export const activeSteps = ["plan", "encode", "finalize"] as const satisfies readonly TranscodeStep[];
export type ActiveStep = (typeof activeSteps)[number];
export const stepKinds: Record<ActiveStep, readonly TranscodeTaskKind[]> = {
  plan: ["plan"],
  // The audio first: it covers the whole title, the longest task of a long one, so it should not
  // start after the last round of chunks (messages go in this order).
  encode: ["audio", "chunk"],
  finalize: ["finalize"],
};

export function isActive(step: TranscodeStep): step is ActiveStep {
  return (activeSteps as readonly TranscodeStep[]).includes(step);
}

/** The job's plan as stored (checked again on the way out of the database), or null before there is one. */
export function storedPlan(job: Pick<TranscodeJob, "plan">): PlanResult | null {
  return job.plan === null ? null : anyPlanResultSchema.parse(job.plan);
}

const taskStateColumns = (() => {
  const { result: _result, ...columns } = getTableColumns(transcodeTasks);
  return columns;
})();

/** A new job with its plan task, in one transaction. */
export async function insertJob(db: Database, job: { id: string; videoId: string; sourceKey: string }, now: Date): Promise<TranscodeJob> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(transcodeJobs)
      .values({ ...job, createdAt: now, updatedAt: now })
      .returning();
    if (!row) throw new Error("insert returned no job");
    await insertTasks(tx, job.id, [{ id: "plan", kind: "plan" }], now);
    return row;
  });
}

export async function deleteJob(db: Queryable, jobId: string): Promise<void> {
  await db.delete(transcodeJobs).where(eq(transcodeJobs.id, jobId));
}

/** A job and its tasks' state (no results), or undefined when the job is gone. */
export async function loadJob(db: Queryable, jobId: string): Promise<LoadedJob | undefined> {
  const [[job], tasks] = await Promise.all([db.select().from(transcodeJobs).where(eq(transcodeJobs.id, jobId)), taskStates(db, jobId)]);
  return job ? { job, tasks } : undefined;
}

/** The state of every task of a job, without results. */
export async function taskStates(db: Queryable, jobId: string): Promise<TaskState[]> {
  return db.select(taskStateColumns).from(transcodeTasks).where(eq(transcodeTasks.jobId, jobId));
}

/**
 * The job's row, locked until the transaction ends: the changes of one job (its callbacks, the
 * cron's repair) happen one after another, so "the last chunk is done" is seen by exactly one.
 */
export async function lockJob(tx: Queryable, jobId: string): Promise<TranscodeJob | undefined> {
  const [row] = await tx.select().from(transcodeJobs).where(eq(transcodeJobs.id, jobId)).for("update");
  return row;
}

/** One task's state and its job, or undefined when either is gone. */
export async function findTask(db: Queryable, jobId: string, taskId: string): Promise<{ job: TranscodeJob; task: TaskState } | undefined> {
  const [row] = await db
    .select({ job: transcodeJobs, task: taskStateColumns })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(refIs({ jobId, taskId }));
  return row;
}

export async function jobTasks(db: Queryable, jobId: string): Promise<TranscodeTask[]> {
  return db.select().from(transcodeTasks).where(eq(transcodeTasks.jobId, jobId));
}

/** A job's tasks of `kinds`, with their results. */
export async function taskResults(db: Queryable, jobId: string, kinds: readonly TranscodeTaskKind[]) {
  return db
    .select({
      id: transcodeTasks.id,
      kind: transcodeTasks.kind,
      chunkIndex: transcodeTasks.chunkIndex,
      state: transcodeTasks.state,
      lastError: transcodeTasks.lastError,
      result: transcodeTasks.result,
    })
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.jobId, jobId), inArray(transcodeTasks.kind, [...kinds])));
}

/** A video's latest job, if it has one. */
export async function latestJob(db: Queryable, videoId: string): Promise<TranscodeJob | undefined> {
  const [row] = await db
    .select()
    .from(transcodeJobs)
    .where(eq(transcodeJobs.videoId, videoId))
    .orderBy(desc(transcodeJobs.createdAt))
    .limit(1);
  return row;
}

/** Creates tasks (each at most once: a task that exists is left as it is). Returns the ids created. */
export async function insertTasks(db: Queryable, jobId: string, tasks: readonly NewTask[], now: Date): Promise<string[]> {
  if (tasks.length === 0) return [];
  const rows = await db
    .insert(transcodeTasks)
    .values(tasks.map((task) => ({ jobId, ...task, createdAt: now, updatedAt: now })))
    .onConflictDoNothing()
    .returning({ id: transcodeTasks.id });
  const created = new Set(rows.map((row) => row.id));
  return tasks.map((task) => task.id).filter((id) => created.has(id));
}

/** Moves a job from one step to the next (with what the step change records); false when it is not in `from`. */
export async function advanceJob(
  db: Queryable,
  jobId: string,
  change: { from: ActiveStep; to: ActiveStep; now: Date; plan?: PlanResult },
): Promise<boolean> {
  const [moved] = await db
    .update(transcodeJobs)
    .set({
      step: change.to,
      ...(change.plan ? { plan: change.plan, chunksTotal: change.plan.chunks.length } : {}),
      updatedAt: change.now,
    })
    .where(and(eq(transcodeJobs.id, jobId), eq(transcodeJobs.step, change.from)))
    .returning({ id: transcodeJobs.id });
  return moved !== undefined;
}

/** How many of the job's tasks of `kinds` are not done yet. */
export async function unfinishedTasks(db: Queryable, jobId: string, kinds: readonly TranscodeTaskKind[]): Promise<number> {
  const [row] = await db
    .select({ count: sql<number>`count(*)::int` })
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.jobId, jobId), inArray(transcodeTasks.kind, [...kinds]), ne(transcodeTasks.state, "done")));
  return row?.count ?? 0;
}

export async function finishJob(
  db: Queryable,
  jobId: string,
  outcome: { step: Extract<TranscodeStep, "done" | "failed">; now: Date; error?: string; qualityReport?: Record<string, unknown> | null },
): Promise<TranscodeJob | undefined> {
  const [row] = await db
    .update(transcodeJobs)
    .set({
      step: outcome.step,
      lastError: outcome.error ?? null,
      ...(outcome.qualityReport !== undefined ? { qualityReport: outcome.qualityReport } : {}),
      finishedAt: outcome.now,
      updatedAt: outcome.now,
    })
    .where(and(eq(transcodeJobs.id, jobId), inArray(transcodeJobs.step, [...activeSteps])))
    .returning();
  return row;
}

/** The job's tasks that were still to run, stopped with it (their later reports are stale). Returns them. */
export async function stopJobTasks(db: Queryable, jobId: string, now: Date): Promise<TaskState[]> {
  return db
    .update(transcodeTasks)
    .set({ state: "failed", leaseExpiresAt: null, lastError: "its job failed", finishedAt: now, updatedAt: now })
    .where(and(eq(transcodeTasks.jobId, jobId), inArray(transcodeTasks.state, ["pending", "waiting", "running"])))
    .returning(taskStateColumns);
}

/** Instances that run a task now (a task leaves `running` when it ends, fails, stalls or is given back). */
export async function busyInstances(db: Queryable): Promise<Set<string>> {
  const rows = await db
    .select({ instance: transcodeTasks.instance })
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.state, "running"), isNotNull(transcodeTasks.instance)));
  return new Set(rows.flatMap((row) => (row.instance === null ? [] : [row.instance])));
}

/**
 * Takes a task for one instance: `pending` or `waiting` becomes `running` with the next attempt
 * number and a lease until `now + leaseSeconds`. Undefined when another consumer took the task
 * first. Throws the database's unique violation when the instance runs another task (the
 * semaphore index): try another.
 */
export async function claimTask(
  db: Queryable,
  ref: { jobId: string; taskId: string },
  instance: string,
  lease: { now: Date; seconds: number },
): Promise<TranscodeTask | undefined> {
  const [row] = await db
    .update(transcodeTasks)
    .set({
      state: "running",
      attempt: sql`${transcodeTasks.attempt} + 1`,
      instance,
      leaseExpiresAt: leaseEnd(lease),
      dispatchedAt: lease.now,
      waitingSince: null,
      progress: 0,
      updatedAt: lease.now,
    })
    .where(and(refIs(ref), inArray(transcodeTasks.state, ["pending", "waiting"])))
    .returning();
  return row;
}

/** A dispatch the instance did not take (busy, unreachable): the task waits for another. */
export async function releaseTask(db: Queryable, task: TaskAttempt, now: Date): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ state: "waiting", instance: null, leaseExpiresAt: null, waitingSince: now, updatedAt: now })
    .where(runningAttempt(task));
}

/** No transcoder is free: the task waits (the admin view says so), and its message comes back later. */
export async function markWaiting(db: Queryable, ref: { jobId: string; taskId: string }, now: Date): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ state: "waiting", waitingSince: sql`coalesce(${transcodeTasks.waitingSince}, ${now})`, updatedAt: now })
    .where(and(refIs(ref), inArray(transcodeTasks.state, ["pending", "waiting"])));
}

/** A callback of the running attempt: its progress, and a lease renewed until `now + leaseSeconds`. False when it is not the running attempt. */
export async function recordProgress(db: Queryable, task: TaskAttempt, progress: number, lease: { now: Date; seconds: number }) {
  const [row] = await db
    .update(transcodeTasks)
    .set({ progress, leaseExpiresAt: leaseEnd(lease), updatedAt: lease.now })
    .where(runningAttempt(task))
    .returning({ id: transcodeTasks.id });
  return row !== undefined;
}

/** The running attempt finished: `done` with its result. Undefined when it is not the running attempt. */
export async function completeTask(db: Queryable, task: TaskAttempt, result: Record<string, unknown>, now: Date) {
  const [row] = await db
    .update(transcodeTasks)
    .set({ state: "done", result, progress: 1, leaseExpiresAt: null, finishedAt: now, updatedAt: now })
    .where(runningAttempt(task))
    .returning(taskStateColumns);
  return row;
}

/**
 * The running attempt was handed back by an instance that is shutting down (a rollout): the task
 * is `pending` again for another instance, with no failure counted (the attempt number still goes
 * up at the next claim, which fences this one's late reports). Undefined when it is not the running attempt.
 */
export async function handBackTask(db: Queryable, task: TaskAttempt, reason: string, now: Date): Promise<TaskState | undefined> {
  const [row] = await db
    .update(transcodeTasks)
    .set({ state: "pending", instance: null, leaseExpiresAt: null, progress: 0, lastError: reason, updatedAt: now })
    .where(runningAttempt(task))
    .returning(taskStateColumns);
  return row;
}

/**
 * An attempt failed (it said so, or its lease ran out): the task is queued again (`pending`, one
 * failure more), or, when it has failed `maxAttempts` times or the failure is final, `failed`.
 * Undefined when `attempt` is not the running attempt (a late report of a dead one).
 */
export async function failAttempt(
  db: Queryable,
  task: TaskAttempt,
  failure: { reason: string; final: boolean; maxAttempts: number; now: Date },
): Promise<TaskState | undefined> {
  const exhausted = sql`${failure.final} or ${transcodeTasks.failures} + 1 >= ${failure.maxAttempts}`;
  const [row] = await db
    .update(transcodeTasks)
    .set({
      state: sql`case when ${exhausted} then 'failed' else 'pending' end`,
      failures: sql`${transcodeTasks.failures} + 1`,
      lastError: failure.reason,
      instance: null,
      leaseExpiresAt: null,
      finishedAt: sql`case when ${exhausted} then ${failure.now}::timestamptz else null end`,
      updatedAt: failure.now,
    })
    .where(runningAttempt(task))
    .returning(taskStateColumns);
  return row;
}

/** Running tasks whose lease ran out before `now`: their transcoder stopped calling back. */
export async function stalledTasks(db: Queryable, now: Date, limit = 100): Promise<TaskState[]> {
  return db
    .select(taskStateColumns)
    .from(transcodeTasks)
    .where(and(eq(transcodeTasks.state, "running"), lt(transcodeTasks.leaseExpiresAt, now)))
    .limit(limit);
}

/** Tasks of jobs under way that have waited `seconds` before `now` for a dispatch: their message may be lost. */
export async function unsentTasks(db: Queryable, seconds: number, now: Date, limit = 100) {
  return db
    .select({ task: taskStateColumns, videoId: transcodeJobs.videoId })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(
      and(
        inArray(transcodeTasks.state, ["pending", "waiting"]),
        lt(transcodeTasks.updatedAt, new Date(now.getTime() - seconds * 1000)),
        inArray(transcodeJobs.step, [...activeSteps]),
      ),
    )
    .limit(limit);
}

/**
 * Jobs under way whose step has no task left to run (pending, waiting or running): a step whose
 * tasks were never created, or whose tasks are all done but the job did not move on. Neither
 * happens when every change of a job is one transaction; the cron's repair finds what did.
 */
export async function jobsWithoutLiveTasks(db: Queryable, limit = 100): Promise<TranscodeJob[]> {
  const live = db
    .select({ id: transcodeTasks.id })
    .from(transcodeTasks)
    .where(
      and(
        eq(transcodeTasks.jobId, transcodeJobs.id),
        inArray(transcodeTasks.state, ["pending", "waiting", "running"]),
        sql`((${transcodeJobs.step} = 'plan' and ${transcodeTasks.kind} = 'plan')
          or (${transcodeJobs.step} = 'encode' and ${transcodeTasks.kind} in ('chunk', 'audio'))
          or (${transcodeJobs.step} = 'finalize' and ${transcodeTasks.kind} = 'finalize'))`,
      ),
    );
  return db
    .select()
    .from(transcodeJobs)
    .where(and(inArray(transcodeJobs.step, [...activeSteps]), notExists(live)))
    .limit(limit);
}

/** The task that has waited longest for a free transcoder, if any. */
export async function longestWaiting(db: Queryable): Promise<{ task: TaskState; videoId: string } | undefined> {
  const [row] = await db
    .select({ task: taskStateColumns, videoId: transcodeJobs.videoId })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .where(eq(transcodeTasks.state, "waiting"))
    .orderBy(transcodeTasks.waitingSince)
    .limit(1);
  return row;
}

/** Marks a task as re-sent (its `updatedAt` is when the last message went). */
export async function touchTask(db: Queryable, task: Pick<TranscodeTask, "jobId" | "id">, now: Date): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ updatedAt: now })
    .where(refIs({ jobId: task.jobId, taskId: task.id }));
}

export async function markDeadLettered(db: Queryable, ref: { jobId: string; taskId: string }, reason: string, now: Date): Promise<void> {
  await db
    .update(transcodeTasks)
    .set({ deadLetteredAt: now, lastError: reason, updatedAt: now })
    .where(and(refIs(ref), inArray(transcodeTasks.state, ["pending", "waiting"])));
}

/**
 * Whether `attempt` is its task's running attempt, the job under way and the video not published:
 * what every storage call of the attempt's grants needs (a grant dies with its attempt). One
 * indexed row, read from the primary.
 */
export async function isLiveAttempt(db: Queryable, ref: { jobId: string; taskId: string; attempt: number }): Promise<boolean> {
  const [row] = await db
    .select({ id: transcodeTasks.id })
    .from(transcodeTasks)
    .innerJoin(transcodeJobs, eq(transcodeJobs.id, transcodeTasks.jobId))
    .innerJoin(videos, eq(videos.id, transcodeJobs.videoId))
    .where(
      and(
        refIs(ref),
        eq(transcodeTasks.attempt, ref.attempt),
        eq(transcodeTasks.state, "running"),
        inArray(transcodeJobs.step, [...activeSteps]),
        inArray(videos.state, ["queued", "transcoding"]),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/** One attempt of a task: what a callback names. */
export type TaskAttempt = Pick<TranscodeTask, "jobId" | "id" | "attempt">;

function refIs(ref: { jobId: string; taskId: string }) {
  return and(eq(transcodeTasks.jobId, ref.jobId), eq(transcodeTasks.id, ref.taskId));
}

function runningAttempt(task: TaskAttempt) {
  return and(refIs({ jobId: task.jobId, taskId: task.id }), eq(transcodeTasks.attempt, task.attempt), eq(transcodeTasks.state, "running"));
}

function leaseEnd(lease: { now: Date; seconds: number }): Date {
  return new Date(lease.now.getTime() + lease.seconds * 1000);
}
