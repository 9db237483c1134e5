import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { viewerCountry } from "../platform/viewer-country.ts";
import { homeResponse } from "./schema.ts";
import { getHomeRows, type ViewerRowReaders } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/home",
  tags: ["Videos"],
  summary: "The home page: continue watching, My List, rows that recommend, new releases, and rows per genre",
  description:
    "Rows that recommend are computed from what viewers watched by a background job every few minutes (trending, top 10 in the " +
    "viewer's country) or hourly (because you watched, from the viewer's latest title); each is left out until it has been computed.",
  security: bearerSecurity,
  middleware: [requireBrowseAuth] as const,
  responses: {
    200: { description: "Rows of videos", content: { "application/json": { schema: homeResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerHome(app: OpenAPIHono<AppEnv>, readers: ViewerRowReaders) {
  app.openapi(route, async (c) => {
    const rows = await getHomeRows(c.get("services"), c.get("auth"), viewerCountry(c.req.raw), readers);
    c.header("Cache-Control", "private, max-age=0");
    return c.json({ rows }, 200);
  });
}
