import { env } from "cloudflare:workers";
import { and, eq, inArray } from "drizzle-orm";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { transcodeJobs, transcodeTasks } from "../../schema/index.ts";
import { signUpAdmin, withDatabase } from "../test/catalog.ts";
import { call } from "../test/helpers.ts";
import {
  audioResult,
  cancelled,
  chunkResult,
  deliver,
  dispatched,
  finalizeDone,
  finalizeMaster,
  freeTheDouble,
  lastDispatch,
  message,
  planResult,
  report,
  runCron,
  setDoubleBusy,
  setDoubleHanging,
  setDoubleRefusing,
  taskRow,
  transcodingEnv,
  withTaskInsertFault,
} from "../test/transcoding.ts";
import { videoWithQueuedJob } from "../test/uploads.ts";
import { adminVideoStatusResponse } from "../videos/schema.ts";
import type { TranscodeTask } from "./contract.ts";

/**
 * The transcoding service in workerd: the real queue consumer, dispatch over HTTP to two
 * transcoder instances (the double records what they are given), the real callback route called
 * with each task's grant, the real cron. From a master's upload to `ready`, and everything that
 * must not break it: a busy fleet, a dead attempt, a stalled transcoder, a refusal, a task that
 * keeps failing.
 */

let admin: string;

beforeAll(async () => {
  admin = (await signUpAdmin()).accessToken;
});

beforeEach(freeTheDouble);
// What a test left running goes with it: another file's cron must not find it stalled.
afterEach(freeTheDouble);

/** The admin view of the video, as its schema says it is. */
async function status(videoId: string) {
  const response = await call(`/v1/admin/videos/${videoId}`, { token: admin });
  expect(response.status).toBe(200);
  return adminVideoStatusResponse.parse(await response.json());
}

/** A video whose master is in (PUT source): queued, with a job whose plan is on the queue. */
const uploaded = () => videoWithQueuedJob(admin, "Transcode job");

/** Runs the plan to done with `chunks` ranges; returns the plan task as dispatched. */
async function planned(videoId: string, jobId: string, chunks: number): Promise<TranscodeTask> {
  expect((await deliver(message(jobId, videoId, "plan"))).explicitAcks).toHaveLength(1);
  const plan = await lastDispatch(jobId, "plan");
  expect((await report(plan, { type: "done", result: planResult(chunks) })).status).toBe(204);
  return plan;
}

/** Runs each of `taskIds`, one after another, to done, with results shaped as the transcoder makes them. */
async function runToDone(videoId: string, jobId: string, taskIds: readonly string[]): Promise<void> {
  for (const taskId of taskIds) {
    await deliver(message(jobId, videoId, taskId));
    const task = await lastDispatch(jobId, taskId);
    const result = task.kind === "chunk" ? chunkResult(task) : task.kind === "audio" ? audioResult(task) : await finalizeDone(task);
    expect((await report(task, { type: "done", result })).status).toBe(204);
  }
}

