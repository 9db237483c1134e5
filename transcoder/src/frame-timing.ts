import type { FrameTimingSummary } from "../../workers/transcoding/contract.ts";
import { spawnTool } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { asMediaInput, type SourceInput } from "./media-input.ts";

/**
 * Frame timing from packet timestamps: dropped frames, timestamp gaps and variable frame rate.
 *
 * Packet timestamps come from demuxing only (no decode), so reading them is cheap even for a
 * feature film. Neither `r_frame_rate` nor `avg_frame_rate` tells a phone's variable-rate
 * recording from a constant one with a hole in it; the intervals between frames do.
 */

export interface FrameTiming {
  frames: number;
  /** The median interval between frames, in seconds: the frame rate the stream mostly has. */
  nominalIntervalSeconds: number;
  /** Frames that a constant rate would have had in the gaps. */
  missingFrames: number;
  gaps: number;
  longestGap: { atSeconds: number; seconds: number } | null;
  /** Share of intervals (outside gaps) that stray from the nominal one. */
  irregularShare: number;
  /** The intervals outside gaps, and how many of them stray (what the share is made of). */
  regularIntervals: number;
  irregularIntervals: number;
  variableFrameRate: boolean;
  minIntervalSeconds: number;
  maxIntervalSeconds: number;
}

/** An interval this many nominal frames long means frames are missing. */
const gapFactor = 1.8;
/** More than this share of irregular intervals makes a stream variable-rate. */
const vfrShare = 0.05;

/** Reads the presentation timestamps (seconds) of one stream's packets, in file order. */
export async function readPacketTimestamps(
  tools: FfmpegTools,
  source: SourceInput,
  streamIndex: number,
  options: { signal?: AbortSignal; onStderrLine?: (line: string) => void } = {},
): Promise<number[]> {
  const { url, options: inputOptions } = asMediaInput(source);
  const timestamps: number[] = [];
  await spawnTool(
    tools.ffprobe,
    // `level` tags each line with its severity, as in ffmpeg runs, so `DecoderLog` reads both alike.
    [
      "-v",
      "level+error",
      ...inputOptions,
      "-select_streams",
      String(streamIndex),
      "-show_entries",
      "packet=pts_time",
      "-of",
      "csv=p=0",
      url,
    ],
    {
      signal: options.signal,
      onStderrLine: options.onStderrLine,
      onStdoutLine: (line) => {
        const seconds = Number(line.split(",")[0]);
        if (line !== "" && Number.isFinite(seconds)) timestamps.push(seconds);
      },
    },
  );
  return timestamps;
}

/**
 * Classifies frame intervals. Timestamps may arrive in decode order (B-frames), so they are sorted
 * first. The tolerance for "irregular" is 12% of a frame or 1.5 ms, whichever is larger, because
 * Matroska rounds every timestamp to the millisecond and that jitter alone is not VFR.
 *
 * @example
 * analyseFrameTiming([0, 0.04, 0.08, 0.4, 0.44]) // 7 missing frames in 1 gap at 0.08 s
 */
export function analyseFrameTiming(timestamps: readonly number[]): FrameTiming | null {
  const sorted = [...timestamps].sort((a, b) => a - b);
  const intervals: { at: number; seconds: number }[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1] as number;
    const seconds = (sorted[i] as number) - previous;
    if (seconds > 0) intervals.push({ at: previous, seconds });
  }
  if (intervals.length < 2) return null;

  const nominal = median(intervals.map((interval) => interval.seconds));
  const tolerance = Math.max(0.12 * nominal, 0.0015);
  let missingFrames = 0;
  let gaps = 0;
  let irregular = 0;
  let regularCount = 0;
  let longestGap: FrameTiming["longestGap"] = null;
  let minInterval = Number.POSITIVE_INFINITY;
  let maxInterval = 0;

  for (const interval of intervals) {
    if (interval.seconds >= gapFactor * nominal) {
      gaps++;
      missingFrames += Math.max(1, Math.round(interval.seconds / nominal) - 1);
      if (!longestGap || interval.seconds > longestGap.seconds) longestGap = { atSeconds: interval.at, seconds: interval.seconds };
      continue;
    }
    regularCount++;
    minInterval = Math.min(minInterval, interval.seconds);
    maxInterval = Math.max(maxInterval, interval.seconds);
    if (Math.abs(interval.seconds - nominal) > tolerance) irregular++;
  }

  const irregularShare = regularCount > 0 ? irregular / regularCount : 0;
  return {
    frames: sorted.length,
    nominalIntervalSeconds: nominal,
    missingFrames,
    gaps,
    longestGap,
    irregularShare,
    regularIntervals: regularCount,
    irregularIntervals: irregular,
    variableFrameRate: irregularShare > vfrShare,
    minIntervalSeconds: Number.isFinite(minInterval) ? minInterval : nominal,
    maxIntervalSeconds: maxInterval || nominal,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * One range's frame timing, in the form that adds up across ranges (`mergeFrameTimings`): a chunk
 * task reads its own packets, and the title's timing is never a pass over the whole file.
 */
export function summariseFrameTiming(timestamps: readonly number[]): FrameTimingSummary | null {
  const timing = analyseFrameTiming(timestamps);
  if (!timing) return null;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const seconds of timestamps) {
    first = Math.min(first, seconds);
    last = Math.max(last, seconds);
  }
  const { irregularShare: _share, variableFrameRate: _vfr, ...counts } = timing;
  return { ...counts, firstSeconds: first, lastSeconds: last };
}

