import type { AudioPlan, LadderPlan, RenditionPlan } from "../../workers/transcoding/contract.ts";
import { parseRational, type Rational, rationalToNumber } from "./probe.ts";
import type { SourceSummary } from "./quality-check.ts";

/**
 * Deciding the adaptive ladder, kept apart from building the ffmpeg command that makes it: this
 * module is pure, so every rule below is unit-tested without running ffmpeg.
 *
 * Rungs are named by the picture's short side ("720p" is 1280x720 landscape or 720x1280
 * portrait), because a phone held upright films 1080x1920 and a viewer expects "1080p" of it,
 * not a 1920-row rendition that a landscape TV ladder would call 1920p.
 */

/** Frame-rate limits. High frame rates pay off only on pictures large enough to show the motion. */
export type FrameRateCap =
  | { type: "fixed"; maxFps: number }
  | { type: "by-size"; maxFps: number; highMaxFps: number; highFromShortSide: number };

export interface LadderOptions {
  /** Standard short sides; the source's own size is added when it falls between them. */
  rungs: readonly number[];
  /** HLS segment length; every rendition has a keyframe exactly at each boundary. */
  segmentSeconds: number;
  frameRateCap: FrameRateCap;
  /** Target bits per pixel per frame before the source's bitrate caps it. */
  bitsPerPixel: number;
  audioBitrate: number;
  /** The encoder may peak this much above the target (VBV maxrate over bitrate). */
  peakFactor: number;
  /**
   * A standard rung at least this fraction of the source's own short side is dropped: a 750-row
   * source gets 750p, not both 720p and 750p, which would differ by nothing a viewer sees.
   */
  mergeRatio: number;
}

export const standardRungs = [240, 360, 480, 720, 1080, 1440, 2160] as const;

export const defaultLadderOptions: LadderOptions = {
  rungs: standardRungs,
  // 6 s, Apple's HLS authoring guidance: each viewer-minute asks for 20 segments (video and audio)
  // instead of 30 at 4 s, every one a billed Worker request behind the media check. The first
  // segment is 2 s longer (0.5 MB at 360p: +0.27 s to the first picture on 5 Mbit/s) and ABR
  // switches land on 6 s boundaries; hls.js abandons a segment that would stall.
  // docs/playback.md "Delivery: what a viewer-minute costs".
  segmentSeconds: 6,
  // 60 fps from 720p up, 30 below: what the large platforms serve, and 240p60 would spend its
  // few bits on frames instead of detail.
  frameRateCap: { type: "by-size", maxFps: 30, highMaxFps: 60, highFromShortSide: 720 },
  // 0.08 gives 1080p30 about 5 Mbit/s and 360p30 about 550 kbit/s, near Apple's HLS guidance.
  bitsPerPixel: 0.08,
  audioBitrate: 128_000,
  peakFactor: 1.5,
  mergeRatio: 0.9,
};

export type { AudioPlan, LadderPlan, RenditionPlan };

/** The part of the quality report's source summary that the ladder depends on. */
export type LadderSource = Pick<SourceSummary, "width" | "height" | "frameRate" | "videoBitrate" | "interlaced" | "hasAudio">;

/**
 * @example
 * planLadder({ width: 1920, height: 1080, frameRate: "60/1", videoBitrate: 8e6, interlaced: false, hasAudio: true })
 * // 240p30, 360p30, 480p30, 720p60, 1080p60; none above 8 Mbit/s; GOPs of 120 or 240 frames
 */
export function planLadder(source: LadderSource, options: Partial<LadderOptions> = {}): LadderPlan {
  const settings = { ...defaultLadderOptions, ...options };
  if (!(source.width >= 2 && source.height >= 2)) throw new RangeError(`cannot plan a ladder for ${source.width}x${source.height}`);
  if (!(settings.segmentSeconds > 0)) throw new RangeError("segmentSeconds must be positive");

  const sourceRate = snapFrameRate(parseRational(source.frameRate, "/") ?? { num: 30, den: 1 });
  const renditions = planShortSides(source, settings).map((shortSide) => planRendition(source, sourceRate, shortSide, settings));

  return {
    renditions,
    deinterlace: source.interlaced,
    audio: source.hasAudio ? { type: "aac", bitrate: settings.audioBitrate, channels: 2, sampleRate: 48_000 } : { type: "none" },
    segmentSeconds: settings.segmentSeconds,
  };
}

