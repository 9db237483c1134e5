import { createRouter } from "../platform/app.ts";
import { registerChangeMyList } from "./change.ts";
import { registerGetMyList } from "./list.ts";
import { registerRating } from "./rating.ts";

export { MY_LIST_MAX, readMyList } from "./service.ts";

/**
 * My List and ratings: a profile's choices about titles, held in the user's `ViewerState` and
 * copied to KV (My List, for the home page's row) and to Postgres behind (`my_list`,
 * `video_ratings`, for analytics and the rows that recommend). Every route works while Postgres is
 * down (docs/my-list.md).
 */
export function createMyListRouter() {
  const app = createRouter();
  registerGetMyList(app);
  registerChangeMyList(app);
  registerRating(app);
  return app;
}
