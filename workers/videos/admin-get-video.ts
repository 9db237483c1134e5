import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { adminVideoStatusResponse, videoIdParam } from "./schema.ts";
import { adminVideoDocument, findVideo, notFound, type TranscodeStatusReader } from "./service.ts";

const route = createRoute({
  method: "get",
  path: "/v1/admin/videos/{id}",
  tags: ["Admin"],
  summary: "A video in any state, with its pipeline status",
  security: bearerSecurity,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: videoIdParam },
  responses: {
    200: { description: "The video and its status", content: { "application/json": { schema: adminVideoStatusResponse } } },
    ...problemResponses(401, 403, 404, 503),
  },
});

export function registerAdminGetVideo(app: OpenAPIHono<AppEnv>, transcodeStatus: TranscodeStatusReader) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    // The primary: an admin watching an upload must see the state the pipeline just wrote.
    const row = await findVideo(services.db, id);
    if (!row) throw notFound(id);
    const [video, transcode] = await Promise.all([adminVideoDocument(services, row), transcodeStatus(services.db, id)]);
    c.header("Cache-Control", "private, no-store");
    return c.json(
      {
        video,
        state: row.state,
        progress: row.progress,
        qualityReport: row.qualityReport,
        renditions: video.renditions,
        error: row.error,
        transcode,
      },
      200,
    );
  });
}
