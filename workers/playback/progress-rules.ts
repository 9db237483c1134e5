/**
 * When a position counts as "finished": the last 5 % of a title (credits), at most the last
 * three minutes and at least the last two seconds. A finished title resumes at 0 and leaves the
 * continue-watching row.
 *
 * @example
 * isFinished(5300, 5400); // true: 100 s before the end of a 90-minute film
 * isFinished(600, 5400); // false
 */
export function isFinished(positionSeconds: number, durationSeconds: number | null): boolean {
  if (durationSeconds === null || durationSeconds <= 0) return false;
  const credits = Math.max(2, Math.min(durationSeconds * 0.05, 180));
  return durationSeconds - positionSeconds <= credits;
}

/** Where a new play starts: the watched-till position, or 0 for a finished or never-watched title. */
export function resumePosition(progress: { positionSeconds: number; finished: boolean } | null): number {
  return progress && !progress.finished ? progress.positionSeconds : 0;
}
