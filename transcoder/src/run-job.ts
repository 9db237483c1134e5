import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { buildTranscodeArgs, outputNames, type X264Preset } from "./ffmpeg-command.ts";
import { describeFailure, FfmpegStalledError, ProcessAbortedError, runFfmpeg } from "./ffmpeg-process.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import { type LadderOptions, type LadderPlan, planLadder } from "./ladder.ts";
import { completeMasterPlaylist, measureRendition, type RenditionMeasurement } from "./master-playlist.ts";
import { buildStoryboardVtt, planPoster, planStoryboard, type StoryboardOptions } from "./previews.ts";
import { checkQuality, type QualityLimits, type QualityReport } from "./quality-check.ts";
import { contentTypeFor, type MediaStorage, StorageError } from "./storage.ts";

/**
 * One transcode job from start to finish: download, quality check, plan, transcode, upload.
 *
 * Everything a job creates locally lives in one temp folder removed in `finally`, whatever
 * happens. Outputs go under the job's own deterministic prefix, and what an earlier attempt left
 * there is deleted before uploading, so a job delivered twice yields one set of renditions and an
 * attempt killed half-way leaves nothing that its retry does not replace. The master playlist is
 * uploaded last: when it exists, everything it points at exists.
 */

export interface TranscodeJob {
  jobId: string;
  videoId: string;
  sourceKey: string;
  /** Where outputs go, e.g. `videos/{videoId}/hls/`; a missing trailing slash is added. */
  outputPrefix: string;
  limits?: Partial<QualityLimits>;
}

export type JobStage = "checking" | "transcoding" | "uploading";

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
  ladder?: Partial<LadderOptions>;
  storyboard?: Partial<StoryboardOptions>;
  uploadConcurrency?: number;
  onProgress?: (progress: JobProgress) => void;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export interface RenditionResult {
  name: string;
  width: number;
  height: number;
  /** Measured average bits per second of the video. */
  bitrate: number;
  /** HLS peak segment bit rate of the video. */
  peakBitrate: number;
  frameRate: number;
  /** RFC 6381, e.g. "avc1.64001f". */
  codec: string;
  /** Storage key of the rendition's media playlist. */
  playlist: string;
}

export interface JobResult {
  renditions: RenditionResult[];
  audio: { codec: string; bitrate: number; playlist: string } | null;
  masterKey: string;
  posterKey: string;
  storyboard: { spriteKey: string; vttKey: string };
  qualityReport: QualityReport;
  /** The renditions' duration, as players will see it. */
  durationSeconds: number;
}

/** A job that did not finish. `retryable` says whether running it again can help. */
export class JobFailure extends Error {
  readonly retryable: boolean;
  /** The quality report, when the failure is the quality check's refusal. */
  readonly qualityReport: QualityReport | undefined;

