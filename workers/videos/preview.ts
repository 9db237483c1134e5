import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { NO_CEILING } from "../../schema/index.ts";
import type { AppEnv } from "../platform/app-env.ts";
import { problemResponses } from "../platform/openapi.ts";
import { previewResponse } from "./schema.ts";
import { getVideoPage } from "./service.ts";

/** How many titles the signed-out landing page shows. */
export const PREVIEW_SIZE = 12;

const route = createRoute({
  method: "get",
  path: "/v1/preview",
  tags: ["Videos"],
  summary: "A few of the newest titles, for visitors who are not signed in (the landing page)",
  description:
    "Public: no token. The first catalog page of 12, from the same KV entry as `GET /v1/videos?limit=12` (stamped with the catalog " +
    "version: a warm request makes no query). Posters are signed with the day's preview token, the same URL for everyone. " +
    "Cached by browsers and the edge for 60 s.",
  responses: {
    200: { description: "The newest titles", content: { "application/json": { schema: previewResponse } } },
    ...problemResponses(503),
  },
});

export function registerPreview(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    // Public: the whole catalog, as a profile without a ceiling sees it.
    const page = await getVideoPage(c.get("services"), { limit: PREVIEW_SIZE, ceiling: NO_CEILING });
    c.header("Cache-Control", "public, max-age=60");
    return c.json({ items: page.items }, 200);
  });
}
