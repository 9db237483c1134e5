import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { makeClip } from "../transcoder/test/clips.ts";
import { databaseFromEnv, type LocalStack, rollTranscoder, startLocalStack } from "./lib/local-stack/index.ts";
import { until } from "./lib/processes.ts";
import { adminToken, createVideo, latestJobTasks, tusUpload, waitForVideo } from "./lib/upload-client.ts";

/**
 * A rollout on the local stack with two real transcoder processes: one is SIGTERMed in the middle
 * of a chunk that cannot finish within the grace (`TRANSCODER_GRACE_SECONDS`, 20 s here, the same
 * code path as production's 15 minutes). It takes no new task, stops the chunk, hands it back and
 * exits before the stack's SIGKILL; the chunk runs again elsewhere with no failure counted, and
 * the video publishes.
 */
describe("a rollout during a transcode", () => {
  const graceSeconds = 20;
  let stack: LocalStack;
  let token: string;
  const work = mkdtempSync(join(tmpdir(), "reelstream-rollout-"));

  beforeAll(async () => {
    stack = await startLocalStack({
      main: testWorkerEntry,
      database: databaseFromEnv("TEST"),
      transcoders: 2,
      transcoderGraceSeconds: graceSeconds,
      cronSeconds: 2,
      vars: {
        TRANSCODE_CHUNK_SECONDS: "8",
        TRANSCODE_CAPACITY_WAIT_SECONDS: "2",
        QUEUE_CONSUMER_WALL_CLOCK_SECONDS: "60",
        DATABASE_TIMEOUT_MS: "15000",
      },
      transcoderEnv: { TRANSCODER_HEARTBEAT_SECONDS: "2", TRANSCODER_PROGRESS_SECONDS: "0.5" },
    });
    token = await adminToken(stack.url, stack.database, {
      email: `rollout-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Rollout",
    });
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it("hands back the chunk an instance could not finish within its grace, counts no failure, and publishes", async () => {
    // 16 s of 720p in chunks of 8 s: each chunk (four rungs) runs well past the 20 s grace on one core.
    const clip = await makeClip(work, "rollout", { size: "1280x720", seconds: 16, output: ["-g", "30"] });
    const videoId = await createVideo(stack.url, token, { title: "Rollout", summary: "Generated.", genres: ["test"], releaseYear: 1974 });
    await tusUpload(stack.url, token, videoId, clip);

    // A chunk not yet half done: it cannot finish within the grace.
    const victim = await until(
      "a chunk under way",
      async () =>
        (await latestJobTasks(stack.database, videoId)).find(
          (task) => task.kind === "chunk" && task.state === "running" && (task.progress ?? 0) < 0.5,
        ),
      240_000,
    );
    const rolled = stack.transcoders.find((transcoder) => transcoder.url === victim.instance);
    if (!rolled) throw new Error(`no transcoder at ${victim.instance}`);
    const old = rolled.process;
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      old.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const signalledAt = new Date();
    const { stoppedAfterMs } = await rollTranscoder(rolled);
    const restartedAt = new Date();
    // It went by itself, within the grace: the stack's SIGKILL was not needed.
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(stoppedAfterMs).toBeLessThan(graceSeconds * 1000);

    const status = await waitForVideo(stack.url, token, videoId, { timeoutMs: 300_000 });
    expect(status.error).toBeNull();
    expect(status.state).toBe("ready");
    const tasks = await latestJobTasks(stack.database, videoId);
    // No failure counted anywhere; the handed-back chunk ran as its next attempt.
    expect(tasks.filter((task) => task.failures > 0)).toEqual([]);
    // (Attempt numbers also move on dispatches an instance refused, as the draining one does.)
    const resumed = tasks.find((task) => task.id === victim.id);
    expect(resumed).toMatchObject({
      state: "done",
      failures: 0,
      lastError: `the transcoder was shutting down (a rollout) and the task could not finish within its ${graceSeconds} s grace`,
    });
    expect(resumed?.attempt).toBeGreaterThan(victim.attempt);
    // No other task was stopped or failed.
    expect(tasks.filter((task) => task.id !== victim.id && task.lastError !== null)).toEqual([]);
    // The draining instance took no new task between its SIGTERM and its replacement.
    const takenWhileDraining = tasks.filter(
      (task) =>
        task.instance === victim.instance &&
        task.dispatchedAt !== null &&
        task.dispatchedAt > signalledAt &&
        task.dispatchedAt < restartedAt,
    );
    expect(takenWhileDraining).toEqual([]);
  }, 400_000);
});
