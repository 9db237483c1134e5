import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeClip } from "../transcoder/test/clips.ts";
import { masterKey, outputPrefix } from "../workers/uploads/settings.ts";
import { signStorageGrant } from "../workers/uploads/storage-grant.ts";
import { ensureDevVars } from "./lib/dev-vars.ts";
import { repoRoot } from "./lib/local-stack.ts";
import { spawnPrefixed, stopChild } from "./lib/processes.ts";
import { freePort, type RunningStack, startStack, waitForHttp } from "./lib/stack.ts";
import { startTestDatabase, type TestDatabase } from "./lib/test-database.ts";
import { adminToken, createVideo, tusUpload, waitForVideo } from "./lib/upload-client.ts";

const transcoderEntry = `${repoRoot}transcoder/src/server.ts`;

/**
 * The whole pipeline for real: wrangler dev (miniflare's R2, Queues, Durable Objects), the Node
 * transcoder with Debian's ffmpeg, Postgres. A generated clip goes up through tus-js-client and
 * comes out as HLS renditions in R2; a transcoder killed mid-job is retried and finishes clean.
 */
describe.skipIf(!existsSync(transcoderEntry))("upload to ready, end to end", () => {
  let database: TestDatabase;
  let stack: RunningStack;
  let base: string;
  let token: string;
  let secret: string;
  let transcoderPort: number;
  const work = mkdtempSync(join(tmpdir(), "reelstream-pipeline-"));

  beforeAll(async () => {
    await ensureDevVars();
    secret = /^INTERNAL_SIGNING_SECRET='?([^'\n]+)'?$/m.exec(readFileSync(`${repoRoot}.dev.vars`, "utf8"))?.[1] ?? "";
    database = await startTestDatabase();
    const port = await freePort();
    transcoderPort = await freePort();
    stack = await startStack({ port, database: { ...database, source: "test database" }, persistTo: join(work, "state"), transcoderPort });
    base = stack.url;
    expect(await waitForHttp(`${base}/health`, 90_000)).toBe(true);
    expect(await waitForHttp(`http://127.0.0.1:${transcoderPort}/healthz`, 30_000)).toBe(true);
    token = await adminToken(base, database, {
      email: `pipeline-${Date.now()}@example.com`,
      password: "correct horse battery staple",
      name: "Pipeline",
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Lists R2 through the Worker's internal storage, with a grant for this video. */
  async function storedKeys(videoId: string): Promise<string[]> {
    const grant = await signStorageGrant(secret, {
      job: "test",
      read: [masterKey(videoId)],
      prefix: outputPrefix(videoId),
      exp: Math.floor(Date.now() / 1000) + 600,
    });
    const response = await fetch(`${base}/internal/storage?prefix=${encodeURIComponent(outputPrefix(videoId))}`, {
      headers: { Authorization: `Bearer ${grant}` },
    });
    const keys = ((await response.json()) as { keys: string[] }).keys;
    const texts = new Map<string, string>();
    for (const key of keys.filter((k) => k.endsWith(".m3u8"))) {
      texts.set(key, await (await fetch(`${base}/internal/storage/${key}`, { headers: { Authorization: `Bearer ${grant}` } })).text());
    }
    // No orphans: every media file is named by the playlist of its folder.
    for (const key of keys.filter((k) => /\.(m4s|mp4)$/.test(k))) {
      const folder = key.slice(0, key.lastIndexOf("/") + 1);
      const playlist = texts.get(`${folder}index.m3u8`) ?? [...texts.entries()].find(([name]) => name.startsWith(folder))?.[1] ?? "";
      expect(playlist, `${key} is not referenced by a playlist`).toContain(key.slice(folder.length));
    }
    return keys;
  }

  it("turns a tus upload into ready HLS renditions with poster and storyboard", async () => {
    const clip = await makeClip(work, "landscape", { size: "640x360", seconds: 4 });
    const videoId = await createVideo(base, token, { title: "Pipeline clip", summary: "Generated.", genres: ["test"], releaseYear: 1974 });
    await tusUpload(base, token, videoId, clip);
    const progress: number[] = [];
    const status = await waitForVideo(base, token, videoId, { onChange: (s) => s.progress !== null && progress.push(s.progress) });
    expect(status.error).toBeNull();
    expect(status.state).toBe("ready");
    expect(status.renditions.map((r) => r.height)).toContain(360);
    expect(status.qualityReport).not.toBeNull();
    const keys = await storedKeys(videoId);
    expect(keys).toContain(`${outputPrefix(videoId)}master.m3u8`);
    expect(keys.some((key) => key.endsWith(".jpg"))).toBe(true);
    expect(keys.some((key) => key.endsWith(".vtt"))).toBe(true);
  }, 240_000);

  it("retries a job whose transcoder was killed mid-job and finishes with no orphaned objects", async () => {
    const clip = await makeClip(work, "long", { size: "1280x720", seconds: 12 });
    const videoId = await createVideo(base, token, {
      title: "Killed transcoder",
      summary: "Generated.",
      genres: ["test"],
      releaseYear: 1974,
    });
    await tusUpload(base, token, videoId, clip);
    await waitForVideo(base, token, videoId, { timeoutMs: 120_000, until: (s) => s.state === "transcoding" && (s.progress ?? 0) > 0.1 });

    const transcoder = stack.children[1] as ChildProcess;
    transcoder.kill("SIGKILL");
    const requeued = await waitForVideo(base, token, videoId, { timeoutMs: 30_000, until: (s) => s.state === "queued" });
    expect(requeued.error).toMatch(/^attempt 1 failed/);

    const restarted = spawnPrefixed(
      "transcoder",
      "yellow",
      process.execPath,
      ["--experimental-strip-types", "--no-warnings", transcoderEntry],
      {
        cwd: repoRoot,
        env: { PORT: String(transcoderPort) },
      },
    );
    stack.children.push(restarted);
    const status = await waitForVideo(base, token, videoId, { timeoutMs: 240_000 });
    expect(status.state).toBe("ready");
    expect(status.error).toBeNull();
    await storedKeys(videoId);
    await stopChild(restarted).catch(() => {});
  }, 420_000);
});
