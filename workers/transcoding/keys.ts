import { videoMediaPrefix } from "../videos/index.ts";

/**
 * Where a job's outputs live, and how tasks and their attempts are named. The published ladder is
 * `videos/{id}/hls/master.m3u8` and what it leads to; every object a task attempt writes carries
 * its tag (`720p/c0003-a2-00004.m4s`), so attempts never write over each other.
 */

/** Everything playback serves for a video (`/media/{id}/<path>` is R2 key `videos/{id}/<path>`). */
export const mediaPrefix = videoMediaPrefix;

/** Where a video's ladder, poster and storyboard are written: `videos/{id}/hls/`. */
export function outputPrefix(videoId: string): string {
  return `${mediaPrefix(videoId)}hls/`;
}

/** The task of chunk `index`: "chunk-0003". */
export function chunkTaskId(index: number): string {
  return `chunk-${String(index).padStart(4, "0")}`;
}

/** The names an attempt's objects start with: "c0003-a2-", "plan-a1-", "audio-a1-", "finalize-a3-". */
export function attemptTag(taskId: string, attempt: number): string {
  const chunk = /^chunk-(\d+)$/.exec(taskId);
  return `${chunk ? `c${chunk[1]}` : taskId}-a${attempt}-`;
}

/** A key below the video's media prefix, as the catalog stores it (`hls/poster.jpg`). */
export function mediaPath(videoId: string, key: string): string {
  const prefix = outputPrefix(videoId);
  if (!key.startsWith(prefix)) throw new Error(`the transcoder reported '${key}', outside ${prefix}`);
  return key.slice(mediaPrefix(videoId).length);
}
