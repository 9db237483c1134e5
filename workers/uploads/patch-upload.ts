import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { UploadRecord, UploadSession } from "../../durable-objects/upload-session.ts";
import type { AppEnv } from "../platform/app-env.ts";
import { requireAdmin, requireAuth } from "../platform/auth.ts";
import { ApiError } from "../platform/errors.ts";
import { bearerSecurity, problemResponses } from "../platform/openapi.ts";
import type { Services } from "../platform/services.ts";
import { writePatchBody } from "./part-writer.ts";
import { uploadIdParam } from "./schema.ts";
import { queueTranscode, recordUploadProgress } from "./service.ts";
import { PATCH_BODY_CAP } from "./settings.ts";
import { httpDate, integerHeader, requireTusResumable, TUS_CONTENT_TYPE, uploadGone, uploadNotFound, uploadSession } from "./tus.ts";

const route = createRoute({
  method: "patch",
  path: "/v1/admin/uploads/{uploadId}",
  tags: ["Admin", "Uploads"],
  summary: "Append bytes to an upload (tus core PATCH)",
  description:
    "Send `Content-Type: application/offset+octet-stream`, `Tus-Resumable: 1.0.0` and `Upload-Offset` equal to the upload's " +
    "current offset (409 otherwise, with the current `Upload-Offset`). Any chunk size works; a body longer than " +
    `${PATCH_BODY_CAP / 2 ** 20} MiB is read up to that size and the answer's \`Upload-Offset\` says where to continue. ` +
    "The last byte queues the video for transcoding.",
  security: bearerSecurity,
  middleware: [requireAuth, requireAdmin] as const,
  request: { params: uploadIdParam },
  responses: {
    204: { description: "Bytes stored: the new `Upload-Offset`" },
    ...problemResponses(400, 401, 403, 404, 409, 410, 412, 415, 503),
  },
});

export function registerPatchUpload(app: OpenAPIHono<AppEnv>) {
  app.openapi(route, async (c) => {
    requireTusResumable(c);
    const { uploadId } = c.req.valid("param");
    const contentType = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
    if (contentType !== TUS_CONTENT_TYPE) {
      throw new ApiError("unsupported-media-type", `Send the bytes with Content-Type: ${TUS_CONTENT_TYPE}.`);
    }
    const offset = integerHeader(c, "Upload-Offset");
    if (offset === undefined) throw new ApiError("bad-request", "Send Upload-Offset: the upload's current offset (HEAD tells it).");
    const contentLength = integerHeader(c, "Content-Length");
    const services = c.get("services");
    const session = uploadSession(services, uploadId);
    const begin = await session.beginWrite(offset);
    if (!begin.ok) {
      if (!begin.record) throw uploadNotFound(uploadId);
      if (begin.reason === "gone") throw uploadGone(begin.record);
      const current = String(begin.record.offset);
      if (begin.reason === "busy") {
        throw new ApiError(
          "conflict",
          "Another PATCH to this upload is still being written. Retry after it ends (HEAD gives the offset).",
          {
            headers: { "Upload-Offset": current, "Retry-After": String(begin.retryAfterSeconds) },
          },
        );
      }
      throw new ApiError("conflict", `Upload-Offset is ${offset} but the upload is at ${current}; resume from ${current}.`, {
        headers: { "Upload-Offset": current },
      });
    }
    const { token } = begin;
    let record = begin.record;
    try {
      if (contentLength !== undefined && offset + contentLength > record.length) {
        throw new ApiError(
          "bad-request",
          `The body (${contentLength} bytes at offset ${offset}) goes past Upload-Length ${record.length}.`,
        );
      }
      if (record.phase === "active") {
        const outcome = await writePatchBody({
          bucket: services.media.bucket,
          session,
          token,
          record,
          body: c.req.raw.body,
          cap: PATCH_BODY_CAP,
        });
        record = outcome.record;
      }
      if (record.phase === "assembled") {
        record = await finishUpload(services, session, record);
      } else {
        await recordUploadProgress(services.db, record.videoId, record.offset / record.length).catch((error) => {
          services.log.warn("upload progress not recorded", { uploadId, error });
        });
      }
    } finally {
      await session.endWrite(token);
    }
    c.header("Upload-Offset", String(record.offset));
    c.header("Upload-Expires", httpDate(record.expiresAt));
    return c.body(null, 204);
  });
}

/** The master is whole: queue the video (exactly once), then drop the upload's scratch objects. */
async function finishUpload(services: Services, session: DurableObjectStub<UploadSession>, record: UploadRecord): Promise<UploadRecord> {
  const job = await queueTranscode(services, record.videoId);
  if (!job) {
    // The video left `uploading` meanwhile (deleted by an admin): its master has no owner.
    await services.media.bucket.delete(record.masterKey);
  }
  const finished = (await session.markFinished()) ?? record;
  await services.media.deleteByPrefix(record.scratchPrefix);
  if (job) services.log.info("upload complete, transcode queued", { videoId: record.videoId, jobId: job.jobId });
  return finished;
}
