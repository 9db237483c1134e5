import { createRouter } from "../platform/app.ts";
import { registerJwks } from "./jwks.ts";
import { registerMe, type SubscriptionReader } from "./me.ts";
import { registerProfiles } from "./profiles/routes.ts";
import { registerRefresh } from "./refresh.ts";
import { registerSignin } from "./signin.ts";
import { registerSignout } from "./signout.ts";
import { registerSignoutAll } from "./signout-all.ts";
import { registerSignup } from "./signup.ts";

export { syncAccountCopies } from "./account-copies.ts";

/** Users service: accounts (Postgres, copied into the user's object), sessions and tokens (the user's object). */
export function createUsersRouter(deps: { subscriptionOf: SubscriptionReader }) {
  const app = createRouter();
  registerSignup(app);
  registerSignin(app);
  registerRefresh(app);
  registerSignout(app);
  registerSignoutAll(app);
  registerMe(app, deps.subscriptionOf);
  registerJwks(app);
  registerProfiles(app);
  return app;
}
