import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { clientKey } from "../platform/rate-limit.ts";
import { deliverTokens } from "./refresh-cookie.ts";
import { authResponse, signupBody } from "./schema.ts";
import { signUp } from "./service.ts";
import { admitSignup } from "./throttle.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signup",
  tags: ["Users"],
  summary: "Create an account and sign in",
  description: "Throttled per client address (5 sign-ups a minute): 429 with Retry-After beyond that.",
  middleware: [whenDatabaseIsDown(outageWords.signUp), jsonBodyLimit] as const,
  request: { body: { required: true, content: { "application/json": { schema: signupBody } } } },
  responses: {
    201: { description: "Account created, signed in", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 409, 413, 429, 503),
  },
});

export function registerSignup(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    await admitSignup(services, clientKey(c.req.raw.headers));
    const { refreshTokenIn = "body", ...input } = c.req.valid("json");
    const issued = await signUp(services, input, c.req.header("User-Agent"));
    return c.json(deliverTokens(c, issued, refreshTokenIn), 201);
  });
}
