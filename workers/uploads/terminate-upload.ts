import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { uploadIdParam } from "./schema.ts";
import { releaseUploadSlot } from "./service.ts";
import { requireTusResumable, uploadGone, uploadNotFound, uploadSession } from "./tus.ts";

const route = createRoute({
  method: "delete",
  path: "/v1/admin/uploads/{uploadId}",
  tags: ["Admin", "Uploads"],
  summary: "Terminate an upload (tus termination)",
  description:
    "Aborts the R2 multipart upload, deletes the bytes received so far and frees the video for another upload " +
    "(it returns to `awaiting-upload`). Terminating again answers 204; a completed upload cannot be terminated (409).",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.upload), requireAuth, requireAdmin] as const,
  request: { params: uploadIdParam },
  responses: {
    204: { description: "Terminated" },
    ...problemResponses(401, 403, 404, 409, 412),
  },
});

export function registerTerminateUpload(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    requireTusResumable(c);
    const { uploadId } = c.req.valid("param");
    const services = c.get("services");
    const outcome = await uploadSession(services, uploadId).terminate();
    if (!outcome) throw uploadNotFound(uploadId);
    if (outcome.finishing) {
      throw new ApiError(
        "conflict",
        `Upload ${uploadId} is complete and its video is being queued for transcoding; delete the video to discard it.`,
      );
    }
    if (outcome.record.phase === "finished") throw uploadGone(outcome.record);
    // Only this upload's hold on the video is given back, never a newer upload's.
    if (outcome.released) await releaseUploadSlot(services.db, outcome.record.videoId, uploadId);
    return c.body(null, 204);
  });
}
