import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsStorage } from "../transcoder/src/fs-storage.ts";
import { keyframeTimes, makeClip, videoFacts } from "../transcoder/test/clips.ts";
import { joinRendition, referencedKeys } from "../transcoder/test/outputs.ts";
import { masterKey, outputPrefix } from "../workers/uploads/settings.ts";
import { signStorageGrant } from "../workers/uploads/storage-grant.ts";
import { databaseFromEnv, type LocalStack, startLocalStack, startTranscoder } from "./lib/local-stack/index.ts";
import { stopChild, waitForHttp } from "./lib/processes.ts";
import { adminToken, createVideo, tusUpload, waitForVideo } from "./lib/upload-client.ts";

/** Seconds between keyframes the ladder asks for (GOP = 4 s × fps, aligned to segments). */
const KEYFRAME_INTERVAL_SECONDS = 4;

/**
 * The whole pipeline for real: wrangler dev (miniflare's R2, Queues, Durable Objects) on a bundle
 * built once (no reload mid-test), the Node transcoder with Debian's ffmpeg, Postgres. Generated
 * clips go up through tus-js-client and come out as HLS renditions in R2, read back and checked
 * with ffprobe. Duplicate deliveries and the dead-letter path need a queue that redelivers on
 * demand and retry delays of minutes: they are covered in workerd
 * (workers/uploads/transcode-consumer.test.ts).
 */
