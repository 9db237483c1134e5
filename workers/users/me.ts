import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import type { Services } from "../platform/services.ts";
import { userSchema } from "./schema.ts";
import { getUser } from "./service.ts";

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
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: {
    200: { description: "Profile", content: { "application/json": { schema: meResponse } } },
    ...problemResponses(401, 503),
  },
});

export type SubscriptionReader = (services: Services, userId: string) => Promise<z.infer<typeof meResponse>["subscription"]>;

/** `subscriptionOf` is the Subscription service's reader, passed in so this module does not depend on it. */
export function registerMe(app: OpenAPIHono<AppEnv>, subscriptionOf: SubscriptionReader) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    const auth = c.get("auth");
    const [user, subscription] = await Promise.all([getUser(services.db, auth), subscriptionOf(services, auth.userId)]);
    return c.json({ user, subscription }, 200);
  });
}
