import { createRouter } from "../platform/app.ts";
import { registerAdminCreateVideo } from "./admin-create-video.ts";
import { registerAdminDeleteVideo } from "./admin-delete-video.ts";
import { registerAdminGetVideo } from "./admin-get-video.ts";
import { registerAdminUpdateVideo } from "./admin-update-video.ts";
import { registerGetVideo } from "./get-video.ts";
import { registerHome } from "./home.ts";
import { registerListVideos } from "./list-videos.ts";
import type { ContinueWatchingSource, TranscodeStatusReader } from "./service.ts";

// The catalog as other services may use it (playback, search, uploads, transcoding).
export { isVideoId, newVideoId, toVideoSummary } from "./documents.ts";
export { listVideosQuery, type TranscodeStatus, type VideoSummary, videoIdParam, videoSummarySchema } from "./schema.ts";
export {
  buildContinueWatchingRow,
  type ContinueWatchingRow,
  type ContinueWatchingSource,
  catalogReadDb,
  catalogVersionEntry,
  continueWatchingRowDue,
  findVideo,
  getVideoDocument,
  getVideoSummaries,
  markVideoReady,
  notFound,
  type PublishedMedia,
  syncCatalogCache,
  type TranscodeStatusReader,
} from "./service.ts";
export { statesLeadingTo, transitionVideo, type VideoTransition, videoTransitions } from "./transitions.ts";

/**
 * Videos service: the catalog viewers browse (KV first, Postgres behind) and its admin side.
 * `continueWatching` is where the playback service keeps the home page's first row;
 * `transcodeStatus` the transcoding service's view of a job, for the admin view.
 */
export function createVideosRouter(deps: { continueWatching: ContinueWatchingSource; transcodeStatus: TranscodeStatusReader }) {
  const app = createRouter();
  registerListVideos(app);
  registerGetVideo(app);
  registerHome(app, deps.continueWatching);
  registerAdminCreateVideo(app);
  registerAdminGetVideo(app, deps.transcodeStatus);
  registerAdminUpdateVideo(app);
  registerAdminDeleteVideo(app);
  return app;
}
