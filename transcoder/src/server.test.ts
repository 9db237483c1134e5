import type { ChildProcess } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { referencedKeys } from "../../scripts/lib/hls-outputs.ts";
import { type StorageServer, startStorageServer } from "../../scripts/lib/storage-server.ts";
import { ffmpeg, makeClip, makeTempDir } from "../test/clips.ts";
import { type RunningServer, startServerProcess, waitFor } from "../test/server-process.ts";
import { FsStorage } from "./fs-storage.ts";
import type { JobEvent } from "./server.ts";

/**
 * The server as it runs in the container: a separate Node process (type stripping, no build),
 * talking to storage over HTTP. Killing it is a real SIGKILL.
 */

const token = "storage-token";
let temp: Awaited<ReturnType<typeof makeTempDir>>;
let bucket: FsStorage;
let storage: StorageServer;
const children: ChildProcess[] = [];

beforeAll(async () => {
  temp = await makeTempDir("server");
  bucket = new FsStorage(join(temp.dir, "bucket"));
  storage = await startStorageServer(bucket, { token });
  const audioOnly = join(temp.dir, "audio.m4a");
  const [clip] = await Promise.all([
    makeClip(temp.dir, "clip", { seconds: 3 }),
    ffmpeg(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", audioOnly]),
  ]);
  await bucket.upload("uploads/v1/source.mp4", clip);
  await bucket.upload("uploads/v2/source.mp4", clip);
  await bucket.upload("uploads/v3/source.mp4", clip);
  await bucket.upload("uploads/v4/source.mp4", clip);
  await bucket.upload("uploads/v5/source.mp4", clip);
  await bucket.upload("uploads/audio/source.m4a", audioOnly);
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});

afterAll(async () => {
  await storage?.close();
  await temp?.remove();
});

const startServer = (options: { workDir?: string; env?: Record<string, string> } = {}) =>
  startServerProcess(children, { workDir: options.workDir ?? join(temp.dir, `work-${children.length}-${Date.now()}`), env: options.env });

const jobBody = (videoId: string, sourceKey = `uploads/${videoId}/source.mp4`) => ({
  jobId: `job-${videoId}`,
  videoId,
  sourceKey,
  outputPrefix: `videos/${videoId}/hls/`,
  storage: { baseUrl: storage.baseUrl, token },
});

const postJob = (server: RunningServer, body: unknown, init: RequestInit = {}) =>
  fetch(`${server.url}/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), ...init });

/** Reads NDJSON events as they arrive; `onEvent` may stop reading by returning true. */
async function readEvents(response: Response, onEvent: (event: JobEvent) => boolean | undefined = () => false): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf("\n");
    while (newline >= 0) {
      const event = JSON.parse(buffered.slice(0, newline)) as JobEvent;
      buffered = buffered.slice(newline + 1);
      events.push(event);
      if (onEvent(event)) return events;
      newline = buffered.indexOf("\n");
    }
  }
  return events;
}

describe("transcoder server", () => {
  it("answers health checks and unknown routes", async () => {
    const server = await startServer();
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({
      status: "ok",
      busy: false,
      running: null,
      scratchQuotaBytes: null,
    });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/jobs`)).status).toBe(405);
  });

  it("rejects an invalid job with the reasons", async () => {
    const server = await startServer();
    const response = await postJob(server, { jobId: "j", storage: { baseUrl: "ftp://x", token: "" } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      errors: expect.arrayContaining([
        "videoId: must be a non-empty string",
        "storage.token: must be a non-empty string",
        "storage.baseUrl: must be an http(s) URL",
      ]),
    });
  });

  it("streams progress then the result, and stores one clean set", async () => {
    const server = await startServer();
    const response = await postJob(server, jobBody("v1"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");

    const events = await readEvents(response);
    const final = events.at(-1);
    expect(final?.type).toBe("done");
    if (final?.type !== "done") return;
    expect(final.result.renditions.map((r) => [r.name, r.width, r.height])).toEqual([["240p", 320, 240]]);
    expect(final.result.masterKey).toBe("videos/v1/hls/master.m3u8");

    const progress = events.filter((event) => event.type === "progress");
    const stages = progress.map((event) => event.stage).filter((stage, index, all) => stage !== all[index - 1]);
    expect(stages).toEqual(["checking", "transcoding", "uploading"]);
    expect(await bucket.list("videos/v1/")).toEqual(await referencedKeys(bucket, "videos/v1/hls/"));
    expect(server.logs.some((line) => /^job=job-v1 video=v1 \+[\d.]+s done in [\d.]+ s: 240p$/.test(line))).toBe(true);
    expect(await readdir(server.workDir)).toEqual([]);
  });

  it("answers 429 with Retry-After while a job runs", async () => {
    const server = await startServer();
    const first = await postJob(server, jobBody("v2"));
    const second = await postJob(server, jobBody("v3"));
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("30");
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({
      status: "ok",
      busy: true,
      running: { kind: "job", id: "job-v2", attempt: 1 },
      scratchQuotaBytes: null,
    });
    expect((await readEvents(first)).at(-1)?.type).toBe("done");
  });

  it("reports a refusal as a final failure with the quality report", async () => {
    const server = await startServer();
    const events = await readEvents(await postJob(server, jobBody("audio", "uploads/audio/source.m4a")));
    expect(events.at(-1)).toMatchObject({
      type: "failed",
      retryable: false,
      reason: "no video stream: the file holds only audio",
      qualityReport: { ok: false, refusal: "no video stream: the file holds only audio" },
    });
  });

  it("demands its own bearer token when one is configured", async () => {
    const server = await startServer({ env: { TRANSCODER_TOKEN: "container-secret" } });
    expect((await postJob(server, jobBody("v1"))).status).toBe(401);
    const response = await postJob(server, { ...jobBody("nothing-here") }, { headers: { authorization: "Bearer container-secret" } });
    expect(response.status).toBe(200);
    expect((await readEvents(response)).at(-1)).toMatchObject({ type: "failed", retryable: false });
  });

  it("repeats the last progress line while a stage is quiet, so idle timeouts see traffic", async () => {
    const slow = await startStorageServer(bucket, { token, getDelayMs: 1000 });
    try {
      const server = await startServer({ env: { TRANSCODER_HEARTBEAT_SECONDS: "0.2" } });
      const events = await readEvents(await postJob(server, { ...jobBody("v5"), storage: { baseUrl: slow.baseUrl, token } }));
      const whileDownloading = events.filter((event) => event.type === "progress" && event.stage === "checking" && event.percent === 0);
      expect(whileDownloading.length).toBeGreaterThanOrEqual(3);
      expect(events.at(-1)?.type).toBe("done");
    } finally {
      await slow.close();
    }
  });

  it("cancels the job when the client goes away", async () => {
    const server = await startServer();
    const controller = new AbortController();
    const response = await postJob(server, jobBody("v3"), { signal: controller.signal });
    await readEvents(response, (event) => event.type === "progress" && event.stage === "checking").catch(() => []);
    controller.abort();
    await waitFor(async () => !((await (await fetch(`${server.url}/healthz`)).json()) as { busy: boolean }).busy, "the job to stop");
    expect(server.logs.some((line) => line.endsWith("client went away; cancelling"))).toBe(true);
    expect(await readdir(server.workDir)).toEqual([]);
    expect(await bucket.list("videos/v3/")).toEqual([]);
  });

  it("leaves nothing a retry does not clean when the process is killed mid-upload", async () => {
    const slow = await startStorageServer(bucket, { token, putDelayMs: 150 });
    try {
      const workDir = join(temp.dir, "killed-work");
      const doomed = await startServer({ workDir });
      const putsBefore = slow.puts();
      const response = await postJob(doomed, { ...jobBody("v4"), storage: { baseUrl: slow.baseUrl, token } });
      const reading = readEvents(response).catch(() => []);
      await waitFor(() => slow.puts() >= putsBefore + 2, "some uploads");
      doomed.child.kill("SIGKILL");
      await reading;

      // Half a ladder in the bucket, no master, and a temp folder on disk.
      const partial = await bucket.list("videos/v4/");
      expect(partial.length).toBeGreaterThan(0);
      expect(partial).not.toContain("videos/v4/hls/master.m3u8");
      expect((await readdir(workDir)).length).toBe(1);

      const retry = await startServer({ workDir });
      expect(await readdir(workDir)).toEqual([]);
      const events = await readEvents(await postJob(retry, { ...jobBody("v4"), storage: { baseUrl: slow.baseUrl, token } }));
      expect(events.at(-1)?.type).toBe("done");
      expect(await bucket.list("videos/v4/")).toEqual(await referencedKeys(bucket, "videos/v4/hls/"));
      expect(await readdir(workDir)).toEqual([]);
    } finally {
      await slow.close();
    }
  });
});
