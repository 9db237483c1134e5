import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { subscriptionResponse } from "./schema.ts";
import { getSubscription } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/subscription",
  tags: ["Subscription"],
  summary: "The signed-in user's subscription (null when there is none)",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: {
    200: { description: "Subscription", content: { "application/json": { schema: subscriptionResponse } } },
    ...problemResponses(401, 503),
  },
});

export function registerGetSubscription(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const subscription = await getSubscription(c.get("services").db, c.get("auth").userId);
    c.header("Cache-Control", "private, no-store");
    return c.json({ subscription }, 200);
  });
}