  constructor(reason: string, retryable: boolean, qualityReport?: QualityReport) {
    super(reason);
    this.name = "JobFailure";
    this.retryable = retryable;
    this.qualityReport = qualityReport;
  }
}

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
  let uploadStarted = false;
  try {
    progress("checking", 0);
    const sourcePath = join(workDir, `source${safeExtension(job.sourceKey)}`);
    await deps.storage.download(job.sourceKey, sourcePath, { signal: deps.signal }).catch((error: unknown) => {
      if (error instanceof StorageError && error.status === 404) {
        throw new JobFailure(`the source file is missing from storage (${job.sourceKey}); upload it again`, false);
      }
      throw error;
    });
    log(`downloaded ${job.sourceKey} (${(await stat(sourcePath)).size} bytes)`);

    const check = await checkQuality(deps.tools, sourcePath, {
      limits: job.limits,
      onProgress: (percent) => progress("checking", percent),
      stallTimeoutMs,
      signal: deps.signal,
    });
    const source = check.report.source;
    if (!check.report.ok || !source || !check.probe?.video) {
      throw new JobFailure(check.report.refusal ?? "the quality check refused the file", false, check.report);
    }
    log(`quality check passed with ${check.report.warnings.map((w) => w.code).join(", ") || "no warnings"}`);

    const ladder = planLadder(source, deps.ladder);
    const top = ladder.renditions.at(-1) as LadderPlan["renditions"][number];
    const storyboard = planStoryboard(source.durationSeconds, top, deps.storyboard);
    const outputDir = join(workDir, "out");
    await mkdir(outputDir);
    log(`transcoding to ${ladder.renditions.map((r) => `${r.name}@${Math.round(r.videoBitrate / 1000)}k`).join(" ")}`);
    progress("transcoding", 0);
    const outcome = await runFfmpeg(
      deps.tools.ffmpeg,
      buildTranscodeArgs({
        inputPath: sourcePath,
        outputDir,
        videoStreamIndex: check.probe.video.index,
        audioStreamIndex: source.hasAudio ? (check.probe.audio?.index ?? null) : null,
        ladder,
        poster: planPoster(source.durationSeconds, top),
        storyboard,
        preset: deps.preset ?? "veryfast",
      }),
      {
        durationSeconds: source.durationSeconds,
        onProgress: ({ percent }) => percent !== null && progress("transcoding", percent),
        stallTimeoutMs,
        signal: deps.signal,
      },
    );
    if (outcome.exitCode !== 0) throw new JobFailure(`ffmpeg failed: ${describeFailure(outcome.stderrTail)}`, true);
    await writeFile(join(outputDir, outputNames.vtt), buildStoryboardVtt(storyboard, source.durationSeconds, outputNames.sprite));
    const measured = await finishMasterPlaylist(outputDir, ladder);
    progress("transcoding", 100);

    uploadStarted = true;
    await uploadOutputs(outputDir, prefix, deps, (percent) => progress("uploading", percent));
    log(`uploaded outputs under ${prefix}`);

    return describeResult(prefix, ladder, measured, check.report, source.durationSeconds);
  } catch (error) {
    const failure = toJobFailure(error);
    // A failed final attempt must not leave half a ladder behind. A cancelled one is left to the
    // retry that follows, which deletes the prefix first anyway.
    if (uploadStarted && !deps.signal?.aborted) await deps.storage.deletePrefix(prefix).catch(() => undefined);
    throw failure;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function describeResult(
  prefix: string,
  ladder: LadderPlan,
  measured: Awaited<ReturnType<typeof finishMasterPlaylist>>,
  qualityReport: QualityReport,
  sourceSeconds: number,
): JobResult {
  return {
    renditions: ladder.renditions.map((rendition, index) => {
      const measurement = measured.renditions[index] as RenditionMeasurement;
      return {
        name: rendition.name,
        width: rendition.width,
        height: rendition.height,
        bitrate: measurement.averageBitrate,
        peakBitrate: measurement.peakBitrate,
        frameRate: Math.round(rendition.fps * 1000) / 1000,
        codec: measurement.codec ?? "avc1",
        playlist: `${prefix}${rendition.name}/${outputNames.mediaPlaylist}`,
      };
    }),
    audio: measured.audio
      ? {
          codec: measured.audio.codec ?? "mp4a.40.2",
          bitrate: measured.audio.averageBitrate,
          playlist: `${prefix}${outputNames.audioFolder}/${outputNames.mediaPlaylist}`,
        }
      : null,
    masterKey: `${prefix}${outputNames.master}`,
    posterKey: `${prefix}${outputNames.poster}`,
    storyboard: { spriteKey: `${prefix}${outputNames.sprite}`, vttKey: `${prefix}${outputNames.vtt}` },
    qualityReport,
    durationSeconds: Math.round((measured.renditions.at(-1)?.durationSeconds ?? sourceSeconds) * 1000) / 1000,
  };
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

/**
 * Replaces whatever is under `prefix` with the files of `outputDir`. Media first, then media
 * playlists, the master last, so a reader never finds a playlist whose segments are missing.
 */
async function uploadOutputs(outputDir: string, prefix: string, deps: JobDependencies, onPercent: (percent: number) => void) {
  const signal = deps.signal;
  const files = await listFiles(outputDir);
  const rank = (name: string) => (name === outputNames.master ? 2 : name.endsWith(".m3u8") ? 1 : 0);
  files.sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
  const totalBytes = files.reduce((sum, file) => sum + file.bytes, 0) || 1;
  let doneBytes = 0;

  onPercent(0);
  await deps.storage.deletePrefix(prefix, { signal });
  for (const group of [0, 1, 2]) {
    await eachWithConcurrency(
      files.filter((file) => rank(file.name) === group),
      deps.uploadConcurrency ?? 4,
      async (file) => {
        await deps.storage.upload(`${prefix}${file.name}`, join(outputDir, file.name), contentTypeFor(file.name), { signal });
        doneBytes += file.bytes;
        onPercent((doneBytes / totalBytes) * 100);
      },
    );
  }
}

async function listFiles(folder: string): Promise<{ name: string; bytes: number }[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => {
        const path = join(entry.parentPath, entry.name);
        return { name: relative(folder, path).split(sep).join("/"), bytes: (await stat(path)).size };
      }),
  );
}

async function eachWithConcurrency<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Crashes, stalls and storage trouble are worth a retry; refusals and bad jobs are not. */
export function toJobFailure(error: unknown): JobFailure {
  if (error instanceof JobFailure) return error;
  if (error instanceof FfmpegStalledError) return new JobFailure(error.message, true);
  if (error instanceof ProcessAbortedError || (error instanceof Error && error.name === "AbortError")) {
    return new JobFailure("the job was cancelled", true);
  }
  if (error instanceof StorageError) return new JobFailure(`storage failed: ${error.message}`, error.retryable);
  return new JobFailure(`transcoder error: ${error instanceof Error ? error.message : String(error)}`, true);
}

/** Keeps the source's extension (some demuxers lean on it), but only a plain one. */
function safeExtension(key: string): string {
  const extension = extname(key);
  return /^\.[A-Za-z0-9]{1,8}$/.test(extension) ? extension.toLowerCase() : "";
}
