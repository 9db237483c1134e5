import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { problemResponses } from "../platform/openapi.ts";
import { clientKey, enforceRateLimits } from "../platform/rate-limit.ts";
import { authResponse, signinBody } from "./schema.ts";
import { signIn } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signin",
  tags: ["Users"],
  summary: "Sign in with email and password",
  description: "Throttled per account (10 attempts a minute) and per client address (20 a minute): 429 with Retry-After beyond that.",
  request: { body: { required: true, content: { "application/json": { schema: signinBody } } } },
  responses: {
    200: { description: "Signed in", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 401, 413, 429, 503),
  },
});

export function registerSignin(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    const services = c.get("services");
    await enforceRateLimits([
      { limiter: services.rateLimiters.signinClient, period: 60, key: `client:${clientKey(c.req.raw.headers)}`, subject: "this client" },
      { limiter: services.rateLimiters.signinAccount, period: 60, key: `account:${body.email}`, subject: "this account" },
    ]);
    return c.json(await signIn(services, body, c.req.header("User-Agent")), 200);
  });
}
