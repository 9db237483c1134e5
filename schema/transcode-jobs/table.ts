import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import { videos } from "../videos/table.ts";

/**
 * Transcode jobs as data (issue 12): one row per upload of a master, one row per task of it (the
 * plan, each chunk, the audio, the finalize), each with its state, attempt, lease, progress, last
 * error and timings. The queue only carries "dispatch this task" messages; everything that must
 * survive a lost message, a dead consumer or a dead transcoder is here.
 */

export const transcodeSteps = ["plan", "encode", "finalize", "done", "failed"] as const;
export type TranscodeStep = (typeof transcodeSteps)[number];

export const transcodeTaskKinds = ["plan", "chunk", "audio", "finalize"] as const;
export type TranscodeTaskKind = (typeof transcodeTaskKinds)[number];

/**
 * - pending: a dispatch message is on the queue.
 * - waiting: no transcoder was free; the message comes back after a delay (no retry spent).
 * - running: a transcoder accepted it (202); its callbacks keep the lease.
 * - done, failed: final.
 */
export const transcodeTaskStates = ["pending", "waiting", "running", "done", "failed"] as const;
export type TranscodeTaskState = (typeof transcodeTaskStates)[number];

export const transcodeJobs = pgTable(
  "transcode_jobs",
  {
    id: text("id").primaryKey(),
    videoId: text("video_id")
      .notNull()
      .references(() => videos.id, { onDelete: "cascade" }),
    sourceKey: text("source_key").notNull(),
    step: text("step", { enum: transcodeSteps }).notNull().default("plan"),
    /** The plan task's result (ladder, ranges): what every later task is built from. */
    plan: jsonb("plan").$type<Record<string, unknown>>(),
    chunksTotal: integer("chunks_total"),
    /** Why the job failed, in words (also on the video). */
    lastError: text("last_error"),
    qualityReport: jsonb("quality_report").$type<Record<string, unknown>>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [
    // The admin view and the start of a job: a video's latest job.
    index("transcode_jobs_video_idx").on(table.videoId, table.createdAt.desc()),
    check("transcode_jobs_step_check", sql`${table.step} in ('plan', 'encode', 'finalize', 'done', 'failed')`),
  ],
);

export const transcodeTasks = pgTable(
  "transcode_tasks",
  {
    jobId: text("job_id")
      .notNull()
      .references(() => transcodeJobs.id, { onDelete: "cascade" }),
    /** "plan", "chunk-0003", "audio", "finalize". */
    id: text("id").notNull(),
    kind: text("kind", { enum: transcodeTaskKinds }).notNull(),
    chunkIndex: integer("chunk_index"),
    state: text("state", { enum: transcodeTaskStates }).notNull().default("pending"),
    /** The number of the latest dispatch (the wire's `attempt`): callbacks of any other are refused. */
    attempt: integer("attempt").notNull().default(0),
    /** Attempts that failed or stalled; at TRANSCODE_TASK_MAX_ATTEMPTS the job fails. */
    failures: integer("failures").notNull().default(0),
    /** The transcoder instance running it (a URL locally, a container name in production). */
    instance: text("instance"),
    /** While running: when the task counts as stalled unless a callback comes first. */
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true }),
    progress: real("progress"),
    lastError: text("last_error"),
    result: jsonb("result").$type<Record<string, unknown>>(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** Since when it has been waiting for a free transcoder (null when it is not). */
    waitingSince: timestamp("waiting_since", { withTimezone: true }),
    dispatchedAt: timestamp("dispatched_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    /** When a dispatch message of it reached the dead-letter queue (null: never). */
    deadLetteredAt: timestamp("dead_lettered_at", { withTimezone: true }),
  },
  (table) => [
    primaryKey({ columns: [table.jobId, table.id] }),
    // The semaphore: one running task per transcoder instance, enforced by the database, so two
    // consumers that pick the same free instance at once cannot both dispatch to it.
    uniqueIndex("transcode_tasks_instance_busy_idx").on(table.instance).where(sql`${table.state} = 'running'`),
    // The cron's scan for stalled tasks (lease run out).
    index("transcode_tasks_lease_idx").on(table.leaseExpiresAt).where(sql`${table.state} = 'running'`),
    // The cron's scan for tasks whose dispatch message may have been lost.
    index("transcode_tasks_unsent_idx").on(table.updatedAt).where(sql`${table.state} in ('pending', 'waiting')`),
    check("transcode_tasks_state_check", sql`${table.state} in ('pending', 'waiting', 'running', 'done', 'failed')`),
    check("transcode_tasks_kind_check", sql`${table.kind} in ('plan', 'chunk', 'audio', 'finalize')`),
  ],
);

export type TranscodeJob = typeof transcodeJobs.$inferSelect;
export type TranscodeTask = typeof transcodeTasks.$inferSelect;
