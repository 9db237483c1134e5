import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { problemResponses } from "../platform/openapi.ts";
import { authResponse, signupBody } from "./schema.ts";
import { signUp } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signup",
  tags: ["Users"],
  summary: "Create an account and sign in",
  request: { body: { required: true, content: { "application/json": { schema: signupBody } } } },
  responses: {
    201: { description: "Account created, signed in", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 409, 413, 503),
  },
});

export function registerSignup(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const tokens = await signUp(c.get("services"), c.req.valid("json"), c.req.header("User-Agent"));
    return c.json(tokens, 201);
  });
}
