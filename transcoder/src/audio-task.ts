import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { AudioResult, AudioTask, SegmentOutput } from "../../workers/transcoding/contract.ts";
import { buildAudioArgs, outputNames } from "./ffmpeg-command.ts";
import { describeFailure } from "./ffmpeg-process.ts";
import { readInitSegment, shiftFragments } from "./fmp4.ts";
import { JobFailure, toJobFailure } from "./job-failure.ts";
import { runLadder } from "./ladder-run.ts";
import { readCodecString } from "./master-playlist.ts";
import { withContainer } from "./media-input.ts";
import type { OutputUploader } from "./output-uploader.ts";
import { assertFitsQuota } from "./scratch.ts";
import { inTaskFolder, type TaskDependencies, taskRun } from "./task-context.ts";

/**
 * The audio task: the whole source's audio, encoded once into its own rendition, while the
 * chunks encode the video. One encode means one AAC stream with no priming gaps or clicks at chunk
 * boundaries, and one timeline from the title's start, as the video's chunks are joined to.
 *
 * It reads the master from start to end (the audio is spread through it), as one sequential
 * stream: video samples between two audio samples are read past rather than skipped with a new
 * range request each. Scratch disk: each segment is deleted once uploaded; at worst (uploads
 * stalled) the whole rendition, duration × bitrate, checked against the quota first.
 */
export async function runAudioTask(task: AudioTask, deps: TaskDependencies): Promise<AudioResult> {
  const { encode } = task;
  const audio = encode.ladder.audio;
  const stream = encode.audio;
  if (audio.type !== "aac" || !stream) throw new JobFailure("the plan has no audio to encode", false);
  const prefix = task.outputPrefix.endsWith("/") ? task.outputPrefix : `${task.outputPrefix}/`;
  const tag = task.attemptTag;
  const folder = outputNames.audioFolder;
  let uploader: OutputUploader | null = null;
  try {
    assertFitsQuota(
      {
        bytes: Math.ceil(((encode.durationSeconds + encode.ladder.segmentSeconds) * audio.bitrate * 1.1) / 8) + 1024 ** 2,
        what: `${encode.durationSeconds.toFixed(0)} s of audio at ${audio.bitrate / 1000} kbit/s`,
      },
      deps.scratchQuotaBytes ?? null,
    );
    return await inTaskFolder(deps, "audio", async (outputDir) => {
      let init: Promise<{ timescale: number; defaultSampleDuration: number; codec: string }> | null = null;
      const initOf = () => {
        const path = join(outputDir, folder, outputNames.initSegment);
        init ??= (async () => ({ ...readInitSegment(await readFile(path)), codec: (await readCodecString(path)) ?? "mp4a.40.2" }))();
        return init;
      };
      const segments: (SegmentOutput & { index: number })[] = [];
      const keyFor = (name: string): string | null => {
        if (name === `${folder}/${outputNames.initSegment}`) return `${folder}/${tag}init.mp4`;
        const segment = new RegExp(`^${folder}/seg_(\\d+)\\.m4s$`).exec(name);
        return segment ? `${folder}/${tag}${segment[1]}.m4s` : null;
      };
      const prepare = async (name: string, path: string) => {
        const facts = await initOf();
        const segment = /seg_(\d+)\.m4s$/.exec(name);
        if (!segment) return;
        // Not moved (the audio starts at the title's start): read for its length.
        const data = await readFile(path);
        const { ticks } = shiftFragments(data, { offsetTicks: 0, sequenceBase: 0 }, facts);
        segments.push({ index: Number(segment[1]), key: `${prefix}${keyFor(name)}`, ticks, bytes: data.length });
      };
      // ffmpeg makes the folders of `%v` outputs, not this one.
      await mkdir(join(outputDir, folder));
      deps.onProgress?.(0);
      const { outcome, uploads } = await runLadder(
        {
          ...taskRun(deps, { prefix, keyFor, prepare }),
          args: buildAudioArgs({
            input: withContainer(deps.storage.sourceInput(task.sourceKey, { sequential: true }), encode.source.container),
            outputDir,
            audioStreamIndex: stream.streamIndex,
            audio,
            segmentSeconds: encode.ladder.segmentSeconds,
          }),
          outputDir,
          durationSeconds: encode.durationSeconds,
          segmentSeconds: encode.ladder.segmentSeconds,
          ffmpegPercent: true,
          onProgress: (percent) => deps.onProgress?.(Math.floor(percent * 0.95)),
        },
        (started) => {
          uploader = started;
        },
      );
      if (outcome.exitCode !== 0) throw new JobFailure(`ffmpeg failed on the audio: ${describeFailure(outcome.stderrTail)}`, true);
      await uploads.finish((percent) => deps.onProgress?.(95 + Math.floor(percent / 20)));
      if (!init || segments.length === 0) throw new JobFailure("ffmpeg made no audio segments", true);
      const facts = await (init as Promise<{ timescale: number; codec: string }>);
      return {
        kind: "audio",
        codec: facts.codec,
        initKey: `${prefix}${folder}/${tag}init.mp4`,
        timescale: facts.timescale,
        segments: segments.sort((a, b) => a.index - b.index).map(({ key, ticks, bytes }) => ({ key, ticks, bytes })),
      };
    });
  } catch (error) {
    const uploads = uploader as OutputUploader | null;
    if (uploads) {
      await uploads.stop();
      await deps.storage.deletePrefix(`${prefix}${folder}/${tag}`).catch(() => undefined);
    }
    throw toJobFailure(error);
  }
}
