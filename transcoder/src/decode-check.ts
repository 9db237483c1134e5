import type { InterlaceDetection } from "../../workers/transcoding/contract.ts";
import { cleanLogLine, runFfmpeg } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { ffmpegInputArgs, type SourceInput } from "./media-input.ts";

/**
 * A full decode of the video stream into the null muxer. ffprobe reads headers, and a truncated
 * "faststart" MP4 keeps its complete header (the index of every frame) at the front: only decoding
 * finds that the frames themselves stop early. The same pass runs ffmpeg's `idet` interlace
 * detector, which costs little next to the decode.
 */

export type { InterlaceDetection };

export interface DecodeCheck {
  exitCode: number | null;
  /** How far decoding got, in seconds from the start. */
  decodedSeconds: number;
  /** ffmpeg's error lines, the first few kept verbatim, all counted. */
  errorCount: number;
  errors: string[];
  /** The demuxer said the data ran out before the index said it would ("partial file"). */
  endedEarly: boolean;
  interlace: InterlaceDetection | null;
}

export interface DecodeCheckOptions {
  durationSeconds?: number | null;
  onProgress?: (percent: number) => void;
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

const keptErrors = 5;

export async function decodeCheck(
  tools: FfmpegTools,
  source: SourceInput,
  streamIndex: number,
  options: DecodeCheckOptions = {},
): Promise<DecodeCheck> {
  const decoderLog = new DecoderLog();
  const outcome = await runFfmpeg(
    tools.ffmpeg,
    // `level` prefixes each line with its severity, so errors can be told from idet's info lines.
    // No autorotation: fields are rows of the picture as stored, and idet must see those rows.
    ["-loglevel", "level+info", "-noautorotate", ...ffmpegInputArgs(source), "-map", `0:${streamIndex}`, "-vf", "idet", "-f", "null", "-"],
    {
      durationSeconds: options.durationSeconds,
      stallTimeoutMs: options.stallTimeoutMs,
      signal: options.signal,
      onProgress: (progress) => {
        if (progress.percent !== null) options.onProgress?.(progress.percent);
      },
      onStderrLine: (line) => decoderLog.read(line),
    },
  );
  return decoderLog.result(outcome.exitCode, outcome.outTimeSeconds);
}

/**
 * What an ffmpeg run's `level+info` log says about decoding: error lines (the first few kept
 * verbatim, all counted), the demuxer running out of data, and idet's summary if idet ran. The
 * decode check reads its own run with it; a chunk task reads its ladder run (`chunk-task.ts`).
 * Reading the source failing (the connection, the storage answering an error) is told apart: that
 * is no fault of the file, and worth another attempt.
 */
export class DecoderLog {
  #errors: string[] = [];
  #errorCount = 0;
  #endedEarly = false;
  #inputFailed = false;
  #interlace: InterlaceDetection | null = null;

