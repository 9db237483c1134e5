import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { clearedRefreshCookie } from "./refresh-cookie.ts";
import { revokeAllSessions } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/auth/signout-all",
  tags: ["Users"],
  summary: "Sign out everywhere: every session of the account ends at once, this one too",
  description:
    "Every device's access and refresh tokens stop working as after a sign-out of each, and every stream ends. " +
    "For a lost phone or a shared password; every device must sign in again.",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  responses: { 204: { description: "Signed out everywhere" }, ...problemResponses(401, 503) },
});

export function registerSignoutAll(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    await revokeAllSessions(c.get("services"), c.get("auth").userId);
    // A browser's refresh cookie goes with the session (it would be refused anyway).
    c.header("Set-Cookie", clearedRefreshCookie());
    return c.body(null, 204);
  });
}
