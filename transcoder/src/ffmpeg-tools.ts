/**
 * Which ffmpeg and ffprobe binaries the transcoder runs.
 *
 * The container image pins Debian's build through FFMPEG_PATH/FFPROBE_PATH; on a developer's machine
 * the variables are usually unset and PATH decides. The pair is passed down explicitly rather than
 * read from a module-level constant, so a test can point one job at another build without touching
 * the environment of the others.
 */
export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

/**
 * @example
 * const tools = resolveFfmpegTools(process.env); // { ffmpeg: "/usr/bin/ffmpeg", ffprobe: "ffprobe" }
 */
export function resolveFfmpegTools(env: Record<string, string | undefined> = process.env): FfmpegTools {
  return {
    ffmpeg: env.FFMPEG_PATH?.trim() || "ffmpeg",
    ffprobe: env.FFPROBE_PATH?.trim() || "ffprobe",
  };
}
