import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { extname, join } from "node:path";
import type { JobStage, RenditionResult, TranscodeResult } from "../../workers/transcoding/contract.ts";
import { decodeCheck } from "./decode-check.ts";
import { buildTranscodeArgs, outputNames, type X264Preset } from "./ffmpeg-command.ts";
import { describeFailure } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { JobFailure, refusal, toJobFailure } from "./job-failure.ts";
import { type LadderOptions, type LadderPlan, planLadder } from "./ladder.ts";
import { describeLadder } from "./ladder-result.ts";
import { runLadder } from "./ladder-run.ts";
import { completeMasterPlaylist, measureRendition, type RenditionMeasurement } from "./master-playlist.ts";
import type { OutputUploader } from "./output-uploader.ts";
import { buildStoryboardVtt, planPoster, planStoryboard, type StoryboardOptions } from "./previews.ts";
import {
  checkSource,
  concludeQualityCheck,
  type QualityCheck,
  type QualityLimits,
  type SourceCheck,
  type SourceSummary,
} from "./quality-check.ts";
import { formatBytes } from "./scratch.ts";
import { type MediaStorage, StorageError } from "./storage.ts";

export { JobFailure, toJobFailure } from "./job-failure.ts";

/**
 * One transcode job from start to finish: download, quality check, plan, transcode, upload.
 *
 * The quality check's full decode is not a pass of its own: the checks that need no decoding
 * (`checkSource`) run first, the ladder is planned from them, and the ladder run, which decodes
 * every frame anyway, is read as the decode (its errors, how much video it made, idet's votes
 * from a branch of its filter graph) by `concludeQualityCheck`. A source refused then publishes
 * nothing: the failure path deletes what was uploaded during the encode. When idet overturns the
 * field-order flags the ladder was planned with (rare), the ladder is made again.
 *
 * Everything a job creates locally lives in one temp folder removed in `finally`, whatever
 * happens. Outputs go under the job's own deterministic prefix, and what an earlier attempt left
 * there is deleted before uploading, so a job delivered twice yields one set of renditions and an
 * attempt killed half-way leaves nothing that its retry does not replace. Finished segments are
 * uploaded while ffmpeg still encodes (`output-uploader.ts`); the rest once it exits, the master
 * playlist last: when it exists, everything it points at exists.
 */

export interface TranscodeJob {
  jobId: string;
  videoId: string;
  sourceKey: string;
  /** Where outputs go, e.g. `videos/{videoId}/hls/`; a missing trailing slash is added. */
  outputPrefix: string;
  limits?: Partial<QualityLimits>;
}

export type { JobStage };

export interface JobProgress {
  stage: JobStage;
  /** 0–100 within the stage. */
  percent: number;
}

