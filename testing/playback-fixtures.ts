import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { videos } from "../schema/index.ts";
import { runChunkedJob } from "../scripts/lib/chunked-job.ts";
import { createNodeDb, createNodePool } from "../scripts/lib/database.ts";
import { resolveFfmpegTools } from "../transcoder/src/ffmpeg-tools.ts";
import { FsStorage } from "../transcoder/src/fs-storage.ts";
import { masterKey, mediaPath } from "../workers/platform/media-layout.ts";
import type { FinalizeResult } from "../workers/transcoding/contract.ts";

const run = promisify(execFile);

/** The id shape of the videos service: 20 characters of [0-9a-z]. */
export function randomVideoId(): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  return Array.from(crypto.getRandomValues(new Uint8Array(20)), (byte) => alphabet[byte % 36]).join("");
}

/** Where the generated ladder sits in the local storage folder (the R2 layout, for a stand-in id). */
const LADDER_VIDEO = "ladder";

export interface GeneratedLadder {
  /** Folder holding the video's objects, laid out as below R2's `videos/{id}/`. */
  dir: string;
  root: string;
  result: FinalizeResult;
}

/**
 * A real HLS ladder made by the transcoder itself (its plan, chunk, audio and finalize tasks, the
 * code the container runs), from a generated 720p test pattern with a tone, `seconds` long, in
 * chunks of `chunkSeconds`, into a local folder in R2's layout.
 */
export async function generateLadder(seconds = 12, chunkSeconds = 6): Promise<GeneratedLadder> {
  const root = mkdtempSync(join(tmpdir(), "reelstream-ladder-"));
  const sourceKey = masterKey(LADDER_VIDEO, "source");
  mkdirSync(dirname(join(root, sourceKey)), { recursive: true });
  // The source is an input, made with plain ffmpeg; the ladder is the transcoder's.
  await run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=1280x720:rate=25:duration=${seconds}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-c:a",
    "aac",
    "-f",
    "mp4",
    join(root, sourceKey),
  ]);
  const { result } = await runChunkedJob(
    { videoId: LADDER_VIDEO, sourceKey, chunkSeconds },
    { storage: new FsStorage(root), tools: resolveFfmpegTools(), workRoot: join(root, "work"), preset: "ultrafast" },
  );
  return { dir: join(root, "videos", LADDER_VIDEO), root, result };
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [path];
  });
}

/** Puts every file of a ladder into R2 through the test Worker's media route (testing/worker/test-routes.ts). */
export async function uploadLadder(baseUrl: string, videoId: string, dir: string): Promise<number> {
  const files = filesBelow(dir);
  for (const file of files) {
    const response = await fetch(`${baseUrl}/internal/test/media/${videoId}/${relative(dir, file)}`, {
      method: "PUT",
      body: readFileSync(file),
    });
    if (response.status !== 204) throw new Error(`upload of ${file} failed: ${response.status} ${await response.text()}`);
  }
  return files.length;
}

/** What a ready video row says about its media, as the transcode pipeline records it. */
export interface ReadyMedia {
  durationSeconds: number;
  renditions: { height: number; bitrate: number; codec: string; playlist: string }[];
  posterKey?: string;
  storyboardKey?: string;
}

/** The catalog's view of a generated ladder: keys relative to the video's folder. */
export function ladderMedia({ result }: GeneratedLadder): ReadyMedia {
  return {
    durationSeconds: result.durationSeconds,
    posterKey: mediaPath(LADDER_VIDEO, result.posterKey),
    storyboardKey: mediaPath(LADDER_VIDEO, result.storyboard.vttKey),
    renditions: result.renditions.map(({ height, bitrate, codec, playlist }) => ({
      height,
      bitrate,
      codec,
      playlist: mediaPath(LADDER_VIDEO, playlist),
    })),
  };
}

/** Lists a ready video in the stack's database, as the transcode pipeline does when it finishes. */
export async function insertReadyVideo(database: { url: string; wsProxy?: string }, videoId: string, media: ReadyMedia) {
  const pool = createNodePool(database.url, database.wsProxy);
  try {
    await createNodeDb(pool)
      .insert(videos)
      .values({
        id: videoId,
        title: "End-to-end ladder",
        summary: "A test pattern with a tone.",
        releaseYear: 2026,
        genres: ["test"],
        state: "ready",
        publishedAt: new Date(),
        ...media,
      });
  } finally {
    await pool.end();
  }
}

/** Signs up and subscribes a viewer on a running stack. */
export async function subscribedViewer(baseUrl: string, planId: string) {
  const email = `e2e-${crypto.randomUUID()}@example.com`;
  const signup = await fetch(`${baseUrl}/v1/auth/signup`, {
    method: "POST",
    // Each viewer from its own address, as real ones are: sign-ups are limited per address (5 a minute).
    headers: {
      "Content-Type": "application/json",
      "CF-Connecting-IP": `2001:db8::${crypto.randomUUID().slice(0, 4)}:${crypto.randomUUID().slice(0, 4)}`,
    },
    body: JSON.stringify({ email, password: "correct horse battery staple", name: "E2E Viewer" }),
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${await signup.text()}`);
  const viewer = (await signup.json()) as { accessToken: string; refreshToken: string; user: { id: string; email: string } };
  const subscribe = await fetch(`${baseUrl}/v1/subscription`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${viewer.accessToken}` },
    body: JSON.stringify({ planId }),
  });
  if (subscribe.status >= 300) throw new Error(`subscribe failed: ${subscribe.status} ${await subscribe.text()}`);
  return viewer;
}