describe("a transcode job, from the master to ready", () => {
  it("dispatches each task at once, joins the chunks after they are done, and publishes the video", async () => {
    const { videoId, jobId } = await uploaded();
    expect(await status(videoId)).toMatchObject({
      state: "queued",
      transcode: { step: "plan", chunksDone: 0, chunksTotal: 0, attempt: 1 },
    });

    // The plan: handed to a transcoder, which answers at once; the video leaves the queue.
    const delivery = await deliver(message(jobId, videoId, "plan"));
    expect(delivery.explicitAcks).toHaveLength(1);
    expect(delivery.retryMessages).toEqual([]);
    const plan = await lastDispatch(jobId, "plan");
    expect(plan).toMatchObject({
      kind: "plan",
      attempt: 1,
      attemptTag: "plan-a1-",
      outputPrefix: `videos/${videoId}/hls/`,
      // PUT source's own master: masters/{videoId}/{uploadId}.
      sourceKey: expect.stringMatching(new RegExp(`^masters/${videoId}/[\\w-]+$`)),
      callbackUrl: "http://localhost:8787/internal/transcode/callback",
      chunkSeconds: 10,
    });
    expect((await status(videoId)).state).toBe("transcoding");

    // Progress keeps the lease and moves the video's progress.
    expect((await report(plan, { type: "progress", percent: 60 })).status).toBe(204);
    expect((await status(videoId)).progress).toBeCloseTo(0.03, 3);

    // The plan's result: two chunks and the audio become tasks of their own.
    expect((await report(plan, { type: "done", result: planResult(2) })).status).toBe(204);
    expect((await status(videoId)).transcode).toMatchObject({ step: "encode", chunksDone: 0, chunksTotal: 2, attempt: 1 });
    for (const taskId of ["chunk-0000", "chunk-0001", "audio"]) await deliver(message(jobId, videoId, taskId));
    // Two instances: the chunks run, the audio waits for one to be free.
    const first = await lastDispatch(jobId, "chunk-0000");
    const second = await lastDispatch(jobId, "chunk-0001");
    expect(new Set([first.instance, second.instance]).size).toBe(2);
    expect(first).toMatchObject({ kind: "chunk", attemptTag: "c0000-a1-", chunk: { index: 0 } });
    expect((await taskRow(jobId, "audio"))?.state).toBe("waiting");
    expect((await status(videoId)).transcode?.waitingForTranscoder).toBe(true);

    expect((await report(first, { type: "done", result: chunkResult(first) })).status).toBe(204);
    await deliver(message(jobId, videoId, "audio"));
    const audio = await lastDispatch(jobId, "audio");
    expect((await status(videoId)).transcode).toMatchObject({ chunksDone: 1, waitingForTranscoder: false });
    expect((await report(second, { type: "done", result: chunkResult(second) })).status).toBe(204);
    expect((await taskRow(jobId, "finalize"))?.state).toBeUndefined();
    expect((await report(audio, { type: "done", result: audioResult(audio) })).status).toBe(204);

    // Every chunk and the audio done: the finalize task gets their results.
    expect((await status(videoId)).transcode).toMatchObject({ step: "finalize", chunksDone: 2 });
    await deliver(message(jobId, videoId, "finalize"));
    const finalize = await lastDispatch(jobId, "finalize");
    expect(finalize.kind === "finalize" && finalize.chunks.map((chunk) => chunk.index)).toEqual([0, 1]);
    expect(finalize.kind === "finalize" && finalize.audio?.codec).toBe("mp4a.40.2");
    // What the published ladder does not reference goes once it is published: a storyboard tile,
    // a dead attempt's segment. What it does stays.
    const hls = `videos/${videoId}/hls/`;
    const kept = chunkResult(first).renditions[0]?.segments[0]?.key as string;
    for (const key of [kept, `${hls}previews/c0000-a1-tile_00000.jpg`, `${hls}240p/c0000-a0-00000.m4s`]) await env.MEDIA.put(key, "x");
    const finalized = await finalizeDone(finalize);
    expect((await report(finalize, { type: "done", result: finalized })).status).toBe(204);
    // The Worker published the finalize's master under the name viewers are served; nothing else is left.
    expect(await (await env.MEDIA.get(`${hls}master.m3u8`))?.text()).toBe(finalizeMaster(finalize));
    expect((await env.MEDIA.list({ prefix: hls })).objects.map((object) => object.key).sort()).toEqual([`${hls}master.m3u8`, kept].sort());

    const done = await status(videoId);
    expect(done).toMatchObject({
      state: "ready",
      progress: 1,
      error: null,
      transcode: { step: "done", chunksDone: 2, chunksTotal: 2, attempt: 1 },
    });
    expect(done.renditions.map((rendition) => rendition.height)).toEqual([240, 480]);
    // Listed: the catalog (KV in front of Postgres) serves it.
    const catalog = await call(`/v1/videos/${videoId}`, { token: admin });
    expect(catalog.status).toBe(200);
    expect(((await catalog.json()) as { video: { durationSeconds: number } }).video.durationSeconds).toBe(20);

    // The same result again (its first answer was lost) changes nothing and is not an error.
    expect((await report(finalize, { type: "done", result: finalized })).status).toBe(204);
    // A report from an attempt that is not the running one: 409, nothing changes.
    expect((await report({ ...second, attempt: 7 }, { type: "progress", percent: 5 })).status).toBe(403);
    expect((await report(second, { type: "progress", percent: 5 })).status).toBe(409);
  });

  it("refuses to publish a finalize master that leads outside the video, or a variant without a height: the job fails, nothing is served", async () => {
    const attacker = "http://127.0.0.1:9/injected/index.m3u8";
    const masters = {
      [attacker]: (task: TranscodeTask) => `${finalizeMaster(task)}#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=426x240\n${attacker}\n`,
      "has no RESOLUTION": (task: TranscodeTask) =>
        `${finalizeMaster(task)}#EXT-X-STREAM-INF:BANDWIDTH=9000000\n${task.attemptTag}2160p.m3u8\n`,
    };
    for (const [said, master] of Object.entries(masters)) {
      const { videoId, jobId } = await uploaded();
      await planned(videoId, jobId, 2);
      await runToDone(videoId, jobId, ["audio", "chunk-0000", "chunk-0001"]);
      await deliver(message(jobId, videoId, "finalize"));
      const finalize = await lastDispatch(jobId, "finalize");
      expect((await report(finalize, { type: "done", result: await finalizeDone(finalize, master(finalize)) })).status).toBe(204);
      const failed = await status(videoId);
      expect(failed).toMatchObject({ state: "failed", transcode: { step: "failed" } });
      expect(failed.error).toContain("the master playlist cannot be published");
      expect(failed.error).toContain(said);
      expect((await env.MEDIA.list({ prefix: `videos/${videoId}/hls/` })).objects).toEqual([]);
    }
  });

  it("refuses a finalize result that names files its attempt did not write (the published master's own name)", async () => {
    const { videoId, jobId } = await uploaded();
    await planned(videoId, jobId, 2);
    await runToDone(videoId, jobId, ["audio", "chunk-0000", "chunk-0001"]);
    await deliver(message(jobId, videoId, "finalize"));
    const finalize = await lastDispatch(jobId, "finalize");
    const result = { ...(await finalizeDone(finalize)), masterPlaylistKey: `videos/${videoId}/hls/master.m3u8` };
    await env.MEDIA.put(result.masterPlaylistKey, finalizeMaster(finalize));
    expect((await report(finalize, { type: "done", result })).status).toBe(204);
    expect(await status(videoId)).toMatchObject({ state: "failed" });
    expect((await status(videoId)).error).toContain("reported files it did not write");
  });

  it("presents the transcoders' token (TRANSCODER_TOKEN) with every task it hands over", async () => {
    const token = "t".repeat(40);
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"), { env: transcodingEnv({ TRANSCODER_TOKEN: token }) });
    expect((await lastDispatch(jobId, "plan")).authorization).toBe(`Bearer ${token}`);
  });

  it("runs a task once when its dispatch message is delivered twice", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const again = await deliver(message(jobId, videoId, "plan"));
    expect(again.explicitAcks).toHaveLength(1);
    expect((await dispatched(jobId)).filter((task) => task.taskId === "plan")).toHaveLength(1);
  });
});

