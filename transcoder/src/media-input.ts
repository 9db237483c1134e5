/**
 * What ffmpeg and ffprobe read a source from: a local file (the one-shot job downloads the master
 * first), or the master in storage, read over HTTP where it lies. A task reads only the byte
 * ranges it needs that way: ffmpeg's HTTP client asks for ranges (`Range: bytes=N-`) whenever the
 * demuxer seeks (to the index at the end of an MP4, to a chunk's first keyframe), so no instance
 * needs disk for a master it works on.
 *
 * **A source is a file, never a program.** ffmpeg's demuxers include some that open other URLs:
 * an HLS or DASH playlist fetches its segments, a concat list opens the files it names. An uploaded
 * master is untrusted, so every input ffmpeg or ffprobe opens is held to two allow-lists:
 *
 * - `-format_whitelist`: the containers of `sourceFormats` only, demuxers that read the one file
 *   they are given (ffmpeg checks it after probing, before the demuxer reads a byte of it, so a
 *   playlist is refused before it fetches anything: `refusedFormat` reads that refusal);
 * - `-protocol_whitelist`: the one protocol the input's own URL uses (`http,tcp`, `https,tls,tcp`
 *   or `file`), so nothing else can be reached even by a demuxer that tried.
 *
 * The grant in `-headers` is a read-only one for the master alone (`storage.sourceToken`): the
 * one credential ffmpeg ever holds opens that one object, by GET and HEAD, while its attempt runs.
 */
export interface MediaInput {
  /** A path or an http(s) URL. */
  url: string;
  /** Options for ffmpeg's input (before `-i`) or ffprobe: allow-lists, headers, reconnection, read-ahead. */
  options: string[];
}

/** A path, or a URL with its options. */
export type SourceInput = string | MediaInput;

/**
 * The containers a master may come in, as ffmpeg names their demuxers: each reads the one file it
 * is given and opens nothing else (the MP4 demuxer's external references are off by default,
 * `enable_drefs`). Raw elementary streams (H.264, HEVC, MPEG-4 video, IVF) are files too.
 */
export const sourceFormats = [
  "mov", // MP4, MOV, M4V, 3GP
  "matroska", // MKV, WebM
  "avi",
  "mpegts", // TS, M2TS
  "mpeg", // MPEG program streams: VOB, MPG
  "flv",
  "asf", // WMV
  "ogg",
  "mxf",
  "dv",
  "ivf",
  "h264",
  "hevc",
  "m4v",
] as const;

/** The protocols ffmpeg may use to read `url`: its own scheme's stack, nothing else. */
export function protocolsFor(url: string): string {
  if (/^https:/i.test(url)) return "https,tls,tcp";
  if (/^http:/i.test(url)) return "http,tcp";
  return "file";
}

/** The allow-lists every source input carries (see above). */
export function sourceGuards(url: string): string[] {
  return ["-protocol_whitelist", protocolsFor(url), "-format_whitelist", sourceFormats.join(",")];
}

/**
 * Options for ffmpeg's HTTP client reading from the Worker's `/internal/storage`:
 *
 * - the allow-lists above;
 * - the source grant as a bearer token, and no compression (media does not shrink, and a gzipped
 *   answer would have no byte ranges);
 * - reconnection on network errors and 5xx answers: ffmpeg resumes at the byte it had reached with
 *   a new range request, so a dropped connection an hour into a master costs a second, not the task;
 * - a read timeout, so a connection that stops answering fails (and is retried) instead of
 *   hanging until the stall watchdog fires.
 */
export function storageInput(url: string, token: string, extra: string[] = []): MediaInput {
  return {
    url,
    options: [
      ...sourceGuards(url),
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

/**
 * The input with its container named (`-f mov`), when the plan probed it as one of
 * `sourceFormats` (ffprobe's `format_name`, "mov,mp4,m4a,3gp,3g2,mj2"): ffmpeg then skips probing.
 * Any other name leaves the input as it is, still held to the allow-list.
 *
 * @example
 * withContainer(storage.sourceInput(task.sourceKey), task.encode.source.container)
 */
export function withContainer(input: SourceInput, container: string): SourceInput {
  const demuxer = container.split(",")[0] ?? "";
  if (!(sourceFormats as readonly string[]).includes(demuxer)) return input;
  const { url, options } = asMediaInput(input);
  return { url, options: [...options, "-f", demuxer] };
}

/** The input as ffmpeg takes it: options, then `-i` and the path or URL. */
export function ffmpegInputArgs(input: SourceInput): string[] {
  const { url, options } = asMediaInput(input);
  return [...options, "-i", url];
}

/** A path gets the allow-lists too: a playlist on disk would open what it names. */
export function asMediaInput(input: SourceInput): MediaInput {
  return typeof input === "string" ? { url: input, options: sourceGuards(input) } : input;
}

/**
 * The demuxer ffmpeg refused by the allow-list, from its log ("[hls @ 0x…] Format not on
 * whitelist 'mov,…'"), or null.
 */
export function refusedFormat(stderrLines: readonly string[]): string | null {
  for (const line of stderrLines) {
    const match = /^\[([\w-]+) @ 0x[0-9a-f]+\]\s*Format not on whitelist/.exec(line.replace(/^\[(error|fatal)\]\s*/, ""));
    if (match?.[1]) return match[1];
  }
  return null;
}

/** What a refused container is, in words for the person who uploaded it. */
const refusedKinds: Record<string, string> = {
  hls: "an HLS playlist (.m3u8)",
  dash: "a DASH manifest (.mpd)",
  concat: "a list of other files",
  ffmetadata: "an ffmpeg metadata file",
  image2: "an image",
  png_pipe: "an image",
  jpeg_pipe: "an image",
  webp_pipe: "an image",
  gif: "a GIF image",
  mp3: "an audio file (MP3)",
  wav: "an audio file (WAV)",
  flac: "an audio file (FLAC)",
  aac: "an audio file (AAC)",
  srt: "a subtitle file",
  webvtt: "a subtitle file",
  ass: "a subtitle file",
  tty: "a text file",
};

/**
 * The refusal of a master whose container is not on the allow-list: it names what the file is,
 * never ffmpeg's name for it.
 *
 * @example
 * containerRefusal("hls") // "the file is an HLS playlist (.m3u8), not a video: …"
 */
export function containerRefusal(demuxer: string): string {
  const kind = refusedKinds[demuxer];
  const what = kind ? `the file is ${kind}, not a video` : "the file is not in a video container Reelstream takes";
  const playlist = demuxer === "hls" || demuxer === "dash" || demuxer === "concat";
  return `${what}${playlist ? ": it only points at other files, and those are never fetched" : ""}; upload the video file itself, such as MP4, MOV, MKV or WebM`;
}
