import type {
  QualityLimits,
  QualityReport,
  QualityWarning,
  QualityWarningCode,
  SourceSummary,
} from "../../workers/transcoding/contract.ts";
import { type DecodeCheck, DecoderLog, decodeCheck, looksInterlaced, looksProgressive } from "./decode-check.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { analyseFrameTiming, type FrameTiming, readPacketTimestamps } from "./frame-timing.ts";
import { containerRefusal, type SourceInput } from "./media-input.ts";
import { type FieldOrder, probeSource, type Rational, rationalToNumber, type SourceInfo, type VideoStreamInfo } from "./probe.ts";

/**
 * The quality check: refuse what cannot become a good stream, with a sentence a person can act
 * on, and report (without refusing) what will degrade it. It runs in the order of cost: header
 * checks from ffprobe first (a 8000x8000 "decompression bomb" or a 40-hour file is refused before
 * a single frame is decoded), then a demux-only scan of the packets (frame timing; a truncated
 * "faststart" MP4 whose packets stop early), then what only decoding every frame tells: decode
 * errors, where decoding stopped, and idet's interlace votes.
 *
 * That decode is a pass of its own in `checkQuality`. A transcode does not need one: its chunks
 * decode every frame anyway. The plan task runs `checkSource` (headers, packet scan, an idet
 * sample); each chunk refuses from what its own decoder saw (`refuseFromDecode`), and the
 * finalize task runs `concludeQualityCheck` over what every chunk saw.
 */

export type { QualityLimits, QualityReport, QualityWarning, QualityWarningCode, SourceSummary };

export const defaultQualityLimits: QualityLimits = {
  maxWidth: 4096,
  maxHeight: 4096,
  maxDurationSeconds: 6 * 3600,
  minDurationSeconds: 0.5,
  lowBitsPerPixel: 0.02,
};

export interface QualityCheck {
  report: QualityReport;
  /** ffprobe's full description, when the file could be probed (stream indexes for the transcode). */
  probe: SourceInfo | null;
}

