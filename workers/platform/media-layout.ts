/**
 * Where everything lives in the MEDIA bucket (R2), in one place, one name per idea:
 *
 * ```text
 * masters/{videoId}/{uploadId}       an upload's master (the source file): never served, deleted with the video
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
