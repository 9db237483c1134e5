/**
 * How a job's tasks and their attempts are named. Every object a task attempt writes carries its
 * tag (`720p/c0003-a2-00004.m4s`), so attempts never write over each other.
 */

/** The task of chunk `index`: "chunk-0003". */
export function chunkTaskId(index: number): string {
  return `chunk-${String(index).padStart(4, "0")}`;
}

/** The names an attempt's objects start with: "c0003-a2-", "plan-a1-", "audio-a1-", "finalize-a3-". */
export function attemptTag(taskId: string, attempt: number): string {
  const chunk = /^chunk-(\d+)$/.exec(taskId);
  return `${chunk ? `c${chunk[1]}` : taskId}-a${attempt}-`;
}
