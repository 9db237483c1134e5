import { spawn } from "node:child_process";
import { join } from "node:path";
import { MAX_STORYBOARD_TILES, POSTER_WIDTHS, type PosterPlan, type StoryboardPlan } from "../../workers/transcoding/contract.ts";

/**
 * The poster and the storyboard (a sprite sheet of thumbnails plus a WebVTT file that points
 * into it with `#xywh=` fragments, which players such as Video.js, hls.js-based UIs and Shaka
 * show while scrubbing). Planned here, drawn by the same ffmpeg run as the renditions.
 */

export type { PosterPlan, StoryboardPlan };

/**
 * The storyboard tiles one range of the title draws, as separate images: the tiles whose instants
 * fall in the range, numbered by their place in the whole storyboard.
 */
export interface TilePlan {
  firstIndex: number;
  count: number;
  /** The first tile's instant, in seconds from the range's start. */
  firstAtSeconds: number;
  intervalSeconds: number;
  width: number;
  height: number;
}

export interface StoryboardOptions {
  /** Seconds between thumbnails; stretched for long videos so the sheet stays at `maxTiles`. */
  intervalSeconds: number;
  maxTiles: number;
  columns: number;
  /** Thumbnails are this wide when landscape, this tall when portrait. */
  thumbnailLongSide: number;
}

export const defaultStoryboardOptions: StoryboardOptions = {
  intervalSeconds: 5,
  // 20 rows of 10 at 160x90: a 1600x1800 JPEG of a few hundred kB, one request for a whole film.
  maxTiles: MAX_STORYBOARD_TILES,
  columns: 10,
  thumbnailLongSide: 160,
};

/** A frame a tenth of the way in: past black openings and studio logos, before any spoiler. */
export function planPoster(durationSeconds: number, size: { width: number; height: number }): PosterPlan {
  return { atSeconds: Math.round(durationSeconds * 0.1 * 1000) / 1000, width: size.width, height: size.height };
}

export function planStoryboard(
  durationSeconds: number,
  display: { width: number; height: number },
  options: Partial<StoryboardOptions> = {},
): StoryboardPlan {
  const settings = { ...defaultStoryboardOptions, ...options };
  const intervalSeconds = Math.max(settings.intervalSeconds, Math.ceil(durationSeconds / settings.maxTiles));
  const tileCount = Math.max(1, Math.ceil(durationSeconds / intervalSeconds - 1e-6));
  const columns = Math.min(settings.columns, tileCount);
  const landscape = display.width >= display.height;
  const otherSide = Math.max(
    2,
    Math.round((settings.thumbnailLongSide * Math.min(display.width, display.height)) / Math.max(display.width, display.height) / 2) * 2,
  );
  return {
    intervalSeconds,
    tileCount,
    columns,
    rows: Math.ceil(tileCount / columns),
    tileWidth: landscape ? settings.thumbnailLongSide : otherSide,
    tileHeight: landscape ? otherSide : settings.thumbnailLongSide,
  };
}

/**
 * The WebVTT cues: one per tile, each pointing at its rectangle in the sprite. `spriteUrl` is
 * written as given; a name relative to the VTT file keeps working wherever the files are served.
 *
 * @example
 * buildStoryboardVtt(plan, 12, "storyboard.jpg")
 * // WEBVTT\n\n00:00:00.000 --> 00:00:05.000\nstoryboard.jpg#xywh=0,0,160,90\n\n…
 */
export function buildStoryboardVtt(plan: StoryboardPlan, durationSeconds: number, spriteUrl: string): string {
  const cues: string[] = [];
  for (let tile = 0; tile < plan.tileCount; tile++) {
    const start = tile * plan.intervalSeconds;
    const end = Math.min((tile + 1) * plan.intervalSeconds, durationSeconds);
    const x = (tile % plan.columns) * plan.tileWidth;
    const y = Math.floor(tile / plan.columns) * plan.tileHeight;
    cues.push(
      `${vttTime(start)} --> ${vttTime(Math.max(end, start + 0.001))}\n${spriteUrl}#xywh=${x},${y},${plan.tileWidth},${plan.tileHeight}`,
    );
  }
  return `WEBVTT\n\n${cues.join("\n\n")}\n`;
}

