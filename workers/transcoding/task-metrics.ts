import type { Services } from "../platform/services.ts";
import type { TaskState } from "./service.ts";

/**
 * The one place a transcode task attempt's end becomes a metric (an Analytics Engine datapoint:
 * kind, outcome, seconds since its dispatch, attempt, instance type; docs/operations.md): a report
 * of done or failed (callbacks.ts), or a stall the cron found (leases.ts). Stale reports are not
 * ends: their attempt was over already.
 */
export function recordTaskEnd(
  services: Services,
  task: Pick<TaskState, "kind" | "dispatchedAt">,
  attempt: number,
  outcome: "done" | "failed" | "stalled" | "handed-back",
): void {
  const dispatched = task.dispatchedAt?.getTime();
  services.metrics.transcodeTask({
    kind: task.kind,
    outcome,
    seconds: dispatched === undefined ? 0 : Math.max(0, (services.clock.now() - dispatched) / 1000),
    attempt,
    instanceType: services.config.TRANSCODER_INSTANCE_TYPE,
  });
}
