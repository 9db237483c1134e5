import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { playResponse, videoIdParam } from "./schema.ts";
import { type EntitlementReader, startPlayback } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/videos/{id}/play",
  tags: ["Playback"],
  summary: "Start (or move) this session's stream: a signed manifest URL, where to resume, the plan's height",
  description:
    "Takes this session's screen lease (moving it when the session was playing another title). 402 without an active plan, 409 while the video is not ready, 429 when every screen of the plan is in use.",
  security: bearerSecurity,
  middleware: [requireAuth] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "Signed playback", content: { "application/json": { schema: playResponse } } },
    ...problemResponses(401, 402, 404, 409, 429, 503),
  },
});

export function registerPlay(app: OpenAPIHono<AppEnv>, entitlementOf: EntitlementReader) {
  app.openapi(route, async (c) => {
    const playback = await startPlayback(c.get("services"), c.get("auth"), c.req.valid("param").id, entitlementOf);
    c.header("Cache-Control", "no-store");
    return c.json(playback, 200);
  });
}
