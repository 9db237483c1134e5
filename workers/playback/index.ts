import { createRouter } from "../platform/app.ts";
import { registerMedia } from "./media.ts";
import { registerPlay } from "./play.ts";
import { registerProgress } from "./progress.ts";
import { registerQoe } from "./qoe.ts";

export { readContinueWatching, refreshContinueWatchingCopy } from "./continue-watching.ts";
/** What keeps a master from being published (transcoding publishes by the rules playback serves by). */
export { masterProblems } from "./hls-playlist.ts";
export { MediaOrigin } from "./media-origin.ts";

/**
 * Playback service: signed manifests (`/v1/videos/{id}/play`), watch progress and screen leases
 * (the user's `ViewerState` Durable Object), the media space `/media/{videoId}/{token}/…`
 * served from R2 through the edge cache, and the players' quality beacons (`/v1/qoe`).
 */
export function createPlaybackRouter() {
  const app = createRouter();
  registerPlay(app);
  registerProgress(app);
  registerMedia(app);
  registerQoe(app);
  return app;
}
