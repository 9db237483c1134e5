import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { homeResponse } from "./schema.ts";
import { getHomeRows, type ViewerRowReaders } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/home",
  tags: ["Videos"],
  summary: "The home page: continue watching, My List, new releases, and rows per genre",
  security: bearerSecurity,
  middleware: [requireBrowseAuth] as const,
  responses: {
    200: { description: "Rows of videos", content: { "application/json": { schema: homeResponse } } },
    ...problemResponses(401, 429, 503),
  },
});

export function registerHome(app: OpenAPIHono<AppEnv>, readers: ViewerRowReaders) {
  app.openapi(route, async (c) => {
    const rows = await getHomeRows(c.get("services"), c.get("auth"), readers);
    c.header("Cache-Control", "private, max-age=0");
    return c.json({ rows }, 200);
  });
}
