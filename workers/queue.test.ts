import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { signUpAdmin } from "./test/catalog.ts";
import { deliver, freeTheDouble, message, resetDouble, taskRow } from "./test/transcoding.ts";
import { videoWithQueuedJob } from "./test/uploads.ts";

// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

/**
 * Staging and production name their queues apart (wrangler.toml: queue names are per account).
 * The consumer tells a dead-lettered message by its queue's `-dlq` suffix, in every environment.
 */
describe("the queue consumer in each environment", () => {
  it.each(["reelstream-staging-transcode-dlq", "reelstream-production-transcode-dlq"])(
    "records a message from %s as dead-lettered on its task",
    async (queue) => {
      const { videoId, jobId } = await videoWithQueuedJob(admin, "Queue names");
      const result = await deliver(message(jobId, videoId, "plan"), { queue, attempts: 4 });
      expect(result.explicitAcks).toHaveLength(1);
      expect(await taskRow(jobId, "plan")).toMatchObject({ lastError: "its dispatch message failed 4 times and was dead-lettered" });
    },
  );

  it("dispatches a message from an environment's own transcode queue", async () => {
    await resetDouble();
    const { videoId, jobId } = await videoWithQueuedJob(admin, "Queue names");
    await deliver(message(jobId, videoId, "plan"), { queue: "reelstream-production-transcode" });
    const row = await taskRow(jobId, "plan");
    expect(row?.deadLetteredAt).toBeNull();
    expect(row?.state).toBe("running");
  });
});
