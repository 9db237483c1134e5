import type { ChildProcess } from "node:child_process";
import { cp, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import type { ChunkTask, PlanResult, PlanTask, TaskAccepted, TaskCallback, TranscoderBusy } from "../../workers/transcoding/contract.ts";
import { makeClip, makeTempDir } from "../test/clips.ts";
import { type CallbackServer, type RunningServer, startCallbackServer, startServerProcess, waitFor } from "../test/server-process.ts";
import { FsStorage } from "./fs-storage.ts";

/**
 * `POST /tasks` as the Worker uses it: dispatch answers at once, progress and the result come back
 * as callbacks carrying the task's grant and attempt, one task at a time per instance, and an
 * attempt the Worker no longer wants (409) stops. The server runs as its own process.
 */

const token = "storage-grant";
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bucket: FsStorage;
let storage: StorageServer;
let callbacks: CallbackServer<TaskCallback>;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("server-tasks");
  bucket = new FsStorage(join(temp.dir, "bucket"));
  storage = await startStorageServer(bucket, { token });
  callbacks = await startCallbackServer<TaskCallback>();
  // 24 s at 320x240, a keyframe every second: three chunks of 8 s.
  const clip = await makeClip(temp.dir, "clip", { seconds: 24, output: ["-g", "30"] });
  await bucket.upload("masters/t1/source", clip);
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  callbacks.answer = () => 204;
  callbacks.received.length = 0;
});

afterAll(async () => {
  await Promise.all([storage?.close(), callbacks?.close()]);
  await temp?.remove();
});

const startServer = (env: Record<string, string> = {}, entry?: string) =>
  startServerProcess(children, { workDir: join(temp.dir, `work-${children.length}-${Date.now()}`), env, entry });

const envelope = (taskId: string, attempt = 1) => ({
  jobId: "job-t1",
  videoId: "t1",
  taskId,
  attempt,
  sourceKey: "masters/t1/source",
  outputPrefix: "videos/t1/hls/",
  storage: { baseUrl: storage.baseUrl, token, sourceToken: token },
  callbackUrl: callbacks.url,
});
const planTask = (attempt = 1): PlanTask => ({
  ...envelope("plan", attempt),
  kind: "plan",
  attemptTag: `plan-a${attempt}-`,
  chunkSeconds: 8,
});

const post = (server: RunningServer, body: unknown) =>
  fetch(`${server.url}/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

const final = (taskId: string, attempt: number) =>
  callbacks.received.find(({ body }) => body.taskId === taskId && body.attempt === attempt && body.event.type !== "progress");

/** Plans the clip through the server (the chunk tests need a plan). */
async function planThrough(server: RunningServer): Promise<PlanResult> {
  expect((await post(server, planTask())).status).toBe(202);
  await waitFor(() => final("plan", 1) !== undefined, "the plan's result", 30_000);
  const event = final("plan", 1)?.body.event;
  if (event?.type !== "done") throw new Error(`the plan failed: ${JSON.stringify(event)}`);
  return event.result as PlanResult;
}

const chunkTask = (plan: PlanResult, index: number, attempt = 1): ChunkTask => ({
  ...envelope(`chunk-${index}`, attempt),
  kind: "chunk",
  attemptTag: `c${String(index).padStart(4, "0")}-a${attempt}-`,
  encode: plan.encode,
  chunk: plan.chunks[index] as ChunkTask["chunk"],
});

describe("the transcoder server", () => {
  it("answers health checks, and 404 or 405 elsewhere", async () => {
    const server = await startServer();
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({
      status: "ok",
      busy: false,
      running: null,
      scratchQuotaBytes: null,
    });
    expect((await fetch(`${server.url}/tasks`)).status).toBe(405);
    expect((await fetch(`${server.url}/jobs`, { method: "POST" })).status).toBe(404);
  });

  it("demands its own bearer token when one is configured, for tasks and cancels", async () => {
    const server = await startServer({ TRANSCODER_TOKEN: "container-secret" });
    expect((await post(server, planTask())).status).toBe(401);
    expect((await fetch(`${server.url}/tasks/plan`, { method: "DELETE" })).status).toBe(401);
    const response = await fetch(`${server.url}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer container-secret" },
      body: JSON.stringify(planTask(4)),
    });
    expect(response.status).toBe(202);
    await waitFor(() => final("plan", 4) !== undefined, "the plan's result", 30_000);
  }, 60_000);

  it("repeats the last progress callback while a task is quiet, so the lease sees it alive", async () => {
    // Every read of the master waits a second: the plan makes no progress for a while.
    const slow = await startStorageServer(bucket, { token, getDelayMs: 1000 });
    try {
      const server = await startServer({ TRANSCODER_HEARTBEAT_SECONDS: "0.2" });
      expect((await post(server, { ...planTask(5), storage: { baseUrl: slow.baseUrl, token, sourceToken: token } })).status).toBe(202);
      await waitFor(() => final("plan", 5) !== undefined, "the plan's result", 60_000);
      const repeats = callbacks.received.filter(({ body }) => body.event.type === "progress" && body.event.percent === 0);
      expect(repeats.length).toBeGreaterThanOrEqual(3);
      expect(final("plan", 5)?.body.event.type).toBe("done");
    } finally {
      await slow.close();
    }
  }, 90_000);

  it("removes what a killed predecessor left in its work folder when it starts", async () => {
    const slow = await startStorageServer(bucket, { token, putDelayMs: 300 });
    try {
      const workDir = join(temp.dir, "killed-work");
      const doomed = await startServerProcess(children, { workDir });
      const plan = await planThrough(doomed);
      const putsBefore = slow.puts();
      expect((await post(doomed, { ...chunkTask(plan, 0, 7), storage: { baseUrl: slow.baseUrl, token, sourceToken: token } })).status).toBe(
        202,
      );
      await waitFor(() => slow.puts() >= putsBefore + 1, "the chunk's first upload", 60_000);
      doomed.child.kill("SIGKILL");
      expect((await readdir(workDir)).length).toBe(1);

      const next = await startServerProcess(children, { workDir });
      expect(await readdir(workDir)).toEqual([]);
      expect(next.logs[0]).toMatch(/^listening on /);
    } finally {
      await slow.close();
    }
  }, 90_000);
});

