import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { publishSubscription } from "./entitlement.ts";
import { subscriptionSchema } from "./schema.ts";
import { cancelSubscription } from "./service.ts";

const canceled = z.object({ subscription: subscriptionSchema }).openapi("CanceledSubscription");

const route = createRoute({
  method: "delete",
  path: "/v1/subscription",
  tags: ["Subscription"],
  summary: "Cancel at the end of the current period",
  description: "The status becomes `canceled` at once; playback stays entitled until `currentPeriodEnd`.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.plan), requireAuth] as const,
  responses: {
    200: { description: "Canceled", content: { "application/json": { schema: canceled } } },
    ...problemResponses(401, 404, 503),
  },
});

export function registerCancelSubscription(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const { userId } = c.get("auth");
    const subscription = await cancelSubscription(services.db, userId, new Date(services.clock.now()));
    await publishSubscription(services, userId);
    c.header("Cache-Control", "private, no-store");
    return c.json({ subscription }, 200);
  });
}
