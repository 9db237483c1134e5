import type { Services } from "../platform/services.ts";
import { taskStalled } from "./lifecycle.ts";
import { stalledTasks, taskMessage, touchTask, unsentTasks } from "./service.ts";

/**
 * The cron's check (wrangler.toml `[triggers]`, every minute): tasks whose transcoder stopped
 * calling back for a lease are queued again (only those tasks), and tasks that have waited for a
 * dispatch message too long (one lost, or dead-lettered) get another. Both are idempotent: a task
 * that moved on meanwhile is left alone, and a second message for a task is a no-op.
 */
export async function checkTranscodeLeases(services: Services): Promise<{ stalled: number; resent: number }> {
  let stalled = 0;
  for (const task of await stalledTasks(services.db)) {
    if ((await taskStalled(services, task)) === "ok") stalled++;
  }
  // Longer than a capacity wait and a delayed retry's first steps: a message that should have come.
  const overdue = Math.max(120, 4 * services.config.TRANSCODE_CAPACITY_WAIT_SECONDS);
  const unsent = await unsentTasks(services.db, overdue);
  for (const { task, videoId } of unsent) {
    await touchTask(services.db, task);
    await services.transcodeQueue.send(taskMessage({ id: task.jobId, videoId }, task.id), { contentType: "json" });
  }
  if (stalled > 0 || unsent.length > 0) services.log.warn("transcode leases checked", { stalled, resent: unsent.length });
  return { stalled, resent: unsent.length };
}