export interface QualityCheckOptions {
  limits?: Partial<QualityLimits>;
  /** Decode progress, 0–100. */
  onProgress?: (percent: number) => void;
  stallTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Everything the checks before decoding learnt about a source they did not refuse. */
export interface SourceCheck {
  probe: SourceInfo;
  video: VideoStreamInfo;
  /** The video's duration as the headers declare it (never 0 here). */
  declaredSeconds: number;
  timing: FrameTiming | null;
  limits: QualityLimits;
  /**
   * The summary a transcode can plan from before any frame is decoded: interlacing is what the
   * encoder flagged, which the decode's idet votes may still overturn.
   */
  summary: SourceSummary;
}

export type SourceCheckResult = { ok: true; source: SourceCheck } | { ok: false; check: QualityCheck };

/**
 * @example
 * const { report } = await checkQuality(tools, "/tmp/job/source.mp4", { limits: { maxDurationSeconds: 3600 } });
 * if (!report.ok) fail(report.refusal); // "file is truncated at 4.2 s of 10.0 s; upload the complete file again"
 */
export async function checkQuality(tools: FfmpegTools, path: SourceInput, options: QualityCheckOptions = {}): Promise<QualityCheck> {
  const checked = await checkSource(tools, path, options);
  if (!checked.ok) return checked.check;
  const { video, declaredSeconds } = checked.source;
  const decoded = await decodeCheck(tools, path, video.index, {
    durationSeconds: declaredSeconds,
    onProgress: options.onProgress,
    stallTimeoutMs: options.stallTimeoutMs,
    signal: options.signal,
  });
  return concludeQualityCheck(checked.source, decoded);
}

/**
 * The checks that need no decoding: ffprobe's headers, then the packets' timestamps. A file whose
 * packets stop early is refused here with the sentence the decode would give (decoding cannot get
 * further than the packets go).
 */
export async function checkSource(
  tools: FfmpegTools,
  path: SourceInput,
  options: Pick<QualityCheckOptions, "limits" | "signal"> = {},
): Promise<SourceCheckResult> {
  const headers = await checkHeaders(tools, path, options);
  if (!headers.ok) return headers;
  const { probe, video } = headers.source;
  // What the demuxer says while reading the packets is read like a decode's log.
  const scanLog = new DecoderLog();
  const timestamps = await readPacketTimestamps(tools, path, video.index, {
    signal: options.signal,
    onStderrLine: (line) => scanLog.read(line),
  });
  const timing = analyseFrameTiming(timestamps);
  const summary = { ...headers.source.summary, variableFrameRate: timing?.variableFrameRate ?? false };
  const source: SourceCheck = { ...headers.source, timing, summary };

  const packetsEnd = packetsEndSeconds(timestamps, video);
  if (packetsEnd !== null) {
    const refusal = refuseFromDecode(scanLog.result(0, packetsEnd), expectedDecode(source));
    if (refusal) return { ok: false, check: refuse(refusal, summary, probe) };
  }
  return { ok: true, source };
}

/**
 * ffprobe's headers and the refusals they allow (no video, unknown codec, too large, too long…):
 * reads the container's index, not the frames, so over HTTP it costs a few range requests even
 * for a feature film. `timing` is left null: the packet scan (or, for a chunked transcode, each
 * chunk over its own range) fills it in.
 */
export async function checkHeaders(
  tools: FfmpegTools,
  path: SourceInput,
  options: Pick<QualityCheckOptions, "limits" | "signal"> = {},
): Promise<SourceCheckResult> {
  const limits = { ...defaultQualityLimits, ...options.limits };
  const rejected = (check: QualityCheck): SourceCheckResult => ({ ok: false, check });
  const probed = await probeSource(tools, path, { signal: options.signal });
  if (!probed.ok && probed.refusedFormat) return rejected(refuse(containerRefusal(probed.refusedFormat), null, null));
  if (!probed.ok)
    return rejected(refuse(`file is unreadable: ${probed.error}; upload a video file such as MP4, MOV, MKV or WebM`, null, null));

  const probe = probed.source;
  const video = probe.video;
  if (!video) {
    return rejected(refuse(probe.audio ? "no video stream: the file holds only audio" : "no video stream", null, probe));
  }
  const headerRefusal = refuseFromHeaders(probe, video, limits);
  if (headerRefusal) return rejected(refuse(headerRefusal, null, probe));

  // Never 0 here: refuseFromHeaders refused a file without a duration.
  const declaredSeconds = video.durationSeconds ?? probe.durationSeconds ?? 0;
  const flagged = video.fieldOrder === "top-first" || video.fieldOrder === "bottom-first";
  const summary = summarise(probe, video, declaredSeconds, flagged, false);
  return { ok: true, source: { probe, video, declaredSeconds, timing: null, limits, summary } };
}

/** What a whole-file decode must reach: the declared end. */
function expectedDecode({ video, declaredSeconds }: Pick<SourceCheck, "video" | "declaredSeconds">): ExpectedDecode {
  const rate = video.avgFrameRate ?? video.realFrameRate;
  return {
    endSeconds: declaredSeconds,
    declaredSeconds,
    streamDurationKnown: video.durationSeconds !== null,
    frameSeconds: rate ? rate.den / rate.num : 1 / 30,
    codec: video.codec,
  };
}

/**
 * The verdict once every frame has been decoded, by `decodeCheck` or by the transcode itself:
 * refusals from the decode (unreadable, truncated), interlacing from idet, and the warnings.
 */
export function concludeQualityCheck(source: SourceCheck, decoded: DecodeCheck): QualityCheck {
  const { probe, video, timing, limits } = source;
  const interlaced = interlaceVerdict(video.fieldOrder, decoded);
  const summary = { ...source.summary, interlaced: interlaced !== null };

  const decodeRefusal = refuseFromDecode(decoded, expectedDecode(source));
  if (decodeRefusal) return refuse(decodeRefusal, summary, probe);

  const unsupportedAudio = probe.audio !== null && probe.audio.codec === null;
  const audioTag = probe.audio?.codecTag ?? null;
  const warnings = collectWarnings({ summary, unsupportedAudio, audioTag, video, timing, interlaced, decoded, limits });
  return { report: { ok: true, warnings, source: summary }, probe };
}

/**
 * How far the packets reach, measured like a decode's output time: from the first frame to the
 * end of the last. Null when the stream's packets carry no timestamps (raw elementary streams).
 */
function packetsEndSeconds(timestamps: readonly number[], video: VideoStreamInfo): number | null {
  if (timestamps.length === 0) return null;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const seconds of timestamps) {
    first = Math.min(first, seconds);
    last = Math.max(last, seconds);
  }
  const rate = video.avgFrameRate ?? video.realFrameRate;
  return last - first + (rate ? rate.den / rate.num : 0);
}

function refuse(refusal: string, source: SourceSummary | null, probe: SourceInfo | null): QualityCheck {
  return { report: { ok: false, refusal, warnings: [], source }, probe };
}