export interface JobDependencies {
  storage: MediaStorage;
  tools: FfmpegTools;
  /** The job's temp folder is made under this one. */
  workRoot: string;
  preset?: X264Preset;
  /** Kill ffmpeg when its output time has not advanced for this long (default 2 minutes). */
  stallTimeoutMs?: number;
  /** This transcoder's scratch disk (null or absent: not limited). */
  scratchQuotaBytes?: number | null;
  ladder?: Partial<LadderOptions>;
  storyboard?: Partial<StoryboardOptions>;
  uploadConcurrency?: number;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/** What a finished job publishes (the contract's `TranscodeResult`). */
export type JobResult = TranscodeResult;
export type { RenditionResult };

export const defaultStallTimeoutMs = 120_000;

/**
 * @example
 * const result = await runJob(
 *   { jobId: "j1", videoId: "v1", sourceKey: "uploads/v1/source", outputPrefix: "videos/v1/hls/" },
 *   { storage: new FsStorage("/data"), tools: resolveFfmpegTools(), workRoot: tmpdir(), onProgress: console.log },
 * );
 */
export async function runJob(job: TranscodeJob, deps: JobDependencies): Promise<JobResult> {
  const prefix = job.outputPrefix.endsWith("/") ? job.outputPrefix : `${job.outputPrefix}/`;
  if (job.sourceKey.startsWith(prefix)) {
    // Deleting the previous attempt's outputs would delete the source with them.
    throw new JobFailure(`the source ${job.sourceKey} lies under the output prefix ${prefix}`, false);
  }
  const log = deps.log ?? (() => undefined);
  const stallTimeoutMs = deps.stallTimeoutMs ?? defaultStallTimeoutMs;
  const progress = (stage: JobStage, percent: number) => deps.onProgress?.({ stage, percent: Math.floor(percent) });

  await mkdir(deps.workRoot, { recursive: true });
  const workDir = await mkdtemp(join(deps.workRoot, "job-"));
  let uploader: OutputUploader | null = null;
  const decodeOnly = (sourcePath: string, source: SourceCheck, onProgress?: (percent: number) => void) =>
    decodeCheck(deps.tools, sourcePath, source.video.index, {
      durationSeconds: source.declaredSeconds,
      onProgress,
      stallTimeoutMs,
      signal: deps.signal,
    });
  try {
    progress("checking", 0);
    const sourcePath = join(workDir, `source${safeExtension(job.sourceKey)}`);
    // The whole master is downloaded first: it must fit the scratch disk, with room to spare.
    const sourceBytes = (await deps.storage.size(job.sourceKey, { signal: deps.signal })) ?? 0;
    if (deps.scratchQuotaBytes != null && sourceBytes > deps.scratchQuotaBytes) {
      throw new JobFailure(
        `the master is ${formatBytes(sourceBytes)}, more than this transcoder's ${formatBytes(deps.scratchQuotaBytes)} of scratch disk, and this job downloads it whole`,
        false,
      );
    }
    await deps.storage.download(job.sourceKey, sourcePath, { signal: deps.signal }).catch((error: unknown) => {
      if (error instanceof StorageError && error.status === 404) {
        throw new JobFailure(`the source file is missing from storage (${job.sourceKey}); upload it again`, false);
      }
      throw error;
    });
    log(`downloaded ${job.sourceKey} (${(await stat(sourcePath)).size} bytes)`);

    const checked = await checkSource(deps.tools, sourcePath, { limits: job.limits, signal: deps.signal });
    if (!checked.ok) throw refusal(checked.check);
    const sourceCheck = checked.source;
    const { video } = sourceCheck;
    // The ladder run decodes every frame, so it is also the quality check's decode (see
    // `encode`). Except for a rotated source: its pictures reach the filter graph turned upright,
    // where idet would vote on columns instead of fields; it gets the separate decode first.
    let check: QualityCheck | null = null;
    if (video.rotation !== 0) {
      check = concludeQualityCheck(sourceCheck, await decodeOnly(sourcePath, sourceCheck, (percent) => progress("checking", percent)));
      if (!check.report.ok) throw refusal(check);
    }
    progress("checking", 100);

    const encode = async (source: SourceSummary, detectInterlace: boolean) => {
      const ladder = planLadder(source, deps.ladder);
      const top = ladder.renditions.at(-1) as LadderPlan["renditions"][number];
      const storyboard = planStoryboard(source.durationSeconds, top, deps.storyboard);
      const outputDir = await mkdtemp(join(workDir, "out-"));
      log(`transcoding to ${ladder.renditions.map((r) => `${r.name}@${Math.round(r.videoBitrate / 1000)}k`).join(" ")}`);
      progress("transcoding", 0);
      const { outcome, decoderLog, uploads, segmentsSeen } = await runLadder(
        {
          tools: deps.tools,
          args: buildTranscodeArgs({
            input: sourcePath,
            outputDir,
            videoStreamIndex: video.index,
            audioStreamIndex: source.hasAudio ? (sourceCheck.probe.audio?.index ?? null) : null,
            ladder,
            poster: planPoster(source.durationSeconds, top),
            storyboard,
            preset: deps.preset ?? "veryfast",
            detectInterlace,
          }),
          outputDir,
          uploader: { storage: deps.storage, prefix, concurrency: deps.uploadConcurrency ?? 4 },
          durationSeconds: source.durationSeconds,
          segmentSeconds: ladder.segmentSeconds,
          ffmpegPercent: true,
          stallTimeoutMs,
          // The downloaded master shares the disk with the outputs.
          scratchQuotaBytes: deps.scratchQuotaBytes == null ? null : deps.scratchQuotaBytes - sourceBytes,
          onProgress: (percent) => progress("transcoding", percent),
          signal: deps.signal,
        },
        (started) => {
          uploader = started;
        },
      );
      log(`ladder encoded (exit ${outcome.exitCode}), ${segmentsSeen} segments per rendition handed to the uploader during the encode`);
      const measured =
        outcome.exitCode === 0
          ? await finishMasterPlaylist(outputDir, ladder).catch((error: unknown) => {
              log(`the ladder's playlists could not be measured: ${error instanceof Error ? error.message : String(error)}`);
              return null;
            })
          : null;
      return { ladder, storyboard, outputDir, uploads, outcome, measured, decoderLog };
    };

    let source = check?.report.source ?? sourceCheck.summary;
    let run = await encode(source, check === null);
    if (!check) {
      const { outcome, measured, decoderLog } = run;
      // A run that failed says nothing reliable about the file (a full disk fails it too): the
      // separate decode decides whether the file is at fault.
      // How much video the run decoded: the top rendition's length, as players will see it.
      const decoded =
        outcome.exitCode === 0 && measured
          ? decoderLog.result(outcome.exitCode, measured.renditions.at(-1)?.durationSeconds ?? 0)
          : await decodeOnly(sourcePath, sourceCheck);
      check = concludeQualityCheck(sourceCheck, decoded);
      // Nothing of a refused source is published: the catch below deletes what went up meanwhile.
      if (!check.report.ok) throw refusal(check);
      const verdict = check.report.source as SourceSummary;
      if (verdict.interlaced !== source.interlaced && outcome.exitCode === 0 && measured) {
        // idet overturned the encoder's field-order flag (rare: see `interlaceVerdict`); the
        // ladder is made again with the verdict, replacing what the first run uploaded.
        log(`idet found the source ${verdict.interlaced ? "interlaced" : "progressive"}, unlike its flags; encoding the ladder again`);
        await run.uploads.stop();
        await rm(run.outputDir, { recursive: true, force: true });
        source = verdict;
        run = await encode(source, false);
      }
    }
    log(`quality check passed with ${check.report.warnings.map((w) => w.code).join(", ") || "no warnings"}`);
    const { ladder, storyboard, outputDir, uploads, outcome, measured } = run;
    if (outcome.exitCode !== 0 || !measured) {
      throw new JobFailure(`ffmpeg failed: ${describeFailure(outcome.stderrTail)}`, true);
    }
    await writeFile(join(outputDir, outputNames.vtt), buildStoryboardVtt(storyboard, source.durationSeconds, outputNames.sprite));
    progress("transcoding", 100);

    // Segments uploaded during the encode count: the stage starts where they left it.
    await uploads.finish((percent) => progress("uploading", percent));
    log(`uploaded outputs under ${prefix}`);

    return describeLadder(prefix, ladder, measured, check.report, measured.renditions.at(-1)?.durationSeconds ?? source.durationSeconds);
  } catch (error) {
    const failure = toJobFailure(error);
    // A failed or cancelled attempt must not leave half a ladder behind (a retry would delete it
    // first anyway, but there may be none). In-flight uploads are stopped before the deletion, so
    // none lands after it; the server stays busy until then, so no retry overlaps it here.
    // Set inside `encode`, which TypeScript's narrowing does not see.
    const uploads = uploader as OutputUploader | null;
    if (uploads) {
      await uploads.stop();
      if (uploads.started) await deps.storage.deletePrefix(prefix).catch(() => undefined);
    }
    throw failure;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Measures every rendition and rewrites ffmpeg's master playlist with the measured facts. */
async function finishMasterPlaylist(outputDir: string, ladder: LadderPlan) {
  const renditions = await Promise.all(
    ladder.renditions.map((rendition) => measureRendition(join(outputDir, rendition.name, outputNames.mediaPlaylist))),
  );
  const audioUri = `${outputNames.audioFolder}/${outputNames.mediaPlaylist}`;
  const audio = ladder.audio.type === "aac" ? await measureRendition(join(outputDir, audioUri)).catch(() => null) : null;
  const masterPath = join(outputDir, outputNames.master);
  const master = completeMasterPlaylist(await readFile(masterPath, "utf8"), {
    variants: ladder.renditions.map((rendition, index) => ({
      uri: `${rendition.name}/${outputNames.mediaPlaylist}`,
      width: rendition.width,
      height: rendition.height,
      frameRate: rendition.fps,
      video: renditions[index] as RenditionMeasurement,
    })),
    audio: audio ? { uri: audioUri, measurement: audio } : null,
  });
  await writeFile(masterPath, master);
  return { renditions, audio };
}

/** Keeps the source's extension (some demuxers lean on it), but only a plain one. */
function safeExtension(key: string): string {
  const extension = extname(key);
  return /^\.[A-Za-z0-9]{1,8}$/.test(extension) ? extension.toLowerCase() : "";
}
