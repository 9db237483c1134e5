import { DecoderLog } from "./decode-check.ts";
import { type FfmpegOutcome, runFfmpeg } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { OutputUploader, type OutputUploaderOptions } from "./output-uploader.ts";
import { watchScratch } from "./scratch.ts";

/**
 * One ffmpeg run that writes HLS segments, with its outputs going up while it encodes: what the
 * one-shot job's ladder run and a chunk task share. Progress comes from two sources (ffmpeg's
 * own report, which stays silent until every output has started, and the segments on disk) and
 * only ever moves forward; new segments also count as a sign of life for the stall watchdog; an
 * upload that fails, or a scratch folder over its quota, stops ffmpeg.
 */

export interface LadderRunOptions {
  tools: FfmpegTools;
  args: string[];
  /** Where ffmpeg writes; watched against `scratchQuotaBytes`. */
  outputDir: string;
  uploader: Omit<OutputUploaderOptions, "outputDir" | "onSegmentsWritten" | "signal">;
  /** Seconds of video the run makes, for progress from segments. */
  durationSeconds: number;
  segmentSeconds: number;
  /** Turn ffmpeg's reported output time into progress (false when its outputs run on another clock). */
  ffmpegPercent: boolean;
  stallTimeoutMs: number;
  scratchQuotaBytes: number | null;
  /** 0–99 while encoding. */
  onProgress: (percent: number) => void;
  signal?: AbortSignal;
}

export interface LadderRun {
  outcome: FfmpegOutcome;
  decoderLog: DecoderLog;
  uploads: OutputUploader;
  /** Segments per rendition handed to the uploader during the encode. */
  segmentsSeen: number;
}

/**
 * Runs ffmpeg with the uploader started. Rejects with the upload's or the quota's error when one
 * stopped it; a non-zero exit resolves (the caller decides what it means). `started(uploads)` hears
 * of the uploader as soon as it exists, so a failure path can stop it and clean up after it.
 */
export async function runLadder(options: LadderRunOptions, started: (uploads: OutputUploader) => void): Promise<LadderRun> {
  let encoded = 0;
  // New segments on disk are ffmpeg's sign of life while its own progress is silent.
  let segmentsProgress = () => {};
  let segmentsSeen = 0;
  const encodeProgress = (percent: number) => {
    if (percent <= encoded) return;
    encoded = percent;
    options.onProgress(percent);
  };
  const uploads = new OutputUploader({
    ...options.uploader,
    outputDir: options.outputDir,
    signal: options.signal,
    onSegmentsWritten: (segments) => {
      if (segments > segmentsSeen) {
        segmentsSeen = segments;
        segmentsProgress();
      }
      encodeProgress(Math.min(99, ((segments * options.segmentSeconds) / options.durationSeconds) * 100));
    },
  });
  started(uploads);
  const stopEncode = new AbortController();
  let stoppedBy: unknown = null;
  const stop = (error: unknown) => {
    stoppedBy ??= error;
    stopEncode.abort();
  };
  uploads.start(stop);
  const scratch = watchScratch(options.outputDir, options.scratchQuotaBytes, stop);
  const encodeSignal = options.signal ? AbortSignal.any([options.signal, stopEncode.signal]) : stopEncode.signal;
  const decoderLog = new DecoderLog();
  try {
    const outcome = await runFfmpeg(options.tools.ffmpeg, options.args, {
      durationSeconds: options.ffmpegPercent ? options.durationSeconds : null,
      onProgress: ({ percent }) => percent !== null && encodeProgress(Math.min(99, percent)),
      onStderrLine: (line) => decoderLog.read(line),
      stallTimeoutMs: options.stallTimeoutMs,
      keepAlive: (refresh) => {
        segmentsProgress = refresh;
      },
      signal: encodeSignal,
    }).catch((error: unknown) => {
      throw stoppedBy ?? uploads.error ?? error;
    });
    if (stoppedBy ?? uploads.error) throw stoppedBy ?? uploads.error;
    return { outcome, decoderLog, uploads, segmentsSeen };
  } finally {
    await scratch.stop();
  }
}
