import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { listVideosQuery, videoPageSchema } from "./schema.ts";
import { getVideoPage } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/videos",
  tags: ["Videos"],
  summary: "The catalog, newest first, one page at a time",
  description:
    "Only ready videos, up to the maturity ceiling of the token's profile. Keyset pagination: follow `nextCursor` until it is null; a page never repeats or skips a video while " +
    "the catalog changes. Rate limited per account (429 with Retry-After).",
  security: bearerSecurity,
  middleware: [requireBrowseAuth] as const,
  request: { query: listVideosQuery },
  responses: {
    200: { description: "A page of videos", content: { "application/json": { schema: videoPageSchema } } },
    ...problemResponses(400, 401, 429, 503),
  },
});

export function registerListVideos(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const page = await getVideoPage(c.get("services"), { ...c.req.valid("query"), ceiling: c.get("auth").maturityCeiling });
    c.header("Cache-Control", "private, max-age=0");
    return c.json(page, 200);
  });
}
