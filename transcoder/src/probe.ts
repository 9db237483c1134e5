import type { Rational } from "../../workers/transcoding/contract.ts";
import { describeFailure, spawnTool } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { asMediaInput, refusedFormat, type SourceInput } from "./media-input.ts";

/**
 * ffprobe's view of a source, reduced to what the quality check and the ladder need. ffprobe only
 * reads headers (and a few packets), so this is cheap and safe to run before anything decodes:
 * dimensions come from here so that a decompression bomb is refused without decoding a frame.
 */

export type { Rational };

/** Field order as displayed; ffprobe's `tt`/`bt` show the top field first, `bb`/`tb` the bottom. */
export type FieldOrder = "progressive" | "top-first" | "bottom-first" | "unknown";

export interface VideoStreamInfo {
  index: number;
  /** ffmpeg's codec name; null when ffmpeg does not know the codec at all. */
  codec: string | null;
  /** The fourcc or codec id as stored in the container, for messages about unknown codecs. */
  codecTag: string | null;
  profile: string | null;
  pixelFormat: string | null;
  /** Dimensions as stored in the bitstream. */
  codedWidth: number;
  codedHeight: number;
  /** Width over height of one pixel (anamorphic DV and DVD sources are not 1). */
  sampleAspectRatio: number;
  /** Display rotation from the display matrix or the legacy `rotate` tag: 0, 90, 180 or 270. */
  rotation: number;
  /** Dimensions as a viewer sees them: pixel aspect applied, then rotation. */
  width: number;
  height: number;
  avgFrameRate: Rational | null;
  realFrameRate: Rational | null;
  fieldOrder: FieldOrder;
  bitrate: number | null;
  durationSeconds: number | null;
  frameCount: number | null;
  /** Of the stream's packet timestamps ("1/15360"). */
  timeBase: Rational | null;
}

export interface AudioStreamInfo {
  index: number;
  codec: string | null;
  codecTag: string | null;
  channels: number | null;
  sampleRate: number | null;
  bitrate: number | null;
}

export interface StreamSummary {
  index: number;
  type: string;
  codec: string | null;
}

export interface SourceInfo {
  formatName: string;
  /** The container's duration; the video stream's own is on `video`. */
  durationSeconds: number | null;
  /** The container's start time: the instant a continuous encode takes as time 0. */
  startSeconds: number | null;
  bitrate: number | null;
  sizeBytes: number | null;
  /** The first video stream that is not cover art. */
  video: VideoStreamInfo | null;
  /** The first audio stream. */
  audio: AudioStreamInfo | null;
  streams: StreamSummary[];
}

/**
 * A source ffprobe could not describe: `error` in ffprobe's words (the path left out), and
 * `refusedFormat` when the container is not one a master may be (media-input.ts), named as ffmpeg
 * names it: the caller says what that is in words.
 */
export type ProbeResult = { ok: true; source: SourceInfo } | { ok: false; error: string; refusedFormat?: string };

/**
 * Runs ffprobe on a file or URL (only the headers and a few packets are read). An unreadable file is a result, not an exception: the quality
 * check turns it into a refusal.
 */
export async function probeSource(tools: FfmpegTools, input: SourceInput, options: { signal?: AbortSignal } = {}): Promise<ProbeResult> {
  const { url: path, options: inputOptions } = asMediaInput(input);
  const chunks: string[] = [];
  const outcome = await spawnTool(
    tools.ffprobe,
    ["-v", "error", "-hide_banner", ...inputOptions, "-print_format", "json", "-show_format", "-show_streams", path],
    { signal: options.signal, onStdoutLine: (line) => chunks.push(line) },
  );
  if (outcome.exitCode !== 0) {
    const refused = refusedFormat(outcome.stderrTail);
    if (refused) return { ok: false, error: "the container is not allowed", refusedFormat: refused };
    // ffprobe names the file; the temp path or the storage URL means nothing to the person reading the message.
    const error = describeFailure(outcome.stderrTail).replaceAll(`${path}: `, "").replaceAll(path, "the file");
    return { ok: false, error: error.charAt(0).toLowerCase() + error.slice(1) };
  }
  let json: unknown;
  try {
    json = JSON.parse(chunks.join("\n"));
  } catch {
    return { ok: false, error: "ffprobe printed no readable description" };
  }
  const source = parseProbeOutput(json);
  if (source.streams.length === 0) return { ok: false, error: "no audio or video stream was found" };
  return { ok: true, source };
}

type Json = Record<string, unknown>;

