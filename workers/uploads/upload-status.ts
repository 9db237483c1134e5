import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { uploadIdParam, uploadStatusSchema } from "./schema.ts";
import { httpDate, requireTusResumable, uploadGone, uploadNotFound, uploadSession } from "./tus.ts";

const route = createRoute({
  method: "get",
  path: "/v1/admin/uploads/{uploadId}",
  tags: ["Admin", "Uploads"],
  summary: "An upload's offset (tus HEAD; GET also answers with JSON)",
  description:
    "tus core HEAD: `Upload-Offset` is where the next PATCH starts (after a dropped connection, resume from here), " +
    "with `Upload-Length` and `Cache-Control: no-store`. A terminated or expired upload is 410.",
  security: bearerSecurity,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: uploadIdParam },
  responses: {
    200: { description: "The offset, in headers and body", content: { "application/json": { schema: uploadStatusSchema } } },
    ...problemResponses(401, 403, 404, 410, 412),
  },
});

export function registerUploadStatus(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    const { uploadId } = c.req.valid("param");
    if (c.req.method === "HEAD") requireTusResumable(c);
    const record = await uploadSession(c.get("services"), uploadId).status();
    if (!record) throw uploadNotFound(uploadId);
    if (record.phase === "terminated" || record.phase === "expired") throw uploadGone(record);
    c.header("Upload-Offset", String(record.offset));
    c.header("Upload-Length", String(record.length));
    c.header("Upload-Expires", httpDate(record.expiresAt));
    c.header("Cache-Control", "no-store");
    return c.json(
      {
        uploadId,
        videoId: record.videoId,
        offset: record.offset,
        length: record.length,
        phase: record.phase,
        expiresAt: new Date(record.expiresAt).toISOString(),
      },
      200,
    );
  });
}
