import { createRouter } from "../platform/app.ts";
import { registerMedia } from "./media.ts";
import { registerPlay } from "./play.ts";
import { registerProgress } from "./progress.ts";

export { readContinueWatching } from "./continue-watching.ts";

/**
 * Playback service: signed manifests (`/v1/videos/{id}/play`), watch progress and screen leases
 * (the user's `ViewerState` Durable Object), and the media space `/media/{videoId}/{token}/…`
 * served from R2 through the edge cache.
 */
export function createPlaybackRouter() {
  const app = createRouter();
  registerPlay(app);
  registerProgress(app);
  registerMedia(app);
  return app;
}
