import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { adminSeriesResponse, createSeriesBody, seriesIdParam, updateSeriesBody } from "./schema.ts";
import { adminSeriesDocument, findSeries, insertSeries, seriesNotFound, syncSeriesCache, updateSeriesRow } from "./series-service.ts";

const jsonBody = <T>(schema: T) => ({ required: true, content: { "application/json": { schema } } });
const adminSeriesContent = { "application/json": { schema: adminSeriesResponse } };

const createRouteDef = createRoute({
  method: "post",
  path: "/v1/admin/series",
  tags: ["Admin"],
  summary: "Create a series (then attach videos to it as episodes)",
  description: "Viewers see a series once one of its episodes is listed. Unknown fields are refused (400).",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), jsonBodyLimit, requireAuth, requireAdmin] as const,
  request: { body: jsonBody(createSeriesBody) },
  responses: { 201: { description: "Created", content: adminSeriesContent }, ...problemResponses(400, 401, 403, 413, 503) },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/v1/admin/series/{id}",
  tags: ["Admin"],
  summary: "A series with every episode, in any state",
  security: bearerSecurity,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: seriesIdParam },
  responses: { 200: { description: "The series", content: adminSeriesContent }, ...problemResponses(401, 403, 404, 503) },
});

const updateRouteDef = createRoute({
  method: "patch",
  path: "/v1/admin/series/{id}",
  tags: ["Admin"],
  summary: "Change a series' title, summary, genres or rating",
  description: "The next read of the series and of its episodes sees the change. Unknown fields are refused (400).",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), jsonBodyLimit, requireAuth, requireAdmin] as const,
  request: { params: seriesIdParam, body: jsonBody(updateSeriesBody) },
  responses: { 200: { description: "Changed", content: adminSeriesContent }, ...problemResponses(400, 401, 403, 404, 413, 503) },
});

export function registerAdminSeries(app: OpenAPIHono<AppEnv>) {
  app.openapi(createRouteDef, async (c) => {
    const services = c.get("services");
    // No listed episode yet, so no page can hold it: nothing to invalidate.
    const row = await insertSeries(services.db, c.req.valid("json"));
    c.header("Location", `/v1/admin/series/${row.id}`);
    return c.json({ series: await adminSeriesDocument(services, row) }, 201);
  });
  app.openapi(getRouteDef, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    const row = await findSeries(services.db, id);
    if (!row) throw seriesNotFound(id);
    return c.json({ series: await adminSeriesDocument(services, row) }, 200);
  });
  app.openapi(updateRouteDef, async (c) => {
    const { id } = c.req.valid("param");
    const services = c.get("services");
    const row = await updateSeriesRow(services.db, id, c.req.valid("json"));
    if (!row) throw seriesNotFound(id);
    await syncSeriesCache(services, id);
    return c.json({ series: await adminSeriesDocument(services, row) }, 200);
  });
}
