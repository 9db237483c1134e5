import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { resolveFfmpegTools } from "../../transcoder/src/ffmpeg-tools.ts";

/**
 * Short clips made by ffmpeg's lavfi sources: the seed's demo videos and the tests' sources.
 * Every recipe is a real encode (H.264 + AAC).
 */

const run = promisify(execFile);

/** Runs ffmpeg (FFMPEG_PATH, else the one on PATH) to the end; rejects with its output on failure. */
export async function ffmpeg(args: string[]): Promise<void> {
  await run(resolveFfmpegTools().ffmpeg, args, { maxBuffer: 16 * 1024 * 1024 });
}

export interface ClipRecipe {
  /** The lavfi video source: `testsrc2=s=320x240:r=30:d=3`, `mandelbrot=s=854x480:r=25`. */
  video: string;
  /** Cuts the video source at this many seconds (`-t`), for sources that take no `d=` (mandelbrot). */
  videoSeconds?: number;
  /** A sine tone as the audio track; none without it. */
  tone?: { frequency: number; seconds: number };
  /** Video filter applied to the source. */
  filter?: string;
  /** x264 preset. */
  preset: string;
  audioBitrate: string;
  /** Extra output options, before the path (codec, filters, metadata, `-shortest`). */
  output?: string[];
}

/**
 * Encodes a clip from lavfi sources to `path`.
 *
 * @example
 * await encodeClip("/tmp/bars.mp4", { video: "smptehdbars=s=1280x720:r=30", videoSeconds: 8, tone: { frequency: 440, seconds: 8 }, preset: "veryfast", audioBitrate: "96k" });
 */
export async function encodeClip(path: string, recipe: ClipRecipe): Promise<void> {
  const args = ["-hide_banner", "-v", "error", "-y", "-f", "lavfi"];
  if (recipe.videoSeconds !== undefined) args.push("-t", String(recipe.videoSeconds));
  args.push("-i", recipe.video);
  if (recipe.tone) args.push("-f", "lavfi", "-i", `sine=f=${recipe.tone.frequency}:d=${recipe.tone.seconds}`);
  if (recipe.filter) args.push("-vf", recipe.filter);
  args.push("-c:v", "libx264", "-preset", recipe.preset, "-pix_fmt", "yuv420p");
  if (recipe.tone) args.push("-c:a", "aac", "-b:a", recipe.audioBitrate);
  args.push(...(recipe.output ?? []), path);
  await ffmpeg(args);
}
