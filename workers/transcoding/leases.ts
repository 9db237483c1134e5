import type { Services } from "../platform/services.ts";
import { repairJob, taskStalled } from "./lifecycle.ts";
import { jobsWithoutLiveTasks, stalledTasks, taskMessage, touchTask, unsentTasks } from "./service.ts";
import { recordTaskEnd } from "./task-metrics.ts";

/**
 * The cron's check (wrangler.toml `[triggers]`, every minute), at the services' clock:
 * - tasks whose transcoder stopped calling back for a lease are queued again (only those tasks);
 * - tasks that have waited for a dispatch message too long (one lost, or dead-lettered) get another;
 * - a job under way whose step has no task left to run is repaired (`repairJob`): its missing tasks
 *   are created again from the stored plan, or its finished step moves on.
 * Each is idempotent: a task or job that moved on meanwhile is left alone, and a second message
 * for a task is a no-op.
 */
export async function checkTranscodeLeases(services: Services): Promise<{ stalled: number; resent: number; repaired: number }> {
  const now = new Date(services.clock.now());
  let stalled = 0;
  for (const task of await stalledTasks(services.db, now)) {
    if ((await taskStalled(services, task)) === "ok") {
      stalled++;
      recordTaskEnd(services, task, task.attempt, "stalled");
    }
  }
  // Longer than the longest capacity wait (each delivery of a waiting task touches its row) and a
  // delayed retry's first steps, with two minutes to spare: a message that should have come.
  const overdue = Math.max(120, services.config.TRANSCODE_CAPACITY_WAIT_MAX_SECONDS + 120);
  const unsent = await unsentTasks(services.db, overdue, now);
  for (const { task, videoId } of unsent) {
    await touchTask(services.db, task, now);
    await services.transcodeQueue.send(taskMessage({ id: task.jobId, videoId }, task.id), { contentType: "json" });
  }
  let repaired = 0;
  for (const job of await jobsWithoutLiveTasks(services.db)) {
    // One job that cannot be repaired must not keep the others waiting: it is logged, and tried again next minute.
    const change = await repairJob(services, job.id).catch((error: unknown) => {
      services.log.error("transcode job could not be repaired", { jobId: job.id, videoId: job.videoId, step: job.step, error });
      return undefined;
    });
    if (change) repaired++;
  }
  if (stalled > 0 || unsent.length > 0 || repaired > 0) {
    services.log.warn("transcode leases checked", { stalled, resent: unsent.length, repaired });
  }
  return { stalled, resent: unsent.length, repaired };
}