  read(line: string): void {
    const detection = parseIdetSummary(line);
    if (detection) this.#interlace = detection;
    if (!/\[(error|fatal)\]/.test(line)) return;
    this.#errorCount++;
    if (endsEarly(line)) this.#endedEarly = true;
    if (readFailed(line)) this.#inputFailed = true;
    if (this.#errors.length < keptErrors) this.#errors.push(cleanLogLine(line));
  }

  /** Whether reading the input failed (network, storage), rather than decoding what was read. */
  get inputFailed(): boolean {
    return this.#inputFailed;
  }

  /** `decodedSeconds`: how far decoding got, as the caller measured it. */
  result(exitCode: number | null, decodedSeconds: number): DecodeCheck {
    return {
      exitCode,
      decodedSeconds,
      errorCount: this.#errorCount,
      errors: [...this.#errors],
      endedEarly: this.#endedEarly,
      interlace: this.#interlace,
    };
  }
}

/** Whether an error line comes from reading the input: ffmpeg's HTTP, TCP and TLS layers, or I/O. */
function readFailed(line: string): boolean {
  return /\[(https?|tcp|tls) @|Input\/output error|Server returned|Connection (refused|reset|timed out)|End of file while reading/i.test(
    line,
  );
}

/** Whether a demuxer's error line says the data ran out before the index said it would. */
function endsEarly(line: string): boolean {
  return /partial file|truncat|end of file/i.test(line);
}

/** Parses idet's closing "Multi frame detection" line, the more reliable of its two summaries. */
export function parseIdetSummary(line: string): InterlaceDetection | null {
  const match = /Multi frame detection: TFF:\s*(\d+)\s+BFF:\s*(\d+)\s+Progressive:\s*(\d+)\s+Undetermined:\s*(\d+)/.exec(line);
  if (!match) return null;
  return {
    topFieldFirst: Number(match[1]),
    bottomFieldFirst: Number(match[2]),
    progressive: Number(match[3]),
    undetermined: Number(match[4]),
  };
}

/** How sure idet must be. */
export interface InterlaceThresholds {
  /** The dominant field order's share of the classified frames. */
  minShare: number;
  /** Frames idet must have classified before its verdict counts. */
  minFrames: number;
}

/**
 * Whether idet's counts describe interlaced video. idet is fooled by sharp synthetic graphics
 * (ffmpeg's own testsrc2 reads as "interlaced" over its first seconds), but then its votes drift
 * between both field orders as the picture changes; real interlaced footage votes consistently
 * for one. So one order must hold `minShare` of the classified frames and beat the other 4:1.
 */
export function looksInterlaced(detection: InterlaceDetection, thresholds: InterlaceThresholds): "top-first" | "bottom-first" | null {
  const classified = detection.topFieldFirst + detection.bottomFieldFirst + detection.progressive;
  if (classified < thresholds.minFrames) return null;
  const top = detection.topFieldFirst >= detection.bottomFieldFirst;
  const dominant = top ? detection.topFieldFirst : detection.bottomFieldFirst;
  const other = top ? detection.bottomFieldFirst : detection.topFieldFirst;
  if (dominant / classified < thresholds.minShare || dominant < 4 * other) return null;
  return top ? "top-first" : "bottom-first";
}

/** Whether idet saw mostly progressive frames. */
export function looksProgressive(detection: InterlaceDetection): boolean {
  const classified = detection.topFieldFirst + detection.bottomFieldFirst + detection.progressive;
  return classified >= 10 && detection.progressive / classified >= 0.6;
}

/** Where idet looks when it cannot look at every frame: `frames` frames from `atSeconds` into the file (ffmpeg's `-ss`). */
export interface SampleWindow {
  atSeconds: number;
  frames: number;
}

/**
 * idet over a few windows of the video instead of all of it: a chunked transcode decides its
 * deinterlacing before any chunk is encoded, from these votes. Each window is a seek (the keyframe
 * before it, by the file's index) and a short decode, so over HTTP it reads a few seconds of video.
 * The votes of all windows are added up; null when idet classified nothing.
 */
export async function sampleInterlace(
  tools: FfmpegTools,
  source: SourceInput,
  streamIndex: number,
  windows: readonly SampleWindow[],
  options: { stallTimeoutMs?: number; signal?: AbortSignal } = {},
): Promise<InterlaceDetection | null> {
  const total: InterlaceDetection = { topFieldFirst: 0, bottomFieldFirst: 0, progressive: 0, undetermined: 0 };
  let sampled = false;
  for (const window of windows) {
    const decoderLog = new DecoderLog();
    await runFfmpeg(
      tools.ffmpeg,
      [
        ...["-loglevel", "level+info", "-noautorotate", "-ss", window.atSeconds.toFixed(6), ...ffmpegInputArgs(source)],
        ...["-map", `0:${streamIndex}`, "-frames:v", String(window.frames), "-vf", "idet", "-f", "null", "-"],
      ],
      { stallTimeoutMs: options.stallTimeoutMs, signal: options.signal, onStderrLine: (line) => decoderLog.read(line) },
    );
    const votes = decoderLog.result(0, 0).interlace;
    if (!votes) continue;
    sampled = true;
    total.topFieldFirst += votes.topFieldFirst;
    total.bottomFieldFirst += votes.bottomFieldFirst;
    total.progressive += votes.progressive;
    total.undetermined += votes.undetermined;
  }
  return sampled ? total : null;
}
