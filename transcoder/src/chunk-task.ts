import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ChunkRendition, ChunkResult, ChunkTask, LadderPlan, SegmentOutput } from "../../workers/transcoding/contract.ts";
import { firstFrameOf } from "./chunk-plan.ts";
import type { DecodeCheck } from "./decode-check.ts";
import { buildTranscodeArgs, outputNames } from "./ffmpeg-command.ts";
import { describeFailure } from "./ffmpeg-process.ts";
import { readInitSegment, shiftFragments } from "./fmp4.ts";
import { parseFramecrc, summariseFrameTiming } from "./frame-timing.ts";
import { JobFailure, toJobFailure } from "./job-failure.ts";
import { runLadder } from "./ladder-run.ts";
import { readCodecString } from "./master-playlist.ts";
import { withContainer } from "./media-input.ts";
import type { OutputUploader } from "./output-uploader.ts";
import { planTiles } from "./previews.ts";
import { refuseFromDecode } from "./quality-check.ts";
import { assertFitsQuota, type TaskDiskBound } from "./scratch.ts";
import { inTaskFolder, type TaskDependencies, taskRun } from "./task-context.ts";

/**
 * A chunk task: the whole video ladder for one range of the master, read from storage by HTTP
 * range requests (the demuxer seeks to the range's keyframe and reads on to its end, never the
 * rest of the file), plus the storyboard tiles and the poster frame that fall in the range.
 *
 * Every rung is encoded from the range's first frame at time 0, so the chunks' init segments are
 * the same bytes; each segment's decode times are then moved to the range's place in the title
 * (`fmp4.ts`) before it goes up, and the finalize task joins the chunks under chunk 0's init
 * segment into one continuous rendition. Keys carry the attempt's tag (`720p/c0003-a2-00004.m4s`),
 * so a retried chunk writes beside, never over, what a dead attempt left, and only the chunk's own
 * outputs are deleted when it fails.
 *
 * Scratch disk: each file is deleted once uploaded, so normally a few segments per rung; at worst
 * (uploads stalled) the whole range's outputs, `chunkDiskBound`, which is checked against the
 * quota before ffmpeg starts.
 */

const initSegmentName = /^init[^/]*\.mp4$/;

interface RungInit {
  timescale: number;
  defaultSampleDuration: number;
  sha256: string;
  codec: string;
}

interface RungState {
  init: Promise<RungInit> | null;
  segments: (SegmentOutput & { index: number; samples: number; startTicks: number })[];
}

