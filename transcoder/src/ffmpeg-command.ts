import { join } from "node:path";
import type { AudioPlan } from "../../workers/transcoding/contract.ts";
import type { LadderPlan, RenditionPlan } from "./ladder.ts";
import { ffmpegInputArgs, type SourceInput } from "./media-input.ts";
import type { PosterPlan, StoryboardPlan, TilePlan } from "./previews.ts";

/**
 * Building the one ffmpeg command that makes everything: decode once, deinterlace once, `split`
 * the pictures into the largest rendition and the previews, scale each smaller rendition from the
 * one above it, and write the HLS ladder, the poster and the storyboard sprite in the same run.
 * Decoding is a large share of a ladder's cost (a 4K HEVC source decodes slower than its 240p
 * rendition encodes), so doing it once per rendition is what this avoids.
 *
 * This module only turns a plan into arguments; `ladder.ts` and `previews.ts` decide the plan.
 */

/** Names of the files written under the output folder; storage keys are these under the job's prefix. */
export const outputNames = {
  master: "master.m3u8",
  mediaPlaylist: "index.m3u8",
  initSegment: "init.mp4",
  segmentPattern: "seg_%05d.m4s",
  audioFolder: "audio",
  poster: "poster.jpg",
  sprite: "storyboard.jpg",
  vtt: "storyboard.vtt",
  /** A chunk's storyboard tiles, numbered in the whole storyboard. */
  tilePattern: "tile_%05d.jpg",
  /** A chunk's list of its video packets' timestamps (ffmpeg's framecrc format). */
  packetLog: "packets.framecrc",
} as const;

export type X264Preset = "ultrafast" | "superfast" | "veryfast" | "faster" | "fast" | "medium" | "slow" | "slower" | "veryslow";
export const x264Presets: readonly X264Preset[] = [
  "ultrafast",
  "superfast",
  "veryfast",
  "faster",
  "fast",
  "medium",
  "slow",
  "slower",
  "veryslow",
];

/** One branch of the split filter: what it draws from the decoded pictures. */
export type OutputBranch =
  | { type: "rendition"; rendition: RenditionPlan }
  | { type: "poster"; poster: PosterPlan }
  | { type: "storyboard"; storyboard: StoryboardPlan }
  | { type: "tiles"; tiles: TilePlan };

/**
 * One range of the source (a chunk task): the demuxer seeks to its first keyframe, decoding keeps
 * exactly the frames from `startPts` up to `endPts` (the stream's own timestamps, so no rounding
 * of seconds can add or lose a frame at a boundary), and their times start again from 0, so every
 * chunk's outputs, init segments included, are made alike. Times in the poster and tile plans
 * count from the range's start.
 */
export interface RangeSelection {
  startPts: number;
  /** Exclusive; null: to the end of the source. */
  endPts: number | null;
  /** Where the demuxer seeks to (at or after the range's keyframe, before the next); null: from the start. */
  seekSeconds: number | null;
  /** Source seconds of `endPts`, where the copy of the packets stops; null: at the end. */
  endSeconds: number | null;
}

export interface TranscodeCommand {
  input: SourceInput;
  outputDir: string;
  /** Absolute stream indexes from ffprobe: `0:v:0` could be an MP4's cover art. */
  videoStreamIndex: number;
  audioStreamIndex: number | null;
  ladder: LadderPlan;
  poster: PosterPlan | null;
  storyboard: StoryboardPlan | null;
  /** A chunk's storyboard tiles, as single images (the finalize task puts them on one sprite). */
  tiles?: TilePlan | null;
  range?: RangeSelection;
  preset: X264Preset;
  /**
   * Also run idet on the decoded pictures (before any deinterlacing), so that the run's log ends
   * with its "Multi frame detection" summary: the quality check's interlace votes without a
   * decode of its own. Raises the log level to `info`, where idet reports.
   */
  detectInterlace?: boolean;
}

/**
 * @example
 * const args = buildTranscodeArgs({ input: sourcePath, outputDir, videoStreamIndex: 0, audioStreamIndex: 1, ladder, poster, storyboard, preset: "veryfast" });
 * await runFfmpeg(tools.ffmpeg, args, { durationSeconds });
 */
