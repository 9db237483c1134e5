import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { clientKey } from "../platform/rate-limit.ts";
import { deliverTokens } from "./refresh-cookie.ts";
import { authResponse, signinBody } from "./schema.ts";
import { signIn } from "./service.ts";
import { admitSignin, isInvalidCredentials, recordFailedSignin } from "./throttle.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signin",
  tags: ["Users"],
  summary: "Sign in with email and password",
  description:
    "Throttled per client address (20 attempts a minute) and per account from one address (10 a minute): 429 with Retry-After " +
    "beyond that. An account with more than 20 failed sign-ins in a minute is under attack: an address that fails on it then " +
    "waits out the minute, while an address that has not failed still signs in. Nobody can lock someone else out.",
  middleware: [whenDatabaseIsDown(outageWords.signIn), jsonBodyLimit] as const,
  request: { body: { required: true, content: { "application/json": { schema: signinBody } } } },
  responses: {
    200: { description: "Signed in", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 401, 413, 429, 503),
  },
});

export function registerSignin(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { refreshTokenIn = "body", ...body } = c.req.valid("json");
    const services = c.get("services");
    const client = clientKey(c.req.raw.headers);
    await admitSignin(services, body.email, client);
    try {
      return c.json(deliverTokens(c, await signIn(services, body, c.req.header("User-Agent")), refreshTokenIn), 200);
    } catch (error) {
      if (isInvalidCredentials(error)) await recordFailedSignin(services, body.email, client);
      throw error;
    }
  });
}
