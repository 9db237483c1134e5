import type { PlanResult, PlanTask } from "../../workers/transcoding/contract.ts";
import { planChunks } from "./chunk-plan.ts";
import { type SampleWindow, sampleInterlace } from "./decode-check.ts";
import { JobFailure, refusal } from "./job-failure.ts";
import { planKeyframeLookup } from "./keyframe-index.ts";
import { keyframeLookup } from "./keyframes.ts";
import { type LadderPlan, planLadder } from "./ladder.ts";
import { planPoster, planStoryboard } from "./previews.ts";
import { checkHeaders, interlaceVerdict } from "./quality-check.ts";
import { defaultTaskStallTimeoutMs, type TaskDependencies } from "./task-context.ts";

/**
 * The plan task: everything decided once per job, from the master's headers and a few seeks,
 * never from a pass over the whole file.
 *
 * 1. The header checks of the quality check (ffprobe reads the index: a few range requests).
 *    Refusals (no video stream, too large, too long, unknown codec…) end the job here, in words.
 * 2. The interlace verdict, from idet over a few windows of frames (`interlaceSample`): every
 *    chunk must deinterlace alike, so it is decided before any chunk is encoded.
 * 3. The ladder, poster and storyboard, as the one-shot job plans them.
 * 4. The ranges: keyframes at or before every `chunkSeconds`, on every rung's frame grid, from the
 *    container's index (`moov`, Cues) where it has one, else from a packet read per boundary.
 *
 * Scratch disk: none (ffprobe and the idet windows stream from storage and write nothing).
 */
export async function runPlanTask(task: PlanTask, deps: TaskDependencies): Promise<PlanResult> {
  const log = deps.log ?? (() => undefined);
  const progress = (percent: number) => deps.onProgress?.(percent);
  const signal = deps.signal;
  progress(0);
  const bytes = await deps.storage.size(task.sourceKey, { signal });
  if (bytes === null) throw new JobFailure(`the source file is missing from storage (${task.sourceKey}); upload it again`, false);
  const input = deps.storage.sourceInput(task.sourceKey);
  const checked = await checkHeaders(deps.tools, input, { limits: task.limits, signal });
  if (!checked.ok) throw refusal(checked.check);
  const { probe, video, declaredSeconds, summary } = checked.source;
  progress(20);

  const originSeconds = probe.startSeconds ?? 0;
  const interlace = await sampleInterlace(deps.tools, input, video.index, interlaceSample(declaredSeconds, summary.fps), {
    stallTimeoutMs: deps.stallTimeoutMs ?? defaultTaskStallTimeoutMs,
    signal,
  });
  const source = { ...summary, interlaced: interlaceVerdict(video.fieldOrder, { interlace }) !== null };
  progress(50);

  const ladder = planLadder(source, deps.ladder);
  const top = ladder.renditions.at(-1) as LadderPlan["renditions"][number];
  const timeBase = video.timeBase;
  if (!timeBase)
    throw new JobFailure("file is unreadable: the video stream has no time base; remux it (for example to MP4) and upload it again", false);
  const scan = keyframeLookup(deps.tools, input, { streamIndex: video.index, timeBase }, { signal });
  const first = await scan.first();
  if (!first)
    throw new JobFailure("file is unreadable: its video stream holds no packets; export the video again and upload the new file", false);
  const keyframes = planKeyframeLookup(
    deps.storage,
    task.sourceKey,
    bytes,
    { timeBase },
    { first, atOrBefore: scan.atOrBefore },
    { signal },
  );
  let plan: Awaited<ReturnType<typeof planChunks>>;
  try {
    plan = await planChunks(
      {
        first,
        endSeconds: first.seconds + declaredSeconds,
        originSeconds,
        chunkSeconds: task.chunkSeconds,
        rungRates: ladder.renditions.map((rendition) => rendition.frameRate),
      },
      keyframes.lookup,
    );
  } finally {
    keyframes.close();
  }
  const { ranges, offGrid } = plan;
  log(
    `planned ${ranges.length} chunk(s) of about ${task.chunkSeconds} s over ${declaredSeconds.toFixed(1)} s (${(bytes / 1024 ** 2).toFixed(1)} MiB)` +
      `${offGrid > 0 ? `; ${offGrid} boundary(ies) off a rung's frame grid` : ""}; keyframes from the ${keyframes.describe()}; ladder ${ladder.renditions.map((r) => r.name).join(" ")}`,
  );
  progress(100);
  const audioIndex = source.hasAudio ? (probe.audio?.index ?? null) : null;
  return {
    kind: "plan",
    encode: {
      durationSeconds: declaredSeconds,
      durationFromStream: video.durationSeconds !== null,
      originSeconds,
      source,
      video: { streamIndex: video.index, timeBase },
      audio: audioIndex === null ? null : { streamIndex: audioIndex },
      ladder,
      poster: planPoster(declaredSeconds, top),
      storyboard: planStoryboard(declaredSeconds, top, deps.storyboard),
      interlace,
    },
    chunks: ranges,
  };
}

/**
 * Where idet looks: 40 frames at a fifth, a half and four fifths of the title, so a title that is
 * interlaced only in its middle (a progressive intro, an interlaced archive clip) is still seen;
 * the first 120 frames of a short one (up to 300 frames), where a seek would decode from the
 * keyframe before each window and cost more than reading from the start. 120 frames in all: the
 * verdict on a stream not flagged interlaced needs at least 100 (`looksInterlaced`'s
 * `minFrames`). Decoding is the cost (idet adds little): 300 frames of 1080p took 2.0 s here, a
 * tenth of the bare ladder's time for a 10 s title, on the path to its first chunk.
 */
export function interlaceSample(durationSeconds: number, fps: number): SampleWindow[] {
  const frames = 120;
  if (durationSeconds * fps <= 300) return [{ atSeconds: 0, frames }];
  return [0.2, 0.5, 0.8].map((share) => ({ atSeconds: share * durationSeconds, frames: frames / 3 }));
}
