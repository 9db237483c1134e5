import { createRouter } from "../platform/app.ts";
import { registerAdminCreateVideo } from "./admin-create-video.ts";
import { registerAdminDeleteVideo } from "./admin-delete-video.ts";
import { registerAdminGetVideo } from "./admin-get-video.ts";
import { registerAdminUpdateVideo } from "./admin-update-video.ts";
import { registerGetVideo } from "./get-video.ts";
import { registerHome } from "./home.ts";
import { registerListVideos } from "./list-videos.ts";
import type { ContinueWatchingReader } from "./service.ts";

// The catalog as other services may use it (playback, search, uploads, transcoding).
export { isVideoId, newVideoId, toVideoSummary, videoMasterPrefix, videoMediaPrefix } from "./documents.ts";
export { listVideosQuery, type VideoSummary, videoIdParam, videoSummarySchema } from "./schema.ts";
export {
  type ContinueWatchingReader,
  catalogReadDb,
  findVideo,
  getVideoDocument,
  markVideoReady,
  notFound,
  type PublishedMedia,
  syncCatalogCache,
} from "./service.ts";

/**
 * Videos service: the catalog viewers browse (KV first, Postgres behind) and its admin side.
 * `continueWatching` is the playback service's reader for the home page's first row.
 */
export function createVideosRouter(deps: { continueWatching: ContinueWatchingReader }) {
  const app = createRouter();
  registerListVideos(app);
  registerGetVideo(app);
  registerHome(app, deps.continueWatching);
  registerAdminCreateVideo(app);
  registerAdminGetVideo(app);
  registerAdminUpdateVideo(app);
  registerAdminDeleteVideo(app);
  return app;
}