describe("backpressure: a task waits for a free transcoder", () => {
  it("spends no retry and is not dead-lettered while every instance is busy, and the admin view says so", async () => {
    await setDoubleBusy(0, true);
    await setDoubleBusy(1, true);
    try {
      const { videoId, jobId } = await uploaded();
      for (let attempt = 1; attempt <= 5; attempt++) {
        const result = await deliver(message(jobId, videoId, "plan"), { attempts: attempt });
        // Acknowledged (and sent again with a delay), never retried: waiting uses none of the queue's retries.
        expect(result.explicitAcks).toHaveLength(1);
        expect(result.retryMessages).toEqual([]);
      }
      expect(await status(videoId)).toMatchObject({ state: "queued", transcode: { step: "plan", waitingForTranscoder: true, attempt: 1 } });
      expect(await taskRow(jobId, "plan")).toMatchObject({ state: "waiting", failures: 0, deadLetteredAt: null });

      await setDoubleBusy(1, false);
      await deliver(message(jobId, videoId, "plan"));
      expect(await lastDispatch(jobId, "plan")).toMatchObject({ instance: 1 });
      expect(await status(videoId)).toMatchObject({ state: "transcoding", transcode: { waitingForTranscoder: false } });
    } finally {
      await setDoubleBusy(0, false);
      await setDoubleBusy(1, false);
    }
  });
});

