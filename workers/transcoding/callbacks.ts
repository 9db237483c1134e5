import { createRouter } from "../platform/app.ts";
import { ApiError } from "../platform/errors.ts";
import { describeIssues, taskCallbackEnvelopeSchema } from "./contract.ts";
import { grantOf } from "./internal-storage.ts";
import { type ReportOutcome, taskDone, taskFailed, taskHandedBack, taskProgressed } from "./lifecycle.ts";
import { loadJob } from "./service.ts";
import { taskKinds } from "./task-kinds.ts";
import { recordTaskEnd } from "./task-metrics.ts";

/** Where transcoders report: `POST /internal/transcode/callback` (contract.ts, `TaskCallback`). */
export const CALLBACK_PATH = "/internal/transcode/callback";

/**
 * The transcoder's progress and results come back here, one request each, with the task's storage
 * grant: the grant names the job, the task and the attempt, and the body must say the same. The
 * job and its tasks are read once, and what the report changes is decided from that. The answer
 * tells the transcoder what to do next:
 *
 * - 204: taken. A `handed-back` report (the instance is shutting down) queues the task again
 *   for another instance without counting a failure.
 * - 409: the attempt is not the task's current one (it stalled and was dispatched again, or its job
 *   is over). Nothing changed; the transcoder stops that attempt.
 * - 410: the job is gone (its video was deleted).
 * - 400/403: the body or the grant is wrong (a bug, not a retry).
 * - 5xx: nothing changed (the report's transaction did not commit); the transcoder sends it again.
 *
 * Not part of the public API, so not in /openapi.json.
 */
export function createCallbackRouter() {
  const app = createRouter();
  app.post(CALLBACK_PATH, async (c) => {
    const grant = await grantOf(c);
    const parsed = taskCallbackEnvelopeSchema.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success)
      throw new ApiError("bad-request", `The callback is not a task callback: ${describeIssues(parsed.error).join("; ")}`);
    const callback = parsed.data;
    // A source grant (ffmpeg's) reads the master and reports nothing.
    if (grant.scope !== "outputs" || grant.job !== callback.jobId || grant.task !== callback.taskId || grant.attempt !== callback.attempt) {
      throw new ApiError(
        "forbidden",
        `This grant was issued to another task or attempt than ${callback.taskId} attempt ${callback.attempt}.`,
      );
    }
    const services = c.get("services");
    const loaded = await loadJob(services.db, callback.jobId);
    const task = loaded?.tasks.find((candidate) => candidate.id === callback.taskId);
    if (!loaded || !task) throw new ApiError("gone", `Job ${callback.jobId} is gone (its video was deleted, or its upload replaced).`);
    const attempt = { jobId: loaded.job.id, id: task.id, attempt: callback.attempt };
    let outcome: ReportOutcome;
    let ended: "done" | "failed" | "handed-back" | undefined;
    const event = callback.event;
    if (event.type === "progress") {
      outcome = await taskProgressed(services, loaded, attempt, event.percent);
    } else if (event.type === "done") {
      const result = taskKinds[task.kind].result(services.config).safeParse(event.result);
      ended = result.success ? "done" : "failed";
      outcome = result.success
        ? await taskDone(services, loaded, attempt, result.data)
        : await taskFailed(services, attempt, {
            retryable: true,
            reason: `the transcoder's ${task.kind} result is malformed (${describeIssues(result.error).slice(0, 3).join("; ")})`,
          });
    } else if (event.type === "handed-back") {
      ended = "handed-back";
      outcome = await taskHandedBack(services, loaded.job, attempt, event.reason);
    } else {
      ended = "failed";
      outcome = await taskFailed(services, attempt, event);
    }
    // An end, once: a report delivered again (its first answer was lost) finds the task ended already.
    if (ended && outcome === "ok" && task.state === "running" && task.attempt === callback.attempt) {
      recordTaskEnd(services, task, callback.attempt, ended);
    }
    if (outcome === "stale") {
      throw new ApiError(
        "conflict",
        `Attempt ${callback.attempt} of ${callback.taskId} is not the one running (the task is ${task.state}, attempt ${task.attempt}).`,
      );
    }
    return c.body(null, 204);
  });
  return app;
}
