import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { encodeClip } from "../../scripts/lib/clips.ts";
import { resolveFfmpegTools } from "../src/ffmpeg-tools.ts";

/**
 * Test clips made by ffmpeg's lavfi sources (the generator in scripts/lib/clips.ts, which the seed
 * shares), small and short so the suite stays fast on two cores. Every recipe is a real encode;
 * nothing here stands in for ffmpeg.
 */

const run = promisify(execFile);

export { ffmpeg } from "../../scripts/lib/clips.ts";
export const tools = resolveFfmpegTools();

export async function makeTempDir(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `reelstream-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface ClipSpec {
  /** "320x240" */
  size?: string;
  rate?: number;
  seconds?: number;
  audio?: boolean;
  /** Extra output options, before the path (codec, filters, metadata). */
  output?: string[];
  /** Video filter applied to the lavfi source. */
  filter?: string;
  container?: "mp4" | "mkv" | "m4a";
}

/** Encodes a clip and returns its path. H.264 ultrafast + AAC unless the spec says otherwise. */
export async function makeClip(dir: string, name: string, spec: ClipSpec = {}): Promise<string> {
  const { size = "320x240", rate = 30, seconds = 3, audio = true, container = "mp4" } = spec;
  const path = join(dir, `${name}.${container}`);
  await encodeClip(path, {
    video: `testsrc2=s=${size}:r=${rate}:d=${seconds}`,
    tone: audio ? { frequency: 440, seconds } : undefined,
    filter: spec.filter,
    preset: "ultrafast",
    audioBitrate: "64k",
    output: spec.output,
  });
  return path;
}

export async function ffprobeJson(path: string, entries: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(tools.ffprobe, ["-v", "error", "-of", "json", ...entries, path], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** Presentation times of the keyframes of a file's first video stream. */
export async function keyframeTimes(path: string): Promise<number[]> {
  const { stdout } = await run(
    tools.ffprobe,
    ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout
    .split("\n")
    .filter((line) => line.includes("K"))
    .map((line) => Number(line.split(",")[0]))
    .sort((a, b) => a - b);
}

/** Width, height and duration of a file's first video stream. */
export async function videoFacts(path: string): Promise<{ width: number; height: number; duration: number; rotation: number | null }> {
  const json = await ffprobeJson(path, [
    "-select_streams",
    "v:0",
    "-show_entries",
    "stream=width,height,duration:stream_side_data=rotation:format=duration",
  ]);
  const stream = (json.streams as Record<string, unknown>[])[0] ?? {};
  const format = json.format as Record<string, unknown>;
  const sideData = (stream.side_data_list as { rotation?: number }[] | undefined)?.find((entry) => entry.rotation !== undefined);
  return {
    width: Number(stream.width),
    height: Number(stream.height),
    duration: Number(stream.duration ?? format.duration),
    rotation: sideData?.rotation ?? null,
  };
}

/** Overwrites every occurrence of `from` with `to` (same length) in a file: a codec the world does not know. */
export async function patchBytes(path: string, from: string, to: string): Promise<void> {
  const data = await readFile(path);
  const needle = Buffer.from(from);
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + 1)) data.write(to, at);
  await writeFile(path, data);
}
