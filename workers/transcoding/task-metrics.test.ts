import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signUpAdmin } from "../test/catalog.ts";
import { recordingMetrics } from "../test/telemetry.ts";
import { deliver, freeTheDouble, lastDispatch, message, planResult, report, runCron, transcodingEnv } from "../test/transcoding.ts";
import { videoWithQueuedJob } from "../test/uploads.ts";

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

beforeEach(freeTheDouble);
// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

/** One datapoint per ended attempt: kind, outcome, instance type; seconds since dispatch, attempt. */
describe("transcode task metrics", () => {
  it("writes a datapoint when an attempt reports done or failed, and none for progress or the same report again", async () => {
    const metrics = recordingMetrics();
    const testEnv = { ...transcodingEnv(), ...metrics.env } as Env;
    const { videoId, jobId } = await videoWithQueuedJob(admin, "Task metrics");
    await deliver(message(jobId, videoId, "plan"), { env: testEnv });
    const plan = await lastDispatch(jobId, "plan");
    expect((await report(plan, { type: "progress", percent: 40 }, testEnv)).status).toBe(204);
    expect((await report(plan, { type: "done", result: planResult(1) }, testEnv)).status).toBe(204);
    // Delivered again (the transcoder retries when an answer is lost): taken, and not counted twice.
    expect((await report(plan, { type: "done", result: planResult(1) }, testEnv)).status).toBe(204);
    await deliver(message(jobId, videoId, "chunk-0000"), { env: testEnv });
    const chunk = await lastDispatch(jobId, "chunk-0000");
    expect((await report(chunk, { type: "failed", retryable: true, reason: "ffmpeg exited with 1" }, testEnv)).status).toBe(204);
    const points = metrics.points("transcode_task");
    expect(points.map((point) => [point.index, ...point.blobs])).toEqual([
      ["transcode_task:plan", "plan", "done", "standard-4"],
      ["transcode_task:chunk", "chunk", "failed", "standard-4"],
    ]);
    for (const point of points) {
      expect(point.doubles[0]).toBeGreaterThanOrEqual(0);
      expect(point.doubles[1]).toBe(1);
    }
  });

  it("writes a stalled datapoint when the cron finds an attempt's lease run out", async () => {
    const metrics = recordingMetrics();
    const testEnv = { ...transcodingEnv({ TRANSCODE_TASK_LEASE_SECONDS: "5" }), ...metrics.env } as Env;
    const { videoId, jobId } = await videoWithQueuedJob(admin, "Task metrics");
    const dispatchedAt = Date.now() - 3000;
    await deliver(message(jobId, videoId, "plan"), { env: testEnv, at: dispatchedAt });
    await runCron({ env: testEnv, at: dispatchedAt + 5500 });
    expect(metrics.points("transcode_task")).toEqual([
      expect.objectContaining({ blobs: ["plan", "stalled", "standard-4"], doubles: [5.5, 1] }),
    ]);
  });
});
