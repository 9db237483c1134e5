import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { adminVideoResponse, updateVideoBody, videoIdParam } from "./schema.ts";
import { adminVideoDocument, notFound, syncCatalogCache, updateVideoRow } from "./service.ts";

const route = createRoute({
  method: "patch",
  path: "/v1/admin/videos/{id}",
  tags: ["Admin"],
  summary: "Change a video's metadata",
  description:
    "Only the metadata fields of the create request; `state`, `id` and media fields are refused (400). The next read of the " +
    "video, the catalog and the home page sees the change.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), jsonBodyLimit, requireAuth, requireAdmin] as const,
  request: { params: videoIdParam, body: { required: true, content: { "application/json": { schema: updateVideoBody } } } },
  responses: {
    200: { description: "Changed", content: { "application/json": { schema: adminVideoResponse } } },
    ...problemResponses(400, 401, 403, 404, 413, 503),
  },
});

export function registerAdminUpdateVideo(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    const row = await updateVideoRow(services.db, id, c.req.valid("json"));
    if (!row) throw notFound(id);
    // A metadata edit never changes the state, so "listed before" is "listed now".
    await syncCatalogCache(services, { id, wasListed: row.state === "ready", now: row });
    return c.json({ video: await adminVideoDocument(services, row) }, 200);
  });
}