export function buildTranscodeArgs(command: TranscodeCommand): string[] {
  const renditions = command.ladder.renditions;
  const labels = renditions.map((_, index) => `out${index}`);
  const previews: OutputBranch[] = [];
  if (command.poster) previews.push({ type: "poster", poster: command.poster });
  if (command.storyboard) previews.push({ type: "storyboard", storyboard: command.storyboard });
  if (command.tiles) previews.push({ type: "tiles", tiles: command.tiles });
  const previewLabels = previews.map((_, index) => `out${renditions.length + index}`);

  // Each rung is scaled from the smallest larger rung that has at least its frame rate, rather
  // than from the source: downscaling 1080p pictures four times costs more than the 720p, 480p…
  // chain, and with one decode feeding every rendition it is the other saving on offer.
  const parents = renditions.map((_, index) => cascadeParent(renditions, index) ?? -1);
  const children = (parent: number) => parents.flatMap((candidate, index) => (candidate === parent ? [index] : []));
  const fromSource = [...children(-1).map((index) => `[${labels[index]}_in]`), ...previewLabels.map((label) => `[${label}_in]`)];

  const { range } = command;
  const selection = range
    ? `trim=start_pts=${range.startPts}${range.endPts !== null ? `:end_pts=${range.endPts}` : ""},setpts=PTS-STARTPTS,`
    : "";
  const shared = `${selection}${command.ladder.deinterlace ? "bwdif=mode=send_frame:parity=auto:deint=all," : ""}`;
  // `null` passes the pictures on when the source feeds a single branch (one rendition, no previews).
  const fromSourceChain = fromSource.length > 1 ? splitInto(fromSource) : `null${fromSource[0]}`;
  const input = `[0:${command.videoStreamIndex}]`;
  const graph = command.detectInterlace
    ? [`${input}split=2[idet_in][decoded]`, "[idet_in]idet,nullsink", `[decoded]${shared}${fromSourceChain}`]
    : [`${input}${shared}${fromSourceChain}`];
  // Larger rungs first, so every parent's chain is declared before the rungs it feeds.
  for (let index = renditions.length - 1; index >= 0; index--) {
    const rendition = renditions[index] as RenditionPlan;
    const outputs = [`[${labels[index]}]`, ...children(index).map((child) => `[${labels[child]}_in]`)];
    graph.push(
      `[${labels[index]}_in]${branchFilter({ type: "rendition", rendition })}${outputs.length > 1 ? `,${splitInto(outputs)}` : outputs[0]}`,
    );
  }
  previews.forEach((branch, index) => {
    graph.push(`[${previewLabels[index]}_in]${branchFilter(branch)}[${previewLabels[index]}]`);
  });

  // A range: seek (without ffmpeg's own trimming, which works in rounded seconds), and keep the
  // source's timestamps so that `trim` can select frames by them.
  const seek = range ? [...(range.seekSeconds !== null ? ["-ss", range.seekSeconds.toFixed(6)] : []), "-noaccurate_seek", "-copyts"] : [];
  const args = [
    "-loglevel",
    command.detectInterlace ? "level+info" : "level+warning",
    ...seek,
    ...ffmpegInputArgs(command.input),
    "-filter_complex",
    graph.join(";"),
  ];
  args.push(...hlsOutputArgs(command, labels));
  previews.forEach((branch, index) => {
    const label = `[${previewLabels[index]}]`;
    if (branch.type === "poster") args.push(...imageOutputArgs(label, 3, join(command.outputDir, outputNames.poster)));
    if (branch.type === "storyboard") args.push(...imageOutputArgs(label, 5, join(command.outputDir, outputNames.sprite)));
    if (branch.type === "tiles") {
      args.push("-map", label, "-frames:v", String(branch.tiles.count), "-start_number", String(branch.tiles.firstIndex));
      args.push("-q:v", "5", join(command.outputDir, outputNames.tilePattern));
    }
  });
  if (range) {
    // The range's video packets, copied (not decoded) into a list of their timestamps: the frame
    // timing check for this range, from the same read of the source.
    args.push(
      "-map",
      `0:${command.videoStreamIndex}`,
      "-c:v",
      "copy",
      ...(range.endSeconds !== null ? ["-to", range.endSeconds.toFixed(6)] : []),
    );
    args.push("-f", "framecrc", join(command.outputDir, outputNames.packetLog));
  }
  return args;
}

/** `split=N[a][b]…`, or nothing but the label when there is one output. */
function splitInto(outputs: string[]): string {
  return outputs.length === 1 ? (outputs[0] as string) : `split=${outputs.length}${outputs.join("")}`;
}

/**
 * The rung whose pictures rung `index` is scaled from: the smallest larger one (no side smaller,
 * frame rate no lower), or null for the source. The ladder is smallest first.
 */
function cascadeParent(renditions: readonly RenditionPlan[], index: number): number | null {
  const rendition = renditions[index] as RenditionPlan;
  for (let candidate = index + 1; candidate < renditions.length; candidate++) {
    const larger = renditions[candidate] as RenditionPlan;
    if (larger.width >= rendition.width && larger.height >= rendition.height && larger.fps >= rendition.fps) return candidate;
  }
  return null;
}

