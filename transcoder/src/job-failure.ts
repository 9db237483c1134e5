import { FfmpegStalledError, ProcessAbortedError } from "./ffmpeg-process.ts";
import type { QualityCheck, QualityReport } from "./quality-check.ts";
import { ScratchQuotaError } from "./scratch.ts";
import { StorageError } from "./storage.ts";

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

/** Crashes, stalls and storage trouble are worth a retry; refusals and bad jobs are not. */
export function toJobFailure(error: unknown): JobFailure {
  if (error instanceof JobFailure) return error;
  if (error instanceof FfmpegStalledError) return new JobFailure(error.message, true);
  if (error instanceof ProcessAbortedError || (error instanceof Error && error.name === "AbortError")) {
    return new JobFailure("the job was cancelled", true);
  }
  if (error instanceof StorageError) return new JobFailure(`storage failed: ${error.message}`, error.retryable);
  if (error instanceof ScratchQuotaError) return new JobFailure(`not enough scratch disk: ${error.message}`, error.retryable);
  return new JobFailure(`transcoder error: ${error instanceof Error ? error.message : String(error)}`, true);
}

/** The quality check's refusal, with its sentence and report. */
export function refusal(check: QualityCheck): JobFailure {
  return new JobFailure(check.report.refusal ?? "the quality check refused the file", false, check.report);
}