describe("upload to ready, end to end", () => {
  let stack: LocalStack;
  let base: string;
  let token: string;
  let secret: string;
  let transcoderPort: number;
  const work = mkdtempSync(join(tmpdir(), "reelstream-pipeline-"));

  beforeAll(async () => {
    stack = await startLocalStack({ database: databaseFromEnv("TEST"), transcoders: 1 });
    base = stack.url;
    secret = stack.vars.INTERNAL_SIGNING_SECRET ?? "";
    transcoderPort = stack.transcoders[0]?.port ?? 0;
    expect(await waitForHttp(`${base}/health`, 90_000)).toBe(true);
    expect(await waitForHttp(`http://127.0.0.1:${transcoderPort}/healthz`, 30_000)).toBe(true);
    token = await adminToken(base, stack.database, {
      email: `pipeline-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Pipeline",
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** What the transcoder presents for this video: read its master, anything below its outputs. */
  function grantFor(videoId: string): Promise<string> {
    return signStorageGrant(secret, {
      job: "test",
      read: [masterKey(videoId)],
      prefix: outputPrefix(videoId),
      exp: Math.floor(Date.now() / 1000) + 600,
    });
  }

  /**
   * Copies everything stored under the video's output prefix out of R2 (through the Worker's
   * internal storage, with a grant for this video) into a local folder, and returns the keys.
   */
  async function downloadOutputs(videoId: string): Promise<{ keys: string[]; storage: FsStorage }> {
    const headers = { Authorization: `Bearer ${await grantFor(videoId)}` };
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const query = `prefix=${encodeURIComponent(outputPrefix(videoId))}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = (await (await fetch(`${base}/internal/storage?${query}`, { headers })).json()) as { keys: string[]; cursor?: string };
      keys.push(...page.keys);
      cursor = page.cursor;
    } while (cursor);
    const storage = new FsStorage(join(work, `r2-${videoId}`));
    for (const key of keys) {
      const response = await fetch(`${base}/internal/storage/${key}`, { headers });
      expect(response.status, key).toBe(200);
      mkdirSync(dirname(storage.pathFor(key)), { recursive: true });
      writeFileSync(storage.pathFor(key), Buffer.from(await response.arrayBuffer()));
    }
    return { keys: keys.sort(), storage };
  }

  /** Each rendition as a player gets it: height, never above the source, keyframes, duration. */
  async function checkRenditions(videoId: string, source: { height: number; duration: number }) {
    const { keys, storage } = await downloadOutputs(videoId);
    // No orphans: exactly what the master playlist leads to (plus poster and storyboard) is stored.
    expect(keys).toEqual(await referencedKeys(storage, outputPrefix(videoId)));
    const master = readFileSync(storage.pathFor(`${outputPrefix(videoId)}master.m3u8`), "utf8");
    const playlists = master.split("\n").filter((line) => line.endsWith(".m3u8") && !line.startsWith("#") && !line.includes("audio"));
    const heights: number[] = [];
    for (const playlist of playlists) {
      const joined = await joinRendition(storage, `${outputPrefix(videoId)}${playlist}`, join(work, `${videoId}-${heights.length}.mp4`));
      const facts = await videoFacts(joined);
      heights.push(facts.height);
      expect(facts.height).toBeLessThanOrEqual(source.height);
      expect(Math.abs(facts.duration - source.duration), `${playlist} duration ${facts.duration}`).toBeLessThanOrEqual(0.5);
      const keyframes = await keyframeTimes(joined);
      expect(keyframes[0]).toBeLessThanOrEqual(0.1);
      for (let i = 1; i < keyframes.length; i++) {
        expect((keyframes[i] ?? 0) - (keyframes[i - 1] ?? 0)).toBeLessThanOrEqual(KEYFRAME_INTERVAL_SECONDS + 0.05);
      }
    }
    return { keys, heights: heights.sort((a, b) => a - b) };
  }

  it("turns a tus upload into ready HLS renditions: every rung up to the source, keyframes every 4 s, durations kept", async () => {
    const clip = await makeClip(work, "landscape", { size: "854x480", seconds: 9 });
    const videoId = await createVideo(base, token, { title: "Pipeline clip", summary: "Generated.", genres: ["test"], releaseYear: 1974 });
    await tusUpload(base, token, videoId, clip);
    const status = await waitForVideo(base, token, videoId, { timeoutMs: 180_000 });
    expect(status.error).toBeNull();
    expect(status.state).toBe("ready");
    expect(status.qualityReport).not.toBeNull();
    const { keys, heights } = await checkRenditions(videoId, { height: 480, duration: 9 });
    expect(heights).toEqual([240, 360, 480]);
    expect(status.renditions.map((r) => r.height).sort((a, b) => a - b)).toEqual([240, 360, 480]);
    expect(keys).toContain(`${outputPrefix(videoId)}poster.jpg`);
    expect(keys).toContain(`${outputPrefix(videoId)}storyboard.vtt`);
    // The master as the transcoder downloads it: the stored bytes, not gzipped on the way
    // (miniflare, like Cloudflare, compresses a response without a type when the client accepts it).
    const source = await fetch(`${base}/internal/storage/${masterKey(videoId)}`, {
      headers: { Authorization: `Bearer ${await grantFor(videoId)}`, "Accept-Encoding": "gzip, br" },
    });
    expect(source.headers.get("Content-Encoding")).toBeNull();
    expect(source.headers.get("Content-Length")).toBe(String(statSync(clip).size));
    expect(Buffer.from(await source.arrayBuffer()).equals(readFileSync(clip))).toBe(true);
    // The catalog's signed preview URLs open what the transcoder wrote.
    const { video } = (await (await fetch(`${base}/v1/videos/${videoId}`, { headers: { Authorization: `Bearer ${token}` } })).json()) as {
      video: { posterUrl: string; thumbnailsUrl: string };
    };
    const poster = await fetch(video.posterUrl);
    expect(poster.status).toBe(200);
    expect(poster.headers.get("Content-Type")).toBe("image/jpeg");
    const thumbnails = await fetch(video.thumbnailsUrl);
    expect(thumbnails.status).toBe(200);
    const sprite = /^(\S+\.jpg)#xywh=/m.exec(await thumbnails.text())?.[1];
    expect((await fetch(new URL(sprite ?? "missing.jpg", video.thumbnailsUrl))).status).toBe(200);
  }, 240_000);

  it("retries a job whose transcoder was SIGKILLed mid-job and finishes with no orphaned objects", async () => {
    // Over 8 MiB, so tus sends two PATCHes and R2 assembles a multipart upload.
    const clip = await makeClip(work, "long", { size: "1280x720", seconds: 12, output: ["-b:v", "8M"] });
    expect(readFileSync(clip).byteLength).toBeGreaterThan(8 * 1024 * 1024);
    const videoId = await createVideo(base, token, {
      title: "Killed transcoder",
      summary: "Generated.",
      genres: ["test"],
      releaseYear: 1974,
    });
    await tusUpload(base, token, videoId, clip);
    await waitForVideo(base, token, videoId, { timeoutMs: 120_000, until: (s) => s.state === "transcoding" && (s.progress ?? 0) > 0.15 });

    const transcoder = stack.transcoders[0];
    const killed = transcoder?.process;
    if (!transcoder || !killed?.pid) throw new Error("the transcoder is not running");
    const exited = new Promise((resolve) => killed.once("exit", resolve));
    // The whole process group: the transcoder and its ffmpeg, as a crashed container would go.
    process.kill(-killed.pid, "SIGKILL");
    await exited;
    const requeued = await waitForVideo(base, token, videoId, { timeoutMs: 30_000, until: (s) => s.state === "queued" });
    expect(requeued.error).toMatch(/^attempt 1 failed/);

    const restarted = startTranscoder(transcoderPort, { workDir: transcoder.workDir });
    transcoder.process = restarted;
    try {
      const status = await waitForVideo(base, token, videoId, { timeoutMs: 240_000 });
      expect(status.error).toBeNull();
      expect(status.state).toBe("ready");
      const { heights } = await checkRenditions(videoId, { height: 720, duration: 12 });
      expect(heights).toEqual([240, 360, 480, 720]);
    } finally {
      await stopChild(restarted).catch(() => {});
    }
  }, 420_000);
});