function branchFilter(branch: OutputBranch): string {
  switch (branch.type) {
    case "rendition": {
      const { frameRate, width, height } = branch.rendition;
      // fps first: scaling frames that are then dropped is wasted work; setsar=1 because the
      // size already accounts for anamorphic pixels.
      return `fps=${frameRate.num}/${frameRate.den},scale=${width}:${height},setsar=1,format=yuv420p`;
    }
    case "poster": {
      const { atSeconds, width, height } = branch.poster;
      // One frame, then the branch ends: `-frames:v 1` alone stops the JPEG, not the filters, and
      // they would convert every later picture for nothing (~1 s of a core per 10 s of 1080p).
      return `select='gte(t,${atSeconds})',trim=end_frame=1,scale=${width}:${height},setsar=1`;
    }
    case "storyboard": {
      const { intervalSeconds, tileWidth, tileHeight, columns, rows } = branch.storyboard;
      return `fps=1000/${Math.round(intervalSeconds * 1000)},scale=${tileWidth}:${tileHeight},setsar=1,tile=${columns}x${rows}`;
    }
    case "tiles": {
      // The first frame at or after each tile's instant; the count stops the branch after the last.
      const { firstAtSeconds, intervalSeconds, count, width, height } = branch.tiles;
      return `select='gte(t,${firstAtSeconds}+selected_n*${intervalSeconds})',trim=end_frame=${count},scale=${width}:${height},setsar=1`;
    }
  }
}

function hlsOutputArgs(command: TranscodeCommand, labels: string[]): string[] {
  const { ladder, outputDir } = command;
  const renditions = ladder.renditions;
  const args = renditions.flatMap((_, index) => ["-map", `[${labels[index]}]`]);
  const withAudio = ladder.audio.type === "aac" && command.audioStreamIndex !== null;
  if (withAudio) args.push("-map", `0:${command.audioStreamIndex}`);

  // Source metadata stays behind: phones write GPS positions into it.
  args.push("-map_metadata", "-1", "-map_chapters", "-1");
  args.push("-c:v", "libx264", "-preset", command.preset, "-profile:v", "high");
  renditions.forEach((rendition, index) => {
    args.push(
      `-b:v:${index}`,
      String(rendition.videoBitrate),
      `-maxrate:v:${index}`,
      String(rendition.maxBitrate),
      `-bufsize:v:${index}`,
      String(rendition.bufferSize),
      `-g:v:${index}`,
      String(rendition.gopFrames),
      `-keyint_min:v:${index}`,
      String(rendition.gopFrames),
    );
  });
  // Keyframes exactly on segment boundaries in every rendition, so a player can switch between
  // renditions at any segment; scene-cut keyframes would shift the GOPs apart.
  args.push("-sc_threshold", "0", "-force_key_frames", `expr:gte(t,n_forced*${ladder.segmentSeconds})`);
  if (ladder.audio.type === "aac" && withAudio) {
    args.push(
      "-c:a",
      "aac",
      "-b:a",
      String(ladder.audio.bitrate),
      "-ac",
      String(ladder.audio.channels),
      "-ar",
      String(ladder.audio.sampleRate),
    );
  }

  const streamMap = renditions.map((rendition, index) => `v:${index},${withAudio ? "agroup:audio," : ""}name:${rendition.name}`);
  if (withAudio) streamMap.push(`a:0,agroup:audio,name:${outputNames.audioFolder}`);

  args.push(...hlsMuxerArgs(ladder.segmentSeconds, join(outputDir, "%v")));
  args.push(
    "-master_pl_name",
    outputNames.master,
    "-var_stream_map",
    streamMap.join(" "),
    join(outputDir, "%v", outputNames.mediaPlaylist),
  );
  return args;
}

/** ffmpeg's HLS muxer writing VOD fMP4 segments into `folder`; the playlist path follows. */
function hlsMuxerArgs(segmentSeconds: number, folder: string): string[] {
  return [
    ...["-f", "hls", "-hls_time", String(segmentSeconds), "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4"],
    // temp_file: a segment gets its name once it is complete, which is when it may be uploaded.
    ...["-hls_flags", "independent_segments+temp_file", "-hls_fmp4_init_filename", outputNames.initSegment],
    ...["-hls_segment_filename", join(folder, outputNames.segmentPattern)],
  ];
}

export interface AudioCommand {
  input: SourceInput;
  outputDir: string;
  audioStreamIndex: number;
  audio: Extract<AudioPlan, { type: "aac" }>;
  segmentSeconds: number;
}

/**
 * The audio rendition on its own (a chunked transcode's audio task): the whole source's audio,
 * encoded once, into `{outputDir}/audio/`. Video packets are skipped by reading ahead rather than
 * by a new range request for every jump (see `sequentialReadOptions`).
 */
export function buildAudioArgs(command: AudioCommand): string[] {
  const folder = join(command.outputDir, outputNames.audioFolder);
  const { bitrate, channels, sampleRate } = command.audio;
  return [
    ...["-loglevel", "level+warning", ...ffmpegInputArgs(command.input), "-map", `0:${command.audioStreamIndex}`, "-vn"],
    ...["-map_metadata", "-1", "-map_chapters", "-1"],
    ...["-c:a", "aac", "-b:a", String(bitrate), "-ac", String(channels), "-ar", String(sampleRate)],
    ...hlsMuxerArgs(command.segmentSeconds, folder),
    join(folder, outputNames.mediaPlaylist),
  ];
}

/** A single JPEG from a filter branch; `-update 1` writes one file rather than an image sequence. */
function imageOutputArgs(label: string, quality: number, path: string): string[] {
  return ["-map", label, "-frames:v", "1", "-update", "1", "-q:v", String(quality), path];
}
