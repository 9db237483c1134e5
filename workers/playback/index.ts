import { createRouter } from "../platform/app.ts";
import { registerMedia } from "./media.ts";
import { registerPlay } from "./play.ts";
import { registerProgress } from "./progress.ts";
import { type EntitlementReader, entitlementFromSubscriptions } from "./service.ts";

export { readContinueWatching } from "./continue-watching.ts";
/** What keeps a master from being published (transcoding publishes by the rules playback serves by). */
export { masterProblems } from "./hls-playlist.ts";

/**
 * Playback service: signed manifests (`/v1/videos/{id}/play`), watch progress and screen leases
 * (the user's `ViewerState` Durable Object), and the media space `/media/{videoId}/{token}/…`
 * served from R2 through the edge cache.
 */
export function createPlaybackRouter(deps: { entitlementOf?: EntitlementReader } = {}) {
  const app = createRouter();
  registerPlay(app, deps.entitlementOf ?? entitlementFromSubscriptions);
  registerProgress(app);
  registerMedia(app);
  return app;
}