/** Refusals that need no decoding: codec, dimensions, duration. */
function refuseFromHeaders(probe: SourceInfo, video: VideoStreamInfo, limits: QualityLimits): string | null {
  if (!video.codec) return unsupportedCodec(video.codecTag);
  if (video.codedWidth <= 0 || video.codedHeight <= 0) return "file is unreadable: the video stream declares no picture size";

  const longLimit = Math.max(limits.maxWidth, limits.maxHeight);
  const shortLimit = Math.min(limits.maxWidth, limits.maxHeight);
  const longSide = Math.max(video.width, video.height, video.codedWidth, video.codedHeight);
  const shortSide = Math.max(Math.min(video.width, video.height), Math.min(video.codedWidth, video.codedHeight));
  if (longSide > longLimit || shortSide > shortLimit) {
    return `${video.width}x${video.height} is larger than the ${limits.maxWidth}x${limits.maxHeight} limit`;
  }

  const seconds = video.durationSeconds ?? probe.durationSeconds;
  if (seconds === null)
    return "duration is unknown: the file does not say how long it is; remux it (for example to MP4) and upload it again";
  if (seconds <= 0) return "duration is 0 s: the file holds no playable video";
  if (seconds < limits.minDurationSeconds) {
    return `duration is ${formatSeconds(seconds, 2)}, shorter than the ${formatSeconds(limits.minDurationSeconds, 1)} minimum`;
  }
  if (seconds > limits.maxDurationSeconds) {
    return `duration is ${formatLongDuration(seconds)}, longer than the ${formatLongDuration(limits.maxDurationSeconds)} limit`;
  }
  return null;
}

/** How far a decode should get, and what to say when it does not. */
export interface ExpectedDecode {
  /** Seconds from the start of the title that decoding should reach (a range's end, or the declared end). */
  endSeconds: number;
  /** The title's declared duration, for the message. */
  declaredSeconds: number;
  /** The video stream's own duration is known (exact to a frame), not only the container's. */
  streamDurationKnown: boolean;
  frameSeconds: number;
  codec: string | null;
}

/**
 * Refusals from a decode, of the whole file or of one range of it (`decoded.decodedSeconds` then
 * counts from the title's start). A truncated file decodes up to where its data stops; the declared
 * duration comes from the (intact) index. The stream's own duration is exact to a frame, the
 * container's may include a slightly longer audio track, hence the two tolerances; and when the
 * demuxer itself reported the data running out ("partial file"), two missing frames are enough.
 */
export function refuseFromDecode(decoded: DecodeCheck, expected: ExpectedDecode): string | null {
  const missingDecoder = decoded.errors.find((line) => /decoder .*not found/i.test(line));
  if (missingDecoder) return unsupportedCodec(expected.codec);
  if (decoded.decodedSeconds <= 0) {
    const reason = decoded.errors[0] ?? "no frame could be decoded";
    return `file is unreadable: ${reason}; export the video again and upload the new file`;
  }
  const tolerance = decoded.endedEarly ? 2 * expected.frameSeconds : expected.streamDurationKnown ? 0.5 : 1.5;
  if (expected.endSeconds - decoded.decodedSeconds > tolerance) {
    return `file is truncated at ${formatSeconds(decoded.decodedSeconds, 1)} of ${formatSeconds(expected.declaredSeconds, 1)}; upload the complete file again`;
  }
  return null;
}

function unsupportedCodec(name: string | null): string {
  return `video codec ${name ? `'${name}' ` : ""}is not supported; export the video as H.264, HEVC, VP9 or AV1 and upload it again`;
}

/**
 * The encoder's field-order flag is trusted unless idet clearly saw progressive pictures
 * (broadcast encoders flag progressive pictures as interlaced often enough). A stream flagged
 * progressive is deinterlaced only on overwhelming evidence from idet over at least 100 frames:
 * deinterlacing a progressive picture softens every frame, and interlaced pictures coded as
 * progressive are rare (a careless re-encode of a DV or broadcast recording).
 */
export function interlaceVerdict(fieldOrder: FieldOrder, decoded: Pick<DecodeCheck, "interlace">): "top-first" | "bottom-first" | null {
  const detection = decoded.interlace;
  if (fieldOrder === "top-first" || fieldOrder === "bottom-first") return detection && looksProgressive(detection) ? null : fieldOrder;
  return detection ? looksInterlaced(detection, { minShare: 0.8, minFrames: 100 }) : null;
}

function summarise(
  probe: SourceInfo,
  video: VideoStreamInfo,
  durationSeconds: number,
  interlaced: boolean,
  variableFrameRate: boolean,
): SourceSummary {
  const rate: Rational = video.avgFrameRate ?? video.realFrameRate ?? { num: 30, den: 1 };
  const audioBitrate = probe.audio ? (probe.audio.bitrate ?? 128_000) : 0;
  const videoBitrate = video.bitrate ?? (probe.bitrate !== null ? Math.max(0, probe.bitrate - audioBitrate) : null);
  return {
    container: probe.formatName,
    durationSeconds: round(durationSeconds, 3),
    width: video.width,
    height: video.height,
    codedWidth: video.codedWidth,
    codedHeight: video.codedHeight,
    rotation: video.rotation,
    fps: round(rationalToNumber(rate), 3),
    frameRate: `${rate.num}/${rate.den}`,
    videoCodec: video.codec ?? "unknown",
    audioCodec: probe.audio?.codec ?? null,
    bitrate: probe.bitrate,
    videoBitrate,
    // An audio stream ffmpeg cannot decode would fail the transcode on every retry; the video
    // goes out silent instead, with a warning that says why.
    hasAudio: probe.audio !== null && probe.audio.codec !== null,
    interlaced,
    variableFrameRate,
  };
}

