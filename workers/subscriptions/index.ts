import { createRouter } from "../platform/app.ts";
import { registerCancelSubscription } from "./cancel-subscription.ts";
import { registerGetSubscription } from "./get-subscription.ts";
import { registerListPlans } from "./list-plans.ts";
import { registerSubscribe } from "./subscribe.ts";

export { type Entitlement, getEntitlement, getSubscription } from "./service.ts";

/** Subscription service: plans, the user's subscription, and the entitlement check playback uses. */
export function createSubscriptionsRouter() {
  const app = createRouter();
  registerListPlans(app);
  registerGetSubscription(app);
  registerSubscribe(app);
  registerCancelSubscription(app);
  return app;
}
