import { createRouter } from "../platform/app.ts";
import { registerSearch } from "./search.ts";

/** Search service: Postgres full-text search plus trigram similarity, over listed videos. */
export function createSearchRouter() {
  const app = createRouter();
  registerSearch(app);
  return app;
}
