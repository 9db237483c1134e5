import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * The scratch-disk quota of one transcoder: a Cloudflare Container has the disk of its instance
 * type (2 GB on lite up to 20 GB on standard-4) and nothing else, and a local process stands in
 * for one only if it is held to the same. Two checks:
 *
 * - before a task starts, its worst case (`TaskDiskBound`) against the quota: a chunk too long for
 *   the disk fails at once, saying what it needs and what there is;
 * - while it runs, what its folder really holds: outputs pile up when uploads fall behind, and the
 *   task is stopped before the disk is full rather than when ffmpeg's write fails.
 */

export class ScratchQuotaError extends Error {
  override readonly name = "ScratchQuotaError";
  /** A task that can never fit is not worth a retry; a folder that filled up while uploads lagged may be. */
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** A task's worst-case use of scratch disk, and what it is made of (for the message). */
export interface TaskDiskBound {
  bytes: number;
  what: string;
}

/** Throws when a task's worst case does not fit the quota (null: no quota). */
export function assertFitsQuota(bound: TaskDiskBound, quotaBytes: number | null): void {
  if (quotaBytes === null || bound.bytes <= quotaBytes) return;
  throw new ScratchQuotaError(
    `this task needs up to ${formatBytes(bound.bytes)} of scratch disk (${bound.what}), more than the ${formatBytes(quotaBytes)} this transcoder has; use shorter chunks or an instance type with more disk`,
    false,
  );
}

/** Bytes in every file below `folder` (0 when it is gone). */
export async function folderBytes(folder: string): Promise<number> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  let total = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    total += await stat(join(entry.parentPath, entry.name)).then(
      (found) => found.size,
      () => 0,
    );
  }
  return total;
}

/**
 * Looks at `folder` every `intervalMs` and calls `onExceeded` (once) when it holds more than the
 * quota. Returns the stop function and the largest size seen.
 */
export function watchScratch(folder: string, quotaBytes: number | null, onExceeded: (error: ScratchQuotaError) => void, intervalMs = 500) {
  let peak = 0;
  let fired = false;
  const look = async () => {
    const bytes = await folderBytes(folder);
    peak = Math.max(peak, bytes);
    if (quotaBytes !== null && bytes > quotaBytes && !fired) {
      fired = true;
      onExceeded(
        new ScratchQuotaError(
          `the task's files reached ${formatBytes(bytes)}, over this transcoder's ${formatBytes(quotaBytes)} of scratch disk (uploads fell behind the encode)`,
          true,
        ),
      );
    }
  };
  const timer = setInterval(() => void look(), intervalMs);
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await look();
      return peak;
    },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}
