import { readFile, writeFile } from "node:fs/promises";
import type { FsStorage } from "../../transcoder/src/fs-storage.ts";
import { parseMediaPlaylist } from "../../transcoder/src/master-playlist.ts";

/**
 * Reading a job's outputs back the way a player would: from the master playlist down. Used to
 * check that what is stored is exactly what the playlists reference, nothing more or less.
 */

/** Every key a finished job's master playlist leads to, plus the poster and storyboard. */
export async function referencedKeys(storage: FsStorage, prefix: string): Promise<string[]> {
  const master = await readFile(storage.pathFor(`${prefix}master.m3u8`), "utf8");
  const playlists = new Set<string>();
  for (const line of master.split("\n")) {
    if (line !== "" && !line.startsWith("#")) playlists.add(line.trim());
    const uri = /URI="([^"]+)"/.exec(line)?.[1];
    if (uri) playlists.add(uri);
  }
  const keys = [`${prefix}master.m3u8`, `${prefix}poster.jpg`, `${prefix}storyboard.jpg`, `${prefix}storyboard.vtt`];
  for (const playlist of playlists) {
    keys.push(`${prefix}${playlist}`);
    const folder = playlist.slice(0, playlist.lastIndexOf("/") + 1);
    const media = parseMediaPlaylist(await readFile(storage.pathFor(`${prefix}${playlist}`), "utf8"));
    if (media.initUri) keys.push(`${prefix}${folder}${media.initUri}`);
    for (const segment of media.segments) keys.push(`${prefix}${folder}${segment.uri}`);
  }
  return keys.sort();
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