/**
 * The title's frame timing from its ranges' summaries: counts add up, extremes combine, the
 * nominal interval is the one most frames have, and the interval across each boundary (the last
 * frame of one range to the first of the next) is judged like any other.
 */
export function mergeFrameTimings(summaries: readonly (FrameTimingSummary | null)[]): FrameTiming | null {
  const parts = summaries.filter((part): part is FrameTimingSummary => part !== null).sort((a, b) => a.firstSeconds - b.firstSeconds);
  const head = parts[0];
  if (!head) return null;
  // The median of the ranges' nominal intervals, each weighing as many frames as it has.
  const byInterval = [...parts].sort((a, b) => a.nominalIntervalSeconds - b.nominalIntervalSeconds);
  const half = parts.reduce((sum, part) => sum + part.frames, 0) / 2;
  let nominal = head.nominalIntervalSeconds;
  let counted = 0;
  for (const part of byInterval) {
    counted += part.frames;
    nominal = part.nominalIntervalSeconds;
    if (counted >= half) break;
  }
  const merged = {
    frames: 0,
    missingFrames: 0,
    gaps: 0,
    longestGap: null as FrameTiming["longestGap"],
    regularIntervals: 0,
    irregularIntervals: 0,
    minIntervalSeconds: Number.POSITIVE_INFINITY,
    maxIntervalSeconds: 0,
  };
  const gap = (candidate: FrameTiming["longestGap"]) => {
    if (candidate && (!merged.longestGap || candidate.seconds > merged.longestGap.seconds)) merged.longestGap = candidate;
  };
  parts.forEach((part, index) => {
    merged.frames += part.frames;
    merged.missingFrames += part.missingFrames;
    merged.gaps += part.gaps;
    gap(part.longestGap);
    merged.regularIntervals += part.regularIntervals;
    merged.irregularIntervals += part.irregularIntervals;
    merged.minIntervalSeconds = Math.min(merged.minIntervalSeconds, part.minIntervalSeconds);
    merged.maxIntervalSeconds = Math.max(merged.maxIntervalSeconds, part.maxIntervalSeconds);
    const previous = parts[index - 1];
    if (!previous) return;
    const seconds = part.firstSeconds - previous.lastSeconds;
    if (seconds >= gapFactor * nominal) {
      merged.gaps++;
      merged.missingFrames += Math.max(1, Math.round(seconds / nominal) - 1);
      gap({ atSeconds: previous.lastSeconds, seconds });
    } else if (seconds > 0) {
      merged.regularIntervals++;
      if (Math.abs(seconds - nominal) > Math.max(0.12 * nominal, 0.0015)) merged.irregularIntervals++;
    }
  });
  const irregularShare = merged.regularIntervals > 0 ? merged.irregularIntervals / merged.regularIntervals : 0;
  return {
    ...merged,
    nominalIntervalSeconds: nominal,
    minIntervalSeconds: Number.isFinite(merged.minIntervalSeconds) ? merged.minIntervalSeconds : nominal,
    maxIntervalSeconds: merged.maxIntervalSeconds || nominal,
    irregularShare,
    variableFrameRate: irregularShare > vfrShare,
  };
}

/**
 * The presentation times (seconds) of the packets listed by ffmpeg's `framecrc` muxer (one line per
 * packet: stream, dts, pts, duration, size, hash; `#tb 0: num/den` in the header), keeping those
 * with `fromPts <= pts < toPts` (`toPts` null: no end).
 */
export function parseFramecrc(text: string, fromPts: number, toPts: number | null): number[] {
  const timeBase = /^#tb 0: (\d+)\/(\d+)$/m.exec(text);
  const [num, den] = timeBase ? [Number(timeBase[1]), Number(timeBase[2])] : [1, 1];
  const seconds: number[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const pts = Number(line.split(",")[2]);
    if (Number.isFinite(pts) && pts >= fromPts && (toPts === null || pts < toPts)) seconds.push((pts * num) / den);
  }
  return seconds;
}
