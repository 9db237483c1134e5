import { beforeAll, describe, expect, it } from "vitest";
import { signUpAdmin } from "./test/catalog.ts";
import { call } from "./test/helpers.ts";
import { deliver, message, resetDouble, taskRow } from "./test/transcoding.ts";
import { createVideo } from "./test/uploads.ts";

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

/** A job whose plan task waits for its dispatch message. */
async function queuedJob(): Promise<{ videoId: string; jobId: string }> {
  const videoId = await createVideo(admin, "Queue names");
  const response = await call(`/v1/admin/videos/${videoId}/source`, {
    method: "PUT",
    token: admin,
    body: new Uint8Array(64),
    headers: { "Content-Type": "video/mp4" },
  });
  expect(response.status).toBe(202);
  return { videoId, jobId: ((await response.json()) as { jobId: string }).jobId };
}

/**
 * Staging and production name their queues apart (wrangler.toml: queue names are per account).
 * The consumer tells a dead-lettered message by its queue's `-dlq` suffix, in every environment.
 */
describe("the queue consumer in each environment", () => {
  it.each(["reelstream-staging-transcode-dlq", "reelstream-production-transcode-dlq"])(
    "records a message from %s as dead-lettered on its task",
    async (queue) => {
      const { videoId, jobId } = await queuedJob();
      const result = await deliver(message(jobId, videoId, "plan"), { queue, attempts: 4 });
      expect(result.explicitAcks).toHaveLength(1);
      expect(await taskRow(jobId, "plan")).toMatchObject({ lastError: "its dispatch message failed 4 times and was dead-lettered" });
    },
  );

  it("dispatches a message from an environment's own transcode queue", async () => {
    await resetDouble();
    const { videoId, jobId } = await queuedJob();
    await deliver(message(jobId, videoId, "plan"), { queue: "reelstream-production-transcode" });
    const row = await taskRow(jobId, "plan");
    expect(row?.deadLetteredAt).toBeNull();
    expect(row?.state).toBe("running");
  });
});
