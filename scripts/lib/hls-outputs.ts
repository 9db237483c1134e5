import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { spawnTool } from "../../transcoder/src/ffmpeg-process.ts";
import { resolveFfmpegTools } from "../../transcoder/src/ffmpeg-tools.ts";
import { FsStorage } from "../../transcoder/src/fs-storage.ts";
import { parseMediaPlaylist } from "../../transcoder/src/master-playlist.ts";
import { posterSizes } from "../../workers/platform/media-layout.ts";
import { ffmpeg } from "./clips.ts";

const tools = resolveFfmpegTools();

async function ffprobeJson(path: string, entries: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(tools.ffprobe, ["-v", "error", "-of", "json", ...entries, path], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * Reading a job's outputs back the way a player would: from the master playlist down. Used to
 * check that what is stored is exactly what the playlists reference, nothing more or less.
 */

/**
 * Every key a finished job's master playlist leads to, plus the poster and storyboard, and the
 * poster's sizes: every width up to the widest one stored (the catalog's rule, `posterSizes`).
 */
export async function referencedKeys(storage: FsStorage, prefix: string): Promise<string[]> {
  const playlists = await masterUris(storage, prefix);
  // The published master names the finalize attempt's playlists; its poster and storyboard carry the same tag.
  const tag = /\/([^/]*-)index\.m3u8$/.exec(playlists[0] ?? "")?.[1] ?? "";
  const keys = [`${prefix}master.m3u8`, `${prefix}${tag}storyboard.jpg`, `${prefix}${tag}storyboard.vtt`];
  const widest = (await storage.list(prefix))
    .filter((key) => key.startsWith(`${prefix}${tag}poster-`) && /poster-\d+w\.\w+$/.test(key))
    .sort((a, b) => Number(/(\d+)w\./.exec(b)?.[1]) - Number(/(\d+)w\./.exec(a)?.[1]))[0];
  if (widest) keys.push(...posterSizes(widest).map((size) => size.path));
  for (const playlist of playlists) {
    keys.push(`${prefix}${playlist}`);
    const folder = playlist.slice(0, playlist.lastIndexOf("/") + 1);
    const media = parseMediaPlaylist(await readFile(storage.pathFor(`${prefix}${playlist}`), "utf8"));
    if (media.initUri) keys.push(`${prefix}${folder}${media.initUri}`);
    for (const segment of media.segments) keys.push(`${prefix}${folder}${segment.uri}`);
  }
  return keys.sort();
}

/** The playlists the published master (`{prefix}master.m3u8`) names, relative to it, in its order. */
export async function masterUris(storage: FsStorage, prefix: string): Promise<string[]> {
  const master = await readFile(storage.pathFor(`${prefix}master.m3u8`), "utf8");
  const playlists = new Set<string>();
  for (const line of master.split("\n")) {
    if (line !== "" && !line.startsWith("#")) playlists.add(line.trim());
    const uri = /URI="([^"]+)"/.exec(line)?.[1];
    if (uri) playlists.add(uri);
  }
  return [...playlists];
}

/** The key of rung `name`'s media playlist ("720p"), as the published master names it. */
export async function renditionPlaylistKey(storage: FsStorage, prefix: string, name: string): Promise<string> {
  const uri = (await masterUris(storage, prefix)).find((candidate) => candidate.startsWith(`${name}/`));
  if (!uri) throw new Error(`the master below ${prefix} names no ${name} playlist`);
  return `${prefix}${uri}`;
}

/** Joins a rendition's init segment and media segments into one playable MP4 file for ffprobe. */
export async function joinRendition(storage: FsStorage, playlistKey: string, destPath: string): Promise<string> {
  const folder = playlistKey.slice(0, playlistKey.lastIndexOf("/") + 1);
  const media = parseMediaPlaylist(await readFile(storage.pathFor(playlistKey), "utf8"));
  const parts = [media.initUri, ...media.segments.map((segment) => segment.uri)].filter((uri): uri is string => uri !== null);
  const buffers = await Promise.all(parts.map((uri) => readFile(storage.pathFor(`${folder}${uri}`))));
  await writeFile(destPath, Buffer.concat(buffers));
  return destPath;
}

/**
 * A source to measure audio/video sync by: a 1080p test pattern with a white flash and a 1 kHz beep
 * together at each of `marks` (seconds), silence otherwise; x264 `ultrafast`, a keyframe every
 * 1.5 s (45 frames at 30 fps), AAC. The index is at the end of the file, as most exports have it.
 */
