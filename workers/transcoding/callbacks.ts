import { createRouter } from "../platform/app.ts";
import { ApiError } from "../platform/errors.ts";
import { grantOf } from "./internal-storage.ts";
import { type ReportOutcome, taskDone, taskFailed, taskProgressed } from "./lifecycle.ts";
import { taskCallback, taskResults } from "./schema.ts";
import { findTask } from "./service.ts";

/** Where transcoders report: `POST /internal/transcode/callback` (contract.ts, `TaskCallback`). */
export const CALLBACK_PATH = "/internal/transcode/callback";

/**
 * The transcoder's progress and results come back here, one request each, with the task's storage
 * grant: the grant names the job, the task and the attempt, and the body must say the same. The
 * answer tells the transcoder what to do next:
 *
 * - 204: taken.
 * - 409: the attempt is not the task's current one (it stalled and was dispatched again, or its job
 *   is over). Nothing changed; the transcoder stops that attempt.
 * - 410: the job is gone (its video was deleted).
 * - 400/403: the body or the grant is wrong (a bug, not a retry).
 *
 * Not part of the public API, so not in /openapi.json.
 */
export function createCallbackRouter() {
  const app = createRouter();
  app.post(CALLBACK_PATH, async (c) => {
    const grant = await grantOf(c);
    const parsed = taskCallback.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      throw new ApiError(
        "bad-request",
        `The callback is not a task callback: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    const callback = parsed.data;
    if (grant.task === undefined || grant.job !== callback.jobId || grant.task !== callback.taskId || grant.attempt !== callback.attempt) {
      throw new ApiError(
        "forbidden",
        `This grant was issued to another task or attempt than ${callback.taskId} attempt ${callback.attempt}.`,
      );
    }
    const services = c.get("services");
    const found = await findTask(services.db, callback.jobId, callback.taskId);
    if (!found) throw new ApiError("gone", `Job ${callback.jobId} is gone (its video was deleted, or its upload replaced).`);
    const { job } = found;
    const attempt = { jobId: job.id, id: callback.taskId, attempt: callback.attempt };
    let outcome: ReportOutcome;
    const event = callback.event;
    if (event.type === "progress") {
      outcome = await taskProgressed(services, job, attempt, event.percent);
    } else if (event.type === "done") {
      const result = taskResults[found.task.kind].safeParse(event.result);
      outcome = result.success
        ? await taskDone(services, job, attempt, result.data as unknown as Record<string, unknown>)
        : await taskFailed(services, job, attempt, {
            retryable: true,
            reason: `the transcoder's ${found.task.kind} result is malformed (${result.error.issues[0]?.path.join(".")}: ${result.error.issues[0]?.message})`,
          });
    } else {
      outcome = await taskFailed(services, job, attempt, event);
    }
    if (outcome === "stale") {
      throw new ApiError(
        "conflict",
        `Attempt ${callback.attempt} of ${callback.taskId} is not the one running (the task is ${found.task.state}, attempt ${found.task.attempt}).`,
      );
    }
    return c.body(null, 204);
  });
  return app;
}
