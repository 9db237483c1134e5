/**
 * Where everything lives in the MEDIA bucket (R2), in one place, one name per idea:
 *
 * ```text
 * masters/{videoId}/{uploadId}       an upload's master (the source file): never served; under a bucket lock in production
 * masters-deleted/{videoId}/{uploadId}  a deleted master's marker: the cron deletes the master once it is older than the retention
 * uploads/{uploadId}/                a tus upload's scratch objects (the tail that is not yet a whole part)
 * videos/{videoId}/                  what playback serves: `/media/{videoId}/{token}/{path}` is `videos/{videoId}/{path}`
 * videos/{videoId}/hls/              the ladder, poster and storyboard the transcoder writes
 * videos/{videoId}/hls/master.m3u8   the master playlist, written last: nothing of a video is served without it
 * ```
 *
 * Each upload writes its own master key, and its transcode job names it: a late write of a
 * terminated upload can only land on its own key, and a job whose key is not the one the video's
 * upload slot names (`videos.upload_id`) is not the video's current master.
 */

/** Where a video's uploaded masters live. */
export function masterPrefix(videoId: string): string {
  return `masters/${videoId}/`;
}

/** One upload's master (tus or `PUT …/source`). */
export function masterKey(videoId: string, uploadId: string): string {
  return `${masterPrefix(videoId)}${uploadId}`;
}

/**
 * The marker that says a master was deleted (by its title's delete, or its upload's end): the
 * master stays until the marker is `MASTER_RETENTION_DAYS` old (workers/platform/master-retention.ts).
 */
export function deletedMasterMarkerKey(masterKey: string): string {
  if (!masterKey.startsWith("masters/")) throw new Error(`'${masterKey}' is not a master's key`);
  return `${DELETED_MASTERS_PREFIX}${masterKey.slice("masters/".length)}`;
}

/** Where the deleted masters' markers live. */
export const DELETED_MASTERS_PREFIX = "masters-deleted/";

/** The master a marker stands for (`masters-deleted/v/u` → `masters/v/u`). */
export function masterKeyOfMarker(markerKey: string): string {
  return `masters/${markerKey.slice(DELETED_MASTERS_PREFIX.length)}`;
}

/** A tus upload's temporary objects. */
export function uploadScratchPrefix(uploadId: string): string {
  return `uploads/${uploadId}/`;
}

/** Everything playback serves for a video; deleted with the video. */
export function mediaPrefix(videoId: string): string {
  return `videos/${videoId}/`;
}

/** The ladder's folder below a video's media prefix. */
export const HLS_FOLDER = "hls/";

/** Where the transcoder writes a video's ladder, poster and storyboard. */
export function hlsPrefix(videoId: string): string {
  return `${mediaPrefix(videoId)}${HLS_FOLDER}`;
}

/** The master playlist, relative to the media prefix: also its path in a `/media/…` URL. */
export const MASTER_PLAYLIST_PATH = `${HLS_FOLDER}master.m3u8`;

/**
 * A video's master playlist. It is the switch of the video's media: playback serves nothing of a
 * video (no playlist, segment or preview) while it is missing, so deleting it first is what stops
 * a deleted video at once.
 */
export function masterPlaylistKey(videoId: string): string {
  return `${mediaPrefix(videoId)}${MASTER_PLAYLIST_PATH}`;
}

/**
 * A key of the video's ladder as the catalog stores it, relative to the media prefix
 * (`videos/{id}/hls/poster.jpg` → `hls/poster.jpg`). Throws for a key outside the ladder.
 */
export function mediaPath(videoId: string, key: string): string {
  if (!key.startsWith(hlsPrefix(videoId))) throw new Error(`'${key}' is outside ${hlsPrefix(videoId)}`);
  return key.slice(mediaPrefix(videoId).length);
}

/**
 * The poster widths the transcoder makes at finalize, the same list as `POSTER_WIDTHS` of
 * workers/transcoding/contract.ts (the transcoder's side of the wire; media-layout.test.ts keeps
 * the two equal).
 */
export const POSTER_WIDTHS = [320, 640, 1280] as const;

/**
 * The sized posters a published poster path names: `hls/finalize-a1-poster-1280w.webp`, the
 * widest, stands for every width of `POSTER_WIDTHS` up to it, narrowest first (`srcset`), with the
 * same folder and finalize attempt's tag. A poster of a title transcoded before sizes existed
 * (`hls/poster.jpg`) has none.
 *
 * @example
 * posterSizes("hls/poster-640w.webp") // [{ width: 320, path: "hls/poster-320w.webp" }, { width: 640, path: "hls/poster-640w.webp" }]
 */
export function posterSizes(posterPath: string): { width: number; path: string }[] {
  const match = /^(.*\/)?([^/]*)poster-(\d+)w\.(webp|jpg)$/.exec(posterPath);
  if (!match) return [];
  const [, folder = "", tag = "", widest, extension] = match;
  const largest = Number(widest);
  const widths = [...POSTER_WIDTHS.filter((width) => width < largest), largest];
  return widths.map((width) => ({ width, path: `${folder}${tag}poster-${width}w.${extension}` }));
}