interface WarningInputs {
  summary: SourceSummary;
  /** An audio stream is there, but ffmpeg does not know its codec (tagged `audioTag`, if at all). */
  unsupportedAudio: boolean;
  audioTag: string | null;
  video: VideoStreamInfo;
  timing: FrameTiming | null;
  interlaced: "top-first" | "bottom-first" | null;
  decoded: DecodeCheck;
  limits: QualityLimits;
}

function collectWarnings({
  summary,
  unsupportedAudio,
  audioTag,
  video,
  timing,
  interlaced,
  decoded,
  limits,
}: WarningInputs): QualityWarning[] {
  const warnings: QualityWarning[] = [];
  const outputFps = formatFps(summary.fps);

  if (timing && timing.missingFrames > 0 && timing.longestGap) {
    const gaps = timing.gaps === 1 ? "1 timestamp gap" : `${timing.gaps} timestamp gaps`;
    const frames = timing.missingFrames === 1 ? "1 frame is" : `${timing.missingFrames} frames are`;
    warnings.push({
      code: "frame-drops",
      message: `${frames} missing in ${gaps} (the longest ${formatSeconds(timing.longestGap.seconds, 2)} at ${formatSeconds(timing.longestGap.atSeconds, 2)}); the picture freezes there`,
    });
  }
  if (timing?.variableFrameRate) {
    const fastest = Math.round(timing.minIntervalSeconds * 1000);
    const slowest = Math.round(timing.maxIntervalSeconds * 1000);
    warnings.push({
      code: "variable-frame-rate",
      message: `variable frame rate (frames ${fastest}–${slowest} ms apart); renditions are made at a constant ${outputFps} fps, so motion may judder slightly`,
    });
  }
  if (interlaced) {
    const order = interlaced === "top-first" ? "top field first" : "bottom field first";
    warnings.push({ code: "interlaced", message: `interlaced video (${order}); renditions are deinterlaced` });
  }
  if (video.rotation !== 0) {
    warnings.push({
      code: "rotated",
      message: `rotated ${video.rotation}° by metadata; renditions are turned upright (${summary.width}x${summary.height})`,
    });
  }
  if (summary.videoBitrate !== null && summary.videoBitrate > 0) {
    const bitsPerPixel = summary.videoBitrate / (summary.width * summary.height * summary.fps);
    if (bitsPerPixel < limits.lowBitsPerPixel) {
      warnings.push({
        code: "low-bitrate",
        message: `very low bitrate: ${Math.round(summary.videoBitrate / 1000)} kbit/s for ${summary.width}x${summary.height} at ${outputFps} fps (${bitsPerPixel.toFixed(3)} bits per pixel); expect blocky pictures that transcoding cannot improve`,
      });
    }
  }
  if (!summary.hasAudio) {
    const message = unsupportedAudio
      ? `audio codec ${audioTag ? `'${audioTag}' ` : ""}is not supported, so the video will play silently; export the audio as AAC to keep it`
      : "no audio stream; the video will play silently";
    warnings.push({ code: "no-audio", message });
  }
  if (decoded.errorCount > 0) {
    const count = decoded.errorCount === 1 ? "1 decoding error" : `${decoded.errorCount} decoding errors`;
    warnings.push({ code: "decode-errors", message: `${count} (first: ${decoded.errors[0] ?? "unknown"}); some frames may show glitches` });
  }
  return warnings;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function formatSeconds(seconds: number, digits: number): string {
  return `${round(seconds, digits).toFixed(digits)} s`;
}

function formatFps(fps: number): string {
  return Number.isInteger(fps) ? String(fps) : fps.toFixed(2);
}

/** "7 h 30 min", "45 min", "6 h": durations people read at a glance. */
function formatLongDuration(seconds: number): string {
  const totalMinutes = Math.round(seconds / 60);
  const hours = Math.floor(totalMinutes / 60);
  const minutes = totalMinutes % 60;
  if (hours === 0) return totalMinutes > 0 ? `${minutes} min` : formatSeconds(seconds, 0);
  return minutes === 0 ? `${hours} h` : `${hours} h ${minutes} min`;
}