export async function runChunkTask(task: ChunkTask, deps: TaskDependencies): Promise<ChunkResult> {
  const { encode, chunk } = task;
  const { ladder } = encode;
  const log = deps.log ?? (() => undefined);
  const prefix = task.outputPrefix.endsWith("/") ? task.outputPrefix : `${task.outputPrefix}/`;
  const tag = task.attemptTag;
  // Seconds from the title's start (the origin): where the range lies in every rendition.
  const startSeconds = chunk.startSeconds - encode.originSeconds;
  const endSeconds = chunk.endSeconds - encode.originSeconds;
  const isLast = chunk.endPts === null;

  const rungNames = new Set(ladder.renditions.map((rendition) => rendition.name));
  const rungs = new Map<string, RungState>(ladder.renditions.map((rendition) => [rendition.name, { init: null, segments: [] }]));
  let uploader: OutputUploader | null = null;
  try {
    assertFitsQuota(chunkDiskBound(ladder, endSeconds - startSeconds), deps.scratchQuotaBytes ?? null);
    return await inTaskFolder(deps, `chunk-${chunk.index}`, async (outputDir) => {
      const initOf = (rung: string): Promise<RungInit> => {
        const state = rungs.get(rung) as RungState;
        state.init ??= (async () => {
          // ffmpeg numbers it by variant ("init_3.mp4").
          const name = (await readdir(join(outputDir, rung))).find((file) => initSegmentName.test(file));
          if (!name) throw new Error(`ffmpeg wrote no init segment for ${rung}`);
          const path = join(outputDir, rung, name);
          const data = await readFile(path);
          return {
            ...readInitSegment(data),
            sha256: createHash("sha256").update(data).digest("hex"),
            codec: (await readCodecString(path)) ?? "avc1",
          };
        })();
        return state.init;
      };
      const keyFor = (name: string): string | null => {
        const [folder, file, ...rest] = name.split("/");
        if (file === undefined) {
          if (name === outputNames.poster) return `previews/${tag}poster.jpg`;
          const tile = /^tile_(\d+)\.jpg$/.exec(name);
          return tile ? `previews/${tag}tile_${tile[1]}.jpg` : null;
        }
        if (rest.length > 0 || !folder || !rungNames.has(folder)) return null;
        const segment = /^seg_(\d+)\.m4s$/.exec(file);
        if (segment) return `${folder}/${tag}${segment[1]}.m4s`;
        // One init segment serves every chunk of a rung: chunk 0's. The others only report its hash.
        if (initSegmentName.test(file) && chunk.index === 0) return `${folder}/${tag}init.mp4`;
        return null;
      };
      const prepare = async (name: string, path: string) => {
        const [folder = "", file = ""] = name.split("/");
        const state = rungs.get(folder);
        if (!state) return;
        const init = await initOf(folder);
        const segment = /^seg_(\d+)\.m4s$/.exec(file);
        if (!segment) return;
        const rendition = ladder.renditions.find((rung) => rung.name === folder) as LadderPlan["renditions"][number];
        const frame = firstFrameOf(chunk, encode.originSeconds, rendition.frameRate);
        const offsetTicks = Math.round((frame * init.timescale * rendition.frameRate.den) / rendition.frameRate.num);
        const data = await readFile(path);
        // Sequence numbers keep rising across chunks: 100,000 fragments per chunk is 4.6 days of 4 s segments.
        const summary = shiftFragments(data, { offsetTicks, sequenceBase: chunk.index * 100_000 }, init);
        await writeFile(path, data);
        state.segments.push({ index: Number(segment[1]), key: `${prefix}${keyFor(name)}`, bytes: data.length, ...summary });
      };

      // The first chunk covers the title from 0 for previews, even when its first frame comes a little
      // later (a video stream starting after the audio): the frame shown there is its first.
      const previewStart = chunk.index === 0 ? 0 : startSeconds;
      const poster =
        encode.poster.atSeconds >= previewStart && (encode.poster.atSeconds < endSeconds || isLast)
          ? { ...encode.poster, atSeconds: Math.max(0, round6(encode.poster.atSeconds - startSeconds)) }
          : null;
      const tiles = planTiles(encode.storyboard, startSeconds, isLast ? Number.POSITIVE_INFINITY : endSeconds, previewStart);
      const args = buildTranscodeArgs({
        input: withContainer(deps.storage.sourceInput(task.sourceKey), encode.source.container),
        outputDir,
        videoStreamIndex: encode.video.streamIndex,
        audioStreamIndex: null,
        ladder,
        poster,
        storyboard: null,
        tiles,
        preset: deps.preset ?? "veryfast",
        range: {
          startPts: chunk.startPts,
          endPts: chunk.endPts,
          // -ss counts from the file's start time; rounded up, so the seek lands on this keyframe, not the one before.
          seekSeconds: chunk.index === 0 ? null : Math.ceil((chunk.startSeconds - encode.originSeconds) * 1e6 - 1e-3) / 1e6,
          endSeconds: isLast ? null : chunk.endSeconds,
        },
      });
      // How far the title decoded, for the quality check: from the title's start once this range decoded anything.
      const decodedSoFar = (decoded: DecodeCheck): DecodeCheck =>
        decoded.decodedSeconds > 0 || decoded.endedEarly ? { ...decoded, decodedSeconds: startSeconds + decoded.decodedSeconds } : decoded;
      const expected = {
        endSeconds: isLast ? encode.durationSeconds : endSeconds,
        declaredSeconds: encode.durationSeconds,
        streamDurationKnown: encode.durationFromStream,
        frameSeconds: 1 / encode.source.fps,
        codec: encode.source.videoCodec,
      };
      log(
        `chunk ${chunk.index}: ${startSeconds.toFixed(3)}–${endSeconds.toFixed(3)} s${poster ? ", with the poster" : ""}${tiles ? `, tiles ${tiles.firstIndex}–${tiles.firstIndex + tiles.count - 1}` : ""}`,
      );
      deps.onProgress?.(0);
      const run = await runLadder(
        {
          ...taskRun(deps, { prefix, keyFor, prepare }),
          args,
          outputDir,
          durationSeconds: endSeconds - startSeconds,
          segmentSeconds: ladder.segmentSeconds,
          // ffmpeg's output time runs on the source's clock here (-copyts): segments tell the progress.
          ffmpegPercent: false,
          onProgress: (percent) => deps.onProgress?.(Math.floor(percent * 0.9)),
        },
        (started) => {
          uploader = started;
        },
      );
      const { outcome, decoderLog, uploads } = run;
      if (outcome.exitCode !== 0) {
        // Decoding errors and nothing (or too little) decoded, with the source read whole: the file is at fault.
        const refusal =
          !decoderLog.inputFailed && decoderLog.result(outcome.exitCode, 0).errorCount > 0
            ? refuseFromDecode(decodedSoFar(decoderLog.result(outcome.exitCode, await encodedSeconds(rungs, ladder))), expected)
            : null;
        if (refusal) throw new JobFailure(refusal, false, { ok: false, refusal, warnings: [], source: encode.source });
        throw new JobFailure(`ffmpeg failed: ${describeFailure(outcome.stderrTail)}`, true);
      }
      await uploads.finish((percent) => deps.onProgress?.(90 + Math.floor(percent / 10)));

      const renditions: ChunkRendition[] = [];
      for (const rendition of ladder.renditions) {
        const state = rungs.get(rendition.name) as RungState;
        const segments = state.segments.sort((a, b) => a.index - b.index);
        const init = state.init ? await state.init : null;
        if (!init || segments.length === 0) {
          renditions.push({
            name: rendition.name,
            codec: "",
            initKey: null,
            initSha256: "",
            timescale: 0,
            startTicks: 0,
            frames: 0,
            segments: [],
          });
          continue;
        }
        renditions.push({
          name: rendition.name,
          codec: init.codec,
          initKey: chunk.index === 0 ? `${prefix}${rendition.name}/${tag}init.mp4` : null,
          initSha256: init.sha256,
          timescale: init.timescale,
          startTicks: (segments[0] as { startTicks: number }).startTicks,
          frames: segments.reduce((sum, segment) => sum + segment.samples, 0),
          segments: segments.map(({ key, ticks, bytes }) => ({ key, ticks, bytes })),
        });
      }

      // The decode half of the quality check, for this range: how far it got, and its errors.
      const top = renditions.at(-1) as ChunkRendition;
      const decodedSeconds = await encodedSeconds(rungs, ladder);
      const decoded = decoderLog.result(outcome.exitCode, decodedSeconds);
      const refusal = refuseFromDecode(decodedSoFar(decoded), expected);
      if (refusal) throw new JobFailure(refusal, false, { ok: false, refusal, warnings: [], source: encode.source });
      if (renditions.some((rendition) => rendition.segments.length === 0)) {
        throw new JobFailure(
          `ffmpeg made no segments for ${renditions
            .filter((r) => r.segments.length === 0)
            .map((r) => r.name)
            .join(", ")}`,
          true,
        );
      }

      const packets = await readFile(join(outputDir, outputNames.packetLog), "utf8").catch(() => "");
      const previews = new Map(uploads.uploadedNames.map((name) => [name, `${prefix}${keyFor(name)}`]));
      log(`chunk ${chunk.index}: ${top.frames} frames per ${top.name} rendition, ${decodedSeconds.toFixed(3)} s`);
      return {
        kind: "chunk",
        index: chunk.index,
        renditions,
        tiles: [...previews]
          .flatMap(([name, key]) => {
            const tile = /^tile_(\d+)\.jpg$/.exec(name);
            return tile ? [{ index: Number(tile[1]), key }] : [];
          })
          .sort((a, b) => a.index - b.index),
        posterKey: previews.get(outputNames.poster) ?? null,
        decode: { decodedSeconds, errorCount: decoded.errorCount, errors: decoded.errors, endedEarly: decoded.endedEarly },
        timing: summariseFrameTiming(parseFramecrc(packets, chunk.startPts, chunk.endPts)),
      };
    });
  } catch (error) {
    // Nothing of a failed attempt stays: its files carry its tag, in the rung folders and previews.
    const uploads = uploader as OutputUploader | null;
    if (uploads) {
      await uploads.stop();
      for (const folder of [...rungNames, "previews"]) await deps.storage.deletePrefix(`${prefix}${folder}/${tag}`).catch(() => undefined);
    }
    throw toJobFailure(error);
  }
}

/**
 * The worst case on scratch disk: every output of the range still there (uploads stalled), at
 * the ladder's peak bitrates, plus one segment of slack per rung, the previews and the packet list.
 */
export function chunkDiskBound(ladder: LadderPlan, seconds: number): TaskDiskBound {
  const peak = ladder.renditions.reduce((sum, rendition) => sum + rendition.maxBitrate, 0);
  return {
    bytes: Math.ceil(((seconds + ladder.segmentSeconds) * peak) / 8) + 4 * 1024 ** 2,
    what: `${seconds.toFixed(0)} s of ${ladder.renditions.length} renditions at up to ${(peak / 1e6).toFixed(1)} Mbit/s together`,
  };
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** Seconds of video the top rung's segments hold so far: how far the range decoded. */
async function encodedSeconds(rungs: ReadonlyMap<string, RungState>, ladder: LadderPlan): Promise<number> {
  const state = rungs.get(ladder.renditions.at(-1)?.name ?? "");
  if (!state?.init || state.segments.length === 0) return 0;
  const { timescale } = await state.init;
  return state.segments.reduce((sum, segment) => sum + segment.ticks, 0) / timescale;
}
