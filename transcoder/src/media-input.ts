/**
 * What ffmpeg and ffprobe read a source from: a local file (the one-shot job downloads the master
 * first), or the master in storage, read over HTTP where it lies. A task reads only the byte
 * ranges it needs that way: ffmpeg's HTTP client asks for ranges (`Range: bytes=N-`) whenever the
 * demuxer seeks (to the index at the end of an MP4, to a chunk's first keyframe), so no instance
 * needs disk for a master it works on.
 */
export interface MediaInput {
  /** A path or an http(s) URL. */
  url: string;
  /** Options for ffmpeg's input (before `-i`) or ffprobe: headers, reconnection, read-ahead. */
  options: string[];
}

/** A path, or a URL with its options. */
export type SourceInput = string | MediaInput;

/**
 * Options for ffmpeg's HTTP client reading from the Worker's `/internal/storage`:
 *
 * - the grant as a bearer token, and no compression (media does not shrink, and a gzipped answer
 *   would have no byte ranges);
 * - reconnection on network errors and 5xx answers: ffmpeg resumes at the byte it had reached with
 *   a new range request, so a dropped connection an hour into a master costs a second, not the task;
 * - a read timeout, so a connection that stops answering fails (and is retried) instead of
 *   hanging until the stall watchdog fires.
 */
export function storageInput(url: string, token: string, extra: string[] = []): MediaInput {
  return {
    url,
    options: [
      "-headers",
      `Authorization: Bearer ${token}\r\nAccept-Encoding: identity\r\n`,
      "-reconnect",
      "1",
      "-reconnect_on_network_error",
      "1",
      "-reconnect_on_http_error",
      "5xx",
      "-reconnect_delay_max",
      "30",
      "-rw_timeout",
      String(60_000_000),
      ...extra,
    ],
  };
}

/**
 * Read-ahead instead of a new request for a forward jump of up to 16 MiB. A task that reads one
 * stream of an interleaved file (the audio task) skips the other stream's samples between two of
 * its own; beyond ffmpeg's default threshold (the TCP window) each skip is another range request.
 */
export const sequentialReadOptions = ["-short_seek_size", String(16 * 1024 * 1024)];

/** The input as ffmpeg takes it: options, then `-i` and the path or URL. */
export function ffmpegInputArgs(input: SourceInput): string[] {
  const { url, options } = asMediaInput(input);
  return [...options, "-i", url];
}

export function asMediaInput(input: SourceInput): MediaInput {
  return typeof input === "string" ? { url: input, options: [] } : input;
}
