import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { seriesIdParam, seriesResponse } from "./schema.ts";
import { getSeriesDocument, seriesNotFound } from "./series-service.ts";
import { isWithinCeiling } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/series/{id}",
  tags: ["Videos"],
  summary: "One series, with its seasons and their listed episodes in order",
  description:
    "404 for an unknown id, for a series with no listed episode yet, and for one with no episode at or below the profile's maturity ceiling (its other episodes are left out).",
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
    const stored = await getSeriesDocument(c.get("services"), id);
    // A profile sees the episodes at or below its ceiling; a series with none is unknown to it.
    const ceiling = c.get("auth").maturityCeiling;
    const seasons = (stored?.seasons ?? [])
      .map((season) => ({ ...season, episodes: season.episodes.filter((episode) => isWithinCeiling(episode, ceiling)) }))
      .filter((season) => season.episodes.length > 0);
    if (!stored || seasons.length === 0) throw seriesNotFound(id);
    const series = { ...stored, seasons };
    c.header("Cache-Control", "private, max-age=0");
    return c.json({ series }, 200);
  });
}
