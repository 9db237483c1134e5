import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { positionOf } from "./episodes.ts";
import { videoIdParam } from "./schema.ts";
import { deleteVideoMedia, deleteVideoRow, findVideo, notFound, syncCatalogCache } from "./service.ts";

const route = createRoute({
  method: "delete",
  path: "/v1/admin/videos/{id}",
  tags: ["Admin"],
  summary: "Delete a video: its row, its media objects and its cache entries",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), requireAuth, requireAdmin] as const,
  request: { params: videoIdParam },
  responses: { 204: { description: "Deleted" }, ...problemResponses(401, 403, 404, 503) },
});

export function registerAdminDeleteVideo(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    if (!(await findVideo(services.db, id))) throw notFound(id);
    // Media first: if R2 fails, the row is still there and the admin can simply retry the delete.
    await deleteVideoMedia(services, id);
    const row = await deleteVideoRow(services.db, id);
    if (!row) throw notFound(id);
    await syncCatalogCache(services, { id, wasListed: row.state === "ready", before: positionOf(row) });
    return c.body(null, 204);
  });
}
