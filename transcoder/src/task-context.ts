import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import type { X264Preset } from "./ffmpeg-command.ts";
import type { FfmpegTools } from "./ffmpeg-tools.ts";
import type { LadderOptions } from "./ladder.ts";
import type { LadderRunOptions } from "./ladder-run.ts";
import type { OutputUploaderOptions } from "./output-uploader.ts";
import type { StoryboardOptions } from "./previews.ts";
import type { MediaStorage } from "./storage.ts";

/** What every task runner gets: storage, ffmpeg, a work folder, limits, and where progress goes. */
export interface TaskDependencies {
  storage: MediaStorage;
  tools: FfmpegTools;
  /** Each task's temp folder is made under this one, and removed when the task ends. */
  workRoot: string;
  preset?: X264Preset;
  /** Kill ffmpeg when it has shown no progress for this long. */
  stallTimeoutMs?: number;
  /** The plan's ladder and storyboard options (other tasks follow the plan they are given). */
  ladder?: Partial<LadderOptions>;
  storyboard?: Partial<StoryboardOptions>;
  uploadConcurrency?: number;
  /** This transcoder's scratch disk; null or absent: not limited. */
  scratchQuotaBytes?: number | null;
  /** 0–100 of the task. */
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

export const defaultTaskStallTimeoutMs = 120_000;

/** Runs `work` in a fresh temp folder below the work root, removed afterwards whatever happens. */
export async function inTaskFolder<T>(
  deps: Pick<TaskDependencies, "workRoot">,
  label: string,
  work: (folder: string) => Promise<T>,
): Promise<T> {
  await mkdir(deps.workRoot, { recursive: true });
  const folder = await mkdtemp(join(deps.workRoot, `${label}-`));
  try {
    return await work(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * What a task's ladder run shares with every other task's: its outputs go up under the attempt's
 * own names beside other tasks' outputs (so nothing is cleared first), each file is removed once
 * stored, and the run is held to the stall watchdog and the scratch quota.
 */
export function taskRun(
  deps: TaskDependencies,
  uploads: Pick<OutputUploaderOptions, "prefix" | "keyFor" | "prepare">,
): Pick<LadderRunOptions, "tools" | "uploader" | "stallTimeoutMs" | "scratchQuotaBytes" | "signal"> {
  return {
    tools: deps.tools,
    uploader: { ...uploads, storage: deps.storage, concurrency: deps.uploadConcurrency ?? 4, removeUploaded: true },
    stallTimeoutMs: deps.stallTimeoutMs ?? defaultTaskStallTimeoutMs,
    scratchQuotaBytes: deps.scratchQuotaBytes ?? null,
    signal: deps.signal,
  };
}
