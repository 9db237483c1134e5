import { createRouter } from "../platform/app.ts";
import { registerAdminCreateVideo } from "./admin-create-video.ts";
import { registerAdminDeleteVideo } from "./admin-delete-video.ts";
import { registerAdminGetVideo } from "./admin-get-video.ts";
import { registerAdminUpdateVideo } from "./admin-update-video.ts";
import { registerGetVideo } from "./get-video.ts";
import { registerHome } from "./home.ts";
import { registerListVideos } from "./list-videos.ts";
import { registerPreview } from "./preview.ts";
import type { ContinueWatchingReader, MoreLikeThisReader, RecommendedRowsReader, TranscodeStatusReader } from "./service.ts";

// The catalog as other services may use it (playback, search, uploads, transcoding).
export { CATALOG_STALE_IF_ERROR_SECONDS } from "./cache-keys.ts";
export { isVideoId, newVideoId, toVideoSummary } from "./documents.ts";
export { type HomeRow, type TranscodeStatus, type VideoSummary, videoIdParam } from "./schema.ts";
export {
  catalogReadDb,
  catalogReadDbAt,
  catalogVersionChangedAt,
  catalogVersionEntry,
  findVideo,
  getVideoDocument,
  getVideoSummaries,
  markVideoReady,
  notFound,
  syncCatalogCache,
} from "./service.ts";
export { transitionVideo } from "./transitions.ts";

/**
 * Videos service: the catalog viewers browse (KV first, Postgres behind) and its admin side.
 * `continueWatching` is the playback service's reader of the home page's first row;
 * `transcodeStatus` the transcoding service's view of a job, for the admin view;
 * `recommendedRows` and `moreLikeThis` the recommendations service's readers of its KV rows.
 */
export function createVideosRouter(deps: {
  continueWatching: ContinueWatchingReader;
  transcodeStatus: TranscodeStatusReader;
  recommendedRows: RecommendedRowsReader;
  moreLikeThis: MoreLikeThisReader;
}) {
  const app = createRouter();
  registerListVideos(app);
  registerPreview(app);
  registerGetVideo(app, deps.moreLikeThis);
  registerHome(app, deps);
  registerAdminCreateVideo(app);
  registerAdminGetVideo(app, deps.transcodeStatus);
  registerAdminUpdateVideo(app);
  registerAdminDeleteVideo(app);
  return app;
}
