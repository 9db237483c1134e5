import { createRouter } from "../platform/app.ts";
import { registerAdminCreateVideo } from "./admin-create-video.ts";
import { registerAdminDeleteVideo } from "./admin-delete-video.ts";
import { registerAdminEpisode } from "./admin-episode.ts";
import { registerAdminGetVideo } from "./admin-get-video.ts";
import { registerAdminSeries } from "./admin-series.ts";
import { registerAdminUpdateVideo } from "./admin-update-video.ts";
import { registerGetSeries } from "./get-series.ts";
import { registerGetVideo } from "./get-video.ts";
import { registerHome } from "./home.ts";
import { registerListVideos } from "./list-videos.ts";
import { registerPreview } from "./preview.ts";
import type { ContinueWatchingReader, MoreLikeThisReader, MyListReader, RecommendedRowsReader, TranscodeStatusReader } from "./service.ts";

// The catalog as other services may use it (playback, search, uploads, transcoding).
export { CATALOG_STALE_IF_ERROR_SECONDS } from "./cache-keys.ts";
export { isVideoId, newVideoId, previewUrl, toVideoSummary } from "./documents.ts";
export { type HomeRow, type TranscodeStatus, type VideoSummary, videoIdParam } from "./schema.ts";
export {
  catalogReadDb,
  catalogReadDbAt,
  catalogVersionChangedAt,
  catalogVersionEntry,
  findVideo,
  getVideoDocument,
  getVideoSummaries,
  isWithinCeiling,
  markVideoReady,
  notFound,
  syncCatalogCache,
} from "./service.ts";
export { transitionVideo } from "./transitions.ts";
export {
  buildViewerRow,
  CATALOG_CHANGE_SETTLED_MS,
  UNSETTLED_VERSION,
  type ViewerRow,
  viewerRowItemsCurrent,
  viewerRowSummaries,
} from "./viewer-rows.ts";

/**
 * Videos service: the catalog viewers browse (KV first, Postgres behind) and its admin side.
 * `continueWatching` is the playback service's reader of the home page's first row, `myList` the
 * My List service's reader of the profile's list row;
 * `transcodeStatus` the transcoding service's view of a job, for the admin view;
 * `recommendedRows` and `moreLikeThis` the recommendations service's readers of its KV rows.
 */
export function createVideosRouter(deps: {
  continueWatching: ContinueWatchingReader;
  myList: MyListReader;
  transcodeStatus: TranscodeStatusReader;
  recommendedRows: RecommendedRowsReader;
  moreLikeThis: MoreLikeThisReader;
}) {
  const app = createRouter();
  registerListVideos(app);
  registerPreview(app);
  registerGetVideo(app, deps.moreLikeThis);
  registerGetSeries(app);
  registerHome(app, deps);
  registerAdminCreateVideo(app);
  registerAdminGetVideo(app, deps.transcodeStatus);
  registerAdminUpdateVideo(app);
  registerAdminDeleteVideo(app);
  registerAdminSeries(app);
  registerAdminEpisode(app);
  return app;
}
