import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TranscodeTask } from "../schema/index.ts";
import { testWorkerEntry } from "../testing/test-worker.ts";
import { makeClip } from "../transcoder/test/clips.ts";
import { downloadOutputs, referencedKeys, renditionPlaylistKey } from "./lib/hls-outputs.ts";
import { databaseFromEnv, type LocalStack, startLocalStack, startTranscoder } from "./lib/local-stack/index.ts";
import { until } from "./lib/processes.ts";
import {
  type AdminVideoStatus,
  adminSession,
  createVideo,
  latestJobTasks,
  tusUpload,
  videoStatus,
  waitForVideo,
} from "./lib/upload-client.ts";

/**
 * What a fleet of transcoders must survive, on the local stack with two of them: one killed in the
 * middle of a chunk (only that chunk runs again; nothing orphaned or doubled in R2), and a burst of
 * uploads larger than the fleet (every video waits its turn, none fails, nothing is dead-lettered).
 */
describe("transcoding on two instances, under failure and load", () => {
  let stack: LocalStack;
  /** An admin's token, signed in again when it is 4 minutes old: the file outlasts one access token (5 minutes). */
  let token: () => Promise<string>;
  const work = mkdtempSync(join(tmpdir(), "reelstream-resilience-"));

  beforeAll(async () => {
    stack = await startLocalStack({
      // The production app with the test Worker's routes, which read R2 back (downloadOutputs).
      main: testWorkerEntry,
      database: databaseFromEnv("TEST"),
      transcoders: 2,
      cronSeconds: 2,
      vars: {
        TRANSCODE_CHUNK_SECONDS: "4",
        // A dead transcoder is noticed after 8 s without a callback (its heartbeat is every 10 s by
        // default: here every 2 s, so a live one is never mistaken for dead).
        TRANSCODE_TASK_LEASE_SECONDS: "8",
        TRANSCODE_CAPACITY_WAIT_SECONDS: "2",
        QUEUE_CONSUMER_WALL_CLOCK_SECONDS: "60",
        DATABASE_TIMEOUT_MS: "15000",
      },
      transcoderEnv: { TRANSCODER_HEARTBEAT_SECONDS: "2", TRANSCODER_PROGRESS_SECONDS: "1" },
    });
    token = adminSession(stack.url, stack.database, {
      email: `resilience-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Resilience",
    });
  }, 240_000);

  afterAll(async () => {
    // The transcoder restarted in the first test is the stack's (`stack.transcoders`): stopped with it.
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  async function upload(title: string, clip: string): Promise<string> {
    const videoId = await createVideo(stack.url, await token(), { title, summary: "Generated.", genres: ["test"], releaseYear: 1974 });
    await tusUpload(stack.url, await token(), videoId, clip);
    return videoId;
  }

  it("runs again only the chunk whose transcoder was killed mid-chunk, and leaves R2 with no orphan or duplicate segment", async () => {
    // 24 s in chunks of 4 s: six chunks, two at a time. 720p, so that a chunk (four rungs) runs
    // long enough to be caught halfway.
    const clip = await makeClip(work, "killed", { size: "1280x720", seconds: 24, output: ["-g", "30"] });
    const videoId = await upload("Killed transcoder", clip);

    // A chunk halfway: running, with progress reported. Its transcoder is frozen (SIGSTOP: it can
    // send nothing more) and its row read again once a callback already sent has had time to land,
    // so the kill is known to land mid-chunk: a short chunk may finish between the poll that saw it
    // and the signal, and then it is not the victim.
    const victim = await until("a chunk halfway, frozen before it finished", async () => {
      const running = (await latestJobTasks(stack.database, videoId)).find(
        (task) => task.kind === "chunk" && task.state === "running" && (task.progress ?? 0) >= 0.3,
      );
      const transcoder = stack.transcoders.find((candidate) => candidate.url === running?.instance);
      if (!running || !transcoder) return undefined;
      process.kill(-(transcoder.process.pid as number), "SIGSTOP");
      // A callback already on the wire still lands: give it time before reading the row again.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const now = (await latestJobTasks(stack.database, videoId)).find((task) => task.id === running.id);
      if (now?.state === "running" && now.attempt === running.attempt) return running;
      process.kill(-(transcoder.process.pid as number), "SIGCONT");
      return undefined;
    });
    const index = stack.transcoders.findIndex((transcoder) => transcoder.url === victim.instance);
    const killed = stack.transcoders[index];
    if (!killed) throw new Error(`no transcoder at ${victim.instance}`);
    const exited = new Promise((resolve) => killed.process.once("exit", resolve));
    // The whole process group: the transcoder and its ffmpeg, as a crashed container goes.
    process.kill(-(killed.process.pid as number), "SIGKILL");
    await exited;
    // It comes back (a new container instance), empty.
    killed.process = startTranscoder(killed.port, {
      workDir: killed.workDir,
      name: `transcoder-${index + 1}`,
      scratchBytes: killed.scratchBytes,
    });

    const status = await waitForVideo(stack.url, token, videoId, { timeoutMs: 300_000 });
    expect(status.error).toBeNull();
    expect(status.state).toBe("ready");
    expect(status.transcode).toMatchObject({ step: "done", chunksTotal: 6, chunksDone: 6, attempt: 2 });

    const tasks = await latestJobTasks(stack.database, videoId);
    const again = tasks.filter((task) => task.failures > 0);
    expect(again.map((task) => task.id)).toEqual([victim.id]);
    expect(again[0]).toMatchObject({ failures: 1, state: "done", lastError: "the transcoder stopped reporting for 8 s" });

    // Exactly what the playlists lead to is stored, and each chunk's segments come from one attempt.
    const prefix = `videos/${videoId}/hls/`;
    const { keys, storage } = await downloadOutputs(stack.url, { id: videoId, prefix }, join(work, "killed-r2"));
    expect(keys).toEqual(await referencedKeys(storage, prefix));
    for (const rung of ["240p", "360p", "480p"]) {
      const segments = readFileSync(storage.pathFor(await renditionPlaylistKey(storage, prefix, rung)), "utf8")
        .split("\n")
        .filter((line) => line.endsWith(".m4s"));
      const attempts = new Map<string, Set<string>>();
      for (const segment of segments) {
        const [, chunk, attempt] = /^c(\d{4})-a(\d+)-/.exec(segment) ?? [];
        attempts.set(chunk as string, (attempts.get(chunk as string) ?? new Set()).add(attempt as string));
      }
      expect(
        [...attempts.values()].every((set) => set.size === 1),
        `${rung}: one attempt per chunk`,
      ).toBe(true);
      expect(new Set(segments).size).toBe(segments.length);
      const victimChunk = String(victim.chunkIndex).padStart(4, "0");
      expect([...(attempts.get(victimChunk) ?? [])]).toEqual(["2"]);
    }
  }, 420_000);

  it("publishes 12 uploads at once on two instances: all ready, none failed, nothing dead-lettered, and they said they were waiting", async () => {
    const clips = await Promise.all(Array.from({ length: 12 }, (_, index) => makeClip(work, `burst-${index}`, { seconds: 3 })));
    const videoIds = await Promise.all(clips.map((clip, index) => upload(`Burst ${index}`, clip)));

    const waitingSeen = new Set<string>();
    const final = new Map<string, AdminVideoStatus>();
    const deadline = Date.now() + 400_000;
    while (final.size < videoIds.length && Date.now() < deadline) {
      for (const videoId of videoIds.filter((id) => !final.has(id))) {
        const status = await videoStatus(stack.url, await token(), videoId);
        if (status.transcode?.waitingForTranscoder) waitingSeen.add(videoId);
        if (status.state === "ready" || status.state === "failed") final.set(videoId, status);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect([...final.values()].map((status) => status.state)).toEqual(videoIds.map(() => "ready"));
    // Twelve jobs of four tasks each on two instances: most of them waited for a transcoder, and said so.
    expect(waitingSeen.size).toBeGreaterThanOrEqual(6);
    const tasks: TranscodeTask[] = (await Promise.all(videoIds.map((id) => latestJobTasks(stack.database, id)))).flat();
    expect(tasks).toHaveLength(48);
    expect(tasks.filter((task) => task.deadLetteredAt !== null)).toEqual([]);
    expect(tasks.filter((task) => task.failures > 0)).toEqual([]);
    expect(tasks.filter((task) => task.waitingSince !== null || task.state !== "done")).toEqual([]);
  }, 600_000);
});
