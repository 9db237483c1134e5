import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { Video } from "../../schema/index.ts";
import { insertReadyVideos, uniqueGenre } from "./catalog.ts";
import { call, type SignedIn, signUp } from "./helpers.ts";

/** A whole screen lease (`STREAM_LEASE_SECONDS` of the Worker under test): a session without heartbeats for this long has lost its screen. */
export const STREAM_LEASE_MS = Number(env.STREAM_LEASE_SECONDS) * 1000;

/**
 * A small HLS ladder in the transcoder's layout (hls/master.m3u8, hls/{rendition}/index.m3u8,
 * init.mp4, seg_NNNNN.m4s, an audio group), with real bytes a test can compare. The end-to-end
 * test plays a real ffmpeg ladder; these tests are about what the edge does with the bytes.
 */
export const ladderHeights = [240, 480, 720, 1080] as const;
export const SEGMENTS = 3;

export const masterPlaylist = [
  "#EXTM3U",
  "#EXT-X-VERSION:7",
  "#EXT-X-INDEPENDENT-SEGMENTS",
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,URI="audio/index.m3u8"',
  ...ladderHeights.flatMap((height) => [
    `#EXT-X-STREAM-INF:BANDWIDTH=${height * 4000},RESOLUTION=${Math.round((height * 16) / 9)}x${height},CODECS="avc1.64001f,mp4a.40.2",AUDIO="audio"`,
    `${height}p/index.m3u8`,
  ]),
  "",
].join("\n");

export function mediaPlaylist(): string {
  return [
    "#EXTM3U",
    "#EXT-X-VERSION:7",
    "#EXT-X-TARGETDURATION:4",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    '#EXT-X-MAP:URI="init.mp4"',
    ...Array.from({ length: SEGMENTS }, (_, i) => [`#EXTINF:4.000000,`, `seg_${String(i).padStart(5, "0")}.m4s`]).flat(),
    "#EXT-X-ENDLIST",
    "",
  ].join("\n");
}

/** Deterministic bytes for one object: the test knows what every range must contain. */
export function objectBytes(key: string, size = 4096): Uint8Array {
  const bytes = new Uint8Array(size);
  let seed = [...key].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 7);
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    bytes[i] = seed >>> 24;
  }
  return bytes;
}

/** Puts the ladder, a poster and a storyboard of `videoId` into R2. */
export async function putLadder(videoId: string): Promise<void> {
  const prefix = `videos/${videoId}/`;
  const puts: Promise<unknown>[] = [env.MEDIA.put(`${prefix}hls/master.m3u8`, masterPlaylist)];
  for (const folder of [...ladderHeights.map((height) => `${height}p`), "audio"]) {
    puts.push(env.MEDIA.put(`${prefix}hls/${folder}/index.m3u8`, mediaPlaylist()));
    for (const name of ["init.mp4", ...Array.from({ length: SEGMENTS }, (_, i) => `seg_${String(i).padStart(5, "0")}.m4s`)]) {
      const key = `${prefix}hls/${folder}/${name}`;
      puts.push(env.MEDIA.put(key, objectBytes(key)));
    }
  }
  puts.push(env.MEDIA.put(`${prefix}poster.jpg`, objectBytes(`${prefix}poster.jpg`, 2048)));
  puts.push(env.MEDIA.put(`${prefix}storyboard.jpg`, objectBytes(`${prefix}storyboard.jpg`, 2048)));
  puts.push(env.MEDIA.put(`${prefix}storyboard.vtt`, "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nstoryboard.jpg#xywh=0,0,160,90\n"));
  await Promise.all(puts);
}

/** A listed video of `durationSeconds` with its ladder in R2. */
export async function readyVideo(durationSeconds = 12): Promise<Video> {
  const [video] = await insertReadyVideos(1, {
    genres: [uniqueGenre("playback")],
    durationSeconds,
    renditions: ladderHeights.map((height) => ({
      height,
      bitrate: height * 4000,
      codec: "avc1.64001f",
      playlist: `hls/${height}p/index.m3u8`,
    })),
    posterKey: "poster.jpg",
    storyboardKey: "storyboard.vtt",
  });
  if (!video) throw new Error("no video inserted");
  await putLadder(video.id);
  return video;
}

/** A fresh viewer subscribed to `planId` (basic: 480p, 1 screen; standard: 1080p, 2; premium: 2160p, 4). */
export async function subscribedViewer(planId: "basic" | "standard" | "premium" = "standard"): Promise<SignedIn> {
  const viewer = await signUp();
  const response = await call("/v1/subscription", { method: "POST", token: viewer.accessToken, json: { planId } });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
  return viewer;
}

/** Another signed-in session (device) of the same account. */
export async function anotherSession(viewer: SignedIn): Promise<SignedIn> {
  const response = await call("/v1/auth/signin", {
    method: "POST",
    json: { email: viewer.user.email, password: "correct horse battery staple" },
  });
  expect(response.status).toBe(200);
  return response.json();
}

export interface PlayAnswer {
  manifestUrl: string;
  expiresAt: string;
  resumeAt: number;
  maxHeight: number;
  streamToken: string;
  bandwidthEstimate: number | null;
}

export async function play(viewer: SignedIn, videoId: string): Promise<PlayAnswer> {
  const response = await call(`/v1/videos/${videoId}/play`, { token: viewer.accessToken });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

/** The manifest URL's path (the tests call the Worker directly, not PUBLIC_BASE_URL). */
export function pathOf(url: string): string {
  return new URL(url).pathname;
}

/** `/media/{id}/{token}/` of a manifest URL: what relative playlist URIs resolve against. */
export function mediaBase(manifestUrl: string): string {
  return pathOf(manifestUrl).replace(/hls\/master\.m3u8$/, "");
}
