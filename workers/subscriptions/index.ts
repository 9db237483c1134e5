import { createRouter } from "../platform/app.ts";
import { registerCancelSubscription } from "./cancel-subscription.ts";
import { registerGetSubscription } from "./get-subscription.ts";
import { registerListPlans } from "./list-plans.ts";
import { registerSubscribe } from "./subscribe.ts";

export { fillSubscription, loadSubscription, publishSubscription, syncSubscriptionCopies } from "./entitlement.ts";
export { getSubscription } from "./service.ts";

/** Subscription service: plans, the user's subscription, and its copy in the user's object, which play checks. */
export function createSubscriptionsRouter() {
  const app = createRouter();
  registerListPlans(app);
  registerGetSubscription(app);
  registerSubscribe(app);
  registerCancelSubscription(app);
  return app;
}
