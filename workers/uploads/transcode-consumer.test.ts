import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { videos } from "../../schema/index.ts";
import { handleQueueBatch, type QueueMessage } from "../queue.ts";
import { signUpAdmin, withDatabase } from "../test/catalog.ts";
import { TRANSCODE_DLQ } from "./index.ts";
import type { TranscodeJobMessage } from "./service.ts";
import { masterKey, outputPrefix } from "./settings.ts";
import { adminStatus, createVideo } from "./test-support.ts";
import { retryDelaySeconds } from "./transcode-consumer.ts";

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

function jobFor(videoId: string): TranscodeJobMessage {
  return { kind: "transcode", jobId: crypto.randomUUID(), videoId, sourceKey: masterKey(videoId, "upload-1") };
}

async function deliver(queue: string, job: TranscodeJobMessage, options: { attempts?: number; env?: Env } = {}) {
  const batch = createMessageBatch<QueueMessage>(queue, [
    { id: crypto.randomUUID(), timestamp: new Date(), attempts: options.attempts ?? 1, body: job },
  ]);
  const ctx = createExecutionContext();
  await handleQueueBatch(batch, options.env ?? env, ctx);
  return getQueueResult(batch, ctx);
}

async function setVideo(videoId: string, fields: Partial<typeof videos.$inferInsert>, updatedSecondsAgo = 0) {
  await withDatabase((db) =>
    db
      .update(videos)
      .set({ ...fields, updatedAt: sql`now() - make_interval(secs => ${updatedSecondsAgo})` })
      .where(eq(videos.id, videoId)),
  );
}

describe("transcode queue consumer", () => {
  it("acknowledges a duplicate delivery of a finished job without doing anything", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "ready", publishedAt: new Date(), progress: 1 });
    const result = await deliver("reelstream-transcode", jobFor(videoId), { env: { ...env, TRANSCODER_URL: "http://127.0.0.1:9" } });
    expect(result.explicitAcks).toHaveLength(1);
    expect(result.retryMessages).toEqual([]);
    expect((await adminStatus(admin, videoId)).state).toBe("ready");
  });

  it("acknowledges a duplicate that arrives while another delivery is transcoding (fresh heartbeat)", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "transcoding", progress: 0.4 });
    const result = await deliver("reelstream-transcode", jobFor(videoId), { env: { ...env, TRANSCODER_URL: "http://127.0.0.1:9" } });
    expect(result.explicitAcks).toHaveLength(1);
    const status = await adminStatus(admin, videoId);
    expect(status.state).toBe("transcoding");
    expect(status.progress).toBeCloseTo(0.4);
  });

  it("retries with a delay when the transcoder cannot be reached, and gives the job back (queued, with the reason)", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "queued" });
    const result = await deliver("reelstream-transcode", jobFor(videoId), {
      attempts: 2,
      env: { ...env, TRANSCODER_URL: "http://127.0.0.1:9" },
    });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    // (The test harness does not record the delay; retryDelaySeconds is checked below.)
    const status = await adminStatus(admin, videoId);
    expect(status.state).toBe("queued");
    expect(status.error).toMatch(/^attempt 2 failed: the transcoder could not be reached/);
  });

  it("takes over a job whose consumer stopped heartbeating (stale lease)", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "transcoding", progress: 0.2 }, 600);
    const result = await deliver("reelstream-transcode", jobFor(videoId), { env: { ...env, TRANSCODER_URL: "http://127.0.0.1:9" } });
    // It claimed the job (then found the transcoder down and gave it back).
    expect(result.retryMessages).toHaveLength(1);
    expect((await adminStatus(admin, videoId)).error).toMatch(/^attempt 1 failed/);
  });

  it("backs off between attempts: 15 s, 30 s, 60 s, capped at 10 minutes", () => {
    expect([1, 2, 3, 4, 10].map(retryDelaySeconds)).toEqual([15, 30, 60, 120, 600]);
  });

  it("leaves the job for a retry, touching nothing, when no transcoder is configured", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "queued" });
    const result = await deliver("reelstream-transcode", jobFor(videoId));
    expect(result.retryMessages).toHaveLength(1);
    expect((await adminStatus(admin, videoId)).state).toBe("queued");
  });
});

describe("transcode dead-letter queue", () => {
  it("marks the video failed with the number of attempts and the last reason", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "queued", error: "attempt 4 failed: the transcoder's stream broke off (connection reset); retrying" });
    const result = await deliver(TRANSCODE_DLQ, jobFor(videoId));
    expect(result.explicitAcks).toHaveLength(1);
    const status = await adminStatus(admin, videoId);
    expect(status.state).toBe("failed");
    expect(status.error).toBe("transcoding failed after 4 attempts: the transcoder's stream broke off (connection reset)");
  });

  it("deletes what a killed attempt left under the video's output prefix, and nothing else", async () => {
    const videoId = await createVideo(admin);
    await setVideo(videoId, { state: "queued", error: "attempt 4 failed: the transcoder was killed; retrying" });
    const leftovers = [`${outputPrefix(videoId)}720p/seg_00001.m4s`, `${outputPrefix(videoId)}poster.jpg`];
    for (const key of [...leftovers, masterKey(videoId, "upload-1")]) await env.MEDIA.put(key, "bytes");
    await deliver(TRANSCODE_DLQ, jobFor(videoId));
    expect((await adminStatus(admin, videoId)).state).toBe("failed");
    expect((await env.MEDIA.list({ prefix: outputPrefix(videoId) })).objects).toEqual([]);
    expect(await env.MEDIA.head(masterKey(videoId, "upload-1"))).not.toBeNull();
  });

  it("does not fail a video that is ready or still being transcoded", async () => {
    const ready = await createVideo(admin);
    await setVideo(ready, { state: "ready", publishedAt: new Date() });
    const running = await createVideo(admin);
    await setVideo(running, { state: "transcoding" });
    await env.MEDIA.put(`${outputPrefix(ready)}master.m3u8`, "#EXTM3U");
    await deliver(TRANSCODE_DLQ, jobFor(ready));
    await deliver(TRANSCODE_DLQ, jobFor(running));
    expect((await adminStatus(admin, ready)).state).toBe("ready");
    expect(await env.MEDIA.head(`${outputPrefix(ready)}master.m3u8`)).not.toBeNull();
    expect((await adminStatus(admin, running)).state).toBe("transcoding");
  });
});