/** Standard rungs below the source, then the source's own short side; never anything larger. */
export function planShortSides(
  source: Pick<LadderSource, "width" | "height">,
  options: Pick<LadderOptions, "rungs" | "mergeRatio">,
): number[] {
  const own = floorEven(Math.min(source.width, source.height));
  const below = [...new Set(options.rungs)].filter((rung) => rung < own && rung > 0).sort((a, b) => a - b);
  const highest = below.at(-1);
  if (highest !== undefined && highest >= options.mergeRatio * own) below.pop();
  return [...below, own];
}

function planRendition(source: LadderSource, sourceRate: Rational, shortSide: number, options: LadderOptions): RenditionPlan {
  const landscape = source.width >= source.height;
  const sourceShort = Math.min(source.width, source.height);
  const sourceLong = Math.max(source.width, source.height);
  // Even dimensions (4:2:0 chroma needs them), and the top rung never wider than the source.
  const longSide = Math.max(2, Math.min(roundEven((shortSide * sourceLong) / sourceShort), floorEven(sourceLong)));
  const width = landscape ? longSide : shortSide;
  const height = landscape ? shortSide : longSide;

  const frameRate = capFrameRate(sourceRate, maxFpsFor(shortSide, options.frameRateCap));
  const fps = rationalToNumber(frameRate);
  const byPixels = options.bitsPerPixel * width * height * fps;
  const sourceBitrate = source.videoBitrate && source.videoBitrate > 0 ? source.videoBitrate : Number.POSITIVE_INFINITY;
  // Re-encoding cannot add detail the source never had: spending more bits than it did is waste.
  const videoBitrate = Math.max(16_000, roundTo(Math.min(byPixels, sourceBitrate), 1000));

  return {
    name: `${shortSide}p`,
    width,
    height,
    shortSide,
    frameRate,
    fps,
    videoBitrate,
    maxBitrate: Math.round(videoBitrate * options.peakFactor),
    bufferSize: videoBitrate * 2,
    gopFrames: Math.max(1, Math.round(options.segmentSeconds * fps)),
  };
}

function maxFpsFor(shortSide: number, cap: FrameRateCap): number {
  switch (cap.type) {
    case "fixed":
      return cap.maxFps;
    case "by-size":
      return shortSide >= cap.highFromShortSide ? cap.highMaxFps : cap.maxFps;
  }
}

const commonRates: readonly Rational[] = [
  { num: 24_000, den: 1001 },
  { num: 24, den: 1 },
  { num: 25, den: 1 },
  { num: 30_000, den: 1001 },
  { num: 30, den: 1 },
  { num: 48, den: 1 },
  { num: 50, den: 1 },
  { num: 60_000, den: 1001 },
  { num: 60, den: 1 },
];

/**
 * Phones record at a variable rate whose average lands on odd values (29.87 fps); a rendition
 * made at exactly that rate would be an oddity for every player downstream. Within 0.5% of a
 * common rate, the common rate is used.
 */
export function snapFrameRate(rate: Rational): Rational {
  const fps = rationalToNumber(rate);
  let nearest: Rational = rate;
  let distance = 0.005 * fps;
  for (const common of commonRates) {
    const away = Math.abs(rationalToNumber(common) - fps);
    if (away <= distance) {
      nearest = common;
      distance = away;
    }
  }
  return nearest;
}

/**
 * Lowers a frame rate to at most `maxFps`, preferring an exact divisor so that frames are dropped
 * evenly (59.94 becomes 29.97, 50 becomes 25, 120 becomes 30). When the divisor would fall far below
 * the cap (31 fps halved is 15.5), the cap itself is used instead.
 */
export function capFrameRate(rate: Rational, maxFps: number): Rational {
  const fps = rationalToNumber(rate);
  if (fps <= maxFps) return rate;
  const divisor = Math.ceil(fps / maxFps - 1e-9);
  if (fps / divisor >= 0.75 * maxFps) return simplify({ num: rate.num, den: rate.den * divisor });
  return { num: maxFps, den: 1 };
}

function simplify(rate: Rational): Rational {
  const divisor = gcd(rate.num, rate.den);
  return { num: rate.num / divisor, den: rate.den / divisor };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function floorEven(value: number): number {
  return Math.floor(value / 2) * 2;
}

function roundEven(value: number): number {
  return Math.round(value / 2) * 2;
}

function roundTo(value: number, step: number): number {
  return Math.round(value / step) * step;
}
