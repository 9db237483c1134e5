import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireBrowseAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { searchPageSchema, searchQuery } from "./schema.ts";
import { searchVideos } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/search",
  tags: ["Search"],
  summary: "Search titles, summaries, cast and genres",
  description:
    "Ranked (title above cast above genres above summary), typo-tolerant, prefix-matching for search-as-you-type. Only ready " +
    "videos up to the maturity ceiling of the token's profile. Follow `nextCursor` with the same `q` and `genre`. Rate limited per account (429 with Retry-After).",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.search), requireBrowseAuth] as const,
  request: { query: searchQuery },
  responses: {
    200: { description: "A page of results, best first", content: { "application/json": { schema: searchPageSchema } } },
    ...problemResponses(400, 401, 429, 503),
  },
});

export function registerSearch(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const page = await searchVideos(c.get("services"), { ...c.req.valid("query"), ceiling: c.get("auth").maturityCeiling });
    c.header("Cache-Control", "private, max-age=0");
    return c.json(page, 200);
  });
}
