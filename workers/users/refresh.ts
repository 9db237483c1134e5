import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { problemResponses } from "../platform/openapi.ts";
import { deliverTokens, presentedRefreshToken, withClearedCookie } from "./refresh-cookie.ts";
import { authResponse, refreshBody } from "./schema.ts";
import { refreshSession } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/refresh",
  tags: ["Users"],
  summary: "Exchange a refresh token for a new token pair",
  description:
    "The presented refresh token is spent. Presenting a spent one revokes the whole session, unless it was spent less than 30 s ago " +
    "(a retry, or the same token sent several times at once): then it gets another new token of the same session. The token is the " +
    "body's `refreshToken`, or the refresh cookie's when the body has none: then the new one goes into the cookie too, and a refusal removes it.",
  middleware: [jsonBodyLimit] as const,
  request: { body: { required: true, content: { "application/json": { schema: refreshBody } } } },
  responses: {
    200: { description: "New token pair", content: { "application/json": { schema: authResponse } } },
    ...problemResponses(400, 401, 413, 415, 503),
  },
});

export function registerRefresh(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    // The body is JSON, whichever carries the token: another site's form cannot send it (docs/threat-model.md).
    const { token, delivery } = presentedRefreshToken(c, c.req.valid("json").refreshToken);
    try {
      return c.json(deliverTokens(c, await refreshSession(c.get("services"), token), delivery), 200);
    } catch (error) {
      throw delivery === "cookie" ? withClearedCookie(error) : error;
    }
  });
}