describe("attempts", () => {
  it("queues a stalled task again (lease run out) and only that one; its dead attempt's late reports change nothing", async () => {
    const shortLease = transcodingEnv({ TRANSCODE_TASK_LEASE_SECONDS: "5" });
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"), { env: shortLease });
    const plan = await lastDispatch(jobId, "plan");
    await report(plan, { type: "done", result: planResult(2) }, shortLease);
    // Both chunks were dispatched 3 s ago (the consumer's clock): their leases end 2 s from now.
    const dispatchedAt = Date.now() - 3000;
    await deliver(message(jobId, videoId, "chunk-0000"), { env: shortLease, at: dispatchedAt });
    await deliver(message(jobId, videoId, "chunk-0001"), { env: shortLease, at: dispatchedAt });
    const dead = await lastDispatch(jobId, "chunk-0001");
    const alive = await lastDispatch(jobId, "chunk-0000");

    // Now, 3 s on, chunk 0 calls back (its lease runs 5 s from now); chunk 1's transcoder went silent.
    expect((await report(alive, { type: "progress", percent: 50 }, shortLease)).status).toBe(204);
    // The cron, 5.5 s after the dispatch: only chunk 1's lease has run out.
    await runCron({ env: shortLease, at: dispatchedAt + 5500 });
    expect(await taskRow(jobId, "chunk-0001")).toMatchObject({
      state: "pending",
      attempt: 1,
      failures: 1,
      lastError: "the transcoder stopped reporting for 5 s",
    });
    expect(await taskRow(jobId, "chunk-0000")).toMatchObject({ state: "running", attempt: 1, failures: 0 });
    // The silent instance is asked to stop the attempt, in case it still runs.
    expect(await cancelled("chunk-0001")).toBe(1);
    expect((await status(videoId)).transcode).toMatchObject({ attempt: 2 });

    await deliver(message(jobId, videoId, "chunk-0001"), { env: shortLease });
    const retried = await lastDispatch(jobId, "chunk-0001");
    expect(retried).toMatchObject({ attempt: 2, attemptTag: "c0001-a2-" });
    // The dead attempt wakes up: its result is refused (409) and recorded nowhere.
    expect((await report(dead, { type: "done", result: chunkResult(dead) }, shortLease)).status).toBe(409);
    expect((await taskRow(jobId, "chunk-0001"))?.result).toBeNull();
    expect((await report(retried, { type: "done", result: chunkResult(retried) }, shortLease)).status).toBe(204);
    const stored = JSON.stringify((await taskRow(jobId, "chunk-0001"))?.result);
    expect(stored).toContain("/c0001-a2-");
    expect(stored).not.toContain("/c0001-a1-");
  });

  it("takes back a task an instance shutting down handed back: queued again, no failure counted, its late reports refused", async () => {
    const { videoId, jobId } = await uploaded();
    await planned(videoId, jobId, 2);
    await deliver(message(jobId, videoId, "chunk-0001"));
    const stopped = await lastDispatch(jobId, "chunk-0001");
    const reason = "the transcoder was shutting down (a rollout) and the task could not finish within its 900 s grace";
    expect((await report(stopped, { type: "handed-back", reason })).status).toBe(204);
    // Queued again at once (no backoff): the consumer may have tried it already, and it waits for
    // an instance while the double still counts the stopped attempt as running.
    expect(await taskRow(jobId, "chunk-0001")).toMatchObject({
      state: expect.stringMatching(/^(pending|waiting)$/),
      attempt: 1,
      failures: 0,
      instance: null,
      leaseExpiresAt: null,
      lastError: reason,
    });
    // The same report again, or any late one of that attempt: 409, nothing changes.
    expect((await report(stopped, { type: "handed-back", reason })).status).toBe(409);
    expect((await report(stopped, { type: "failed", retryable: true, reason: "ffmpeg was stopped" })).status).toBe(409);
    expect((await taskRow(jobId, "chunk-0001"))?.failures).toBe(0);

    // Another instance takes it as the next attempt, and its result counts.
    await freeTheDouble();
    await deliver(message(jobId, videoId, "chunk-0001"));
    const resumed = await lastDispatch(jobId, "chunk-0001");
    expect(resumed).toMatchObject({ attempt: 2, attemptTag: "c0001-a2-" });
    expect((await report(resumed, { type: "done", result: chunkResult(resumed) })).status).toBe(204);
    expect(await taskRow(jobId, "chunk-0001")).toMatchObject({ state: "done", attempt: 2, failures: 0 });
  });

  it("fails the job at once when the transcoder refuses the task the Worker built (400): no retry, no dead letter", async () => {
    const { videoId, jobId } = await uploaded();
    await setDoubleRefusing(0, true);
    await setDoubleRefusing(1, true);
    try {
      const delivery = await deliver(message(jobId, videoId, "plan"));
      expect(delivery.explicitAcks).toHaveLength(1);
      expect(delivery.retryMessages).toEqual([]);
    } finally {
      await setDoubleRefusing(0, false);
      await setDoubleRefusing(1, false);
    }
    const failed = await status(videoId);
    expect(failed).toMatchObject({ state: "failed", transcode: { step: "failed" } });
    expect(failed.error).toContain("the transcoder refused the plan step as the Worker built it");
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "failed" });
  });

  it("fails the video with the transcoder's own words when it refuses the source", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const plan = await lastDispatch(jobId, "plan");
    const refusal = "no video stream: the file holds only audio";
    const response = await report(plan, {
      type: "failed",
      retryable: false,
      reason: refusal,
      qualityReport: { ok: false, refusal, warnings: [], source: null },
    });
    expect(response.status).toBe(204);
    expect(await status(videoId)).toMatchObject({
      state: "failed",
      error: refusal,
      qualityReport: { ok: false, refusal },
      transcode: { step: "failed", attempt: 2 },
    });
    // Its later reports are stale.
    expect((await report(plan, { type: "progress", percent: 99 })).status).toBe(409);
  });

  it("fails the video saying which task failed how often, stops the others and deletes what the job wrote", async () => {
    const twice = transcodingEnv({ TRANSCODE_TASK_MAX_ATTEMPTS: "2" });
    const { videoId, jobId } = await uploaded();
    await planned(videoId, jobId, 2);
    await env.MEDIA.put(`videos/${videoId}/hls/240p/c0000-a1-00000.m4s`, "written by chunk 0");
    await deliver(message(jobId, videoId, "chunk-0000"), { env: twice });
    await deliver(message(jobId, videoId, "chunk-0001"), { env: twice });
    const other = await lastDispatch(jobId, "chunk-0000");
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (attempt > 1) await deliver(message(jobId, videoId, "chunk-0001"), { env: twice });
      const chunk = await lastDispatch(jobId, "chunk-0001");
      expect(chunk.attempt).toBe(attempt);
      const reason = "ffmpeg made no progress for 120 s and was stopped";
      expect((await report(chunk, { type: "failed", retryable: true, reason }, twice)).status).toBe(204);
    }
    expect(await status(videoId)).toMatchObject({
      state: "failed",
      error: "transcoding failed: chunk 2 failed 2 times; the last time: ffmpeg made no progress for 120 s and was stopped",
      transcode: { step: "failed", attempt: 3 },
    });
    expect(await cancelled(other.taskId)).toBeGreaterThanOrEqual(1);
    expect((await report(other, { type: "done", result: chunkResult(other) }, twice)).status).toBe(409);
    expect((await env.MEDIA.list({ prefix: `videos/${videoId}/hls/` })).objects).toEqual([]);
  });
});

