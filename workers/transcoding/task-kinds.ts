import type { z } from "zod";
import type { Rendition, Video } from "../../schema/index.ts";
import type { Config } from "../platform/config.ts";
import { mediaPath } from "../platform/media-layout.ts";
import { markVideoReady } from "../videos/index.ts";
import {
  type AudioResult,
  type AudioTask,
  audioResultSchema,
  type ChunkResult,
  type ChunkTask,
  chunkResultSchema,
  type FinalizeResult,
  type FinalizeTask,
  finalizeResultSchema,
  type PlanResult,
  type PlanTask,
  planResultSchema,
  type TranscodeTaskKind,
} from "./contract.ts";
import { chunkTaskId } from "./keys.ts";
import {
  advanceJob,
  finishJob,
  insertTasks,
  type NewTask,
  type Queryable,
  stepKinds,
  type TaskState,
  type TranscodeJob,
  taskResults,
  unfinishedTasks,
} from "./service.ts";

/**
 * What each kind of task is, side by side (PeerTube's job handlers, and the transcoder's own
 * table in `transcoder/src/tasks.ts`): which tasks of it a plan calls for, what the transcoder is
 * given, the result it must report, what its `done` changes, its share of the video's progress,
 * and how a failure names it. Failing is the same for every kind (lifecycle.ts).
 */
export interface TaskKind<K extends TranscodeTaskKind> {
  /** The tasks of this kind a job with `plan` runs. */
  expected(plan: PlanResult | null): NewTask[];
  /** The task's body beyond the envelope (ids, attempt, grant, callback). */
  request(context: RequestContext): Promise<KindBody<K>>;
  /** The result the transcoder must report for it. */
  result(config: Config): z.ZodType<KindResult<K>>;
  /**
   * What a done task changes, in the transaction that records it, on the locked job: the step
   * moves on when it should, with the next step's tasks. Running it again changes nothing.
   */
  done(tx: Queryable, context: DoneContext<K>): Promise<StepChange>;
  /** Its share of the video's progress (the kinds add up to 1). */
  weight(task: Pick<TaskState, "chunkIndex">, plan: PlanResult | null): number;
  /** The task, as a failure names it ("chunk 3", "the plan step"). */
  describe(task: Pick<TaskState, "chunkIndex">): string;
}

type KindBody<K extends TranscodeTaskKind> = {
  plan: Pick<PlanTask, "kind" | "chunkSeconds">;
  chunk: Pick<ChunkTask, "kind" | "encode" | "chunk">;
  audio: Pick<AudioTask, "kind" | "encode">;
  finalize: Pick<FinalizeTask, "kind" | "encode" | "chunks" | "audio">;
}[K];

type KindResult<K extends TranscodeTaskKind> = { plan: PlanResult; chunk: ChunkResult; audio: AudioResult; finalize: FinalizeResult }[K];

export interface RequestContext {
  db: Queryable;
  config: Config;
  job: TranscodeJob;
  task: Pick<TaskState, "id" | "chunkIndex">;
  plan: PlanResult | null;
}

export interface DoneContext<K extends TranscodeTaskKind> {
  job: TranscodeJob;
  result: KindResult<K>;
  now: Date;
}

/** What a step change leaves to do once it is committed. */
export interface StepChange {
  /** Tasks whose dispatch messages go out now, in this order. */
  dispatch: string[];
  /** The video the job published (the catalog lists it). */
  published?: Video;
  /** For the log. */
  note?: string;
}

const unchanged: StepChange = { dispatch: [] };

const plan: TaskKind<"plan"> = {
  expected: () => [{ id: "plan", kind: "plan" }],
  request: async ({ config }) => ({ kind: "plan", chunkSeconds: config.TRANSCODE_CHUNK_SECONDS }),
  result: (config) => planResultSchema(config.TRANSCODE_CHUNK_SECONDS),
  // The plan is in: the audio and chunk tasks exist, and the job encodes.
  async done(tx, { job, result, now }) {
    if (!(await advanceJob(tx, job.id, { from: "plan", to: "encode", now, plan: result }))) return unchanged;
    const created = await insertTasks(tx, job.id, tasksOfStep("encode", result), now);
    return { dispatch: created, note: `planned ${result.chunks.length} chunk(s)` };
  },
  weight: () => 0.05,
  describe: () => "the plan step",
};

