import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { problemResponses } from "../platform/openapi.ts";
import { plansResponse } from "./schema.ts";
import { listPlansCached } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/plans",
  tags: ["Subscription"],
  summary: "The plans one can subscribe to, cheapest first",
  responses: {
    200: { description: "Plans", content: { "application/json": { schema: plansResponse } } },
    ...problemResponses(503),
  },
});

export function registerListPlans(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const plans = await listPlansCached(c.get("services"));
    c.header("Cache-Control", "public, max-age=300");
    return c.json({ plans }, 200);
  });
}
