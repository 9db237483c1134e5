import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import type { SubscriptionCopy } from "../platform/entitlement.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import type { Services } from "../platform/services.ts";
import { accountOf } from "./account-copies.ts";
import { userSchema } from "./schema.ts";

const meResponse = z
  .object({
    user: userSchema,
    subscription: z
      .object({ planId: z.string(), status: z.string(), currentPeriodEnd: z.string(), cancelAt: z.string().nullable() })
      .nullable(),
  })
  .openapi("Me");

const route = createRoute({
  method: "get",
  path: "/v1/me",
  tags: ["Users"],
  summary: "The signed-in user and their subscription",
  description: "Read from the user's Durable Object (the account's and the subscription's copies): answers while the database is down.",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: {
    200: { description: "Profile", content: { "application/json": { schema: meResponse } } },
    ...problemResponses(401, 503),
  },
});

/** The subscription of a user whose object holds no copy yet, from Postgres (and copied on the way). */
export type SubscriptionReader = (services: Services, userId: string) => Promise<SubscriptionCopy | null>;

function publicSubscription(copy: SubscriptionCopy | null): z.infer<typeof meResponse>["subscription"] {
  if (!copy) return null;
  const cancelAt = copy.cancelAt === null ? null : new Date(copy.cancelAt).toISOString();
  return { planId: copy.planId, status: copy.status, currentPeriodEnd: new Date(copy.currentPeriodEnd).toISOString(), cancelAt };
}

/**
 * One call to the user's object, no query: the account's and the subscription's copies. An object
 * that holds none yet is filled from Postgres. `subscriptionOf` is the Subscription service's
 * filler, passed in so this module does not depend on it.
 */
export function registerMe(app: OpenAPIHono<AppEnv>, subscriptionOf: SubscriptionReader) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const { userId } = c.get("auth");
    const held = await services.viewerState(userId).accountView();
    const [user, subscription] = await Promise.all([
      accountOf(services, userId, held.account),
      held.subscription === undefined ? subscriptionOf(services, userId) : held.subscription,
    ]);
    c.header("Cache-Control", "private, no-store");
    return c.json({ user, subscription: publicSubscription(subscription) }, 200);
  });
}
