import { createRouter } from "../platform/app.ts";
import { registerJwks } from "./jwks.ts";
import { registerMe, type SubscriptionReader } from "./me.ts";
import { registerRefresh } from "./refresh.ts";
import { registerSignin } from "./signin.ts";
import { registerSignout } from "./signout.ts";
import { registerSignup } from "./signup.ts";

/** Users service: accounts, sessions and tokens. */
export function createUsersRouter(deps: { subscriptionOf: SubscriptionReader }) {
  const app = createRouter();
  registerSignup(app);
  registerSignin(app);
  registerRefresh(app);
  registerSignout(app);
  registerMe(app, deps.subscriptionOf);
  registerJwks(app);
  return app;
}