function vttTime(seconds: number): string {
  const millis = Math.round(seconds * 1000);
  const hours = Math.floor(millis / 3_600_000);
  const minutes = Math.floor((millis % 3_600_000) / 60_000);
  const secs = Math.floor((millis % 60_000) / 1000);
  const ms = millis % 1000;
  return `${pad(hours, 2)}:${pad(minutes, 2)}:${pad(secs, 2)}.${pad(ms, 3)}`;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/**
 * Which storyboard tiles fall in a range (seconds from the title's start, end exclusive): null
 * when none does. The tile instants are those of the whole storyboard. `coverFromSeconds` (before
 * the range's first frame) takes the tiles from there too, drawn from that first frame.
 *
 * @example
 * planTiles(storyboard, 20, 40) // interval 5: tiles 4–7, at 0, 5, 10, 15 s into the range
 */
export function planTiles(
  plan: StoryboardPlan,
  startSeconds: number,
  endSeconds: number,
  coverFromSeconds = startSeconds,
): TilePlan | null {
  const epsilon = 1e-6;
  const firstIndex = Math.max(0, Math.ceil(coverFromSeconds / plan.intervalSeconds - epsilon));
  const end = Math.min(plan.tileCount, Math.ceil(endSeconds / plan.intervalSeconds - epsilon));
  if (end <= firstIndex) return null;
  return {
    firstIndex,
    count: end - firstIndex,
    firstAtSeconds: Math.max(0, Math.round((firstIndex * plan.intervalSeconds - startSeconds) * 1e6) / 1e6),
    intervalSeconds: plan.intervalSeconds,
    width: plan.tileWidth,
    height: plan.tileHeight,
  };
}

/** One sized poster: its file name (`poster-640w.webp`) and width. */
export interface PosterSize {
  name: string;
  width: number;
}

/**
 * The poster's sizes for a frame `frameWidth` wide: every width of `POSTER_WIDTHS` that does not
 * enlarge it (or the frame's own width when it is narrower than all of them), narrowest first.
 *
 * @example
 * planPosterSizes(1920, "webp") // poster-320w.webp, poster-640w.webp, poster-1280w.webp
 */
export function planPosterSizes(frameWidth: number, format: "webp" | "jpg"): PosterSize[] {
  const fitting = POSTER_WIDTHS.filter((width) => width <= frameWidth);
  const widths = fitting.length > 0 ? fitting : [Math.max(2, Math.round(frameWidth / 2) * 2)];
  return widths.map((width) => ({ width, name: `poster-${width}w.${format}` }));
}

/**
 * ffmpeg's arguments that scale one poster frame to every size in one run (`split`, then a Lanczos
 * `scale` per output; the height follows the aspect ratio, even). WebP at quality 75 is about a
 * third of a JPEG of the same look; JPEG at `-q:v 4` where ffmpeg has no libwebp.
 */
export function posterSizesArgs(input: string, folder: string, sizes: readonly PosterSize[], format: "webp" | "jpg"): string[] {
  const labels = sizes.map((_, index) => `[p${index}]`);
  const graph = `[0:v]split=${sizes.length}${labels.join("")};${sizes
    .map((size, index) => `${labels[index]}scale=${size.width}:-2:flags=lanczos[s${index}]`)
    .join(";")}`;
  const quality = format === "webp" ? ["-c:v", "libwebp", "-quality", "75"] : ["-q:v", "4"];
  return [
    ...["-hide_banner", "-loglevel", "error", "-y", "-i", input, "-filter_complex", graph],
    ...sizes.flatMap((size, index) => ["-map", `[s${index}]`, "-frames:v", "1", ...quality, join(folder, size.name)]),
  ];
}

const webpSupport = new Map<string, Promise<boolean>>();

/** Whether this ffmpeg build can write WebP (libwebp): asked once per binary. */
export function ffmpegHasWebp(ffmpeg: string): Promise<boolean> {
  let known = webpSupport.get(ffmpeg);
  if (!known) {
    known = new Promise<boolean>((resolve) => {
      const child = spawn(ffmpeg, ["-hide_banner", "-encoders"], { stdio: ["ignore", "pipe", "ignore"] });
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.on("error", () => resolve(false));
      child.on("close", () => resolve(/\blibwebp\b/.test(text)));
    });
    webpSupport.set(ffmpeg, known);
  }
  return known;
}
