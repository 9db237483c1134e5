import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { jsonBodyLimit } from "../platform/body-limit.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { toAdminVideo } from "./documents.ts";
import { adminVideoResponse, createVideoBody } from "./schema.ts";
import { insertVideo } from "./service.ts";

const route = createRoute({
  method: "post",
  path: "/v1/admin/videos",
  tags: ["Admin"],
  summary: "Create a video's catalog entry (then upload its source)",
  description: "The video starts in state `awaiting-upload` and is not listed until it is `ready`. Unknown fields are refused (400).",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.catalogWrite), jsonBodyLimit, requireAuth, requireAdmin] as const,
  request: { body: { required: true, content: { "application/json": { schema: createVideoBody } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: adminVideoResponse } } },
    ...problemResponses(400, 401, 403, 413, 503),
  },
});

export function registerAdminCreateVideo(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const services = c.get("services");
    // Not listed yet, so no cache entry can hold it: nothing to invalidate.
    const row = await insertVideo(services.db, c.req.valid("json"));
    c.header("Location", `/v1/admin/videos/${row.id}`);
    return c.json({ video: await toAdminVideo(services, row, null) }, 201);
  });
}
