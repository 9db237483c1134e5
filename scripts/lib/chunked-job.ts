import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MediaStorage } from "../../transcoder/src/storage.ts";
import type { TaskDependencies } from "../../transcoder/src/task-context.ts";
import { runTask } from "../../transcoder/src/tasks.ts";
import { hlsPrefix, masterPlaylistKey } from "../../workers/platform/media-layout.ts";
import type { AudioResult, ChunkResult, ChunkTask, FinalizeResult, PlanResult, TranscodeTask } from "../../workers/transcoding/contract.ts";
import { keptAfterPublishing } from "../../workers/transcoding/ladder-keys.ts";

/**
 * A chunked transcode driven in one process, as the Worker drives it across instances: the plan,
 * then every chunk and the audio (`concurrency` at a time, standing in for that many instances),
 * then the finalize task. For the transcoder's tests and the benchmark; the Worker's own driver is
 * the queue consumer.
 */

export interface ChunkedJobOptions {
  videoId: string;
  sourceKey: string;
  chunkSeconds: number;
  /** Tasks run at the same time (chunks and audio); default 1. */
  concurrency?: number;
  /** Called before each task, e.g. to time it or count what it reads. */
  onTask?: (task: TranscodeTask) => void;
  /** After each task, with how long it took. */
  afterTask?: (task: TranscodeTask, ms: number) => void;
  /** The attempt number of a chunk, by its index (default 1): as if earlier attempts had died. */
  attempts?: Record<number, number>;
}

export interface ChunkedJob {
  plan: PlanResult;
  chunks: ChunkResult[];
  audio: AudioResult | null;
  result: FinalizeResult;
}

export function taskEnvelope(videoId: string, sourceKey: string) {
  return {
    jobId: `job-${videoId}`,
    videoId,
    sourceKey,
    outputPrefix: hlsPrefix(videoId),
    // The storage the tasks reach is their `deps.storage`; these say where a server would call.
    storage: { baseUrl: "http://storage.invalid", token: "unused", sourceToken: "unused" },
    callbackUrl: "http://worker.invalid/callback",
  };
}

/** The task for chunk `index`, attempt `attempt` (tagged `c0003-a2-`). */
export function chunkTask(plan: PlanResult, videoId: string, sourceKey: string, index: number, attempt = 1): ChunkTask {
  const chunk = plan.chunks[index];
  if (!chunk) throw new Error(`the plan has no chunk ${index}`);
  const tag = `c${String(index).padStart(4, "0")}-a${attempt}-`;
  return {
    ...taskEnvelope(videoId, sourceKey),
    kind: "chunk",
    taskId: `chunk-${index}`,
    attempt,
    attemptTag: tag,
    encode: plan.encode,
    chunk,
  };
}

export async function runChunkedJob(options: ChunkedJobOptions, deps: TaskDependencies): Promise<ChunkedJob> {
  const { videoId, sourceKey } = options;
  const envelope = taskEnvelope(videoId, sourceKey);
  const run = async <T>(task: TranscodeTask): Promise<T> => {
    options.onTask?.(task);
    const started = performance.now();
    const result = (await runTask(task, deps)) as T;
    options.afterTask?.(task, performance.now() - started);
    return result;
  };
  const plan = await run<PlanResult>({
    ...envelope,
    kind: "plan",
    taskId: "plan",
    attempt: 1,
    attemptTag: "plan-a1-",
    chunkSeconds: options.chunkSeconds,
  });

  const work: (() => Promise<void>)[] = [];
  const chunks: ChunkResult[] = [];
  let audio: AudioResult | null = null;
  for (const { index } of plan.chunks) {
    const attempt = options.attempts?.[index] ?? 1;
    work.push(async () => void chunks.push(await run<ChunkResult>(chunkTask(plan, videoId, sourceKey, index, attempt))));
  }
  if (plan.encode.audio) {
    work.push(async () => {
      audio = await run<AudioResult>({
        ...envelope,
        kind: "audio",
        taskId: "audio",
        attempt: 1,
        attemptTag: "audio-a1-",
        encode: plan.encode,
      });
    });
  }
  // `concurrency` workers take the next task as each finishes, like instances taking queued tasks.
  const queue = [...work];
  await Promise.all(
    Array.from({ length: Math.max(1, options.concurrency ?? 1) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await next();
    }),
  );

  const finalized = await run<FinalizeResult>({
    ...envelope,
    kind: "finalize",
    taskId: "finalize",
    attempt: 1,
    attemptTag: "finalize-a1-",
    encode: plan.encode,
    chunks,
    audio,
  });
  await publishLadder(deps.storage, videoId, finalized, chunks, audio);
  return { plan, chunks: chunks.sort((a, b) => a.index - b.index), audio, result: finalized };
}

/**
 * What the Worker does with a finalize task's result (workers/transcoding/task-kinds.ts): its
 * master goes where viewers are served it, and whatever the published ladder does not reference
 * is deleted (the tiles, the finalize's copy of the master, a dead attempt's segments).
 */
export async function publishLadder(
  storage: MediaStorage,
  videoId: string,
  result: FinalizeResult,
  chunks: readonly ChunkResult[],
  audio: AudioResult | null,
): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), "reelstream-publish-"));
  try {
    const copy = join(folder, "master.m3u8");
    await storage.download(result.masterPlaylistKey, copy);
    await storage.upload(masterPlaylistKey(videoId), copy, "application/vnd.apple.mpegurl");
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  // As the Worker's sweep (workers/transcoding/publish.ts).
  const keep = keptAfterPublishing(videoId, result, chunks, audio);
  for (const key of await storage.list(hlsPrefix(videoId))) if (!keep.has(key)) await storage.deletePrefix(key);
}