describe("a job's step and its tasks change together", () => {
  it("publishes a job whose chunk tasks could not be created once: the plan's report changed nothing, and its retry plans", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const plan = await lastDispatch(jobId, "plan");
    // Postgres refuses this job's chunk tasks while the plan's result comes in: the report fails
    // whole (a 5xx, which the transcoder sends again), and nothing of it stays.
    const refused = await withTaskInsertFault(jobId, "chunk", () => report(plan, { type: "done", result: planResult(2) }));
    expect(refused.status).toBe(500);
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "running", attempt: 1, result: null });
    expect((await status(videoId)).transcode).toMatchObject({ step: "plan", chunksTotal: 0 });
    // The transcoder's retry of the same report: the job plans, encodes and publishes.
    expect((await report(plan, { type: "done", result: planResult(2) })).status).toBe(204);
    expect((await status(videoId)).transcode).toMatchObject({ step: "encode", chunksTotal: 2 });
    await runToDone(videoId, jobId, ["audio", "chunk-0000", "chunk-0001", "finalize"]);
    expect(await status(videoId)).toMatchObject({ state: "ready", transcode: { step: "done", chunksDone: 2, attempt: 1 } });
  });

  it("has the cron recreate what a step is missing from the stored plan, once, move a finished step on, and the job publishes", async () => {
    const { videoId, jobId } = await uploaded();
    const tasksOf = () =>
      withDatabase((db) =>
        db
          .select({ id: transcodeTasks.id, createdAt: transcodeTasks.createdAt })
          .from(transcodeTasks)
          .where(eq(transcodeTasks.jobId, jobId))
          .orderBy(transcodeTasks.id),
      );
    const remove = (ids: string[]) =>
      withDatabase((db) => db.delete(transcodeTasks).where(and(eq(transcodeTasks.jobId, jobId), inArray(transcodeTasks.id, ids))));
    /** The cron twice: the second run finds nothing left to repair. */
    const cronTwice = async () => {
      await runCron();
      const repaired = await tasksOf();
      await runCron();
      expect(await tasksOf()).toEqual(repaired);
    };

    // The plan step without its plan task (what a job row without its task, from before steps
    // and tasks changed together, would be).
    await remove(["plan"]);
    await cronTwice();
    expect(await taskRow(jobId, "plan")).toMatchObject({ attempt: 0, state: expect.stringMatching(/^(pending|waiting)$/) });
    await planned(videoId, jobId, 2);

    // The encode step without its tasks: made again from the stored plan.
    await remove(["audio", "chunk-0000", "chunk-0001"]);
    await cronTwice();
    expect((await tasksOf()).map((task) => task.id)).toEqual(["audio", "chunk-0000", "chunk-0001", "plan"]);
    await runToDone(videoId, jobId, ["audio", "chunk-0000", "chunk-0001"]);

    // Every chunk and the audio done, yet the job still encodes: the cron moves it on.
    await remove(["finalize"]);
    await withDatabase((db) => db.update(transcodeJobs).set({ step: "encode" }).where(eq(transcodeJobs.id, jobId)));
    await cronTwice();
    expect((await status(videoId)).transcode).toMatchObject({ step: "finalize" });

    // The finalize step without its task.
    await remove(["finalize"]);
    await cronTwice();
    await runToDone(videoId, jobId, ["finalize"]);
    expect(await status(videoId)).toMatchObject({ state: "ready", transcode: { step: "done", chunksDone: 2, chunksTotal: 2 } });
  });
});

