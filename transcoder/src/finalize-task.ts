import { copyFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type {
  ChunkRendition,
  ChunkResult,
  FinalizeResult,
  FinalizeTask,
  LadderPlan,
  SegmentOutput,
} from "../../workers/transcoding/contract.ts";
import type { DecodeCheck } from "./decode-check.ts";
import { outputNames } from "./ffmpeg-command.ts";
import { describeFailure, spawnTool } from "./ffmpeg-process.ts";
import { mergeFrameTimings } from "./frame-timing.ts";
import { JobFailure, refusal, toJobFailure } from "./job-failure.ts";
import { describeLadder } from "./ladder-result.ts";
import { buildMasterPlaylist, buildMediaPlaylist, measureSegments, type RenditionMeasurement } from "./master-playlist.ts";
import { buildStoryboardVtt, ffmpegHasWebp, type PosterSize, planPosterSizes, posterSizesArgs } from "./previews.ts";
import { checkHeaders, concludeQualityCheck } from "./quality-check.ts";
import { contentTypeFor } from "./storage.ts";
import { inTaskFolder, type TaskDependencies } from "./task-context.ts";

/**
 * The finalize task: the chunks and the audio become one published ladder.
 *
 * - One media playlist per rung lists every chunk's segments in order under chunk 0's init
 *   segment, which every other chunk's matches byte for byte (checked by hash). The segments'
 *   decode times already run on from chunk to chunk (each chunk moved its own), so there is no
 *   EXT-X-DISCONTINUITY; that they do is checked here too, to within a frame.
 * - The audio's media playlist, the master playlist (measured bandwidths, codecs, frame rates).
 * - The storyboard sprite from the chunks' tiles and its WebVTT, and the poster.
 * - The quality report over the whole title: the header checks again (a few range reads), the
 *   chunks' frame timings and decode errors added up, the plan's interlace votes.
 *
 * Every name it writes starts with the attempt's tag, as every task's do (`finalize-a1-master.m3u8`,
 * `720p/finalize-a1-index.m3u8`): its grant writes nothing else. Publishing is the Worker's: it
 * checks the master, puts it where viewers are served it (`master.m3u8`) and deletes what the
 * published ladder does not reference (the tiles, a dead attempt's segments). The master goes up
 * last: when it exists, everything it leads to exists. Scratch disk: the tiles, the sprite and the
 * poster, a few MiB.
 */
export async function runFinalizeTask(task: FinalizeTask, deps: TaskDependencies): Promise<FinalizeResult> {
  const { encode } = task;
  const log = deps.log ?? (() => undefined);
  const prefix = task.outputPrefix.endsWith("/") ? task.outputPrefix : `${task.outputPrefix}/`;
  const tag = task.attemptTag;
  const signal = deps.signal;
  try {
    deps.onProgress?.(0);
    const chunks = orderedChunks(task.chunks);
    const rungs = encode.ladder.renditions.map((rendition) => joinRung(rendition, chunks));

    // The quality report over the whole title.
    const headers = await checkHeaders(deps.tools, deps.storage.sourceInput(task.sourceKey), { limits: task.limits, signal });
    if (!headers.ok) throw refusal(headers.check);
    const timing = mergeFrameTimings(chunks.map((chunk) => chunk.timing));
    const last = chunks.at(-1) as ChunkResult;
    const lastStart = (last.renditions.at(-1) as ChunkRendition).startTicks / (last.renditions.at(-1) as ChunkRendition).timescale;
    const decoded: DecodeCheck = {
      exitCode: 0,
      decodedSeconds: lastStart + last.decode.decodedSeconds,
      errorCount: chunks.reduce((sum, chunk) => sum + chunk.decode.errorCount, 0),
      errors: chunks.flatMap((chunk) => chunk.decode.errors).slice(0, 5),
      endedEarly: chunks.some((chunk) => chunk.decode.endedEarly),
      interlace: encode.interlace,
    };
    const check = concludeQualityCheck(
      { ...headers.source, timing, summary: { ...headers.source.summary, variableFrameRate: timing?.variableFrameRate ?? false } },
      decoded,
    );
    if (!check.report.ok) throw refusal(check);
    deps.onProgress?.(20);

    return await inTaskFolder(deps, "finalize", async (folder) => {
      const put = async (key: string, body: string | Buffer) => {
        const path = join(folder, "upload");
        await writeFile(path, body);
        await deps.storage.upload(`${prefix}${key}`, path, contentTypeFor(key), { signal });
      };
      const measured: RenditionMeasurement[] = [];
      for (const rung of rungs) {
        const playlist = `${rung.name}/${tag}${outputNames.mediaPlaylist}`;
        await put(
          playlist,
          buildMediaPlaylist(
            relativeTo(rung.initKey, `${prefix}${rung.name}/`),
            rung.segments.map(toEntry(prefix, rung.name, rung.timescale)),
          ),
        );
        measured.push(
          measureSegments(
            rung.segments.map((segment) => ({ durationSeconds: segment.ticks / rung.timescale, bytes: segment.bytes })),
            rung.codec,
          ),
        );
      }
      let audio: { measurement: RenditionMeasurement; playlist: string } | null = null;
      if (task.audio) {
        const playlist = `${outputNames.audioFolder}/${tag}${outputNames.mediaPlaylist}`;
        const { timescale, segments, codec, initKey } = task.audio;
        await put(
          playlist,
          buildMediaPlaylist(
            relativeTo(initKey, `${prefix}${outputNames.audioFolder}/`),
            segments.map(toEntry(prefix, outputNames.audioFolder, timescale)),
          ),
        );
        audio = {
          playlist,
          measurement: measureSegments(
            segments.map((segment) => ({ durationSeconds: segment.ticks / timescale, bytes: segment.bytes })),
            codec,
          ),
        };
      }
      deps.onProgress?.(50);

      // Previews: the poster as drawn by its chunk, the sprite from every chunk's tiles.
      const posterFrom = chunks.find((chunk) => chunk.posterKey !== null)?.posterKey;
      if (!posterFrom) throw new JobFailure(`no chunk drew the poster frame at ${encode.poster.atSeconds} s`, true);
      const posterPath = join(folder, outputNames.poster);
      await deps.storage.download(posterFrom, posterPath, { signal });
      // The poster in every width of `planPosterSizes`; the result names the widest (srcset).
      const posterSizes = await drawPosterSizes(deps, posterPath, folder, encode.poster.width);
      for (const size of posterSizes) {
        await deps.storage.upload(`${prefix}${tag}${size.name}`, join(folder, size.name), contentTypeFor(size.name), { signal });
      }
      const spritePath = await composeSprite(deps, folder, chunks, encode.storyboard);
      await deps.storage.upload(`${prefix}${tag}${outputNames.sprite}`, spritePath, contentTypeFor(outputNames.sprite), { signal });
      const durationSeconds = (measured.at(-1) as RenditionMeasurement).durationSeconds;
      await put(`${tag}${outputNames.vtt}`, buildStoryboardVtt(encode.storyboard, durationSeconds, `${tag}${outputNames.sprite}`));
      deps.onProgress?.(80);

      // The master last.
      await put(
        `${tag}${outputNames.master}`,
        buildMasterPlaylist({
          variants: encode.ladder.renditions.map((rendition, index) => ({
            uri: `${rendition.name}/${tag}${outputNames.mediaPlaylist}`,
            width: rendition.width,
            height: rendition.height,
            frameRate: rendition.fps,
            video: measured[index] as RenditionMeasurement,
          })),
          audio: audio ? { uri: audio.playlist, measurement: audio.measurement } : null,
        }),
      );
      log(`finalized ${chunks.length} chunk(s) into ${rungs.length} rendition(s)${audio ? " + audio" : ""}`);
      deps.onProgress?.(100);

      const published = describeLadder(
        prefix,
        encode.ladder,
        { renditions: measured, audio: audio?.measurement ?? null },
        check.report,
        durationSeconds,
        tag,
      );
      // The catalog reads the sizes back from the widest one's name (srcset).
      const widest = posterSizes.at(-1) as PosterSize;
      return { kind: "finalize", ...published, posterKey: `${prefix}${tag}${widest.name}` };
    });
  } catch (error) {
    throw toJobFailure(error);
  }
}

/** The chunks in order, every index from 0 present once. */
function orderedChunks(chunks: readonly ChunkResult[]): ChunkResult[] {
  const ordered = [...chunks].sort((a, b) => a.index - b.index);
  const missing = ordered.length === 0 ? [0] : ordered.flatMap((chunk, position) => (chunk.index === position ? [] : [position]));
  if (missing.length > 0 || new Set(ordered.map((chunk) => chunk.index)).size !== ordered.length) {
    throw new JobFailure(
      `the finalize task needs every chunk once; got ${ordered.map((chunk) => chunk.index).join(", ") || "none"}`,
      false,
    );
  }
  return ordered;
}

interface JoinedRung {
  name: string;
  codec: string;
  initKey: string;
  timescale: number;
  segments: SegmentOutput[];
}

/**
 * One rung across the chunks: chunk 0's init segment (every other chunk's must be the same bytes)
 * and every segment in order, each chunk starting where the one before it ends, within a frame.
 */
function joinRung(rendition: LadderPlan["renditions"][number], chunks: readonly ChunkResult[]): JoinedRung {
  const parts = chunks.map((chunk) => {
    const part = chunk.renditions.find((candidate) => candidate.name === rendition.name);
    if (!part || part.segments.length === 0) throw new JobFailure(`chunk ${chunk.index} has no ${rendition.name} rendition`, false);
    return { chunk: chunk.index, ...part };
  });
  const [first] = parts as [(typeof parts)[number]];
  if (!first.initKey) throw new JobFailure(`chunk 0 stored no ${rendition.name} init segment`, false);
  const ticksPerFrame = (first.timescale * rendition.frameRate.den) / rendition.frameRate.num;
  for (let index = 1; index < parts.length; index++) {
    const part = parts[index] as (typeof parts)[number];
    const previous = parts[index - 1] as (typeof parts)[number];
    if (part.initSha256 !== first.initSha256 || part.timescale !== first.timescale) {
      throw new JobFailure(
        `chunk ${part.chunk}'s ${rendition.name} init segment differs from chunk 0's (another encoder version or settings); encode chunk ${part.chunk} again`,
        true,
      );
    }
    const expected = previous.startTicks + previous.segments.reduce((sum, segment) => sum + segment.ticks, 0);
    if (Math.abs(part.startTicks - expected) > ticksPerFrame) {
      throw new JobFailure(
        `chunk ${part.chunk}'s ${rendition.name} starts ${((part.startTicks - expected) / first.timescale).toFixed(3)} s away from where chunk ${previous.chunk} ends`,
        false,
      );
    }
  }
  return {
    name: rendition.name,
    codec: first.codec,
    initKey: first.initKey,
    timescale: first.timescale,
    segments: parts.flatMap((part) => part.segments),
  };
}

function relativeTo(key: string, folder: string): string {
  if (!key.startsWith(folder)) throw new JobFailure(`'${key}' does not lie in ${folder}`, false);
  return key.slice(folder.length);
}

function toEntry(prefix: string, folder: string, timescale: number) {
  return (segment: SegmentOutput) => ({ uri: relativeTo(segment.key, `${prefix}${folder}/`), durationSeconds: segment.ticks / timescale });
}

/**
 * The storyboard sprite from the chunks' tiles, laid out as the one-shot job's `tile` filter lays
 * it out. A tile no chunk drew (a range whose frames ran out just before its instant) repeats the
 * one before it, so every later tile stays where the WebVTT says it is.
 */
async function composeSprite(
  deps: TaskDependencies,
  folder: string,
  chunks: readonly ChunkResult[],
  storyboard: FinalizeTask["encode"]["storyboard"],
): Promise<string> {
  const tiles = new Map(chunks.flatMap((chunk) => chunk.tiles.map((tile) => [tile.index, tile.key] as const)));
  if (tiles.size === 0) throw new JobFailure("no chunk drew a storyboard tile", true);
  const path = (index: number) => join(folder, `tile_${String(index).padStart(5, "0")}.jpg`);
  let previous: number | null = null;
  const missing: number[] = [];
  for (let index = 0; index < storyboard.tileCount; index++) {
    const key = tiles.get(index);
    if (key) {
      await deps.storage.download(key, path(index), { signal: deps.signal });
      for (const gap of missing.splice(0)) await copyFile(path(index), path(gap));
      previous = index;
    } else if (previous !== null) await copyFile(path(previous), path(index));
    else missing.push(index);
  }
  const sprite = join(folder, outputNames.sprite);
  const outcome = await spawnTool(
    deps.tools.ffmpeg,
    [
      ...["-hide_banner", "-loglevel", "error", "-y", "-framerate", "1", "-start_number", "0", "-i", join(folder, "tile_%05d.jpg")],
      ...["-vf", `tile=${storyboard.columns}x${storyboard.rows}`, "-frames:v", "1", "-update", "1", "-q:v", "5", sprite],
    ],
    { signal: deps.signal },
  );
  if (outcome.exitCode !== 0) throw new JobFailure(`ffmpeg could not lay out the storyboard: ${describeFailure(outcome.stderrTail)}`, true);
  return sprite;
}

/** The poster in every size of `planPosterSizes` (WebP when this ffmpeg has libwebp), written into `folder`. */
async function drawPosterSizes(deps: TaskDependencies, posterPath: string, folder: string, frameWidth: number): Promise<PosterSize[]> {
  const format = (await ffmpegHasWebp(deps.tools.ffmpeg)) ? "webp" : "jpg";
  const sizes = planPosterSizes(frameWidth, format);
  const outcome = await spawnTool(deps.tools.ffmpeg, posterSizesArgs(posterPath, folder, sizes, format), { signal: deps.signal });
  if (outcome.exitCode !== 0) throw new JobFailure(`ffmpeg could not scale the poster: ${describeFailure(outcome.stderrTail)}`, true);
  return sizes;
}
