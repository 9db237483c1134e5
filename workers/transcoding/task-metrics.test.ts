import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { signUpAdmin } from "../test/catalog.ts";
import { call } from "../test/helpers.ts";
import { recordingMetrics } from "../test/telemetry.ts";
import { deliver, lastDispatch, message, planResult, report, resetDouble, runCron, transcodingEnv } from "../test/transcoding.ts";
import { createVideo } from "../test/uploads.ts";

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

beforeEach(resetDouble);

async function uploaded(): Promise<{ videoId: string; jobId: string }> {
  const videoId = await createVideo(admin, "Task metrics");
  const response = await call(`/v1/admin/videos/${videoId}/source`, {
    method: "PUT",
    token: admin,
    body: new Uint8Array(64),
    headers: { "Content-Type": "video/mp4" },
  });
  expect(response.status).toBe(202);
  return { videoId, jobId: ((await response.json()) as { jobId: string }).jobId };
}

/** One datapoint per ended attempt: kind, outcome, instance type; seconds since dispatch, attempt. */
describe("transcode task metrics", () => {
  it("writes a datapoint when an attempt reports done or failed, and none for progress or the same report again", async () => {
    const metrics = recordingMetrics();
    const testEnv = { ...transcodingEnv(), ...metrics.env } as Env;
    const { videoId, jobId } = await uploaded();
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
    const { videoId, jobId } = await uploaded();
    const dispatchedAt = Date.now() - 3000;
    await deliver(message(jobId, videoId, "plan"), { env: testEnv, at: dispatchedAt });
    await runCron({ env: testEnv, at: dispatchedAt + 5500 });
    expect(metrics.points("transcode_task")).toEqual([
      expect.objectContaining({ blobs: ["plan", "stalled", "standard-4"], doubles: [5.5, 1] }),
    ]);
  });
});