describe("the callback route", () => {
  it("refuses a plan with more chunks than the master's duration allows (a forged plan fanning one file out)", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const plan = await lastDispatch(jobId, "plan");
    // 20 s in chunks of 10 s: at most 2 ranges.
    expect((await report(plan, { type: "done", result: planResult(3) })).status).toBe(204);
    expect(await taskRow(jobId, "plan")).toMatchObject({ state: "pending", lastError: expect.stringContaining("3 ranges for 20 s") });
    expect((await status(videoId)).transcode).toMatchObject({ step: "plan", chunksTotal: 0 });
  });

  it("takes only the task's own grant and a well-formed report", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const plan = await lastDispatch(jobId, "plan");
    expect((await call("/internal/transcode/callback", { method: "POST", json: {}, env: transcodingEnv() })).status).toBe(401);
    expect((await report({ ...plan, taskId: "chunk-0000" }, { type: "progress", percent: 1 })).status).toBe(403);
    const malformed = await call("/internal/transcode/callback", {
      method: "POST",
      token: plan.storage.token,
      json: { jobId, videoId, taskId: "plan", kind: "plan", attempt: 1, event: { type: "progress", percent: 500 } },
      env: transcodingEnv(),
    });
    expect(malformed.status).toBe(400);
    // A result that is not the kind's shape counts as a failed attempt, to be run again.
    expect((await report(plan, { type: "done", result: { kind: "plan" } as never })).status).toBe(204);
    expect(await taskRow(jobId, "plan")).toMatchObject({
      state: "pending",
      failures: 1,
      lastError: expect.stringMatching(/^the transcoder's plan result is malformed/),
    });
  });

  it("answers 410 once the video (and its job) is deleted, so the transcoder stops", async () => {
    const { videoId, jobId } = await uploaded();
    await deliver(message(jobId, videoId, "plan"));
    const plan = await lastDispatch(jobId, "plan");
    expect((await call(`/v1/admin/videos/${videoId}`, { method: "DELETE", token: admin })).status).toBe(204);
    expect((await report(plan, { type: "progress", percent: 10 })).status).toBe(410);
  });
});

