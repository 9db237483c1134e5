import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { masterKey, uploadScratchPrefix } from "../platform/media-layout.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import { outageWords, whenDatabaseIsDown } from "../platform/outage.ts";
import { videoIdParam } from "../videos/index.ts";
import { claimUploadSlot, releaseUploadSlot } from "./service.ts";
import { MAX_UPLOAD_BYTES, PART_SIZE, UPLOAD_IDLE_EXPIRY_MS } from "./settings.ts";
import { httpDate, integerHeader, newUploadId, parseUploadMetadata, requireTusResumable, uploadPath, uploadSession } from "./tus.ts";

const route = createRoute({
  method: "post",
  path: "/v1/admin/videos/{id}/uploads",
  tags: ["Admin", "Uploads"],
  summary: "Start a resumable upload of the video's master (tus 1.0.0 creation)",
  description:
    "tus creation: send `Tus-Resumable: 1.0.0`, `Upload-Length` (bytes) and optionally `Upload-Metadata`. " +
    "The answer's `Location` is the upload URL for HEAD (offset), PATCH (bytes, `Content-Type: application/offset+octet-stream`) " +
    "and DELETE (termination). Any tus client works, e.g. tus-js-client with `chunkSize` of 8–64 MiB. " +
    "One upload per video at a time; the video must be `awaiting-upload` or `failed`.",
  security: bearerSecurity,
  middleware: [whenDatabaseIsDown(outageWords.upload), requireAuth, requireAdmin] as const,
  request: { params: videoIdParam },
  responses: {
    201: { description: "Created: `Location`, `Upload-Expires`, `Tus-Resumable` headers" },
    ...problemResponses(400, 401, 403, 404, 409, 412, 413, 503),
  },
});

export function registerCreateUpload(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    requireTusResumable(c);
    const { id } = c.req.valid("param");
    if (c.req.header("Upload-Defer-Length")) {
      throw new ApiError("bad-request", "Upload-Defer-Length is not supported: send Upload-Length, the size of the file in bytes.");
    }
    const length = integerHeader(c, "Upload-Length");
    if (length === undefined) throw new ApiError("bad-request", "Send Upload-Length: the size of the file in bytes.");
    if (length === 0) throw new ApiError("bad-request", "Upload-Length is 0: an empty file is not a video.");
    if (length > MAX_UPLOAD_BYTES) {
      throw new ApiError(
        "payload-too-large",
        `The file is ${length} bytes; the largest master accepted is ${MAX_UPLOAD_BYTES} bytes (${MAX_UPLOAD_BYTES / 2 ** 30} GiB).`,
      );
    }
    const metadata = parseUploadMetadata(c.req.header("Upload-Metadata"));
    const services = c.get("services");
    const { db } = services;
    const uploadId = newUploadId();
    await claimUploadSlot(db, id, uploadId);
    let expiresAt: number;
    try {
      ({ expiresAt } = await uploadSession(services, uploadId).create({
        uploadId,
        videoId: id,
        masterKey: masterKey(id, uploadId),
        scratchPrefix: uploadScratchPrefix(uploadId),
        idleExpiryMs: UPLOAD_IDLE_EXPIRY_MS,
        length,
        partSize: PART_SIZE,
        metadata,
      }));
    } catch (error) {
      await releaseUploadSlot(db, id, uploadId);
      throw error;
    }
    c.header("Location", new URL(uploadPath(uploadId), c.req.url).toString());
    c.header("Upload-Expires", httpDate(expiresAt));
    c.header("Cache-Control", "no-store");
    return c.body(null, 201);
  });
}
