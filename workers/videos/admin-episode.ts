import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { adminVideoResponse, setEpisodeBody, videoIdParam } from "./schema.ts";
import { attachEpisode, detachEpisode } from "./series-service.ts";
import { adminVideoDocument } from "./service.ts";

const adminVideoContent = { "application/json": { schema: adminVideoResponse } };

const attachRoute = createRoute({
  method: "put",
  path: "/v1/admin/videos/{id}/episode",
  tags: ["Admin"],
  summary: "Make a video an episode of a series (or move it)",
  description:
    "Season and episode numbers are unique within a series: a taken slot is a 409 that names its video. The season is created " +
    "when it has no episode yet. The series' page and the neighbouring episodes' `next` follow on their next read.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), jsonBodyLimit, requireAuth, requireAdmin] as const,
  request: { params: videoIdParam, body: { required: true, content: { "application/json": { schema: setEpisodeBody } } } },
  responses: {
    200: { description: "The video, now an episode", content: adminVideoContent },
    ...problemResponses(400, 401, 403, 404, 409, 413, 503),
  },
});

const detachRoute = createRoute({
  method: "delete",
  path: "/v1/admin/videos/{id}/episode",
  tags: ["Admin"],
  summary: "Make an episode a film again",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), requireAuth, requireAdmin] as const,
  request: { params: videoIdParam },
  responses: { 200: { description: "The video, now a film", content: adminVideoContent }, ...problemResponses(401, 403, 404, 503) },
});

export function registerAdminEpisode(app: OpenAPIHono<AppEnv>) {
  app.openapi(attachRoute, async (c) => {
    const services = c.get("services");
    const row = await attachEpisode(services, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ video: await adminVideoDocument(services, row) }, 200);
  });
  app.openapi(detachRoute, async (c) => {
    const services = c.get("services");
    const row = await detachEpisode(services, c.req.valid("param").id);
    return c.json({ video: await adminVideoDocument(services, row) }, 200);
  });
}
