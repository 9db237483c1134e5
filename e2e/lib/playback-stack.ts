import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { videos } from "../../schema/index.ts";
import { createNodeDb, createNodePool } from "../../scripts/lib/database.ts";

const run = promisify(execFile);

/** The id shape of the videos service: 20 characters of [0-9a-z]. */
export function randomVideoId(): string {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
  return Array.from(crypto.getRandomValues(new Uint8Array(20)), (byte) => alphabet[byte % 36]).join("");
}

/**
 * A real HLS ladder from ffmpeg, in the transcoder's layout: `hls/master.m3u8`,
 * `hls/{240p,480p,720p}/index.m3u8` with `init.mp4` and `seg_NNNNN.m4s` (fMP4, H.264 + AAC),
 * plus a poster. Small and fast: a test pattern with a tone, `seconds` long, 2-second segments.
 */
export async function generateLadder(seconds = 12): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "reelstream-ladder-"));
  const heights = [240, 480, 720];
  const split = heights.map((_, i) => `[v${i}]`).join("");
  const scales = heights.map((height, i) => `[v${i}]scale=-2:${height}[o${i}]`).join(";");
  const args = [
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
    "-filter_complex",
    `[0:v]split=${heights.length}${split};${scales}`,
    ...heights.flatMap((_, i) => ["-map", `[o${i}]`]),
    "-map",
    "1:a",
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-profile:v",
    "main",
    "-pix_fmt",
    "yuv420p",
    ...heights.flatMap((height, i) => [`-b:v:${i}`, `${height * 1500}`]),
    "-g",
    "50",
    "-keyint_min",
    "50",
    "-sc_threshold",
    "0",
    "-c:a",
    "aac",
    "-b:a",
    "64k",
    "-f",
    "hls",
    "-hls_time",
    "2",
    "-hls_playlist_type",
    "vod",
    "-hls_segment_type",
    "fmp4",
    "-hls_flags",
    "independent_segments",
    "-hls_fmp4_init_filename",
    "init.mp4",
    "-hls_segment_filename",
    join(dir, "hls", "%v", "seg_%05d.m4s"),
    "-master_pl_name",
    "master.m3u8",
    "-var_stream_map",
    [...heights.map((height, i) => `v:${i},agroup:audio,name:${height}p`), "a:0,agroup:audio,name:audio"].join(" "),
    join(dir, "hls", "%v", "index.m3u8"),
  ];
  await run("ffmpeg", args);
  await run("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-f",
    "lavfi",
    "-i",
    "testsrc2=size=640x360:duration=1",
    "-frames:v",
    "1",
    join(dir, "poster.jpg"),
  ]);
  return dir;
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesBelow(path) : [path];
  });
}

/** Puts every file of a ladder into R2 through the Worker's test-only media route (never in production). */
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

/** Lists a ready video in the stack's database, as the transcode pipeline does when it finishes. */
export async function insertReadyVideo(stack: { databaseUrl: string; wsProxy: string }, videoId: string, durationSeconds: number) {
  const pool = createNodePool(stack.databaseUrl, stack.wsProxy);
  try {
    await createNodeDb(pool)
      .insert(videos)
      .values({
        id: videoId,
        title: "End-to-end ladder",
        summary: "A test pattern with a tone.",
        releaseYear: 2026,
        genres: ["test"],
        durationSeconds,
        state: "ready",
        publishedAt: new Date(),
        posterKey: "poster.jpg",
        renditions: [240, 480, 720].map((height) => ({
          height,
          bitrate: height * 1500,
          codec: "avc1.4d401e",
          playlist: `hls/${height}p/index.m3u8`,
        })),
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
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password: "correct horse battery staple", name: "E2E Viewer" }),
  });
  if (signup.status !== 201) throw new Error(`signup failed: ${signup.status} ${await signup.text()}`);
  const viewer = (await signup.json()) as { accessToken: string; user: { id: string; email: string } };
  const subscribe = await fetch(`${baseUrl}/v1/subscription`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${viewer.accessToken}` },
    body: JSON.stringify({ planId }),
  });
  if (subscribe.status >= 300) throw new Error(`subscribe failed: ${subscribe.status} ${await subscribe.text()}`);
  return viewer;
}