/** Turns ffprobe's `-show_format -show_streams` JSON into a SourceInfo. Pure, for unit tests. */
export function parseProbeOutput(json: unknown): SourceInfo {
  const root = asObject(json);
  const format = asObject(root.format);
  const streams = Array.isArray(root.streams) ? root.streams.map(asObject) : [];

  const videoJson = streams.find((s) => s.codec_type === "video" && asObject(s.disposition).attached_pic !== 1);
  const audioJson = streams.find((s) => s.codec_type === "audio");

  return {
    formatName: asString(format.format_name) ?? "unknown",
    durationSeconds: asNumber(format.duration),
    startSeconds: asNumber(format.start_time),
    bitrate: asNumber(format.bit_rate),
    sizeBytes: asNumber(format.size),
    video: videoJson ? parseVideoStream(videoJson) : null,
    audio: audioJson
      ? {
          index: asNumber(audioJson.index) ?? 0,
          codec: codecName(audioJson.codec_name),
          codecTag: codecTag(audioJson.codec_tag_string),
          channels: asNumber(audioJson.channels),
          sampleRate: asNumber(audioJson.sample_rate),
          bitrate: asNumber(audioJson.bit_rate),
        }
      : null,
    streams: streams.map((s) => ({
      index: asNumber(s.index) ?? 0,
      type: asString(s.codec_type) ?? "unknown",
      codec: asString(s.codec_name),
    })),
  };
}

function parseVideoStream(stream: Json): VideoStreamInfo {
  const codedWidth = asNumber(stream.width) ?? 0;
  const codedHeight = asNumber(stream.height) ?? 0;
  const sar = parseRational(asString(stream.sample_aspect_ratio), ":");
  const sampleAspectRatio = sar && sar.num > 0 && sar.den > 0 ? sar.num / sar.den : 1;
  const rotation = readRotation(stream);
  // Anamorphic pixels widen the picture; the ladder works on what a viewer sees.
  const squareWidth = Math.round(codedWidth * sampleAspectRatio);
  const turned = rotation === 90 || rotation === 270;

  return {
    index: asNumber(stream.index) ?? 0,
    codec: codecName(stream.codec_name),
    codecTag: codecTag(stream.codec_tag_string),
    profile: asString(stream.profile),
    pixelFormat: asString(stream.pix_fmt),
    codedWidth,
    codedHeight,
    sampleAspectRatio,
    rotation,
    width: turned ? codedHeight : squareWidth,
    height: turned ? squareWidth : codedHeight,
    avgFrameRate: validRate(parseRational(asString(stream.avg_frame_rate), "/")),
    realFrameRate: validRate(parseRational(asString(stream.r_frame_rate), "/")),
    fieldOrder: parseFieldOrder(asString(stream.field_order)),
    bitrate: asNumber(stream.bit_rate),
    durationSeconds: asNumber(stream.duration),
    frameCount: asNumber(stream.nb_frames),
    timeBase: validRate(parseRational(asString(stream.time_base), "/"), { min: 0, max: Number.POSITIVE_INFINITY }),
  };
}

/**
 * ffprobe 5+ reports rotation as display-matrix side data; older muxers wrote a `rotate` tag.
 * Only the quarter turn matters here, so the angle is normalised to 0, 90, 180 or 270.
 */
function readRotation(stream: Json): number {
  const sideData = Array.isArray(stream.side_data_list) ? stream.side_data_list.map(asObject) : [];
  const matrix = sideData.find((entry) => entry.rotation !== undefined);
  const degrees = asNumber(matrix?.rotation) ?? asNumber(asObject(stream.tags).rotate) ?? 0;
  return (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
}

function parseFieldOrder(value: string | null): FieldOrder {
  switch (value) {
    case "progressive":
      return "progressive";
    case "tt":
    case "bt":
      return "top-first";
    case "bb":
    case "tb":
      return "bottom-first";
    default:
      return "unknown";
  }
}

export function parseRational(value: string | null, separator: string): Rational | null {
  if (!value) return null;
  const [num, den] = value.split(separator).map(Number);
  if (num === undefined || den === undefined || !Number.isFinite(num) || !Number.isFinite(den)) return null;
  return { num, den };
}

/**
 * ffprobe writes `0/0` for unknown rates and absurd ones (1000/1) for some timestamp-only streams.
 * A time base is a rational too, but any positive one is valid.
 */
function validRate(rate: Rational | null, range = { min: 0.1, max: 1000 }): Rational | null {
  if (!rate || rate.den <= 0 || rate.num <= 0) return null;
  const value = rate.num / rate.den;
  return value >= range.min && value <= range.max ? rate : null;
}

export function rationalToNumber(rate: Rational): number {
  return rate.num / rate.den;
}

/** ffprobe prints "unknown" (Matroska) or nothing (MP4) for a codec it has no id for. */
function codecName(value: unknown): string | null {
  const name = asString(value);
  return name === "unknown" || name === "none" ? null : name;
}

/** A fourcc worth quoting to a person; Matroska's all-zero tag is not one. */
function codecTag(value: unknown): string | null {
  const tag = asString(value);
  return tag && !/^(\[\d+\])+$/.test(tag) ? tag : null;
}

function asObject(value: unknown): Json {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function asString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** ffprobe prints most numbers as strings and "N/A" when it does not know. */
function asNumber(value: unknown): number | null {
  const number = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
  return Number.isFinite(number) ? number : null;
}
