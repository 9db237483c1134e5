import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { publishSubscription } from "./entitlement.ts";
import { subscribeBody, subscriptionSchema } from "./schema.ts";
import { subscribe } from "./service.ts";

const subscribed = z.object({ subscription: subscriptionSchema }).openapi("Subscribed");

const route = createRoute({
  method: "post",
  path: "/v1/subscription",
  tags: ["Subscription"],
  summary: "Subscribe, or change plan",
  description:
    "201 when a subscription starts (none before, or a canceled one whose period is over); 200 when the plan of the current " +
    "subscription changes (a pending cancellation is withdrawn, the period stays). Safe to repeat and to race. A change to a plan " +
    "with a lower height or fewer screens ends the account's streams: players get 403 and ask play again, at the new plan's cap.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.plan), jsonBodyLimit, requireAuth] as const,
  request: { body: { required: true, content: { "application/json": { schema: subscribeBody } } } },
  responses: {
    200: { description: "Plan changed", content: { "application/json": { schema: subscribed } } },
    201: { description: "Subscribed", content: { "application/json": { schema: subscribed } } },
    ...problemResponses(400, 401, 413, 503),
  },
});

export function registerSubscribe(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const { userId } = c.get("auth");
    const now = new Date(services.clock.now());
    const { subscription, created } = await subscribe(services.db, userId, c.req.valid("json").planId, now);
    // The user's object takes the new plan, and ends the streams when it plays less.
    await publishSubscription(services, userId);
    c.header("Cache-Control", "private, no-store");
    return created ? c.json({ subscription }, 201) : c.json({ subscription }, 200);
  });
}