describe("the consumer", () => {
  it("records a dispatch message that was dead-lettered on its task, which the cron sends again", async () => {
    const { videoId, jobId } = await uploaded();
    const result = await deliver(message(jobId, videoId, "plan"), { queue: "reelstream-transcode-dlq", attempts: 4 });
    expect(result.explicitAcks).toHaveLength(1);
    const row = await taskRow(jobId, "plan");
    expect(row).toMatchObject({ lastError: "its dispatch message failed 4 times and was dead-lettered" });
    expect(["pending", "waiting"]).toContain(row?.state);
    expect(row?.deadLetteredAt).not.toBeNull();
    // Ten minutes later no dispatch has come: the cron sends another message (and notes when). The
    // dead-letter handling may still touch the row a moment after it answered (seen 163 ms later on
    // a loaded CI run), so "ten minutes later" has a few seconds to spare.
    const later = Date.now() + 10 * 60_000 + 5_000;
    await runCron({ at: later });
    expect((await taskRow(jobId, "plan"))?.updatedAt.getTime()).toBe(later);
  });

  it("gives up a message at the consumer's wall clock, as Cloudflare ends the invocation, and retries it", async () => {
    // Both instances take the request and never answer: the dispatch outlasts a 1 s wall clock.
    await setDoubleHanging(0, true);
    await setDoubleHanging(1, true);
    const oneSecond = transcodingEnv({ QUEUE_CONSUMER_WALL_CLOCK_SECONDS: "1" });
    const { videoId, jobId } = await uploaded();
    const started = Date.now();
    const result = await deliver(message(jobId, videoId, "plan"), { env: oneSecond });
    // Ended by the 1 s wall clock: not before it, and long before anything else would have ended it
    // (each hanging instance's dispatch times out after 60 s; the test after 20). How far past 1 s
    // depends on how busy the machine is, so the upper bound leaves room for that.
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(15_000);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.explicitAcks).toEqual([]);
    await setDoubleHanging(0, false);
    await setDoubleHanging(1, false);
  });
});