describe("POST /tasks", () => {
  it("answers 202 at once and reports progress and the result by callback, with the grant and the attempt", async () => {
    const server = await startServer({ TRANSCODER_PROGRESS_SECONDS: "0.1" });
    const started = performance.now();
    const response = await post(server, planTask());
    expect(performance.now() - started).toBeLessThan(1000);
    expect(response.status).toBe(202);
    expect((await response.json()) as TaskAccepted).toEqual({ taskId: "plan", attempt: 1, state: "started" });

    await waitFor(() => final("plan", 1) !== undefined, "the plan's result", 30_000);
    const done = final("plan", 1);
    expect(done?.authorization).toBe(`Bearer ${token}`);
    expect(done?.body).toMatchObject({ jobId: "job-t1", videoId: "t1", taskId: "plan", kind: "plan", attempt: 1, event: { type: "done" } });
    const result = done?.body.event.type === "done" ? (done.body.event.result as PlanResult) : null;
    expect(result?.chunks.map((chunk) => chunk.startSeconds)).toEqual([0, 8, 16]);
    const progress = callbacks.received.filter(({ body }) => body.event.type === "progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every(({ body }) => body.taskId === "plan" && body.attempt === 1)).toBe(true);
    await waitFor(async () => !((await (await fetch(`${server.url}/healthz`)).json()) as { busy: boolean }).busy, "the slot to free");
    expect(await readdir(server.workDir)).toEqual([]);
  });

  it("runs one task at a time: the same attempt again is accepted once, anything else is 429 with who runs", async () => {
    const server = await startServer();
    const plan = await planThrough(server);
    callbacks.received.length = 0;
    expect((await post(server, chunkTask(plan, 0))).status).toBe(202);

    const again = await post(server, chunkTask(plan, 0));
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({ taskId: "chunk-0", attempt: 1, state: "already-running" });
    const other = await post(server, chunkTask(plan, 1));
    expect(other.status).toBe(429);
    expect(other.headers.get("retry-after")).toBe("30");
    expect((await other.json()) as TranscoderBusy).toEqual({ error: "busy with task chunk-0", running: { taskId: "chunk-0", attempt: 1 } });

    await waitFor(() => final("chunk-0", 1) !== undefined, "chunk 0's result", 60_000);
    expect(final("chunk-0", 1)?.body.event).toMatchObject({ type: "done", result: { kind: "chunk", index: 0 } });
    // Started once: one result, one start in the log.
    expect(callbacks.received.filter(({ body }) => body.event.type === "done")).toHaveLength(1);
    expect(server.logs.filter((line) => line.includes("started chunk"))).toHaveLength(1);
  }, 90_000);

  it("stops an attempt the Worker answers 409 (superseded), taking back what it stored", async () => {
    const server = await startServer({ TRANSCODER_PROGRESS_SECONDS: "0.1", TRANSCODER_HEARTBEAT_SECONDS: "0.2" });
    const plan = await planThrough(server);
    // Attempt 1 of chunk 1 is no longer current at the Worker: every callback of it gets 409.
    callbacks.answer = (body) => (body.taskId === "chunk-1" && body.attempt === 1 ? 409 : 204);
    expect((await post(server, chunkTask(plan, 1, 1))).status).toBe(202);
    await waitFor(() => server.logs.some((line) => /task=chunk-1 attempt=1 .* superseded/.test(line)), "the attempt to stop", 30_000);
    await waitFor(async () => !((await (await fetch(`${server.url}/healthz`)).json()) as { busy: boolean }).busy, "the slot to free");
    expect((await bucket.list("videos/t1/hls/")).filter((key) => key.includes("c0001-a1-"))).toEqual([]);
  }, 60_000);

  it("delivers the result again until the Worker takes it", async () => {
    const server = await startServer();
    let refusals = 0;
    callbacks.answer = (body) => (body.event.type === "done" && refusals++ < 2 ? 503 : 204);
    expect((await post(server, planTask(2))).status).toBe(202);
    await waitFor(
      () => callbacks.received.some(({ body, status }) => body.event.type === "done" && status === 204),
      "the delivered result",
      30_000,
    );
    expect(callbacks.received.filter(({ body }) => body.event.type === "done").map(({ status }) => status)).toEqual([503, 503, 204]);
  }, 60_000);

  it("on SIGTERM takes no new task, finishes the running one, delivers its result and exits", async () => {
    const server = await startServer({ TRANSCODER_GRACE_SECONDS: "120" });
    const plan = await planThrough(server);
    expect((await post(server, chunkTask(plan, 0))).status).toBe(202);
    await waitFor(
      () => callbacks.received.some(({ body }) => body.taskId === "chunk-0" && body.event.type === "progress"),
      "the chunk under way",
    );
    const exited = new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code)));
    server.child.kill("SIGTERM");
    await waitFor(() => server.logs.some((line) => line.startsWith("SIGTERM: draining")), "the drain to start");
    const refused = await post(server, chunkTask(plan, 1));
    expect(refused.status).toBe(503);
    expect(await exited).toBe(0);
    expect(final("chunk-0", 1)?.body.event.type).toBe("done");
    expect(final("chunk-1", 1)).toBeUndefined();
    expect(server.logs).toContain("drained: the running task finished");
  });

  it("on SIGTERM hands back a task that cannot finish within the grace, as handed-back (not failed), and exits", async () => {
    const server = await startServer({ TRANSCODER_GRACE_SECONDS: "3", TRANSCODER_PROGRESS_SECONDS: "0.1" });
    const plan = await planThrough(server);
    // Every read of the master waits a second: the chunk takes far longer than the 3 s grace.
    const slow = await startStorageServer(bucket, { token, getDelayMs: 1000 });
    try {
      const task = { ...chunkTask(plan, 1), storage: { baseUrl: slow.baseUrl, token, sourceToken: token } };
      expect((await post(server, task)).status).toBe(202);
      await waitFor(() => server.logs.some((line) => line.includes("started chunk")), "the chunk under way");
      const exited = new Promise<number | null>((resolve) => server.child.once("exit", (code) => resolve(code)));
      const signalled = Date.now();
      server.child.kill("SIGTERM");
      expect(await exited).toBe(0);
      // Within the grace: stopped at 1.5 s (half kept for the hand-back), out before SIGKILL would come.
      expect(Date.now() - signalled).toBeLessThan(3000);
      expect(final("chunk-1", 1)?.body.event).toEqual({
        type: "handed-back",
        reason: "the transcoder was shutting down (a rollout) and the task could not finish within its 3 s grace",
      });
      expect(callbacks.received.filter(({ body }) => body.event.type === "failed")).toEqual([]);
      expect(server.logs).toContain("drained: the running task could not finish in time and was handed back");
      expect((await bucket.list("videos/t1/hls/")).filter((key) => key.includes("c0001-a1-"))).toEqual([]);
    } finally {
      await slow.close();
    }
  }, 60_000);

  it("with TRANSCODER_STORAGE_ORIGINS, refuses a task that names another origin (403) and never reaches it", async () => {
    const elsewhere = await startStorageServer(bucket, { token });
    try {
      const server = await startServer({
        TRANSCODER_STORAGE_ORIGINS: `${new URL(storage.baseUrl).origin},${new URL(callbacks.url).origin}`,
      });
      const response = await post(server, { ...planTask(6), storage: { baseUrl: elsewhere.baseUrl, token, sourceToken: token } });
      expect(response.status).toBe(403);
      expect(await response.json()).toEqual({
        error: "task names an origin this transcoder may not reach",
        errors: [`storage.baseUrl: ${new URL(elsewhere.baseUrl).origin} is not the storage origin this transcoder may reach`],
      });
      expect(elsewhere.reads).toEqual([]);
      expect(elsewhere.authorizations.size).toBe(0);
      // The storage origin works as before.
      expect((await post(server, planTask(6))).status).toBe(202);
      await waitFor(() => final("plan", 6) !== undefined, "the plan's result", 30_000);
      expect(final("plan", 6)?.body.event.type).toBe("done");
    } finally {
      await elsewhere.close();
    }
  }, 60_000);

  it("cancels a running task on DELETE /tasks/{taskId}", async () => {
    const server = await startServer();
    const plan = await planThrough(server);
    expect((await post(server, chunkTask(plan, 2))).status).toBe(202);
    expect((await fetch(`${server.url}/tasks/chunk-9`, { method: "DELETE" })).status).toBe(404);
    expect((await fetch(`${server.url}/tasks/chunk-2`, { method: "DELETE" })).status).toBe(204);
    await waitFor(() => final("chunk-2", 1) !== undefined, "the cancelled task's result");
    expect(final("chunk-2", 1)?.body.event).toEqual({ type: "failed", retryable: true, reason: "the job was cancelled" });
  }, 60_000);

  it("holds every task to the instance's scratch quota (TRANSCODER_SCRATCH_BYTES), and says so", async () => {
    const server = await startServer({ TRANSCODER_SCRATCH_BYTES: "2M" });
    expect(((await (await fetch(`${server.url}/healthz`)).json()) as { scratchQuotaBytes: number }).scratchQuotaBytes).toBe(2 * 1024 ** 2);
    expect(server.logs[0]).toContain("scratch quota 2.0 MiB");
    const plan = await planThrough(server);
    expect((await post(server, chunkTask(plan, 0))).status).toBe(202);
    await waitFor(() => final("chunk-0", 1) !== undefined, "chunk 0's result");
    expect(final("chunk-0", 1)?.body.event).toMatchObject({
      type: "failed",
      retryable: false,
      reason: expect.stringMatching(
        /^not enough scratch disk: this task needs up to [\d.]+ MiB of scratch disk .* more than the 2\.0 MiB this transcoder has/,
      ),
    });
  }, 60_000);

  it("lists what is wrong with a task", async () => {
    const server = await startServer();
    const response = await post(server, {
      ...planTask(),
      attemptTag: "../x",
      chunkSeconds: -1,
      storage: { baseUrl: "ftp://x", token: "", sourceToken: "" },
      limits: { maxWidth: -1, fps: 30 },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error: "invalid task",
      errors: [
        "attemptTag: letters, digits, '.', '_' and '-' only (it starts object names)",
        "storage.baseUrl: must be an http(s) URL",
        "storage.token: must be a non-empty string",
        "storage.sourceToken: must be a non-empty string",
        "limits.maxWidth: must be a positive number",
        "limits.fps: unknown limit",
        "chunkSeconds: must be a positive number",
      ],
    });
    expect(await (await post(server, { kind: "transcode" })).json()).toEqual({
      error: "invalid task",
      errors: ["kind: must be one of plan, chunk, audio, finalize"],
    });
  });

  it("runs from what the image holds alone: its sources, the contract, zod and mediabunny", async () => {
    // The Dockerfile's COPY lines: transcoder/src (no tests), workers/transcoding/contract.ts, and
    // zod and mediabunny in node_modules, laid out as in the repository; nothing else of it exists at run time.
    const repo = join(import.meta.dirname, "..", "..");
    const image = join(temp.dir, "image", "app");
    await mkdir(join(image, "workers", "transcoding"), { recursive: true });
    await cp(join(repo, "transcoder", "src"), join(image, "transcoder", "src"), {
      recursive: true,
      filter: (path) => !path.endsWith(".test.ts"),
    });
    await cp(join(repo, "workers", "transcoding", "contract.ts"), join(image, "workers", "transcoding", "contract.ts"));
    for (const dependency of ["zod", "mediabunny"]) {
      await cp(join(repo, "node_modules", dependency), join(image, "node_modules", dependency), { recursive: true, dereference: true });
    }
    await writeFile(join(image, "package.json"), '{ "type": "module", "private": true }');
    const server = await startServer({}, join(image, "transcoder", "src", "server.ts"));
    expect((await post(server, planTask(3))).status).toBe(202);
    await waitFor(() => final("plan", 3) !== undefined, "the plan's result", 30_000);
    expect(final("plan", 3)?.body.event.type).toBe("done");
    // Three chunks: the keyframes came from the master's index (mediabunny), not a packet scan.
    expect(server.logs.join("\n")).toMatch(/keyframes from the mp4 index/);
  }, 60_000);
});