const chunk: TaskKind<"chunk"> = {
  expected: (plan) => (plan?.chunks ?? []).map((range) => ({ id: chunkTaskId(range.index), kind: "chunk", chunkIndex: range.index })),
  async request({ job, task, plan }) {
    const encode = requirePlan(job, plan).encode;
    const range = plan?.chunks.find((candidate) => candidate.index === task.chunkIndex);
    if (!range) throw new Error(`job ${job.id}'s plan has no chunk ${task.chunkIndex}`);
    return { kind: "chunk", encode, chunk: range };
  },
  result: () => chunkResultSchema,
  done: (tx, { job, now }) => finalizeWhenEncoded(tx, job, now),
  weight(task, plan) {
    const ranges = plan?.chunks ?? [];
    const total = ranges.reduce((sum, range) => sum + (range.endSeconds - range.startSeconds), 0);
    const range = ranges.find((candidate) => candidate.index === task.chunkIndex);
    return range && total > 0 ? (0.8 * (range.endSeconds - range.startSeconds)) / total : 0;
  },
  describe: (task) => `chunk ${(task.chunkIndex ?? 0) + 1}`,
};

const audio: TaskKind<"audio"> = {
  expected: (plan) => (plan?.encode.audio ? [{ id: "audio", kind: "audio" }] : []),
  request: async ({ job, plan }) => ({ kind: "audio", encode: requirePlan(job, plan).encode }),
  result: () => audioResultSchema,
  done: (tx, { job, now }) => finalizeWhenEncoded(tx, job, now),
  weight: () => 0.05,
  describe: () => "the audio step",
};

const finalize: TaskKind<"finalize"> = {
  expected: () => [{ id: "finalize", kind: "finalize" }],
  async request({ db, job, plan }) {
    const encode = requirePlan(job, plan).encode;
    const results = await taskResults(db, job.id, ["chunk", "audio"]);
    const chunks = results
      .filter((row) => row.kind === "chunk")
      .sort((a, b) => (a.chunkIndex ?? 0) - (b.chunkIndex ?? 0))
      .map((row) => chunkResultSchema.parse(row.result));
    const audioRow = results.find((row) => row.kind === "audio");
    return { kind: "finalize", encode, chunks, audio: audioRow ? audioResultSchema.parse(audioRow.result) : null };
  },
  result: () => finalizeResultSchema,
  // `transcoding` becomes `ready` with everything the finalize task published, and the job is done.
  async done(tx, { job, result, now }) {
    const renditions: Rendition[] = result.renditions.map((rendition) => ({
      ...rendition,
      playlist: mediaPath(job.videoId, rendition.playlist),
    }));
    const published = await markVideoReady(
      tx,
      job.videoId,
      {
        durationSeconds: result.durationSeconds,
        renditions,
        posterKey: mediaPath(job.videoId, result.posterKey),
        storyboardKey: mediaPath(job.videoId, result.storyboard.vttKey),
        qualityReport: result.qualityReport,
      },
      { onlyFrom: ["transcoding"] },
    );
    if (!(await finishJob(tx, job.id, { step: "done", now, qualityReport: result.qualityReport }))) return unchanged;
    return {
      dispatch: [],
      ...(published ? { published } : {}),
      note: published ? "transcode done, video ready" : "transcode done but the video changed meanwhile",
    };
  },
  weight: () => 0.1,
  describe: () => "the finalize step",
};

/** Every kind of task, by kind. */
export const taskKinds: { [K in TranscodeTaskKind]: TaskKind<K> } = { plan, chunk, audio, finalize };

/** The tasks a step of a job with `plan` runs, in dispatch order. */
export function tasksOfStep(step: keyof typeof stepKinds, plan: PlanResult | null): NewTask[] {
  return stepKinds[step].flatMap((kind) => taskKinds[kind].expected(plan));
}

/** The video's progress from its job's tasks: each task's weight times how far it is (done: all of it). */
export function videoProgress(
  tasks: readonly Pick<TaskState, "kind" | "chunkIndex" | "state" | "progress">[],
  plan: PlanResult | null,
): number {
  const progress = tasks.reduce(
    (sum, task) => sum + taskKinds[task.kind].weight(task, plan) * (task.state === "done" ? 1 : (task.progress ?? 0)),
    0,
  );
  return Math.min(1, Math.round(progress * 1000) / 1000);
}

/** Every chunk and the audio are done: the finalize task, once. */
async function finalizeWhenEncoded(tx: Queryable, job: TranscodeJob, now: Date): Promise<StepChange> {
  if (job.step !== "encode" || (await unfinishedTasks(tx, job.id, stepKinds.encode)) > 0) return unchanged;
  if (!(await advanceJob(tx, job.id, { from: "encode", to: "finalize", now }))) return unchanged;
  const created = await insertTasks(tx, job.id, tasksOfStep("finalize", null), now);
  return { dispatch: created, note: "every chunk and the audio are done; finalizing" };
}

function requirePlan(job: TranscodeJob, plan: PlanResult | null): PlanResult {
  if (!plan) throw new Error(`job ${job.id} has no plan, yet a task that needs it is dispatched`);
  return plan;
}
