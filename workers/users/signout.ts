import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { clearedRefreshCookie } from "./refresh-cookie.ts";
import { revokeSession } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signout",
  tags: ["Users"],
  summary: "Sign out: this session's access and refresh tokens stop working at once",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: { 204: { description: "Signed out" }, ...problemResponses(401, 503) },
});

export function registerSignout(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    await revokeSession(c.get("services"), c.get("auth"), "signout");
    // A browser's refresh cookie goes with the session (it would be refused anyway).
    c.header("Set-Cookie", clearedRefreshCookie());
    return c.body(null, 204);
  });
}