export async function makeSyncMarkedSource(path: string, spec: { seconds: number; fps: number; marks: readonly number[]; size?: string }) {
  const marks = spec.marks.map((at) => `between(t,${at},${at + 0.09})`).join("+");
  await ffmpeg([
    ...["-v", "error", "-y", "-f", "lavfi"],
    ...[
      "-i",
      `testsrc2=s=${spec.size ?? "1920x1080"}:r=${spec.fps}:d=${spec.seconds},drawbox=w=iw:h=ih:color=white:t=fill:enable='${marks}'`,
    ],
    ...["-f", "lavfi", "-i", `aevalsrc=exprs='(${marks})*0.8*sin(2*PI*1000*t)':s=48000:d=${spec.seconds}`],
    ...["-c:v", "libx264", "-preset", "ultrafast", "-g", String(Math.round(spec.fps * 1.5)), "-pix_fmt", "yuv420p"],
    ...["-c:a", "aac", "-b:a", "64k", path],
  ]);
  return path;
}

/**
 * The timing checks of a joined rendition (init + segments, as `joinRendition` writes it): its
 * frames in presentation order, every step between two of them, and how long it lasts.
 */
export interface Packet {
  pts: number;
  duration: number;
}

/** A joined rendition's packets, in presentation order, and its stream's ticks per second. */
export async function packetsOf(path: string, stream: "v:0" | "a:0"): Promise<{ packets: Packet[]; timescale: number }> {
  const json = await ffprobeJson(path, ["-select_streams", stream, "-show_entries", "packet=pts,duration:stream=time_base"]);
  const [, den] = String((json.streams as { time_base: string }[])[0]?.time_base).split("/");
  const packets = (json.packets as { pts: string; duration: string }[]).map((packet) => ({
    pts: Number(packet.pts),
    duration: Number(packet.duration),
  }));
  return { packets: packets.sort((a, b) => a.pts - b.pts), timescale: Number(den) };
}

/** When each run of white frames begins (seconds), as ffmpeg decodes the file. */
export async function flashTimes(path: string): Promise<number[]> {
  const lines: string[] = [];
  await spawnTool(
    tools.ffmpeg,
    ["-hide_banner", "-i", path, "-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG", "-an", "-f", "null", "-"],
    {
      onStderrLine: (line) => lines.push(line),
    },
  );
  const times: number[] = [];
  let at = 0;
  let white = false;
  for (const line of lines) {
    const pts = /pts_time:([\d.]+)/.exec(line);
    if (pts) at = Number(pts[1]);
    const yavg = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(line);
    if (!yavg) continue;
    const now = Number(yavg[1]) > 200;
    if (now && !white) times.push(at);
    white = now;
  }
  return times;
}

/** When each beep begins (seconds): the ends of silences, but for the one that ends the file. */
export async function beepTimes(path: string): Promise<number[]> {
  const lines: string[] = [];
  await spawnTool(tools.ffmpeg, ["-hide_banner", "-i", path, "-af", "silencedetect=noise=-30dB:d=0.05", "-vn", "-f", "null", "-"], {
    onStderrLine: (line) => lines.push(line),
  });
  const ends = lines.flatMap((line) => {
    const end = /silence_end: ([\d.]+)/.exec(line);
    return end ? [Number(end[1])] : [];
  });
  // The last silence ends with the file, not with a beep.
  return ends.slice(0, -1);
}

export const endOf = ({ packets, timescale }: { packets: Packet[]; timescale: number }) => {
  const last = packets.at(-1) as Packet;
  return (last.pts + last.duration - (packets[0] as Packet).pts) / timescale;
};

/**
 * Copies everything stored under a video's media prefix out of a running stack's R2 into `folder`,
 * in R2's layout, through the test Worker's own routes (testing/worker/test-routes.ts: the stack
 * must run `testWorkerEntry`; the transcoder's grants die with their attempts, so none is left to
 * read with). Returns the keys below `video.prefix` and a storage over the copy.
 */
export async function downloadOutputs(
  baseUrl: string,
  video: { id: string; prefix: string },
  folder: string,
): Promise<{ keys: string[]; storage: FsStorage }> {
  const listing = await fetch(`${baseUrl}/internal/test/media/${video.id}`);
  if (listing.status !== 200) throw new Error(`listing ${video.id}: ${listing.status} (is the stack running the test Worker?)`);
  const keys = ((await listing.json()) as { keys: string[] }).keys.filter((key) => key.startsWith(video.prefix));
  const storage = new FsStorage(folder);
  const mediaPrefix = `videos/${video.id}/`;
  for (const key of keys) {
    const response = await fetch(`${baseUrl}/internal/test/media/${video.id}/${key.slice(mediaPrefix.length)}`);
    if (response.status !== 200) throw new Error(`${key}: ${response.status}`);
    await mkdir(dirname(storage.pathFor(key)), { recursive: true });
    await writeFile(storage.pathFor(key), Buffer.from(await response.arrayBuffer()));
  }
  return { keys: keys.sort(), storage };
}
