import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { problemResponses } from "../platform/openapi.ts";
import { authResponse, refreshBody } from "./schema.ts";
import { refreshSession } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/refresh",
  tags: ["Users"],
  summary: "Exchange a refresh token for a new token pair",
  description: "The presented refresh token is spent. Presenting a spent one revokes the whole session.",
  middleware: [jsonBodyLimit] as const,
  request: { body: { required: true, content: { "application/json": { schema: refreshBody } } } },
  responses: {
    200: { description: "New token pair", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 401, 413, 503),
  },
});

export function registerRefresh(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => c.json(await refreshSession(c.get("services"), c.req.valid("json").refreshToken), 200));
}
