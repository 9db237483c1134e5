import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { seriesIdParam, seriesResponse } from "./schema.ts";
import { getSeriesDocument, seriesNotFound } from "./series-service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/series/{id}",
  tags: ["Videos"],
  summary: "One series, with its seasons and their listed episodes in order",
  description: "404 for an unknown id and for a series with no listed episode yet.",
  security: bearerSecurity,
  middleware: [requireBrowseAuth] as const,
  request: { params: seriesIdParam },
  responses: {
    200: { description: "The series", content: { "application/json": { schema: seriesResponse } } },
    ...problemResponses(401, 404, 429, 503),
  },
});

export function registerGetSeries(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const series = await getSeriesDocument(c.get("services"), id);
    if (!series) throw seriesNotFound(id);
    c.header("Cache-Control", "private, max-age=0");
    return c.json({ series }, 200);
  });
}
